"""Instructor views. Every form is a POST with the session's CSRF token (checked app-wide)."""

from __future__ import annotations

import datetime as dt
import io
import math
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from grader.db.models import COUNTING, LATE_POLICIES, CourseLab, Enrolment, Extension, Score, Submission, User, utcnow
from grader.service import submissions
from grader.service.courses import enrol_imported
from grader.web.course_context import current_course
from grader.web.db import get_db, get_services
from grader.web.filters import course_zone, parse_local, when, zone_label
from grader.web.instructor import bp, charts, queries

PAGE_SIZE = 100
MAX_ROSTER_BYTES = 2 * 1024 * 1024


def actor() -> str:
    """How the audit trail names the signed-in instructor."""
    return f"web:{current_user.username}"


def _course_id() -> int:
    return current_course().id


def _labs(db: Any) -> list[CourseLab]:
    """The course's labs (each reads like a lab, with the course's policy)."""
    query = select(CourseLab).where(CourseLab.course_id == _course_id()).order_by(CourseLab.position, CourseLab.lab_id)
    return list(db.scalars(query))


def _lab_or_404(db: Any, lab_id: str) -> CourseLab:
    lab = db.get(CourseLab, (_course_id(), lab_id))
    if lab is None:
        abort(404)
    return lab


def _student_or_404(db: Any, user_id: int) -> User:
    """A student of this course (another course's is a 404: ids of others are not revealed)."""
    user = db.get(User, user_id) if 0 < user_id < 2**63 else None
    enrolled = db.get(Enrolment, (_course_id(), user_id)) if user is not None else None
    if user is None or enrolled is None or enrolled.role != "student":
        abort(404)
    return user


# --- dashboard -----------------------------------------------------------------------------


@bp.route("/")
def index() -> Any:
    """The course at a glance: grading (queue, grader errors), labs; for the chosen lab its score histogram,
    submissions over time, and what the class gets wrong (``_misconceptions.html``, with the pass rates)."""
    db = get_db()
    labs = _labs(db)
    summaries = queries.lab_summaries(db, labs, _course_id())
    selected = next((lab for lab in labs if lab.id == request.args.get("lab")), labs[0] if labs else None)
    histogram = timeline = None
    if selected is not None:
        histogram = charts.histogram(
            "histogram", selected.title, queries.score_fractions(db, selected.id, _course_id())
        )
        timeline = _timeline(db, selected)
    return render_template(
        "instructor/dashboard.html",
        grading=queries.grading_state(db, utcnow()),
        summaries=summaries,
        selected=selected,
        histogram=histogram,
        timeline=timeline,
    )


def _timeline(db: Any, lab: CourseLab) -> charts.Chart:
    """The "submissions over time" chart: from the lab's first submission to its last, in the course's zone."""
    span = queries.submission_span(db, lab.id, _course_id())
    zone, zone_text = course_zone(), zone_label()
    if span.first is None or span.last is None:
        now = utcnow()
        bins = charts.timeline_bins(now, now, zone)
        return charts.timeline("timeline", lab.title, bins, [0] * bins.count, lab.due_at, zone, zone_text)
    bins = charts.timeline_bins(span.first, span.last, zone)
    counts = queries.submission_counts(db, lab.id, bins.origin, bins.step, bins.count, _course_id())
    return charts.timeline("timeline", lab.title, bins, counts, lab.due_at, zone, zone_text)


# --- gradebook -----------------------------------------------------------------------------


@bp.route("/gradebook")
def gradebook() -> Any:
    """Students × labs: sort, filter by section, search, pages of 100 (query parameters, no JavaScript)."""
    from grader.service.gradebook import gradebook as build

    db = get_db()
    section = request.args.get("section") or None
    search = (request.args.get("q") or "").strip()[:200] or None
    sort = request.args.get("sort") or "name"
    try:
        book = build(db, section=section, search=search, sort=sort, course_id=_course_id())
    except ValueError:
        sort = "name"
        book = build(db, section=section, search=search, sort=sort, course_id=_course_id())
    pages = max(1, math.ceil(len(book) / PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    rows = book[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]

    def link(**changes: Any) -> str:
        args = {"section": section, "q": search, "sort": sort, "page": page, **changes}
        return url_for("instructor.gradebook", **{k: v for k, v in args.items() if v not in (None, "", 1, "name")})

    return render_template(
        "instructor/gradebook.html",
        labs=book.labs,
        rows=rows,
        best=queries.best_scores(db, [row.user_id for row in rows], _course_id()),
        total_max=sum(lab.max_score or 0.0 for lab in book.labs),
        band=charts.score_band,
        legend=charts.band_legend(),
        total=len(book),
        page=page,
        pages=pages,
        section=section,
        search=search or "",
        sort=sort,
        sections=queries.sections(db, _course_id()),
        link=link,
    )


# --- students ------------------------------------------------------------------------------


@bp.route("/students/<int:user_id>")
def student(user_id: int) -> Any:
    """One student: every attempt with its code and full results, extensions, regrade buttons."""
    db = get_db()
    person = _student_or_404(db, user_id)
    labs = _labs(db)
    submissions = list(
        db.scalars(
            select(Submission)
            .where(Submission.user_id == person.id, Submission.course_id == _course_id())
            .order_by(Submission.lab_id, Submission.attempt.desc())
            .options(selectinload(Submission.results))
        )
    )
    by_lab: dict[str, list[Submission]] = {}
    for found in submissions:
        by_lab.setdefault(found.lab_id, []).append(found)
    mine = (Extension.user_id == person.id, Extension.course_id == _course_id())
    extensions = {e.lab_id: e for e in db.scalars(select(Extension).where(*mine))}
    scores = {
        s.lab_id: s
        for s in db.scalars(select(Score).where(Score.user_id == person.id, Score.course_id == _course_id()))
    }
    return render_template(
        "instructor/student.html",
        person=person,
        section=db.get(Enrolment, (_course_id(), person.id)).section,  # in this course (loaded by the 404 check)
        labs=labs,
        by_lab=by_lab,
        extensions=extensions,
        scores=scores,
    )


# --- regrading -----------------------------------------------------------------------------


def _regrade_page(title: str, changes: list[Any], back: str) -> Any:
    failed = [c for c in changes if c.error]
    return render_template("instructor/regrade.html", title=title, changes=changes, failed=failed, back=back)


def _regrade_failure(exc: Exception, back: str) -> Any:
    flash(f"Regrading failed: {exc}", "error")
    return redirect(back, code=303)


@bp.route("/submissions/<int:submission_id>/regrade", methods=["POST"])
def regrade_submission(submission_id: int) -> Any:
    """Regrade one submission; shows old → new."""
    db = get_db()
    found = db.get(Submission, submission_id)
    if found is None or found.course_id != _course_id():
        abort(404)
    back = url_for("instructor.student", user_id=found.user_id, _anchor=f"submission-{found.id}")
    db.close()
    try:
        change = submissions.regrade_submission(get_services(), submission_id, actor())
    except Exception as exc:  # the grader or sandbox is unavailable
        return _regrade_failure(exc, back)
    if change is None:
        flash("That submission is still being graded: regrade it once it is done.", "info")
        return redirect(back, code=303)
    return _regrade_page(f"Regrade of submission {submission_id}", [change], back)


@bp.route("/students/<int:user_id>/labs/<lab_id>/regrade", methods=["POST"])
def regrade_student(user_id: int, lab_id: str) -> Any:
    """Regrade a student's submissions to a lab."""
    from grader.service.submissions import regrade

    db = get_db()
    person = _student_or_404(db, user_id)
    lab = _lab_or_404(db, lab_id)
    title = f"Regrade of {person.display_name or person.username}'s {lab.title}"
    back = url_for("instructor.student", user_id=person.id)
    found_course = _course_id()
    db.close()
    try:
        changes = regrade(get_services(), lab_id, student=user_id, actor=actor(), course_id=found_course)
    except Exception as exc:
        return _regrade_failure(exc, back)
    return _regrade_page(title, changes, back)


@bp.route("/labs/<lab_id>/regrade", methods=["GET", "POST"])
def regrade_lab(lab_id: str) -> Any:
    """Regrade every graded submission of a lab (runs now; a large lab takes a while).

    First a confirmation page that says how many submissions it will regrade (GET, or a POST
    without ``confirmed``); its button posts ``confirmed=yes`` with the CSRF token.
    """
    from grader.service.submissions import regrade

    db = get_db()
    lab = _lab_or_404(db, lab_id)
    title = f"Regrade of {lab.title}"
    back = url_for("instructor.lab", lab_id=lab.id)
    if request.method == "GET" or request.form.get("confirmed") != "yes":
        count, students = queries.regradable(db, lab.id, _course_id())
        return render_template("instructor/regrade_confirm.html", lab=lab, count=count, students=students, back=back)
    found_course = _course_id()
    db.close()
    try:
        changes = regrade(get_services(), lab_id, actor=actor(), course_id=found_course)
    except Exception as exc:
        return _regrade_failure(exc, back)
    return _regrade_page(title, changes, back)


# --- lab settings and extensions -----------------------------------------------------------


def parse_time(raw: str | None) -> dt.datetime | None:
    """A date and time typed in ISO 8601 (``2025-03-07T23:59``), read in the course's time zone unless it
    gives its own offset; aware UTC, None when blank. ValueError if it is not one."""
    return parse_local(raw, course_zone())


def _time_format() -> str:
    """How a date and time must be typed, for error messages."""
    return f"YYYY-MM-DDTHH:MM, {zone_label()}"


def _policy_from_form(form: Any) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, label in (("due_at", "Due date"), ("hard_deadline_at", "Hard deadline")):
        try:
            values[key] = parse_time(form.get(key))
        except ValueError:
            problems.append(f"{label}: not a date and time ({_time_format()}).")
    policy = form.get("late_policy", "none")
    if policy not in LATE_POLICIES:
        problems.append("Late policy: choose one of the options.")
    values["late_policy"] = policy
    counting = form.get("counting", "last")
    if counting not in COUNTING:
        problems.append("Counted attempt: choose one of the options.")
    values["counting"] = counting
    # A checkbox: absent when unticked. Files that cannot be loaded count only when ticked.
    values["unloadable_counts"] = form.get("unloadable_counts") in ("on", "1", "true", "yes")
    try:
        percent = float(form.get("late_percent_per_day") or 0)
        if not 0 <= percent <= 100:
            raise ValueError
        values["late_percent_per_day"] = percent
    except ValueError:
        problems.append("Percent per day: a number from 0 to 100.")
    for key, label, minimum in (
        ("max_submissions", "Attempts allowed", 1),
        ("min_interval_seconds", "Seconds between attempts", 0),
    ):
        raw = (form.get(key) or "").strip()
        if not raw:
            values[key] = None
            continue
        try:
            number = int(raw)
            if number < minimum:
                raise ValueError
            values[key] = number
        except ValueError:
            problems.append(f"{label}: a whole number of at least {minimum}, or blank for no limit.")
    if not problems:
        if values["due_at"] and values["hard_deadline_at"] and values["hard_deadline_at"] < values["due_at"]:
            problems.append("The hard deadline is before the due date.")
        if values["late_policy"] == "percent_per_day" and not values["late_percent_per_day"]:
            problems.append("The percent-per-day late policy needs a percentage above 0.")
    return values, problems


def _setting_text(value: Any, key: str = "") -> str:
    """A setting's value in a flash message: ``yes``/``no`` for a switch, ``none`` when unset, a date
    in the course's time zone."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key.endswith("_at") and isinstance(value, str):
        return when(dt.datetime.fromisoformat(value))
    return str(value) if value not in (None, "") else "none"


@bp.route("/labs/<lab_id>", methods=["GET", "POST"])
def lab(lab_id: str) -> Any:
    """A lab's due dates and policies (form), its pass rates, extensions, and the regrade button."""
    from grader.service.gradebook import pass_rates

    db = get_db()
    found = _lab_or_404(db, lab_id)
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        values, problems = _policy_from_form(request.form)
        if problems:
            status = 400
        else:
            changed = queries.set_lab_policy(db, found, values, actor())
            db.commit()
            if changed:
                for key, (old, new) in changed.items():
                    flash(f"{key}: {_setting_text(old, key)} → {_setting_text(new, key)}", "success")
                flash("Scores recomputed.", "success")
            else:
                flash("Nothing changed.", "info")
            return redirect(url_for("instructor.lab", lab_id=found.id), code=303)
    extensions = db.execute(
        select(Extension, User)
        .join(User, User.id == Extension.user_id)
        .where(Extension.lab_id == found.id, Extension.course_id == _course_id())
    ).all()
    return render_template(
        "instructor/lab.html",
        lab=found,
        rates=pass_rates(db, found.id, _course_id()),
        extensions=extensions,
        problems=problems,
        form=request.form if request.method == "POST" else None,
        late_policies=LATE_POLICIES,
        countings=COUNTING,
    ), status


@bp.route("/extensions", methods=["POST"])
def grant_extension() -> Any:
    """Give a student a later due date for a lab (replaces an earlier extension)."""
    db = get_db()
    person = _student_or_404(db, request.form.get("user_id", type=int) or 0)
    found = _lab_or_404(db, request.form.get("lab_id", ""))
    back = url_for("instructor.student", user_id=person.id, _anchor=f"lab-{found.id}")
    try:
        until = parse_time(request.form.get("due_at"))
    except ValueError:
        until = None
    if until is None:
        flash(f"Give the new due date and time ({_time_format()}).", "error")
        return redirect(back, code=303)
    reason = (request.form.get("reason") or "").strip()[:2000]
    old = queries.grant_extension(db, person, found, until, reason, actor(), current_user.id)
    db.commit()
    before = f" (was {when(dt.datetime.fromisoformat(old['due_at']))})" if old else ""
    flash(f"{person.username}: {found.id} due {when(until)}{before}. Score recomputed.", "success")
    if found.due_at is not None and until <= found.due_at:
        flash("Note: that is not later than the lab's own due date.", "info")
    return redirect(back, code=303)


@bp.route("/extensions/<int:extension_id>/revoke", methods=["POST"])
def revoke_extension(extension_id: int) -> Any:
    """Remove a student's extension."""
    db = get_db()
    found = db.get(Extension, extension_id) if 0 < extension_id < 2**63 else None
    if found is None or found.course_id != _course_id():
        abort(404)
    back = url_for("instructor.student", user_id=found.user_id, _anchor=f"lab-{found.lab_id}")
    queries.revoke_extension(db, found, actor(), current_user.id)
    db.commit()
    flash("Extension removed. Score recomputed.", "success")
    return redirect(back, code=303)


# --- roster and exports --------------------------------------------------------------------


@bp.route("/roster", methods=["GET", "POST"])
def roster() -> Any:
    """Who is enrolled, and a CSV roster import: every row checked first; problems listed per row, nothing
    imported then."""
    from grader.service.roster import RosterError, import_roster

    report = None
    problem = None
    invitations = None
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            problem, status = "Choose a CSV file to upload.", 400
        else:
            data = upload.read(MAX_ROSTER_BYTES + 1)
            db = get_db()
            try:
                if len(data) > MAX_ROSTER_BYTES:
                    raise RosterError("the file is larger than 2 MB")
                report = import_roster(db, data, actor=actor())
            except RosterError as exc:
                db.rollback()
                problem, status = str(exc), 422
            else:
                if report.ok:
                    enrol_imported(db, current_course(), report.usernames, report.sections)
                    invitations = _invite(db, report.usernames) if request.form.get("invite") else None
                    db.commit()
                    if invitations:
                        from grader.web.auth.onboarding import mails_queued

                        mails_queued()
                else:
                    db.rollback()
                    status = 422
    return _roster_page(report, problem, invitations), status


def _invite(db: Any, usernames: list[str]) -> list[Any]:
    """One-time sign-in links for the imported students who cannot sign in yet (mailed when mail is on)."""
    from grader.service.onboarding import invite
    from grader.web.auth.onboarding import base_url

    config = current_app.config["LOSSGRADER"]
    return invite(
        db, config, usernames, base_url=base_url(), created_by=actor(), course_id=_course_id(), actor_id=current_user.id
    )


def _roster_page(report: Any, problem: str | None, invitations: list[Any] | None = None) -> str:
    """The roster page: who is enrolled (search, section, pages of 100), counts, and the import form."""
    from grader.service.mail import mail_enabled

    db = get_db()
    section = request.args.get("section") or None
    search = (request.args.get("q") or "").strip()[:200] or None
    enrolled = queries.roster(db, search=search, section=section, course_id=_course_id())
    pages = max(1, math.ceil(len(enrolled.students) / PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)

    def link(**changes: Any) -> str:
        args = {"section": section, "q": search, "page": page, **changes}
        return url_for("instructor.roster", **{k: v for k, v in args.items() if v not in (None, "", 1)})

    return render_template(
        "instructor/roster.html",
        report=report,
        problem=problem,
        invitations=invitations,
        mail=mail_enabled(current_app.config["LOSSGRADER"]),
        roster=enrolled,
        students=enrolled.students[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        shown=len(enrolled.students),
        page=page,
        pages=pages,
        section=section,
        search=search or "",
        sections=queries.sections(db, _course_id()),
        link=link,
    )


#: The sample roster offered for download: every recognised column, two made-up students.
SAMPLE_ROSTER = (
    "student_id,username,name,email,section,sis_user_id,sis_login_id\r\n"
    "1001,ada,Ada Lovelace,ada@example.org,A,SIS1001,ada\r\n"
    "1002,alan,Alan Turing,alan@example.org,B,SIS1002,alan\r\n"
)


@bp.route("/roster/sample.csv")
def roster_sample() -> Response:
    """A sample roster CSV: the columns the import recognises, with two example rows."""
    return Response(
        SAMPLE_ROSTER,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="lossgrader-roster-sample.csv"'},
    )


def _csv(writer: Any, name: str) -> Response:
    buffer = io.StringIO()
    writer(get_db(), buffer, course_id=_course_id())
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="lossgrader-{name}-{stamp}.csv"'},
    )


@bp.route("/export/canvas.csv")
def export_canvas() -> Response:
    """The Canvas gradebook-import CSV of final scores."""
    from grader.service.gradebook import export_canvas as write

    return _csv(write, "canvas")


@bp.route("/export/long.csv")
def export_long() -> Response:
    """One row per student and lab."""
    from grader.service.gradebook import export_long as write

    return _csv(write, "long")
