"""Instructor pages: access control, CSRF, escaping, charts, gradebook, regrades, policy, extensions, roster, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.db.models import AuditEvent, Extension, Score, Submission, User, utcnow
from grader.db.session import session_scope
from grader.service.gradebook import LONG_HEADER
from tests.web.conftest import course_id, course_lab, csrf_token, login

IMPLEMENTATIONS = Path(__file__).resolve().parent.parent / "implementations" / "lab01-mse"
CORRECT = (IMPLEMENTATIONS / "correct_vectorised.py").read_text()
WRONG = (IMPLEMENTATIONS / "wrong_no_half.py").read_text()
LAB = "lab01-mse"
XSS = '<script>alert("x")</script>'


def text(response):
    return response.get_data(as_text=True)


def submit_and_grade(services, user_id, source=CORRECT, filename="mine.py", lab=LAB, grade=True):
    from grader.service.submissions import grade_submission, submit

    submission = submit(services, user_id, lab, source, filename)
    if grade:
        grade_submission(services, submission.id, worker="test")
    return submission.id


@pytest.fixture
def ines(client, instructor):
    response = login(client, instructor.username)
    assert response.status_code == 302
    return client


@pytest.fixture
def graded(services, student, other_student):
    """alice: one correct attempt; bob: one wrong attempt."""
    return {
        "alice": submit_and_grade(services, student.id, CORRECT),
        "bob": submit_and_grade(services, other_student.id, WRONG),
    }


def token(client, url="/instructor/"):
    return csrf_token(client, url)


# --- access control ------------------------------------------------------------------------

GET_ROUTES = [
    "/instructor/",
    f"/instructor/?lab={LAB}",
    "/instructor/gradebook",
    "/instructor/students/{student}",
    f"/instructor/labs/{LAB}",
    f"/instructor/labs/{LAB}/regrade",
    "/instructor/roster",
    "/instructor/roster/sample.csv",
    "/instructor/export/canvas.csv",
    "/instructor/export/long.csv",
]
POST_ROUTES = [
    "/instructor/submissions/{submission}/regrade",
    f"/instructor/students/{{student}}/labs/{LAB}/regrade",
    f"/instructor/labs/{LAB}/regrade",
    f"/instructor/labs/{LAB}",
    "/instructor/extensions",
    "/instructor/extensions/1/revoke",
    "/instructor/roster",
]


def fill(url, student, graded):
    return url.format(student=student.id, submission=graded["alice"])


@pytest.mark.parametrize("url", GET_ROUTES + POST_ROUTES)
def test_anonymous_visitors_are_sent_to_sign_in(client, student, graded, url):
    method = client.post if url in POST_ROUTES and url not in GET_ROUTES else client.get
    response = method(fill(url, student, graded))
    assert response.status_code in (302, 400)  # POSTs without a CSRF token may stop at the CSRF check
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("url", GET_ROUTES)
def test_anonymous_get_redirects_to_login(client, student, graded, url):
    response = client.get(fill(url, student, graded))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("url", GET_ROUTES + POST_ROUTES)
def test_students_are_forbidden(student_client, student, graded, url):
    data = {"csrf_token": csrf_token(student_client, "/labs")}
    response = student_client.get(fill(url, student, graded))
    assert response.status_code == (403 if url in GET_ROUTES else 405) or response.status_code == 403
    response = student_client.post(fill(url, student, graded), data=data)
    assert response.status_code in (403, 405)


@pytest.mark.parametrize("url", POST_ROUTES)
def test_every_instructor_form_needs_the_csrf_token(ines, student, graded, services, url):
    response = ines.post(
        fill(url, student, graded), data={"user_id": student.id, "lab_id": LAB, "due_at": "2030-01-01T00:00"}
    )
    assert response.status_code == 400
    assert "expired" in text(response)
    with services.sessions() as session:
        assert session.scalars(select(AuditEvent)).all() == []


@pytest.mark.parametrize("url", GET_ROUTES)
def test_instructors_see_every_page(ines, student, graded, url):
    assert ines.get(fill(url, student, graded)).status_code == 200


def test_admins_pass_too(client, make_user, student, graded):
    make_user("root", "admin")
    login(client, "root")
    assert client.get("/instructor/").status_code == 200


def test_unknown_things_are_404(ines):
    assert ines.get("/instructor/students/99999").status_code == 404
    assert ines.get("/instructor/labs/nope").status_code == 404


def test_instructor_is_not_a_student_page(ines, instructor):
    assert ines.get(f"/instructor/students/{instructor.id}").status_code == 404


# --- dashboard -----------------------------------------------------------------------------


def test_dashboard_charts_are_accessible_svg(ines, graded, services):
    with session_scope(services.sessions) as session:
        course_lab(session, LAB).due_at = utcnow() + dt.timedelta(hours=5)
    html = text(ines.get(f"/instructor/?lab={LAB}"))
    assert html.split('id="misconceptions"')[0].count("<svg") == 2  # the misconceptions panel has its own
    assert 'role="img"' in html and '<title id="histogram-title">' in html and "<desc" in html
    assert "final score (% of maximum)" in html and "submissions" in html and "time (UTC)" in html
    assert "90–100%: 1" in html  # alice's full marks in the histogram's table / titles
    assert ">due<" in html
    assert "Pass rates" in html
    assert "<script" not in html


def test_dashboard_timeline_spans_the_submissions_and_says_where_a_far_due_date_is(ines, graded, services):
    # The due date is a week away: the chart still shows the two submissions (not a window around
    # the due date) and says the due date is after them.
    with session_scope(services.sessions) as session:
        course_lab(session, LAB).due_at = utcnow() + dt.timedelta(days=7)
    html = text(ines.get(f"/instructor/?lab={LAB}"))
    figure = html.split('id="timeline-figure"')[1].split("</figure>")[0]
    assert "<svg" in figure and ": 2 in all" in figure
    assert "is after the last submission" in figure and ">due<" not in figure


def test_dashboard_without_due_date_and_without_data(ines):
    html = text(ines.get("/instructor/"))
    assert "<svg" not in html  # no empty axes: each chart says what will appear instead
    assert "No scores yet. Once students" in html and "final scores will appear here" in html
    assert "No submissions yet. Each submission to this lab will be counted here" in html


def test_dashboard_shows_the_queue_and_lists_grader_errors_with_a_regrade(ines, graded, services, student):
    html = text(ines.get("/instructor/"))
    assert "Grading: 0 queued, 0 running;" in html and "2 graded in the last minute" in html
    assert "could not grade" not in html  # no grader errors: no section
    queued = submit_and_grade(services, student.id, grade=False)
    failed = submit_and_grade(services, student.id, grade=False)
    with session_scope(services.sessions) as session:
        session.get(Submission, failed).status = "error"
        session.get(Submission, failed).error = f"sandbox exploded {XSS}"
    html = text(ines.get("/instructor/"))
    assert "Grading: 1 queued, 0 running;" in html and queued != failed
    assert '<a href="#grader-errors">1 submission could not be graded</a>' in html
    assert "Submissions the grader could not grade" in html
    assert "sandbox exploded &lt;script&gt;" in html and XSS not in html  # escaped
    assert f'action="/courses/dl101/instructor/submissions/{failed}/regrade"' in html
    assert f'href="/courses/dl101/instructor/students/{student.id}#submission-{failed}"' in html


def test_dashboard_lists_the_latest_grader_errors_and_counts_them_all(ines, services, student):
    from grader.web.instructor.queries import ERRORS_SHOWN

    with session_scope(services.sessions) as session:
        for attempt in range(1, ERRORS_SHOWN + 6):
            session.add(
                Submission(
                    course_id=course_id(session),
                    user_id=student.id, lab_id=LAB, attempt=attempt, source="pass", source_sha256="0" * 64,
                    seed=1, status="error", error=f"grader error number {attempt}.",
                )
            )  # fmt: skip
    html = text(ines.get("/instructor/"))
    total = ERRORS_SHOWN + 5
    assert f"{total} submissions could not be graded" in html
    assert f"The latest {ERRORS_SHOWN} of {total}." in html
    assert f"grader error number {total}." in html and "grader error number 6." in html
    assert "grader error number 5." not in html  # the oldest are counted, not listed


def test_pass_rates_show_the_failing_fixture(ines, graded, services):
    from grader.service.gradebook import pass_rates

    with services.sessions() as session:
        rates = pass_rates(session, LAB)
    failing = [r for r in rates if r.passed < r.total]
    assert failing
    html = text(ines.get(f"/instructor/?lab={LAB}"))
    assert f"<code>{failing[0].name}</code>" in html
    assert "1 / 2" in html


# --- gradebook -----------------------------------------------------------------------------


def test_gradebook_sort_filter_search(ines, make_user, graded, student, other_student):
    make_user("carol", "student", display_name="Carol", section="B")
    html = text(ines.get("/instructor/gradebook"))
    assert html.index("Alice") < html.index("Bob") < html.index("Carol")
    html = text(ines.get("/instructor/gradebook?sort=-name"))
    assert html.index("Carol") < html.index("Bob") < html.index("Alice")
    html = text(ines.get(f"/instructor/gradebook?sort=-{LAB}"))
    assert html.index("Alice") < html.index("Bob")
    html = text(ines.get("/instructor/gradebook?section=B"))
    assert "Carol" in html and "Alice" not in html
    html = text(ines.get("/instructor/gradebook?q=ali"))
    assert "Alice" in html and "Bob" not in html and "Carol" not in html
    assert ines.get("/instructor/gradebook?sort=bogus").status_code == 200


def test_gradebook_paginates(ines, services):
    from grader.service.courses import enrol, get_course
    from grader.service.users import create_user

    with session_scope(services.sessions) as session:
        course = get_course(session, "dl101")
        for i in range(105):
            enrol(session, course, create_user(session, f"s{i:03d}", "student", display_name=f"Student {i:03d}"))
    html = text(ines.get("/instructor/gradebook"))
    assert "page 1 of 2" in html and "Student 099" in html and "Student 104" not in html
    html = text(ines.get("/instructor/gradebook?page=2"))
    assert "Student 104" in html and "Student 000" not in html


# --- student page, escaping ----------------------------------------------------------------


def test_student_page_shows_every_attempt_with_code_and_full_detail(ines, services, student):
    first = submit_and_grade(services, student.id, WRONG)
    second = submit_and_grade(services, student.id, CORRECT)
    html = text(ines.get(f"/instructor/students/{student.id}"))
    assert f'id="submission-{first}"' in html and f'id="submission-{second}"' in html
    assert "Attempt 1" in html and "Attempt 2" in html
    assert "def mean_squared_error" in html
    with services.sessions() as session:
        from grader.db.models import FixtureResult

        hidden = session.scalars(
            select(FixtureResult).where(FixtureResult.submission_id == first, FixtureResult.visibility == "hidden")
        ).all()
    shown = [r for r in hidden if not r.passed and r.detail.get("inputs")]
    assert shown
    assert "Expected" in html and "Inputs" in html


def test_xss_in_names_filenames_and_code_is_escaped(ines, services, make_user):
    person = make_user("mallory", "student", display_name=XSS, section=XSS)
    submit_and_grade(services, person.id, f"# {XSS}\n" + CORRECT, filename="<img src=x onerror=alert(1)>.py")
    for url in (f"/instructor/students/{person.id}", "/instructor/gradebook", f"/instructor/gradebook?q={XSS}"):
        html = text(ines.get(url))
        assert XSS not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;" in html, url


# --- regrading -----------------------------------------------------------------------------


def _break_score(services, submission_id):
    with session_scope(services.sessions) as session:
        session.get(Submission, submission_id).score = 1.0


def test_regrade_one_submission_shows_old_to_new(ines, services, graded):
    sid = graded["alice"]
    _break_score(services, sid)
    response = ines.post(f"/instructor/submissions/{sid}/regrade", data={"csrf_token": token(ines)})
    assert response.status_code == 200
    html = text(response)
    assert re.search(r"1 → \d+(\.\d+)? / \d+", html) and "changed" in html
    with services.sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "regrade")).one()
        assert event.actor_label == "web:ines" and event.old["score"] == 1.0


def test_regrade_a_student_and_a_lab(ines, services, graded, student):
    _break_score(services, graded["alice"])
    html = text(ines.post(f"/instructor/students/{student.id}/labs/{LAB}/regrade", data={"csrf_token": token(ines)}))
    assert "1 submission regraded, 1 changed" in html and "1 →" in html
    html = text(ines.post(f"/instructor/labs/{LAB}/regrade", data={"csrf_token": token(ines), "confirmed": "yes"}))
    assert "2 submissions regraded, 0 changed" in html


def test_regrade_of_a_pending_submission_waits(ines, services, student):
    sid = submit_and_grade(services, student.id, grade=False)
    response = ines.post(f"/instructor/submissions/{sid}/regrade", data={"csrf_token": token(ines)})
    assert response.status_code == 303


# --- policy and extensions -----------------------------------------------------------------


def test_lab_settings_are_saved_with_an_audit_event(ines, services):
    data = {
        "csrf_token": token(ines),
        "due_at": "2030-03-01T23:59",
        "hard_deadline_at": "2030-03-03T23:59",
        "late_policy": "percent_per_day",
        "late_percent_per_day": "10",
        "max_submissions": "5",
        "min_interval_seconds": "",
        "counting": "best",
    }
    response = ines.post(f"/instructor/labs/{LAB}", data=data)
    assert response.status_code == 303
    with services.sessions() as session:
        lab = course_lab(session, LAB)
        assert lab.due_at == dt.datetime(2030, 3, 1, 23, 59, tzinfo=dt.timezone.utc)
        assert (lab.late_policy, lab.late_percent_per_day, lab.max_submissions, lab.counting) == (
            "percent_per_day",
            10.0,
            5,
            "best",
        )
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "lab_policy")).one()
        assert event.actor_label == "web:ines" and event.old["due_at"] is None and "2030-03-01" in event.new["due_at"]
    html = text(ines.get(f"/instructor/labs/{LAB}"))
    assert 'value="2030-03-01T23:59"' in html


def test_the_unloadable_files_setting_switches_and_recomputes_scores(ines, services, student):
    good = submit_and_grade(services, student.id, CORRECT)
    broken = submit_and_grade(services, student.id, "def mean_squared_error(y, t)\n    return 0\n")
    html = text(ines.get(f"/instructor/labs/{LAB}"))
    assert re.search(r'<input type="checkbox" id="unloadable_counts" name="unloadable_counts"[^>]*>', html)
    assert 'name="unloadable_counts" value="on" aria-describedby="unloadable_counts-note">' in html  # unticked
    with services.sessions() as session:
        assert session.scalars(select(Score.submission_id).where(Score.user_id == student.id)).one() == good

    data = {"csrf_token": token(ines), "late_policy": "none", "counting": "last", "unloadable_counts": "on"}
    response = ines.post(f"/instructor/labs/{LAB}", data=data, follow_redirects=True)
    assert "unloadable_counts: no → yes" in text(response)
    assert re.search(r'id="unloadable_counts"[^>]* checked>', text(response))
    with services.sessions() as session:
        assert course_lab(session, LAB).unloadable_counts is True
        cell = session.scalars(select(Score).where(Score.user_id == student.id)).one()
        assert (cell.submission_id, cell.final) == (broken, 0.0)  # the last attempt counts, loadable or not
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "lab_policy")).one()
        assert (event.old, event.new) == ({"unloadable_counts": False}, {"unloadable_counts": True})

    data.pop("unloadable_counts")  # unticked: the box is not sent
    ines.post(f"/instructor/labs/{LAB}", data={**data, "csrf_token": token(ines)})
    with services.sessions() as session:
        assert course_lab(session, LAB).unloadable_counts is False
        assert session.scalars(select(Score.submission_id).where(Score.user_id == student.id)).one() == good


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"due_at": "tomorrow"}, "not a date"),
        ({"due_at": "2030-03-02T00:00", "hard_deadline_at": "2030-03-01T00:00"}, "before the due date"),
        ({"late_policy": "percent_per_day", "late_percent_per_day": "0"}, "above 0"),
        ({"max_submissions": "0"}, "at least 1"),
        ({"late_policy": "whatever"}, "choose one"),
    ],
)
def test_bad_lab_settings_are_refused(ines, services, changes, message):
    data = {"csrf_token": token(ines), "late_policy": "none", "counting": "last", **changes}
    response = ines.post(f"/instructor/labs/{LAB}", data=data)
    assert response.status_code == 400
    assert message in text(response)
    with services.sessions() as session:
        assert session.scalars(select(AuditEvent)).all() == []


def test_grant_change_and_revoke_an_extension(ines, services, student, graded):
    data = {
        "csrf_token": token(ines),
        "user_id": student.id,
        "lab_id": LAB,
        "due_at": "2030-01-01T12:00",
        "reason": XSS,
    }
    response = ines.post("/instructor/extensions", data=data)
    assert response.status_code == 303
    data["due_at"] = "2030-01-02T12:00"
    assert ines.post("/instructor/extensions", data=data).status_code == 303
    with services.sessions() as session:
        extension = session.scalars(select(Extension)).one()
        assert extension.due_at == dt.datetime(2030, 1, 2, 12, tzinfo=dt.timezone.utc)
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "extension_grant")).all()
        assert len(events) == 2 and events[1].old["due_at"].startswith("2030-01-01")
        extension_id = extension.id
    html = text(ines.get(f"/instructor/students/{student.id}"))
    assert XSS not in html and "2030-01-02 12:00 UTC" in html
    assert (
        ines.post(f"/instructor/extensions/{extension_id}/revoke", data={"csrf_token": token(ines)}).status_code == 303
    )
    with services.sessions() as session:
        assert session.scalars(select(Extension)).all() == []
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "extension_revoke")).one()


def test_extension_needs_a_date(ines, student):
    data = {"csrf_token": token(ines), "user_id": student.id, "lab_id": LAB, "due_at": ""}
    response = ines.post("/instructor/extensions", data=data, follow_redirects=True)
    assert "Give the new due date" in text(response)


def test_lab_due_date_change_recomputes_late_scores(ines, services, graded, student):
    data = {
        "csrf_token": token(ines),
        "due_at": "2000-01-01T00:00",
        "late_policy": "zero_after_deadline",
        "counting": "last",
    }
    assert ines.post(f"/instructor/labs/{LAB}", data=data).status_code == 303
    with services.sessions() as session:
        score = session.scalars(select(Score).where(Score.user_id == student.id, Score.lab_id == LAB)).one()
        assert score.final == 0


# --- roster --------------------------------------------------------------------------------


def roster_upload(client, body: bytes, name="roster.csv"):
    data = {"csrf_token": token(client, "/instructor/roster"), "file": (io.BytesIO(body), name)}
    return client.post("/instructor/roster", data=data, content_type="multipart/form-data")


def test_roster_import(ines, services):
    body = b"student_id,name,section,email\n1001,Zed Zero,C,zed@example.org\n1002,Yan,C,\n"
    response = roster_upload(ines, body)
    assert response.status_code == 200
    assert "2 students: 2 created" in text(response)
    with services.sessions() as session:
        assert {u.username for u in session.scalars(select(User).where(User.section == "C"))} == {"1001", "1002"}


def test_roster_problems_are_listed_per_row_and_nothing_imported(ines, services):
    body = f"student_id,name,email\n1001,{XSS},not-an-email\n,Nobody,\n".encode()
    response = roster_upload(ines, body)
    assert response.status_code == 422
    html = text(response)
    assert "row 2:" in html and "row 3: student_id is empty" in html and "nothing imported" in html
    assert XSS not in html
    with services.sessions() as session:
        assert session.scalars(select(User).where(User.username == "1001")).first() is None


def test_roster_file_level_problems(ines):
    response = roster_upload(ines, b"name,email\nA,a@example.org\n")
    assert response.status_code == 422 and "no student_id column" in text(response)
    response = roster_upload(ines, "student_id\n1\u00e9\n".encode("latin-1"))
    assert response.status_code == 422 and "not UTF-8" in text(response)
    response = ines.post("/instructor/roster", data={"csrf_token": token(ines, "/instructor/roster")})
    assert response.status_code == 400


# --- CSV downloads -------------------------------------------------------------------------


def test_canvas_csv(ines, graded):
    response = ines.get("/instructor/export/canvas.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text(response))))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert any(LAB in cell for cell in rows[0])
    assert rows[1][0] == "Points Possible"
    assert {r[0] for r in rows[2:]} == {"Alice", "Bob"}


def test_long_csv(ines, graded):
    response = ines.get("/instructor/export/long.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(text(response))))
    assert tuple(rows[0]) == LONG_HEADER
    assert any(r[1] == "alice" and r[4] == LAB for r in rows[1:])
