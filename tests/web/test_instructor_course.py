"""Instructor pages, issue 15's "Dashboard and gradebook": the submissions chart's span and bins, the
lab picker, gradebook cells, the counted attempt, the regrade confirmation, the roster list and
its sample CSV, and dates in the course's time zone (``LOSSGRADER_TIMEZONE``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from grader.config import Config
from grader.db.models import AuditEvent, Lab, Submission, utcnow
from grader.db.session import session_scope
from grader.web.filters import local_input, offset_text, parse_local, when, zone_label
from grader.web.instructor import charts, queries
from tests.web.conftest import COURSE, build_app, course_id, course_lab, csrf_token, login, with_config
from tests.web.test_instructor import CORRECT, LAB, WRONG, submit_and_grade, text

UTC = dt.timezone.utc
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def ines(client, instructor):
    assert login(client, instructor.username).status_code == 302
    return client


def in_paris(services):
    """The test course's time zone becomes Europe/Paris (the course's zone rules its pages)."""
    from grader.service.courses import get_course

    with session_scope(services.sessions) as session:
        get_course(session, COURSE).timezone = "Europe/Paris"


@pytest.fixture
def paris(config, services, instructor):
    """A client signed in as the instructor, on an app whose course time zone is Europe/Paris."""
    in_paris(services)
    app = build_app(with_config(config, timezone="Europe/Paris"), services)
    client = app.test_client()
    assert login(client, instructor.username).status_code == 302
    return client


def add_graded(services, user_id, at, score, lab=LAB, attempt=1):
    """A graded submission made at ``at`` (no grading: the score is set), and the gradebook cell recomputed."""
    from grader.service.submissions import recompute_scores

    with session_scope(services.sessions) as session:
        found = Submission(
            course_id=course_id(session),
            user_id=user_id, lab_id=lab, attempt=attempt, source="pass", source_sha256="0" * 64, seed=1,
            submitted_at=at, status="graded", score=score, max_score=session.get(Lab, lab).max_score,
        )  # fmt: skip
        session.add(found)
        session.flush()
        recompute_scores(session, lab, user_id=user_id)
        return found.id


# --- time zone -------------------------------------------------------------------------------


def test_time_zone_setting_defaults_to_utc_and_refuses_unknown_names_in_one_line():
    assert Config.from_env({}).timezone == "UTC"
    assert Config.from_env({"LOSSGRADER_TIMEZONE": " Europe/Paris "}).zone == PARIS
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "utc+2"):
        with pytest.raises(ValueError) as caught:
            Config.from_env({"LOSSGRADER_TIMEZONE": bad})
        assert str(caught.value) == (
            f"LOSSGRADER_TIMEZONE: unknown time zone {bad!r}; use an IANA name such as UTC or Europe/Paris"
        )


def test_serve_with_an_unknown_time_zone_stops_with_one_line(monkeypatch, capsys):
    from grader.cli import run

    monkeypatch.setenv("LOSSGRADER_TIMEZONE", "Nowhere/Special")
    assert run(["serve"]) != 0
    captured = capsys.readouterr()
    output = (captured.out + captured.err).strip()
    assert "unknown time zone 'Nowhere/Special'" in output and "Traceback" not in output


def test_dates_are_printed_in_the_zone_with_their_offset():
    winter, summer = dt.datetime(2026, 1, 15, 17, 30, tzinfo=UTC), dt.datetime(2026, 7, 15, 17, 30, tzinfo=UTC)
    assert when(winter) == "2026-01-15 17:30 UTC"
    assert when(winter, PARIS) == "2026-01-15 18:30 UTC+01:00"
    assert when(summer, PARIS) == "2026-07-15 19:30 UTC+02:00"  # daylight-saving time
    assert when(summer, ZoneInfo("America/St_Johns")) == "2026-07-15 15:00 UTC-02:30"
    assert local_input(summer, PARIS) == "2026-07-15T19:30" and local_input(None) == ""
    assert zone_label(PARIS, winter) == "Europe/Paris, UTC+01:00" and zone_label(ZoneInfo("UTC")) == "UTC"
    assert offset_text(winter) == "UTC"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-07-15T19:30", dt.datetime(2026, 7, 15, 17, 30, tzinfo=UTC)),  # the course's clock
        ("2026-07-15 19:30:00", dt.datetime(2026, 7, 15, 17, 30, tzinfo=UTC)),
        ("2026-01-15T18:30", dt.datetime(2026, 1, 15, 17, 30, tzinfo=UTC)),
        ("2026-07-15T19:30Z", dt.datetime(2026, 7, 15, 19, 30, tzinfo=UTC)),  # its own offset wins
        ("2026-07-15T19:30-05:00", dt.datetime(2026, 7, 16, 0, 30, tzinfo=UTC)),
        ("", None),
    ],
)
def test_typed_dates_are_read_on_the_course_clock_unless_they_give_an_offset(typed, expected):
    assert parse_local(typed, PARIS) == expected


@pytest.mark.parametrize("typed", ["tomorrow", "2026-07-15", "15/07/2026 19:30", "2026-13-01T00:00"])
def test_typed_dates_that_are_not_a_moment_are_refused(typed):
    with pytest.raises(ValueError):
        parse_local(typed, PARIS)


def test_lab_settings_show_and_take_dates_in_the_course_zone(paris, services):
    data = {
        "csrf_token": csrf_token(paris, f"/instructor/labs/{LAB}"),
        "due_at": "2030-07-01T23:59",
        "hard_deadline_at": "",
        "late_policy": "none",
        "counting": "last",
    }
    response = paris.post(f"/instructor/labs/{LAB}", data=data, follow_redirects=True)
    html = text(response)
    assert "due_at: none → 2030-07-01 23:59 UTC+02:00" in html
    with services.sessions() as session:
        assert course_lab(session, LAB).due_at == dt.datetime(2030, 7, 1, 21, 59, tzinfo=UTC)
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "lab_policy")).one()
        assert event.new["due_at"] == "2030-07-01T21:59:00+00:00"  # the audit trail stays in UTC
    assert 'value="2030-07-01T23:59"' in html
    assert re.search(r'<input type="text" class="when-input" id="due_at"', html)  # not a locale-formatted picker
    assert 'Saved: <time datetime="2030-07-01T21:59:00+00:00">2030-07-01 23:59 UTC+02:00</time>' in html
    assert "(Europe/Paris, UTC+0" in html
    assert "times are shown in Europe/Paris, UTC+0" in html  # the footer names the zone


def test_a_bad_date_says_how_to_type_one(paris):
    data = {"csrf_token": csrf_token(paris, f"/instructor/labs/{LAB}"), "due_at": "next friday"}
    response = paris.post(f"/instructor/labs/{LAB}", data={**data, "late_policy": "none", "counting": "last"})
    assert response.status_code == 400
    assert re.search(r"Due date: not a date and time \(YYYY-MM-DDTHH:MM, Europe/Paris, UTC\+0[12]:00\)", text(response))


def test_extensions_are_typed_and_shown_in_the_course_zone(paris, services, student):
    data = {
        "csrf_token": csrf_token(paris, f"/instructor/students/{student.id}"),
        "user_id": student.id,
        "lab_id": LAB,
        "due_at": "2030-01-02T12:00",
        "reason": "ill",
    }
    html = text(paris.post("/instructor/extensions", data=data, follow_redirects=True))
    assert f"{student.username}: {LAB} due 2030-01-02 12:00 UTC+01:00" in html
    assert 'value="2030-01-02T12:00"' in html
    with services.sessions() as session:
        from grader.db.models import Extension

        assert session.scalars(select(Extension)).one().due_at == dt.datetime(2030, 1, 2, 11, tzinfo=UTC)


def test_every_date_on_the_student_pages_follows_the_zone_too(config, services, student):
    at = dt.datetime(2026, 1, 15, 17, 30, tzinfo=UTC)
    sid = add_graded(services, student.id, at, 10.0)
    in_paris(services)
    client = build_app(with_config(config, timezone="Europe/Paris"), services).test_client()
    login(client, student.username)
    html = text(client.get(f"/submissions/{sid}"))
    assert "2026-01-15 18:30 UTC+01:00" in html and "17:30 UTC" not in html


# --- submissions over time -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span", "unit", "most"),
    [
        (dt.timedelta(0), "hour", charts.MIN_BINS),
        (dt.timedelta(hours=20), "hour", 36),
        (dt.timedelta(days=3), "3 hours", 36),
        (dt.timedelta(days=12), "12 hours", 36),
        (dt.timedelta(days=30), "day", 36),
        (dt.timedelta(days=120), "week", 36),
    ],
)
def test_bins_suit_the_span(span, unit, most):
    first = dt.datetime(2026, 11, 3, 14, 23, tzinfo=UTC)
    bins = charts.timeline_bins(first, first + span)
    assert bins.unit == unit
    assert charts.MIN_BINS <= bins.count <= most
    assert bins.origin <= first and bins.end > first + span  # every submission falls in a bin


def test_day_and_week_bins_start_at_midnight_on_the_course_clock():
    first = dt.datetime(2026, 11, 3, 14, 23, tzinfo=UTC)  # a Tuesday
    days = charts.timeline_bins(first, first + dt.timedelta(days=20), PARIS)
    assert days.unit == "day" and days.origin.astimezone(PARIS) == dt.datetime(2026, 11, 3, tzinfo=PARIS)
    weeks = charts.timeline_bins(first, first + dt.timedelta(days=200), PARIS)
    assert weeks.unit == "week" and weeks.origin.astimezone(PARIS) == dt.datetime(2026, 11, 2, tzinfo=PARIS)


def test_the_chart_spans_the_submissions_that_exist_and_marks_a_due_date_inside(ines, services, student):
    start = dt.datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    for day, count in ((0, 1), (1, 3), (4, 2), (9, 1)):  # seven submissions over ten days
        for k in range(count):
            add_graded(services, student.id, start + dt.timedelta(days=day, minutes=k), 5.0, attempt=day * 10 + k + 1)
    with session_scope(services.sessions) as session:
        course_lab(session, LAB).due_at = start + dt.timedelta(days=4, hours=12)
    with services.sessions() as session:
        span = queries.submission_span(session, LAB)
        bins = charts.timeline_bins(span.first, span.last)
        counts = queries.submission_counts(session, LAB, bins.origin, bins.step, bins.count)
    assert (span.count, sum(counts)) == (7, 7)
    assert bins.unit == "12 hours" and counts[0] == 1 and counts[2] == 3 and counts[8] == 2 and counts[18] == 1

    html = text(ines.get(f"/instructor/?lab={LAB}"))
    figure = html.split('id="timeline-figure"')[1].split("</figure>")[0]
    assert "per 12 hours (UTC), from 2026-03-02 00:00 to 2026-03-11 12:00: 7 in all" in figure
    assert ">due<" in figure and "in orange, may hold late work" in figure
    assert "<td>2026-03-03 00:00</td><td>3</td>" in figure  # the numbers as a table too
    assert figure.count('fill="#b35900"') == 10  # the bins from the due date's on (9 to 18) are highlighted


def test_a_due_date_outside_the_submissions_is_said_not_drawn(ines, services, student):
    add_graded(services, student.id, dt.datetime(2026, 3, 2, 9, 15, tzinfo=UTC), 5.0)
    with session_scope(services.sessions) as session:
        course_lab(session, LAB).due_at = dt.datetime(2026, 1, 1, tzinfo=UTC)
    figure = text(ines.get(f"/instructor/?lab={LAB}")).split('id="timeline-figure"')[1].split("</figure>")[0]
    assert "<svg" in figure and ">due<" not in figure
    assert "(the due date, 2026-01-01 00:00, is before the first submission)" in figure


def test_the_lab_is_picked_with_links_not_a_table_column(ines):
    html = text(ines.get("/instructor/?lab=lab02-cross-entropy"))
    assert ">Charts<" not in html and ">show<" not in html
    picker = html.split('class="lab-picker"')[1].split("</nav>")[0]
    assert picker.count("<a ") == 3
    chosen = r'href="/courses/dl101/instructor/\?lab=lab02-cross-entropy#selected-lab" aria-current="page"'
    assert re.search(chosen, picker)


# --- gradebook -------------------------------------------------------------------------------


def test_gradebook_cells_link_to_attempts_read_x_of_max_and_say_when_below_the_best(
    ines, services, student, other_student
):
    now = utcnow()
    add_graded(services, student.id, now - dt.timedelta(hours=2), 25.0, attempt=1)
    add_graded(services, student.id, now - dt.timedelta(hours=1), 10.0, attempt=2)  # the last counts: 10
    add_graded(services, other_student.id, now, 5.0)
    html = text(ines.get("/instructor/gradebook"))
    alice = html.split(f'href="/courses/dl101/instructor/students/{student.id}"', 1)[1].split("</tr>")[0]
    cell = alice.split('<td class="score', 1)[1].split("</td>")[0]
    assert cell.startswith(' band-2"')  # 10 / 25 = 40 %
    assert f'<a href="/courses/dl101/instructor/students/{student.id}#lab-{LAB}">' in cell
    assert '<span class="score-value">10 / 25</span>' in cell
    assert '<span class="cell-note below-best">below best (25)</span>' in cell
    with services.sessions() as session:
        total = sum(lab.max_score for lab in session.scalars(select(Lab)))
    assert f'<td class="score total">10 / {total:g}</td>' in alice
    bob = html.split(f'href="/courses/dl101/instructor/students/{other_student.id}"', 1)[1].split("</tr>")[0]
    assert "below best" not in bob and '<td class="score band-1">' in bob  # 5 / 25 = 20 %: the second band
    assert '<span class="visually-hidden">no score</span>' in bob  # a lab without a score still links


def test_score_bands_are_a_light_to_dark_scale_with_a_legend():
    assert [charts.score_band(x, 10) for x in (0, 1.9, 2, 5, 7.9, 8, 10)] == [0, 0, 1, 2, 3, 4, 4]
    assert charts.score_band(None, 10) is None and charts.score_band(3, 0) is None
    assert [label for _, label in charts.band_legend()] == ["0–19%", "20–39%", "40–59%", "60–79%", "80–100%"]


def test_an_empty_gradebook_says_what_will_appear(ines):
    html = text(ines.get("/instructor/gradebook"))
    assert "No students yet: import a roster" in html
    assert "No students match." in text(ines.get("/instructor/gradebook?q=zzz"))


# --- student page and regrading --------------------------------------------------------------


def test_student_page_marks_the_counted_attempt(ines, services, student):
    first = submit_and_grade(services, student.id, CORRECT)
    second = submit_and_grade(services, student.id, WRONG)
    html = text(ines.get(f"/instructor/students/{student.id}"))
    assert f'<article id="submission-{second}" class="panel counted-attempt">' in html
    assert f'<article id="submission-{first}" class="panel">' in html
    article = html.split(f'id="submission-{second}"')[1].split("</h3>")[0]
    assert '<span class="mark mark-counted">counted</span>' in article
    assert "mark-counted" not in html.split(f'id="submission-{first}"')[1].split("</h3>")[0]
    assert f'from <a href="#submission-{second}">attempt 2</a> (last counts)' in html
    assert f'below the best, <a href="#submission-{first}">attempt 1</a>' in html
    assert html.count('class="button button-secondary">Regrade this attempt') == 2


def test_regrading_a_whole_lab_asks_first_and_says_how_many(ines, services, student, other_student):
    submit_and_grade(services, student.id, CORRECT)
    submit_and_grade(services, other_student.id, WRONG)
    html = text(ines.get(f"/instructor/labs/{LAB}"))
    assert f'<a class="button button-secondary" href="/courses/dl101/instructor/labs/{LAB}/regrade">' in html
    page = ines.get(f"/instructor/labs/{LAB}/regrade")
    assert page.status_code == 200
    html = text(page)
    assert "This regrades <strong>2 submissions</strong>" in html and "of 2 students" in html
    assert 'name="confirmed" value="yes"' in html and 'name="csrf_token"' in html
    # A POST without the confirmation (an old form, a stray request) only shows the question.
    html = text(ines.post(f"/instructor/labs/{LAB}/regrade", data={"csrf_token": csrf_token(ines, "/instructor/")}))
    assert "Regrade 2 submissions" in html and "regraded" not in html
    with services.sessions() as session:
        assert session.scalars(select(AuditEvent)).all() == []
    # Without the CSRF token, even confirmed, nothing runs.
    assert ines.post(f"/instructor/labs/{LAB}/regrade", data={"confirmed": "yes"}).status_code == 400


def test_regrade_confirmation_with_nothing_to_regrade(ines):
    html = text(ines.get(f"/instructor/labs/{LAB}/regrade"))
    assert "Nothing to regrade" in html and 'name="confirmed"' not in html


# --- roster ----------------------------------------------------------------------------------


def test_roster_lists_who_is_enrolled_with_counts_search_and_section(ines, make_user):
    make_user("alice", display_name="Alice", section="A", student_number="1001")
    make_user("bob", display_name="Bob", section="A")
    make_user("carol", display_name="Carol", section="B", email="carol@example.org")
    make_user("dan", display_name="Dan", section=None, active=False)
    html = text(ines.get("/instructor/roster"))
    assert "<strong>3</strong> active students" in html and "<li>1 inactive</li>" in html
    assert "<li>Section A: 2</li>" in html and "<li>Section B: 1</li>" in html
    assert html.index(">Alice<") < html.index(">Bob<") < html.index(">Carol<") < html.index(">Dan<")
    html = text(ines.get("/instructor/roster?section=A"))
    assert ">Alice<" in html and ">Bob<" in html and ">Carol<" not in html and "2 of 4 students match" in html
    html = text(ines.get("/instructor/roster?q=example.org"))
    assert ">Carol<" in html and ">Alice<" not in html
    assert "No students match." in text(ines.get("/instructor/roster?q=nobody"))


def test_the_sample_roster_csv_imports_as_it_is(ines, services):
    response = ines.get("/instructor/roster/sample.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(text(response))))
    assert [r["name"] for r in rows] == ["Ada Lovelace", "Alan Turing"]
    data = {"csrf_token": csrf_token(ines, "/instructor/roster"), "file": (io.BytesIO(response.data), "sample.csv")}
    html = text(ines.post("/instructor/roster", data=data, content_type="multipart/form-data"))
    assert "2 students: 2 created" in html
    assert ">Ada Lovelace<" in html and "<li>Section B: 1</li>" in html  # listed at once
