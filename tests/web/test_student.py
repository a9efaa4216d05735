"""Student pages: labs, lab page, submitting, results, history, diffs, isolation between students."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.db.models import Extension, FixtureResult, Submission, utcnow
from grader.db.session import session_scope
from grader.grading.lab import find_lab
from tests.web.conftest import build_app, course_id, course_lab, csrf_token, login, make_services

IMPLEMENTATIONS = Path(__file__).resolve().parent.parent / "implementations" / "lab01-mse"
CORRECT = (IMPLEMENTATIONS / "correct_vectorised.py").read_text()
WRONG = (IMPLEMENTATIONS / "wrong_no_half.py").read_text()
XSS = '<script>alert("x")</script>'
MAX = f"{find_lab('lab01-mse').max_score:g}"
FULL = f"{MAX} / {MAX}"


def set_lab(services, lab_id="lab01-mse", **values):
    with session_scope(services.sessions) as session:
        lab = course_lab(session, lab_id)
        for key, value in values.items():
            setattr(lab.lab if key in ("title", "version", "max_score") else lab, key, value)


def upload(client, source, filename="mine.py", lab_id="lab01-mse", **kwargs):
    token = csrf_token(client, f"/labs/{lab_id}")
    data = {"csrf_token": token, "file": (io.BytesIO(source.encode() if isinstance(source, str) else source), filename)}
    return client.post(f"/labs/{lab_id}/submit", data=data, content_type="multipart/form-data", **kwargs)


def paste(client, code, lab_id="lab01-mse"):
    token = csrf_token(client, f"/labs/{lab_id}")
    return client.post(f"/labs/{lab_id}/submit", data={"csrf_token": token, "code": code})


def submission_id(response):
    match = re.search(r"/submissions/(\d+)$", response.headers["Location"])
    assert match, response.headers.get("Location")
    return int(match.group(1))


def grade_now(services, sid):
    from grader.service.submissions import grade_submission

    grade_submission(services, sid, worker="test")


def text(response):
    return response.get_data(as_text=True)


# --- labs list and lab page -----------------------------------------------------------------


def test_labs_list_shows_deadlines_status_and_score(student_client, services, dispatcher):
    set_lab(services, due_at=utcnow() + dt.timedelta(days=2, hours=3, minutes=30))
    set_lab(
        services,
        "lab02-cross-entropy",
        due_at=utcnow() - dt.timedelta(days=1),
        hard_deadline_at=utcnow() - dt.timedelta(hours=1),
    )
    html = text(student_client.get("/labs"))
    assert "Lab01" in html and "Lab02" in html and "Lab03" in html
    assert "2 days 3 h left" in html
    assert "closed" in html
    assert "not submitted" in html

    sid = submission_id(upload(student_client, CORRECT))
    html = text(student_client.get("/labs"))
    assert f'href="/courses/dl101/submissions/{sid}"' in html and "queued" in html
    grade_now(services, sid)
    html = text(student_client.get("/labs"))
    assert "graded" in html and FULL in html


def test_extension_moves_the_students_due_date(student_client, services, student):
    set_lab(services, due_at=utcnow() - dt.timedelta(hours=1), hard_deadline_at=utcnow() - dt.timedelta(minutes=1))
    with session_scope(services.sessions) as session:
        session.add(
            Extension(
                course_id=course_id(session),
                user_id=student.id,
                lab_id="lab01-mse",
                due_at=utcnow() + dt.timedelta(hours=5),
            )
        )
    html = text(student_client.get("/labs/lab01-mse"))
    assert "your extension" in html
    assert "4 h 59 min left" in html or "5 h left" in html
    assert 'name="file"' in html  # still open for this student


def test_lab_page(student_client):
    html = text(student_client.get("/labs/lab01-mse"))
    assert "<h1>Lab01: MSE" in html or "Lab01" in html
    assert html.count("<h1") == 1  # the handout's own title is a level down
    assert "<strong><code>mean_squared_error(y, t)</code></strong>" in html  # Markdown rendered
    assert 'role="math" aria-label="E = ½ · Σₖ (yₖ − tₖ)²"' in html  # the formula typeset (test_student_lab.py)
    assert "lossgrader check lab01.py --lab lab01-mse" in html  # the handout's command, everywhere on the page
    assert 'href="/courses/dl101/labs/lab01-mse/public-fixtures.json"' in html
    assert '<label for="file">' in html and '<label for="code">' in html
    assert 'enctype="multipart/form-data"' in html
    assert "17 hidden fixtures" in html


def test_unknown_lab_is_404(student_client):
    assert student_client.get("/labs/no-such-lab").status_code == 404
    assert student_client.get("/labs/no-such-lab/public-fixtures.json").status_code == 404


def test_closed_lab_shows_no_form(student_client, services):
    set_lab(services, due_at=utcnow() - dt.timedelta(days=2), hard_deadline_at=utcnow() - dt.timedelta(days=1))
    html = text(student_client.get("/labs/lab01-mse"))
    assert "This lab is closed" in html
    assert 'name="file"' not in html


def test_public_fixtures_download(student_client):
    response = student_client.get("/labs/lab01-mse/public-fixtures.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    document = json.loads(response.get_data(as_text=True))
    lab = find_lab("lab01-mse")
    assert [f["name"] for f in document["fixtures"]] == [f.name for f in lab.fixtures_by("public")]
    hidden = {f.name for f in lab.fixtures_by("hidden")}
    assert not hidden & {f["name"] for f in document["fixtures"]}
    first = document["fixtures"][0]
    assert set(first) >= {"name", "function", "args", "expected", "points"}


# --- submitting -------------------------------------------------------------------------------


def test_submit_upload_end_to_end_with_a_fake_dispatcher(student_client, services, dispatcher):
    response = upload(student_client, CORRECT, "my_lab01.py")
    assert response.status_code == 303
    sid = submission_id(response)
    assert dispatcher.dispatched == [sid]

    page = student_client.get(f"/submissions/{sid}")
    html = text(page)
    assert "Queued" in html
    assert '<meta http-equiv="refresh"' in html and "<noscript>" in html  # works without JS
    assert 'src="/static/submission.js"' in html
    assert "Refresh" in html
    assert "my_lab01.py" in html
    response = student_client.get(f"/submissions/{sid}/status")
    assert response.get_json() == {
        "id": sid,
        "status": "queued",
        "done": False,
        "score": None,
        "max_score": None,
        "ahead": 0,
        "retry_after": 1,
    }
    assert response.headers["Retry-After"] == "1"

    grade_now(services, sid)
    html = text(student_client.get(f"/submissions/{sid}"))
    assert "Graded" in html and FULL in html
    assert "<noscript>" not in html and "submission.js" not in html
    response = student_client.get(f"/submissions/{sid}/status")
    status = response.get_json()
    assert status["done"] and status["status"] == "graded" and status["score"] == float(MAX)
    assert "ahead" not in status and "Retry-After" not in response.headers


def test_submit_by_pasting(student_client, services, dispatcher):
    response = paste(student_client, CORRECT)
    assert response.status_code == 303
    with services.sessions() as session:
        row = session.get(Submission, submission_id(response))
        assert row.filename == "submission.py"
        assert row.source.strip() == CORRECT.strip()


@pytest.mark.parametrize(
    "kind, message",
    [
        ("nothing", "Choose a .py file to upload, or paste your code."),
        ("both", "Upload a file or paste code, not both."),
        ("not-py", "its name must end in .py"),
    ],
)
def test_submit_form_problems(student_client, dispatcher, kind, message):
    token = csrf_token(student_client, "/labs/lab01-mse")
    data = {"csrf_token": token}
    if kind == "both":
        data.update(code=CORRECT, file=(io.BytesIO(CORRECT.encode()), "a.py"))
    if kind == "not-py":
        data.update(file=(io.BytesIO(CORRECT.encode()), "notes.txt"))
    response = student_client.post("/labs/lab01-mse/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in text(response)
    assert dispatcher.dispatched == []


def test_refusals_are_shown(student_client, services, dispatcher):
    set_lab(services, max_submissions=1)
    assert upload(student_client, CORRECT).status_code == 303
    response = upload(student_client, CORRECT)
    assert response.status_code == 422
    assert "You have used all 1 submission allowed for this lab." in text(response)
    assert len(dispatcher.dispatched) == 1


def test_submitting_after_the_hard_deadline_is_refused(student_client, services, dispatcher):
    set_lab(services, hard_deadline_at=utcnow() - dt.timedelta(minutes=1))
    response = upload(student_client, CORRECT)
    assert response.status_code == 422
    assert "closed" in text(response)
    assert dispatcher.dispatched == []


def test_non_utf8_file_is_refused_with_a_message(student_client, dispatcher):
    response = upload(student_client, "x = 'é'\n".encode("latin-1"))
    assert response.status_code == 422
    assert "Your file was not accepted" in text(response)


def test_results_show_public_details_but_only_verdicts_for_hidden(student_client, services):
    sid = submission_id(upload(student_client, WRONG))
    grade_now(services, sid)
    html = text(student_client.get(f"/submissions/{sid}"))
    with services.sessions() as session:
        results = session.scalars(select(FixtureResult).where(FixtureResult.submission_id == sid)).all()
        seed = str(session.get(Submission, sid).seed)
    public = [r for r in results if r.visibility == "public" and not r.passed]
    hidden = [r for r in results if r.visibility == "hidden"]
    randomised = [r for r in results if r.visibility == "randomised"]
    assert public and hidden and randomised
    assert "Call" in html and "Expected" in html and "Got" in html and "Max abs. error" in html
    for result in hidden:
        assert result.name in html and result.category in html
        for shown in result.detail.get("inputs") or []:
            if len(shown) > 12:
                assert shown not in html  # never a hidden input
    for result in randomised:
        assert result.name in html
    assert f"<code>{seed}</code>" in html
    assert "Failed" in html


def test_submission_error_is_shown(student_client, services):
    sid = submission_id(upload(student_client, "def mean_squared_error(y, t:\n    pass\n"))
    grade_now(services, sid)
    html = text(student_client.get(f"/submissions/{sid}"))
    assert "Problem with your file" in html


def test_grader_errors_are_not_blamed_on_the_student(student_client, services):
    sid = submission_id(upload(student_client, CORRECT))
    with session_scope(services.sessions) as session:
        row = session.get(Submission, sid)
        row.status, row.error = "error", "RunnerCrashed: /srv/secret/path"
    html = text(student_client.get(f"/submissions/{sid}"))
    assert "not your fault" in html
    assert "/srv/secret/path" not in html


def test_source_download(student_client):
    sid = submission_id(upload(student_client, CORRECT, "my_lab01.py"))
    response = student_client.get(f"/submissions/{sid}/source")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert "my_lab01.py" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True) == CORRECT


# --- history and diff -------------------------------------------------------------------------


def test_attempts_and_diff(student_client, services):
    first = submission_id(upload(student_client, WRONG))
    second = submission_id(upload(student_client, CORRECT))
    grade_now(services, first)
    html = text(student_client.get("/labs/lab01-mse/attempts"))
    assert f'href="/courses/dl101/submissions/{first}"' in html
    assert f'href="/courses/dl101/submissions/{second}"' in html
    assert re.search(rf"\b[\d.]+ / {MAX}\b", html)  # the graded attempt's score
    assert '<label for="diff-a">' in html and '<label for="diff-b">' in html
    html = text(student_client.get("/labs/lab01-mse/diff?a=1&b=2"))
    assert "Changes from attempt 1 to attempt 2" in html
    assert 'class="diff-line diff-del"' in html and 'class="diff-line diff-add"' in html
    assert "return np.sum((y - t) ** 2)" in html
    # no parameters: the two latest
    assert "Changes from attempt 1 to attempt 2" in text(student_client.get("/labs/lab01-mse/diff"))


def test_diff_of_identical_attempts(student_client):
    upload(student_client, CORRECT)
    upload(student_client, CORRECT)
    assert "the same code" in text(student_client.get("/labs/lab01-mse/diff?a=1&b=2"))


def test_diff_needs_two_attempts(student_client):
    upload(student_client, CORRECT)
    response = student_client.get("/labs/lab01-mse/diff")
    assert response.status_code == 302
    assert student_client.get("/labs/lab01-mse/diff?a=1&b=7").status_code == 404


def test_diff_is_escaped(student_client):
    upload(student_client, CORRECT)
    upload(student_client, CORRECT + f"\n# {XSS}\n")
    html = text(student_client.get("/labs/lab01-mse/diff?a=1&b=2"))
    assert XSS not in html
    assert "&lt;script&gt;" in html


# --- isolation between students (IDOR) --------------------------------------------------------


def _submission_rules(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("student.") and "submission_id" in rule.arguments
    ]


def test_a_queued_submission_says_how_many_are_ahead_of_it(app, client, services, student, other_student):
    bob = app.test_client()
    login(bob, "bob")
    for _ in range(2):
        assert upload(bob, CORRECT).status_code == 303
    login(client, "alice")
    sid = submission_id(upload(client, CORRECT))
    html = text(client.get(f"/submissions/{sid}"))
    assert "2 submissions ahead of yours" in html
    # Nothing graded lately, so no rate to go by: a short fixed wait, the same in the page.
    status = client.get(f"/submissions/{sid}/status").get_json()
    assert status["ahead"] == 2 and status["retry_after"] == 2
    assert 'data-poll-ms="2000"' in html


def test_students_cannot_see_or_change_each_others_submissions(app, client, services, student, other_student):
    login(client, "alice")
    sid = submission_id(upload(client, CORRECT))
    grade_now(services, sid)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/labs")})

    bob = app.test_client()
    login(bob, "bob")
    token = csrf_token(bob, "/labs")
    rules = _submission_rules(app)
    assert len(rules) >= 3
    for rule in rules:
        url = rule.rule.replace("<int:submission_id>", str(sid))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = bob.open(url, method=method, data={"csrf_token": token} if method != "GET" else None)
            assert response.status_code == 404, (method, url)
            assert CORRECT[:40] not in text(response)
        # a change attempt by any other method is refused too, and never reaches the data
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            response = bob.open(url, method=method, data={"csrf_token": token})
            assert response.status_code in (404, 405), (method, url)
    # Bob has no attempts: Alice's attempt numbers mean nothing to him
    assert bob.get("/labs/lab01-mse/diff?a=1&b=1").status_code == 404
    assert "Alice" not in text(bob.get("/labs/lab01-mse/attempts"))
    assert f"/submissions/{sid}" not in text(bob.get("/labs"))
    with services.sessions() as session:
        assert session.get(Submission, sid).status == "graded"


def test_unknown_submission_is_404_like_someone_elses(student_client):
    assert student_client.get("/submissions/999999").status_code == 404
    assert student_client.get("/submissions/999999/status").status_code == 404
    huge = 2**64
    assert student_client.get(f"/submissions/{huge}").status_code == 404
    assert student_client.get(f"/labs/lab01-mse/diff?a=1&b={huge}").status_code == 404


def test_instructors_may_use_the_student_pages_for_their_own_attempts(client, instructor):
    login(client, "ines")
    assert client.get("/labs").status_code == 200
    assert upload(client, CORRECT).status_code == 303


# --- XSS ---------------------------------------------------------------------------------------


def test_xss_in_source_filename_feedback_and_output_is_escaped(student_client, services):
    source = CORRECT + f"\n# {XSS}\nprint('{XSS}')\n"
    filename = "<img src=x onerror=alert(1)>.py"
    sid = submission_id(upload(student_client, source, filename))
    grade_now(services, sid)
    with session_scope(services.sessions) as session:
        row = session.get(Submission, sid)
        row.output = f"printed {XSS}"
        row.submission_error = f"problem {XSS}"
        first = session.scalars(select(FixtureResult).where(FixtureResult.submission_id == sid)).first()
        first.passed = False
        first.name = f"name{XSS}"
        first.category = f"cat{XSS}"
        first.feedback = f"feedback {XSS}"
        first.detail = {**first.detail, "got": XSS, "inputs": [XSS], "description": XSS}
    for url in (f"/submissions/{sid}", "/labs", "/labs/lab01-mse", "/labs/lab01-mse/attempts"):
        html = text(student_client.get(url))
        assert XSS not in html, url
        assert "<img src=x" not in html, url
    html = text(student_client.get(f"/submissions/{sid}"))
    assert "&lt;script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;.py" in html
    assert "printed &lt;script&gt;" in html  # the shown part's printed output, escaped


def test_xss_in_lab_title(student_client, services):
    set_lab(services, title=f"Lab {XSS}")
    for url in ("/labs", "/labs/lab01-mse"):
        assert XSS not in text(student_client.get(url))


# --- real grading --------------------------------------------------------------------------------


@pytest.mark.slow
def test_submit_and_grade_in_process_until_graded(config, student, tmp_path):
    """The embedded dispatcher with the subprocess runner: the page ends up "graded"."""
    from grader.grading.runner import SubprocessRunner

    services = make_services(config, runner_factory=SubprocessRunner)
    try:
        services.start_background()
        app = build_app(config, services)
        client = app.test_client()
        login(client, "alice")
        sid = submission_id(upload(client, CORRECT))
        deadline = time.monotonic() + 60
        status = {}
        while time.monotonic() < deadline:
            status = client.get(f"/submissions/{sid}/status").get_json()
            if status["done"]:
                break
            time.sleep(0.2)
        assert status["status"] == "graded", status
        html = text(client.get(f"/submissions/{sid}"))
        assert "Graded" in html and FULL in html
        assert FULL in text(client.get("/labs"))
    finally:
        services.close()


# --- the result page: verdict, causes once, fixtures folded away -------------------------------------

LAB02 = Path(__file__).resolve().parent.parent / "implementations" / "lab02-cross-entropy"
LOG10 = (LAB02 / "wrong_log10.py").read_text()
BAD_FILES = Path(__file__).resolve().parent.parent / "implementations" / "bad_files"


def graded_page(client, services, source, lab_id="lab01-mse", filename="mine.py"):
    sid = submission_id(upload(client, source, filename, lab_id=lab_id))
    grade_now(services, sid)
    return sid, text(client.get(f"/submissions/{sid}"))


def status_classes(html):
    match = re.search(r'<div id="status" class="([^"]+)"', html)
    assert match, html
    return set(match.group(1).split())


def section(html, css_class):
    """The HTML of the first element with ``css_class`` up to the next top-level section."""
    start = html.index(f'class="{css_class}')
    return html[start : html.index("</section>", start)]


def store_causes(services, sid, causes):
    with session_scope(services.sessions) as session:
        session.get(Submission, sid).causes = causes


@pytest.mark.parametrize(
    ("source", "outcome", "words"),
    [
        (CORRECT, "outcome-passed", "All 25 fixtures passed"),
        (WRONG, "outcome-partial", "fixtures failed"),
        (
            "import numpy as np\n\ndef mean_squared_error(y, t):\n    return -1.0\n",
            "outcome-failed",
            "No fixture passed",
        ),
    ],
)
def test_the_verdict_is_coloured_and_worded_by_outcome(student_client, services, source, outcome, words):
    _, html = graded_page(student_client, services, source)
    classes = status_classes(html)
    assert outcome in classes
    assert not {"outcome-passed", "outcome-partial", "outcome-failed"} - {outcome} & classes
    assert words in html  # the verdict in words, not by colour alone


def test_nothing_passed_is_never_green(student_client, services):
    _, html = graded_page(student_client, services, LOG10, lab_id="lab02-cross-entropy")
    classes = status_classes(html)
    assert "outcome-failed" in classes and "outcome-passed" not in classes
    assert "No fixture passed" in html and "0 / 30 points" in html
    assert "0 of 30 fixtures passed" not in html  # the headline said it: not twice


def test_each_cause_is_said_once_with_its_fixtures_and_markdown_rendered(student_client, services):
    sid, _ = graded_page(student_client, services, LOG10, lab_id="lab02-cross-entropy")
    with services.sessions() as session:
        names = [r.name for r in session.scalars(select(FixtureResult).where(FixtureResult.submission_id == sid))]
    message = "log base 10 instead of the natural logarithm: use `np.log`, not `np.log10`."
    store_causes(
        services,
        sid,
        [
            {
                "key": "mistake:log10",
                "kind": "mistake",
                "message": message,
                "fixtures": names,
                "points_lost": 30.0,
                "mistake": "cee_log10",
                "code": "12 |     return np.log10(y)\n                  ^^^^^^^^",
            }
        ],
    )
    html = text(student_client.get(f"/submissions/{sid}"))
    assert html.count("log base 10 instead of the natural logarithm") == 1
    assert "<code>np.log</code>" in html and "`" not in section(html, "causes-section")
    assert "All 30 fixtures" in html and "30 points lost" in html
    assert "return np.log10(y)" in html and "^^^^^^^^" in html  # the quoted line and its caret
    causes = section(html, "causes-section")
    assert all(name in causes for name in names)  # each fixture is listed under its cause
    assert causes.count('<li class="result failed">') == 30


def test_passed_fixtures_are_folded_away_and_details_one_click_away(student_client, services):
    _, html = graded_page(student_client, services, WRONG)
    passed = re.search(
        r'<details class="fixture-group passed-group">\s*<summary>(\d+) fixtures? passed</summary>', html
    )
    assert passed and int(passed.group(1)) > 0
    causes = section(html, "causes-section")
    assert "<details>" in causes and '<summary class="fixture-line">' in causes
    assert "Tolerance" in html and "rtol=" in html


def test_no_tag_is_shown_twice_and_randomised_fixtures_can_be_rerun(student_client, services):
    sid, html = graded_page(student_client, services, WRONG, filename="my lab.py")
    seed = str(session_seed(services, sid))
    assert "randomised</span> <span" not in html
    assert html.count('<span class="tag tag-randomised">randomised</span>') >= 1
    assert not re.search(r">randomised</span>\s*<span class=\"tag[^\"]*\">randomised<", html)
    assert f"lossgrader check &#39;my lab.py&#39; --lab lab01-mse --seed {seed}" in html


def session_seed(services, sid):
    with services.sessions() as session:
        return session.get(Submission, sid).seed


def test_a_file_that_does_not_parse_is_one_error_quoting_its_line(student_client, services):
    source = "import numpy as np\n\ndef mean_squared_error(y, t:\n    return 0.5\n"
    _, html = graded_page(student_client, services, source)
    assert "outcome-unloadable" in status_classes(html)
    assert "Your file could not be run" in html and "Problem with your file" in html
    assert "syntax error on line 3" in html.lower()
    quoted = re.search(r'<pre class="cause-code"><code>(.*?)</code></pre>', section(html, "load-error"), re.S)
    assert quoted and "def mean_squared_error(y, t:" in quoted.group(1) and "^" in quoted.group(1)
    assert "What went wrong" not in html  # no card per fixture
    assert "does not use up one of your attempts" in html
    assert "lossgrader check" not in html  # nothing to rerun locally: the file itself is the problem
    assert re.search(r"<summary>25 fixtures were not run</summary>", html)


def test_a_file_without_the_required_functions_is_one_error(student_client, services):
    _, html = graded_page(student_client, services, (BAD_FILES / "wrong_names.py").read_text())
    assert "outcome-unloadable" in status_classes(html)
    assert "Your file does not define the required functions" in html
    assert html.count('class="cause ') == 0  # one error, not one card per fixture
    assert "mean_squared_error" in section(html, "load-error")
    assert "does not use up one of your attempts" in html


def test_a_lab_that_counts_unloadable_files_does_not_promise_otherwise(student_client, services):
    set_lab(services, unloadable_counts=True)
    _, html = graded_page(student_client, services, "def mean_squared_error(y, t:\n    pass\n")
    assert "Problem with your file" in html and "does not use up one of your attempts" not in html


def test_submissions_stored_before_causes_still_get_grouped_feedback(student_client, services):
    sid, _ = graded_page(student_client, services, WRONG)
    store_causes(services, sid, None)
    response = student_client.get(f"/submissions/{sid}")
    assert response.status_code == 200
    html = text(response)
    assert "What went wrong" in html and "outcome-partial" in status_classes(html)
    with services.sessions() as session:
        rows = session.scalars(select(FixtureResult).where(FixtureResult.submission_id == sid)).all()
    causes = section(html, "causes-section")
    assert all(r.name in causes for r in rows if not r.passed)


def test_printed_output_and_warnings_of_the_shown_part_are_shown_capped_and_escaped(student_client, services):
    sid, _ = graded_page(student_client, services, CORRECT)
    printed = "".join(f"line {i} <b>\n" for i in range(200))
    with session_scope(services.sessions) as session:
        session.get(Submission, sid).output = (
            "submission.py:4: RuntimeWarning: divide by zero encountered in log\n" + printed
        )
    html = text(student_client.get(f"/submissions/{sid}"))
    assert '<details class="printed" open>' in html and "(1 warning)" in html
    assert "divide by zero encountered in log" in html
    assert "line 10 &lt;b&gt;" in html and "<b>" not in html
    assert "line 150" not in html and "Cut short here" in html


def test_an_exception_is_said_once_with_its_line_quoted(student_client, services):
    source = "def mean_squared_error(y, t):\n    return 0.5 * np.sum((y - t) ** 2)\n"
    _, html = graded_page(student_client, services, source)
    causes = section(html, "causes-section")
    assert causes.count("is not defined") == 1  # not again in each fixture's details
    assert "return 0.5 * np.sum((y - t) ** 2)" in causes and "^^^" in causes
