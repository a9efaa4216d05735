"""What the class gets wrong, on the web: the instructors' API (shape, order, scope, 403, 404),
the misconceptions panel (on the dashboard and on its own page) and its two CSV downloads."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from grader.db.models import Lab, User
from grader.db.session import session_scope
from grader.service.insight import FIXTURES_HEADER, MISCONCEPTIONS_HEADER
from grader.service.submissions import grade_submission, submit
from grader.service.users import create_token
from tests.service.conftest import CORRECT, WRONG, InlineRunner
from tests.web.conftest import login, make_services

LAB = "lab01-mse"
T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
NO_HALF = WRONG
MEAN = CORRECT.replace("0.5 * float(np.sum(", "float(np.mean(")
RAISES = CORRECT.replace("    y = np.asarray", "    1 / 0\n    y = np.asarray")
NO_HALF_KEY, MEAN_KEY = "mistake:mse_no_half", "mistake:mse_mean"
EXCEPTION_KEY = "exception:mean_squared_error:ZeroDivisionError"
CAUSE_FIELDS = {"key", "kind", "mistake", "message", "students", "share", "fixtures", "fixed_next_attempt"}


@pytest.fixture
def services(config: Any, dispatcher: Any) -> Iterator[Any]:
    """Services that grade in this process (the harness without a sandbox): fast and deterministic."""
    runner = InlineRunner()
    opened = make_services(config, dispatcher=dispatcher, runner_factory=lambda: runner)
    yield opened
    opened.close()


@pytest.fixture
def course(services: Any, make_user: Any, student: User, other_student: User) -> dict[str, Any]:
    """alice: the ½ missing, fixed 10 minutes later; bob and dave: the ½ missing; carol: a mean;
    erin: raises. Returns users by name and submission ids by (name, attempt)."""
    with session_scope(services.sessions) as session:
        session.execute(update(Lab).where(Lab.id == LAB).values(max_submissions=None, min_interval_seconds=None))
    users = {
        "alice": student,
        "bob": other_student,
        "carol": make_user("carol", display_name="Carol"),
        "dave": make_user("dave", display_name="Dave"),
        "erin": make_user("erin", display_name="Erin"),
    }
    plan = {
        "alice": [(0, NO_HALF), (10, CORRECT)],
        "bob": [(0, NO_HALF)],
        "carol": [(0, MEAN)],
        "dave": [(0, NO_HALF)],
        "erin": [(0, RAISES)],
    }
    attempts = {}
    for name, tries in plan.items():
        for number, (minutes, source) in enumerate(tries, start=1):
            found = submit(services, users[name].id, LAB, source, "mse.py", now=T0 + dt.timedelta(minutes=minutes))
            grade_submission(services, found.id, worker="test")
            attempts[name, number] = found.id
    return {"users": users, "attempts": attempts}


def token_of(services: Any, user: User) -> str:
    with session_scope(services.sessions) as session:
        return create_token(session, session.get(User, user.id))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def ines_token(services: Any, instructor: User) -> str:
    return token_of(services, instructor)


@pytest.fixture
def ines(client: Any, instructor: User) -> Any:
    assert login(client, instructor.username).status_code == 302
    return client


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == status and body["message"]
    return body


# --- API -------------------------------------------------------------------------------------


def test_misconceptions_api_gives_each_cause_most_students_first(client: Any, course: Any, ines_token: str) -> None:
    response = client.get(f"/api/v1/labs/{LAB}/misconceptions", headers=bearer(ines_token))
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert {"lab", "students", "causes"} <= set(body) and body["lab"] == LAB
    assert (body["scope"], body["students"]) == ("counted", 5)
    assert [(c["key"], c["students"]) for c in body["causes"]] == [(NO_HALF_KEY, 2), (EXCEPTION_KEY, 1), (MEAN_KEY, 1)]
    assert all(set(c) == CAUSE_FIELDS for c in body["causes"])
    no_half = body["causes"][0]
    assert (no_half["kind"], no_half["mistake"], no_half["share"]) == ("mistake", "mse_no_half", 0.4)
    assert len(no_half["fixtures"]) == 24 and no_half["message"].startswith("Your value matches Σ(y−t)²")
    # alice showed it at her first attempt and no longer at her next, 10 minutes later
    assert no_half["fixed_next_attempt"] == {"students": 1, "fixed": 1, "share": 1.0, "median_seconds": 600.0}
    exception = body["causes"][1]
    assert (exception["kind"], exception["mistake"]) == ("exception", None)
    assert exception["fixed_next_attempt"] == {"students": 0, "fixed": 0, "share": None, "median_seconds": None}
    assert body["by_attempt"][0] == {
        "attempt": 1,
        "students": 5,
        "causes": {NO_HALF_KEY: 3, EXCEPTION_KEY: 1, MEAN_KEY: 1},
    }


def test_misconceptions_api_over_all_attempts(client: Any, course: Any, ines_token: str) -> None:
    body = client.get(f"/api/v1/labs/{LAB}/misconceptions?scope=all", headers=bearer(ines_token)).get_json()
    assert (body["scope"], body["students"]) == ("all", 5)
    assert [(c["key"], c["students"], c["share"]) for c in body["causes"]] == [
        (NO_HALF_KEY, 3, 0.6),
        (EXCEPTION_KEY, 1, 0.2),
        (MEAN_KEY, 1, 0.2),
    ]


def test_fixture_stats_api_gives_pass_counts_and_the_commonest_cause(client: Any, course: Any, ines_token: str) -> None:
    response = client.get(f"/api/v1/labs/{LAB}/fixtures/stats", headers=bearer(ines_token))
    body = response.get_json()
    assert response.status_code == 200 and (body["lab"], body["students"]) == (LAB, 5)
    fixtures = body["fixtures"]
    assert len(fixtures) == 25 and all(f["total"] == 5 and f["passed"] + f["failed"] == 5 for f in fixtures)
    # bob and dave (no ½), carol (mean) and erin (raises) fail most fixtures: the ½ is the commonest cause
    worst = min(fixtures, key=lambda f: f["passed"])
    assert (worst["passed"], worst["failed"], worst["pass_rate"]) == (1, 4, 0.2)
    assert worst["top_cause"]["key"] == NO_HALF_KEY and worst["top_cause"]["students"] == 2
    assert set(worst["top_cause"]) == {"key", "kind", "mistake", "message", "students"}
    assert {"name", "category", "visibility"} <= set(worst)


@pytest.mark.parametrize("url", [f"/api/v1/labs/{LAB}/misconceptions", f"/api/v1/labs/{LAB}/fixtures/stats"])
def test_students_get_403_and_strangers_401(client: Any, services: Any, course: Any, url: str) -> None:
    error_of(client.get(url, headers=bearer(token_of(services, course["users"]["bob"]))), 403)
    error_of(client.get(url), 401)


@pytest.mark.parametrize("url", ["/api/v1/labs/no-such-lab/misconceptions", "/api/v1/labs/no-such-lab/fixtures/stats"])
def test_an_unknown_lab_is_404(client: Any, ines_token: str, url: str) -> None:
    assert "no-such-lab" in error_of(client.get(url, headers=bearer(ines_token)), 404)["message"]


def test_an_unknown_scope_is_400(client: Any, ines_token: str) -> None:
    body = error_of(client.get(f"/api/v1/labs/{LAB}/misconceptions?scope=some", headers=bearer(ines_token)), 400)
    assert "counted" in body["message"] and "all" in body["message"]


def test_an_empty_lab_has_no_causes(client: Any, ines_token: str) -> None:
    body = client.get(f"/api/v1/labs/{LAB}/misconceptions", headers=bearer(ines_token)).get_json()
    assert (body["students"], body["causes"], body["by_attempt"]) == (0, [], [])
    assert client.get(f"/api/v1/labs/{LAB}/fixtures/stats", headers=bearer(ines_token)).get_json()["fixtures"] == []


def test_the_openapi_document_describes_both_as_they_answer(client: Any, course: Any, ines_token: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    document = client.get("/api/v1/openapi.json").get_json()
    for path, schema, scopes in (
        ("/api/v1/labs/{lab_id}/misconceptions", "Misconceptions", ("counted", "all")),
        ("/api/v1/labs/{lab_id}/fixtures/stats", "FixtureStats", ("counted",)),
    ):
        assert set(document["paths"][path]["get"]["responses"]) >= {"200", "401", "403", "404"}
        for scope in scopes:
            url = path.replace("{lab_id}", LAB) + ("?scope=all" if scope == "all" else "")
            body = client.get(url, headers=bearer(ines_token)).get_json()
            wanted = {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
            jsonschema.Draft202012Validator(wanted).validate(body)


# --- the panel -----------------------------------------------------------------------------------


def test_the_page_shows_causes_with_shares_fixes_and_links(ines: Any, course: Any) -> None:
    html = ines.get(f"/instructor/labs/{LAB}/misconceptions").get_data(as_text=True)
    users, attempts = course["users"], course["attempts"]
    causes = html.split('class="stack causes"')[1].split("</table>")[0]
    rows = re.split(r"<tr id=\"cause-\d+\">", causes)[1:]
    assert [NO_HALF_KEY in rows[0], EXCEPTION_KEY in rows[1], MEAN_KEY in rows[2]] == [True] * 3
    assert "2 of 5 (40%)" in rows[0] and "1 of 1 (100%)" in rows[0] and "median 10 min later" in rows[0]
    for name in ("bob", "dave"):
        sid = attempts[name, 1]
        assert f'href="/courses/dl101/instructor/students/{users[name].id}#submission-{sid}"' in rows[0]
    # the message is Markdown: code spans, never raw backticks
    assert "<code>mean_squared_error</code> raised <code>ZeroDivisionError</code>" in rows[1] and "`" not in causes
    assert "no next attempt yet" in rows[1]
    assert 'aria-current="true">Counted submissions<' in html
    assert f'href="/courses/dl101/instructor/labs/{LAB}/misconceptions?scope=all"' in html


def test_the_chart_has_a_text_equivalent(ines: Any, course: Any) -> None:
    html = ines.get(f"/instructor/labs/{LAB}/misconceptions").get_data(as_text=True)
    figure = html.split('id="misconceptions-trend-figure"')[1].split("</figure>")[0]
    assert 'role="img"' in figure and '<title id="misconceptions-trend-title">' in figure and "<desc" in figure
    assert "mse_no_half: attempt 1 60%, attempt 2 0%" in figure  # the description says every point
    table = figure.split("<table>")[1]
    assert re.search(r"<th scope=\"row\">1</th><td>5</td><td>3 \(60%\)</td>", table)


def test_the_fixture_bars_name_the_commonest_cause_and_who_fails(ines: Any, course: Any) -> None:
    html = ines.get(f"/instructor/labs/{LAB}/misconceptions").get_data(as_text=True)
    table = html.split('class="stack fixture-stats"')[1].split("</table>")[0]
    assert "1 / 5 (20%)" in table and 'class="bar"' in table
    assert "2 of 4 failing" in table and '<a href="#cause-1"><code>mse_no_half</code></a>' in table
    assert 'id="cause-1"' in html.split('class="stack causes"')[1]  # the row it points at
    carol = course["users"]["carol"]
    assert f'href="/courses/dl101/instructor/students/{carol.id}#submission-{course["attempts"]["carol", 1]}"' in table


def test_all_attempts_link_each_student_s_latest_attempt_showing_it(ines: Any, course: Any) -> None:
    html = ines.get(f"/instructor/labs/{LAB}/misconceptions?scope=all").get_data(as_text=True)
    assert 'aria-current="true">All attempts<' in html and "3 of 5 (60%)" in html
    alice = course["users"]["alice"]
    assert f'href="/courses/dl101/instructor/students/{alice.id}#submission-{course["attempts"]["alice", 1]}"' in html


def test_the_dashboard_includes_the_panel_for_the_chosen_lab(ines: Any, course: Any) -> None:
    html = ines.get(f"/instructor/?lab={LAB}").get_data(as_text=True)
    assert 'id="misconceptions"' in html and "What the class gets wrong" in html
    assert f'href="/courses/dl101/instructor/?lab={LAB}&amp;scope=all#misconceptions"' in html
    assert f'href="/courses/dl101/instructor/labs/{LAB}/misconceptions"' in html  # its page of its own


def test_an_empty_lab_says_what_will_appear(ines: Any) -> None:
    html = ines.get(f"/instructor/labs/{LAB}/misconceptions").get_data(as_text=True)
    text = " ".join(html.split())
    assert "No counted submission has its causes recorded yet. Once graded submissions lose points, this panel" in text
    assert "of the 0 " not in text and "Of the 0 " not in text  # no count of nobody
    # Said once: no empty table, chart or pass-rate list repeating it.
    assert 'class="stack causes"' not in html and "<figure" not in html and "fixture-stats" not in html
    assert "No causes yet" not in text and "no data yet" not in text and "No graded submissions yet" not in text
    html = ines.get(f"/instructor/labs/{LAB}/misconceptions?scope=all").get_data(as_text=True)
    assert "No graded attempt has its causes recorded yet" in " ".join(html.split())


def test_students_cannot_see_the_page_nor_download(client: Any, course: Any) -> None:
    assert login(client, "bob").status_code == 302
    for url in (
        f"/instructor/labs/{LAB}/misconceptions",
        f"/instructor/labs/{LAB}/misconceptions.csv",
        f"/instructor/labs/{LAB}/fixtures.csv",
    ):
        assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "/instructor/labs/nope/misconceptions",
        "/instructor/labs/nope/misconceptions.csv",
        "/instructor/labs/nope/fixtures.csv",
    ],
)
def test_unknown_lab_pages_are_404(ines: Any, url: str) -> None:
    assert ines.get(url).status_code == 404


# --- CSV --------------------------------------------------------------------------------------------


def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="lossgrader-{LAB}-')
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_misconceptions_csv_lists_every_cause_and_student(ines: Any, course: Any) -> None:
    rows = csv_rows(ines.get(f"/instructor/labs/{LAB}/misconceptions.csv"))
    assert rows[0] == MISCONCEPTIONS_HEADER
    found = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [r["key"] for r in found] == [NO_HALF_KEY, EXCEPTION_KEY, MEAN_KEY]
    no_half = found[0]
    assert (no_half["students"], no_half["of_students"], no_half["share"], no_half["usernames"]) == (
        "2",
        "5",
        "0.4",
        "bob dave",
    )
    assert (no_half["next_attempt_students"], no_half["fixed_next_attempt"], no_half["median_minutes_to_fix"]) == (
        "1",
        "1",
        "10",
    )
    assert len(no_half["fixtures"].split()) == 24 and no_half["scope"] == "counted"
    everyone = csv_rows(ines.get(f"/instructor/labs/{LAB}/misconceptions.csv?scope=all"))
    assert dict(zip(everyone[0], everyone[1], strict=True))["usernames"] == "alice bob dave"


def test_fixtures_csv_has_a_row_per_fixture(ines: Any, course: Any) -> None:
    rows = csv_rows(ines.get(f"/instructor/labs/{LAB}/fixtures.csv"))
    assert rows[0] == FIXTURES_HEADER and len(rows) == 26
    found = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    worst = min(found, key=lambda r: int(r["passed"]))
    assert (worst["passed"], worst["failed"], worst["total"], worst["pass_rate"]) == ("1", "4", "5", "0.2")
    assert (worst["top_cause_key"], worst["top_cause_students"]) == (NO_HALF_KEY, "2")
    assert worst["failing_usernames"].split() == ["bob", "carol", "dave", "erin"]


def test_csv_cells_never_start_a_formula() -> None:
    from grader.service.insight import CauseSummary, Misconceptions, NextAttempt, write_misconceptions_csv

    cause = CauseSummary("value:f", "value", None, "=HYPERLINK(1)", 1, 1.0, ["a"], NextAttempt())
    out = io.StringIO()
    write_misconceptions_csv(Misconceptions(LAB, "Lab", "counted", 1, [cause], [], []), out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert dict(zip(rows[0], rows[1], strict=True))["message"] == "'=HYPERLINK(1)"
