"""A lab's misconceptions for instructors: the panel (on the dashboard and on a page of its
own), and its two CSV downloads. The numbers come from :mod:`grader.service.insight`."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from flask import Response, abort, render_template, request, url_for

from grader.db.models import CourseLab, Lab, utcnow
from grader.service.insight import (
    SCOPES,
    CountedRows,
    FixtureStats,
    Misconceptions,
    fixture_stats,
    misconceptions,
    write_fixtures_csv,
    write_misconceptions_csv,
)
from grader.web.course_context import current_course, page_endpoint
from grader.web.db import get_db
from grader.web.instructor import bp
from grader.web.instructor.insight_charts import LineChart, share_by_attempt

#: Students linked per cause and per fixture on the page (the CSV lists them all).
LINKS = 20
SCOPE_NAMES = {"counted": "Counted submissions", "all": "All attempts"}


@dataclass
class Panel:
    """Everything the misconceptions panel shows for one lab."""

    lab: Lab
    scope: str
    found: Misconceptions
    fixtures: FixtureStats
    chart: LineChart
    switch: list[tuple[str, str, bool]]  # (label, url, current) per scope

    def anchor(self, key: str) -> str | None:
        """The id of the cause's row in the causes table (None if it is not there)."""
        for index, cause in enumerate(self.found.causes, start=1):
            if cause.key == key:
                return f"cause-{index}"
        return None

    def attempt_url(self, user_id: int, submission_id: int) -> str:
        """The instructor's page of the student, at that attempt (hundreds per page: built from one url_for)."""
        if not hasattr(self, "_student_url"):
            self._student_url = url_for("instructor.student", user_id=987654321)
        return self._student_url.replace("987654321", str(user_id)) + f"#submission-{submission_id}"

    @staticmethod
    def label(key: str) -> str:
        """A cause's short name."""
        return short_label(key)

    @property
    def who(self) -> str:
        """The students the shares are of, in words."""
        n = self.found.students
        noun = "student" if n == 1 else "students"
        if self.scope == "counted":
            return f"{n} {noun} with a counted submission"
        return f"{n} {noun} with a graded attempt"


def short_label(key: str) -> str:
    """A cause's name in the chart's legend: a mistake's catalogue id, else its key without the function."""
    if key.startswith("mistake:"):
        return key.removeprefix("mistake:")
    parts = key.split(":")
    return ":".join([parts[0], *parts[2:]]) if len(parts) > 2 else key


def _scope_url(lab_id: str, scope: str) -> str:
    wanted = None if scope == "counted" else scope
    if page_endpoint() == "instructor.index":
        return url_for("instructor.index", lab=lab_id, scope=wanted, _anchor="misconceptions")
    return url_for("instructor.misconceptions", lab_id=lab_id, scope=wanted)


def _scope() -> str:
    scope = request.args.get("scope") or "counted"
    return scope if scope in SCOPES else "counted"


def build_panel(db: Any, lab: Lab, scope: str) -> Panel:
    """The panel's data: the counted rows are read once for both tables."""
    course_id = current_course().id
    counted = CountedRows(db, lab.id, course_id)
    found = misconceptions(db, lab.id, scope, links=LINKS, counted=counted, course_id=course_id)
    stats = fixture_stats(db, lab.id, links=LINKS, counted=counted, course_id=course_id)
    labels = {key: short_label(key) for key in found.trend_keys}
    chart = share_by_attempt("misconceptions-trend", found, labels)
    switch = [(SCOPE_NAMES[s], _scope_url(lab.id, s), s == scope) for s in SCOPES]
    return Panel(lab, scope, found, stats, chart, switch)


@bp.app_template_global()
def misconceptions_panel(lab: Lab) -> Panel:
    """The panel of ``lab`` for a page that includes ``instructor/_misconceptions.html``
    (the scope from the ``scope`` query parameter)."""
    return build_panel(get_db(), lab, _scope())


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    """``45 s``, ``25 min``, ``3 h 5 min``, ``2 days 4 h``; ``—`` for None."""
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} {hours} h" if hours else f"{days} {unit}"


def _lab_or_404(db: Any, lab_id: str) -> Any:
    """The course's lab (a CourseLab), or 404."""
    lab = db.get(CourseLab, (current_course().id, lab_id))
    if lab is None:
        abort(404)
    return lab


@bp.route("/labs/<lab_id>/misconceptions", endpoint="misconceptions")
def misconceptions_page(lab_id: str) -> Any:
    """The lab's misconceptions panel on a page of its own (``?scope=all``: every attempt)."""
    db = get_db()
    lab = _lab_or_404(db, lab_id)
    return render_template("instructor/misconceptions.html", lab=lab, insight=build_panel(db, lab, _scope()))


def _csv(body: str, lab_id: str, what: str) -> Response:
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="lossgrader-{lab_id}-{what}-{stamp}.csv"'},
    )


@bp.route("/labs/<lab_id>/misconceptions.csv")
def misconceptions_csv(lab_id: str) -> Response:
    """One row per cause, with every student's username (``?scope=all``: every attempt)."""
    db = get_db()
    lab = _lab_or_404(db, lab_id)
    scope = _scope()
    buffer = io.StringIO()
    write_misconceptions_csv(misconceptions(db, lab.id, scope, links=None, course_id=current_course().id), buffer)
    return _csv(buffer.getvalue(), lab.id, "misconceptions" if scope == "counted" else "misconceptions-all")


@bp.route("/labs/<lab_id>/fixtures.csv")
def fixtures_csv(lab_id: str) -> Response:
    """One row per fixture: pass counts of the counted submissions, its commonest cause, who fails it."""
    db = get_db()
    lab = _lab_or_404(db, lab_id)
    buffer = io.StringIO()
    write_fixtures_csv(fixture_stats(db, lab.id, links=None, course_id=current_course().id), buffer)
    return _csv(buffer.getvalue(), lab.id, "fixtures")
