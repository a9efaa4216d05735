"""The misconceptions panel in a real browser (``lossgrader serve`` + headless Debian chromium).

Twelve students' lab01 attempts (catalogued mistakes, a numeric pattern, exceptions, wrong
types, most fixed at a later attempt) are graded into the served database with the real
grader (in this process, no sandbox: the files are the tests' own); the demo instructor then
reads the panel at 1280 px and on a 375 px phone (nothing scrolls sideways), follows a link
to a student's attempt and downloads both CSVs. Screenshots go to
``docs/screenshots/insight-*.png``.

Launching the server and the browser is :mod:`tests.web.test_browser`'s (same rules: fails
in CI without chromium or playwright, skips elsewhere).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import Server, _page, _passwords, _sideways, _sign_in, _start, _stop, browser  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "tests" / "implementations" / "lab01-mse"
SCREENSHOTS = ROOT / "docs" / "screenshots"
LAB = "lab01-mse"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
#: Each student's attempts in order: (minutes after T0, file).
PLAN = {
    "Ada Lovelace": [(0, "wrong_no_half"), (25, "correct_vectorised")],
    "Alan Turing": [(5, "wrong_no_half"), (40, "wrong_no_half"), (130, "correct_loops")],
    "Barbara Liskov": [(10, "wrong_no_half")],
    "Claude Shannon": [(15, "wrong_mean"), (50, "correct_textbook")],
    "Donald Knuth": [(20, "textbook_verbatim"), (32, "correct_vectorised")],
    "Edsger Dijkstra": [(25, "wrong_sqrt"), (70, "wrong_no_half"), (95, "correct_vectorised")],
    "Frances Allen": [(30, "wrong_no_half"), (48, "correct_vectorised")],
    "Grace Hopper": [(35, "wrong_hardcoded"), (90, "wrong_no_half")],
    "John Backus": [(40, "wrong_returns_array"), (75, "correct_vectorised")],
    "Katherine Johnson": [(45, "correct_vectorised")],
    "Leslie Lamport": [(50, "wrong_mutates_inputs"), (60, "correct_vectorised")],
    "Margaret Hamilton": [(55, "wrong_mean"), (120, "wrong_mean")],
}

pytestmark = pytest.mark.slow


def _seed(database_url: str) -> dict[str, int]:
    """The students and their graded attempts; {display name: user id}."""
    from grader.commands.web import DEMO_COURSE
    from grader.config import TestConfig
    from grader.db.session import session_scope
    from grader.service.context import open_services
    from grader.service.courses import enrol, get_course
    from grader.service.submissions import grade_submission, submit
    from grader.service.users import create_user
    from tests.service.conftest import InlineRunner, RecordingDispatcher

    runner = InlineRunner()
    services = open_services(
        TestConfig(database_url=database_url), dispatcher=RecordingDispatcher(), runner_factory=lambda: runner
    )
    users: dict[str, int] = {}
    try:
        with session_scope(services.sessions) as session:
            demo = get_course(session, DEMO_COURSE)  # lossgrader serve's demo course: the instructor's
            for name in PLAN:
                first = name.split()[0].lower()
                user = create_user(session, first, "student", display_name=name, section="A")
                enrol(session, demo, user, "student", "A")
                users[name] = user.id
        for name, tries in PLAN.items():
            for minutes, file in tries:
                source = (FILES / f"{file}.py").read_text()
                found = submit(services, users[name], LAB, source, f"{file}.py", now=T0 + dt.timedelta(minutes=minutes))
                grade_submission(services, found.id, worker="seed")
    finally:
        services.close()
    return users


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, int]]]:
    """``lossgrader serve`` on a fresh SQLite file, with the graded course in it."""
    process, url, log = _start(tmp_path_factory.mktemp("insight"))
    try:
        users = _seed(f"sqlite:///{log.parent / 'serve.db'}")
        yield Server(url, _passwords(log), log), users
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def page(browser: Any, course: tuple[Server, dict[str, int]]) -> Iterator[Any]:  # noqa: F811 - pytest fixtures
    server, _ = course
    opened = _page(browser, server)
    _sign_in(opened, server, "demo-instructor")
    yield opened
    opened.context.close()


def _shot(page: Any, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"insight-{name}.png"), full_page=full_page)


def test_the_panel_at_desktop_width(page: Any) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto(f"/instructor/labs/{LAB}/misconceptions")
    rows = page.locator("table.causes tbody tr")
    assert rows.count() == 2  # counted: Barbara's and Grace's missing ½, Margaret's mean
    first = rows.first.inner_text()
    assert "mse_no_half" in first and "2 of 12 (17%)" in first, first  # Barbara and Grace end with it
    assert "3 of 4 (75%)" in first, first  # Ada, Edsger and Frances fixed it at their next attempt, Alan did not
    assert "`" not in page.locator("main").inner_text(), "Markdown must be rendered, never raw backticks"
    chart = page.locator("#misconceptions-trend-figure svg[role=img]")
    assert chart.is_visible() and chart.bounding_box()["width"] > 600
    assert page.locator("#misconceptions-trend-figure .legend li").count() >= 3
    assert page.locator("table.fixture-stats tbody tr").count() == 25
    _shot(page, "desktop")
    page.locator("table.causes tbody tr").first.locator("details.students summary").click()
    page.locator("table.fixture-stats tbody tr").first.locator("details.students summary").click()
    _shot(page, "students-open", full_page=False)


def test_a_student_link_opens_that_attempt(page: Any, course: tuple[Server, dict[str, int]]) -> None:
    from playwright.sync_api import expect

    _, users = course
    page.set_viewport_size(DESKTOP)
    page.goto(f"/instructor/labs/{LAB}/misconceptions")
    row = page.locator("table.causes tbody tr").first
    row.locator("details.students summary").click()
    row.get_by_role("link", name="Barbara Liskov").click()
    expect(page).to_have_url(re.compile(rf"/instructor/students/{users['Barbara Liskov']}#submission-\d+$"))
    anchor = page.url.rsplit("#", 1)[1]
    expect(page.locator(f"#{anchor}")).to_be_visible()


def test_all_attempts_and_the_dashboard(page: Any) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto(f"/instructor/?lab={LAB}")
    panel = page.locator("#misconceptions")
    assert panel.is_visible()
    panel.get_by_role("link", name="All attempts").click()
    assert re.search(r"scope=all", page.url)
    assert page.locator("#misconceptions .scope-switch a[aria-current]").inner_text() == "All attempts"
    rows = page.locator("table.causes tbody tr")
    # every cause any attempt showed: the ½, the mean, √, a constant, TypeError, two wrong types, modified inputs
    assert rows.count() == 8, page.locator("table.causes").inner_text()
    first = rows.first.inner_text()
    assert "mse_no_half" in first and "6 of 12 (50%)" in first, first
    assert "<code>" not in first and "TypeError" in page.locator("table.causes").inner_text()
    _shot(page, "all-attempts")


def test_nothing_scrolls_sideways_on_a_phone(page: Any) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"/instructor/labs/{LAB}/misconceptions")
    assert _sideways(page) <= 0, f"the page is {_sideways(page)} px wider than a 375 px screen"
    _shot(page, "phone", full_page=False)
    for part, name in (("#misconceptions-trend-figure", "phone-chart"), ("table.fixture-stats", "phone-fixtures")):
        page.locator(part).evaluate("element => element.scrollIntoView()")
        _shot(page, name, full_page=False)
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert _sideways(page) <= 0, f"opened, the page is {_sideways(page)} px wider than a 375 px screen"
    page.set_viewport_size(DESKTOP)


def test_both_csv_downloads(page: Any) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto(f"/instructor/labs/{LAB}/misconceptions")
    for name, header in (("causes (CSV)", "lab,scope,key,"), ("fixtures (CSV)", "lab,fixture,category,")):
        with page.expect_download() as download:
            page.get_by_role("link", name=name).click()
        body = Path(download.value.path()).read_text(encoding="utf-8")
        assert body.startswith(header) and "mse_no_half" in body, body[:300]
