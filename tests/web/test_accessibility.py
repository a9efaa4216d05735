"""axe-core over every student and instructor page, in a real browser, at 1280 and 375 px.

A demo student hands in a wrong lab01 file, a correct one and one that does not parse
(graded for real by ``lossgrader serve``); then each page a student or an instructor can
reach (sign-in, labs, a lab, attempts, the diff, results of each kind, the error page; the
dashboard for each lab, gradebook, a student, lab settings and their error state, the regrade
confirmation and result, roster) is checked with the vendored axe-core
(``tests/web/vendor/axe-core``). No violation of serious or critical impact may remain.
Charts keep their text equivalents: a title, a description and a table of the numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.course_server import BELOW_BEST, LAB01, LAB02, LAB03, Course, course_fixture, new_page, sign_in
from tests.web.test_browser import GRADING_MS, browser  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "web" / "vendor" / "axe-core" / "axe.min.js"
IMPLEMENTATIONS = ROOT / "tests" / "implementations"
STUDENT = "demo-student1"
BLOCKING = ("serious", "critical")
VIEWPORTS = ({"width": 1280, "height": 800}, {"width": 375, "height": 800})

pytestmark = pytest.mark.slow

STUDENT_PAGES = [
    "/labs",
    f"/labs/{LAB01}",
    f"/labs/{LAB02}",
    f"/labs/{LAB03}",
    f"/labs/{LAB01}/attempts",
    f"/labs/{LAB01}/diff?a=1&b=2",
    "/submissions/{wrong}",
    "/submissions/{correct}",
    "/submissions/{broken}",
    "/labs/no-such-lab",  # the error page
]
INSTRUCTOR_PAGES = [
    "/instructor/",
    f"/instructor/?lab={LAB02}",
    f"/instructor/?lab={LAB03}",
    "/instructor/gradebook",
    "/instructor/gradebook?q=nobody-matches-this",
    "/instructor/students/{below_best}",
    "/instructor/students/{student}",
    f"/instructor/labs/{LAB01}",
    f"/instructor/labs/{LAB01}/regrade",
    f"/instructor/labs/{LAB01}/misconceptions",
    f"/instructor/labs/{LAB01}/misconceptions?scope=all",
    "/instructor/roster",
    "/instructor/roster?section=B",
]


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Course]:
    yield from course_fixture(tmp_path_factory)


def _submit(page: Any, path: Path) -> int:
    """Hand in ``path`` to lab01 and wait until it is graded; the submission's id."""
    from playwright.sync_api import expect

    page.goto(f"/labs/{LAB01}")
    page.set_input_files("#file", str(path))
    page.get_by_role("button", name="Submit for grading").click()
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    expect(page.locator("#status.status-graded")).to_be_visible(timeout=GRADING_MS)
    return int(page.url.rsplit("/", 1)[-1])


@pytest.fixture(scope="module")
def student(browser: Any, course: Course) -> Iterator[tuple[Any, dict[str, int]]]:  # noqa: F811 - pytest fixture
    """The demo student's page, signed in, after three graded attempts: wrong, correct, unparseable."""
    page = new_page(browser, course)
    sign_in(page, course, STUDENT)
    ids = {
        "wrong": _submit(page, IMPLEMENTATIONS / LAB01 / "wrong_no_half.py"),
        "correct": _submit(page, IMPLEMENTATIONS / LAB01 / "correct_vectorised.py"),
        "broken": _submit(page, IMPLEMENTATIONS / "bad_files" / "syntax_error.py"),
    }
    yield page, ids
    page.context.close()


@pytest.fixture(scope="module")
def instructor(browser: Any, course: Course, student: Any) -> Iterator[Any]:  # noqa: F811 - pytest fixture
    """The demo instructor's page, signed in (after the student's attempts, so that theirs are listed)."""
    page = new_page(browser, course)
    sign_in(page, course, "demo-instructor")
    yield page
    page.context.close()


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of serious or critical impact on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(v => ({
             id: v.id, impact: v.impact, help: v.help,
             nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.html.slice(0, 120))}))"""
    )
    return [v for v in violations if v["impact"] in BLOCKING]


def _audit(page: Any, path: str) -> None:
    failures = {}
    for viewport in VIEWPORTS:
        page.set_viewport_size(viewport)
        page.goto(path)
        found = serious_violations(page)
        if found:
            failures[f"{viewport['width']} px"] = found
    assert not failures, f"{path}:\n{json.dumps(failures, indent=1)}"


def test_sign_in_page(browser: Any, course: Course) -> None:  # noqa: F811 - pytest fixture
    page = new_page(browser, course)
    try:
        _audit(page, "/login")
    finally:
        page.context.close()


@pytest.mark.parametrize("path", STUDENT_PAGES)
def test_student_pages(student: tuple[Any, dict[str, int]], path: str) -> None:
    page, ids = student
    _audit(page, path.format(**ids))


@pytest.fixture(scope="module")
def student_id(instructor: Any) -> str:
    """The demo student's user id, from the gradebook's link."""
    return _student_id(instructor)


@pytest.mark.parametrize("path", INSTRUCTOR_PAGES)
def test_instructor_pages(instructor: Any, course: Course, student_id: str, path: str) -> None:
    _audit(instructor, path.format(below_best=course.students[BELOW_BEST], student=student_id))


def test_instructor_pages_after_a_post(instructor: Any, student: tuple[Any, dict[str, int]], student_id: str) -> None:
    """The settings form showing its errors, and a regrade's result."""
    from playwright.sync_api import expect

    page = instructor
    page.set_viewport_size(VIEWPORTS[0])
    page.goto(f"/instructor/labs/{LAB01}")
    page.fill("#due_at", "next Friday")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".form-error")).to_contain_text("Due date: not a date and time")
    assert not serious_violations(page)
    page.goto(f"/instructor/students/{student_id}")
    submission = student[1]["correct"]
    page.locator(f"#submission-{submission}").get_by_role("button", name="Regrade this attempt").click()
    expect(page.locator("h1")).to_have_text(f"Regrade of submission {submission}", timeout=GRADING_MS)
    assert not serious_violations(page)


def _student_id(page: Any) -> str:
    page.goto(f"/instructor/gradebook?q={STUDENT}")
    href = page.locator("tbody th a").first.get_attribute("href") or ""
    return href.rsplit("/", 1)[-1]


def test_charts_keep_their_text_equivalents(instructor: Any) -> None:
    page = instructor
    page.set_viewport_size(VIEWPORTS[0])
    page.goto(f"/instructor/?lab={LAB01}")
    for chart in ("histogram", "timeline"):
        svg = page.locator(f"#{chart}-figure svg[role=img]")
        labelled = (svg.get_attribute("aria-labelledby") or "").split()
        assert labelled == [f"{chart}-title", f"{chart}-desc"]
        assert page.locator(f"#{chart}-desc").text_content().strip()
        rows = page.locator(f"#{chart}-figure details table tbody tr")
        assert rows.count() >= 1, f"{chart}: no table of the numbers"
