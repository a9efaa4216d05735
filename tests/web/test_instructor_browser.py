"""The instructor's pages in a real browser (``lossgrader serve`` + headless Debian chromium) on a seeded
course in Europe/Paris time (:mod:`tests.web.course_server`).

The gradebook keeps its header row and name column in place while its scores scroll inside
their box, and at 375 px the page itself never scrolls sideways while every score stays
reachable; cells read ``x / max``, link to the student's attempts and say when the counted
score is below the student's best. The settings form's inputs all look alike and show dates in
ISO 8601 in the course's time zone with the offset printed. Regrading a whole lab asks first,
with the number of submissions, and works without JavaScript. Screenshots go to
``docs/screenshots/instructor-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.course_server import BELOW_BEST, LAB01, LAB03, Course, course_fixture, new_page, sideways, sign_in
from tests.web.test_browser import GRADING_MS, browser  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 800}
VIEWPORTS = ((DESKTOP, "desktop"), (PHONE, "phone"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Course]:
    yield from course_fixture(tmp_path_factory)


@pytest.fixture(scope="module")
def instructor(browser: Any, course: Course) -> Iterator[Any]:  # noqa: F811 - pytest fixture
    page = new_page(browser, course)
    sign_in(page, course, "demo-instructor")
    yield page
    page.context.close()


def _shot(page: Any, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"instructor-{name}.png"), full_page=full_page)


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, locator
    return box


def test_gradebook_cells_read_x_of_max_link_to_attempts_and_flag_a_score_below_the_best(
    instructor: Any, course: Course
) -> None:
    from playwright.sync_api import expect

    page = instructor
    page.set_viewport_size(DESKTOP)
    page.goto("/instructor/gradebook")
    row = page.locator("tbody tr", has=page.get_by_role("link", name=BELOW_BEST, exact=True))
    cell = row.locator("td.score").first
    expect(cell.locator(".score-value")).to_have_text(re.compile(r"^\d+(\.\d+)? / \d+$"))
    expect(cell.locator(".below-best")).to_contain_text("below best")
    assert re.search(r"\bband-[0-4]\b", cell.get_attribute("class") or ""), "every score is shaded"
    expect(row.locator("td.total")).to_have_text(re.compile(r"^\d+(\.\d+)? / \d+$"))  # the total has its maximum
    assert page.locator(".below-best").count() == 1, "only the student whose last attempt fell below their best"
    cell.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/instructor/students/{course.students[BELOW_BEST]}#lab-{LAB01}$"))
    expect(page.locator(f"#lab-{LAB01} .mark-counted")).to_have_count(1)


def test_gradebook_header_and_names_stay_put_and_nothing_scrolls_the_page_sideways(instructor: Any) -> None:
    from playwright.sync_api import expect

    page = instructor
    for viewport, name in VIEWPORTS:
        page.set_viewport_size(viewport)
        page.goto("/instructor/gradebook")
        assert sideways(page) <= 0, f"{name}: the page scrolls {sideways(page)} px sideways"
        wrap = page.locator(".gradebook-wrap")
        _shot(page, f"gradebook-{name}", full_page=False)  # the table scrolls in its own box: the window shows it

        # Scroll the table's box to its far corner: the header row and the name column stay in place.
        wrap.evaluate("e => { e.scrollTop = e.scrollHeight; e.scrollLeft = e.scrollWidth; }")
        page.wait_for_function("() => document.querySelector('.gradebook-wrap').scrollTop > 0")
        frame = _box(wrap)
        header = _box(page.locator(".gradebook thead th").nth(1))
        assert abs(header["y"] - frame["y"]) <= 2, f"{name}: the header row scrolled away ({header}, {frame})"
        last_row = page.locator(".gradebook tbody tr").last
        first_column = _box(last_row.locator("th"))
        assert abs(first_column["x"] - frame["x"]) <= 2, f"{name}: the name column scrolled away"
        if viewport is PHONE:  # the last lab's score is reachable: scrolled into the box, beside the names
            wrap.evaluate("e => { e.scrollLeft = 0; }")
            score = last_row.locator("td.score:not(.total)").last
            score.scroll_into_view_if_needed()
            expect(score).to_be_in_viewport()
            assert _box(score)["x"] >= first_column["x"] + first_column["width"] - 1
            _shot(page, "gradebook-phone-scrolled", full_page=False)


def test_settings_form_styles_every_input_alike_and_shows_dates_in_the_course_zone(instructor: Any) -> None:
    from playwright.sync_api import expect

    page = instructor
    for viewport, name in VIEWPORTS:
        page.set_viewport_size(viewport)
        page.goto(f"/instructor/labs/{LAB01}")
        assert sideways(page) <= 0, f"{name}: the page scrolls sideways"
        form = page.locator("form.panel").first
        looks = form.locator("input[type=text], input[type=number], select").evaluate_all(
            """els => els.map(e => { const s = getComputedStyle(e);
                 return [s.borderTopWidth, s.borderTopStyle, s.borderTopColor, s.borderRadius, s.paddingTop, s.fontSize]
                   .join(' '); })"""
        )
        assert len(looks) >= 6 and len(set(looks)) == 1, f"{name}: inputs styled differently: {set(looks)}"
        due = page.locator("#due_at")
        expect(due).to_have_value(re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d$"))  # ISO 8601, on the course's clock
        expect(page.get_by_text("Europe/Paris, UTC+01:00").first).to_be_visible()
        expect(page.locator("#due_at-now")).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC\+01:00"))
        _shot(page, f"settings-{name}")

    # A due date typed on the course's clock is saved as that moment and shown back the same way.
    page.set_viewport_size(DESKTOP)
    page.goto(f"/instructor/labs/{LAB01}")
    original = page.locator("#due_at").input_value(), page.locator("#hard_deadline_at").input_value()
    page.fill("#due_at", "2030-01-15T18:30")
    page.fill("#hard_deadline_at", "2030-01-20T12:00Z")  # an explicit offset is honoured
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success").first).to_contain_text("2030-01-15 18:30 UTC+01:00")
    expect(page.locator("#due_at")).to_have_value("2030-01-15T18:30")
    expect(page.locator("#hard_deadline_at")).to_have_value("2030-01-20T13:00")
    page.fill("#due_at", "15/01/2030")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".form-error")).to_contain_text("Due date: not a date and time (YYYY-MM-DDTHH:MM, Europe/Paris")
    page.goto(f"/instructor/labs/{LAB01}")
    page.fill("#due_at", original[0])
    page.fill("#hard_deadline_at", original[1])
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#due_at")).to_have_value(original[0])


def test_regrading_a_whole_lab_says_how_many_and_asks_first_without_javascript(
    browser: Any,  # noqa: F811 - pytest fixture
    course: Course,
) -> None:
    from playwright.sync_api import expect

    page = new_page(browser, course, javascript=False)
    try:
        sign_in(page, course, "demo-instructor")
        page.goto(f"/instructor/labs/{LAB03}")
        page.get_by_role("link", name="Regrade the whole lab…").click()
        expect(page).to_have_url(re.compile(rf"/instructor/labs/{LAB03}/regrade$"))
        count = course.submissions[LAB03]
        expect(page.locator(".confirm")).to_contain_text(f"This regrades {count} submissions")
        for viewport, name in VIEWPORTS:
            page.set_viewport_size(viewport)
            _shot(page, f"regrade-confirm-{name}")
        page.set_viewport_size(DESKTOP)
        page.get_by_role("link", name=re.compile("Cancel")).click()
        expect(page).to_have_url(re.compile(rf"/instructor/labs/{LAB03}$"))
        page.goto(f"/instructor/labs/{LAB03}/regrade")
        page.get_by_role("button", name=f"Regrade {count} submissions").click()
        expect(page.locator("h1")).to_have_text(re.compile("Regrade of"), timeout=GRADING_MS)
        expect(page.locator("main")).to_contain_text(f"{count} submissions regraded")
    finally:
        page.context.close()


def test_dashboard_picks_a_lab_and_charts_its_submissions(instructor: Any) -> None:
    from playwright.sync_api import expect

    page = instructor
    page.set_viewport_size(DESKTOP)
    page.goto("/instructor/")
    picker = page.get_by_role("navigation", name="Charts of a lab")
    picker.get_by_role("link", name=re.compile("Lab02", re.I)).click()
    expect(picker.locator("[aria-current=page]")).to_contain_text(re.compile("Lab02", re.I))
    picker.get_by_role("link", name=re.compile("Lab01", re.I)).click()
    timeline = page.locator("#timeline-figure")
    expect(timeline.locator("svg")).to_be_visible()
    expect(timeline.locator("desc")).to_contain_text("in all")
    expect(timeline.locator("text", has_text="due")).to_have_count(1)  # the due date is among the submissions
    for viewport, name in VIEWPORTS:
        page.set_viewport_size(viewport)
        assert sideways(page) <= 0
        _shot(page, f"dashboard-{name}")


def test_student_page_marks_the_counted_attempt_and_keeps_regrades_secondary(instructor: Any, course: Course) -> None:
    from playwright.sync_api import expect

    page = instructor
    page.set_viewport_size(DESKTOP)
    page.goto(f"/instructor/students/{course.students[BELOW_BEST]}")
    counted = page.locator(f"#lab-{LAB01} article.counted-attempt")
    expect(counted).to_have_count(1)
    expect(counted.locator("h3")).to_contain_text("Attempt 2")
    expect(counted.locator(".mark-counted")).to_have_text("counted")
    expect(page.locator(f"#lab-{LAB01}")).to_contain_text("below the best, attempt 1 with 25 / 25")
    regrade = counted.get_by_role("button", name="Regrade this attempt")
    colours = regrade.evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
    assert colours[0] == "rgb(255, 255, 255)", f"a regrade button is secondary (outlined): {colours}"
    for viewport, name in VIEWPORTS:
        page.set_viewport_size(viewport)
        assert sideways(page) <= 0
        _shot(page, f"student-{name}", full_page=False)


def test_roster_lists_who_is_enrolled_with_counts_search_and_a_sample_csv(instructor: Any) -> None:
    from playwright.sync_api import expect

    page = instructor
    page.set_viewport_size(DESKTOP)
    page.goto("/instructor/roster")
    expect(page.locator(".counts")).to_contain_text("17 active students")  # 14 seeded + 3 demo students
    expect(page.locator(".counts")).to_contain_text("Section A: 5")
    page.select_option("#section", "B")
    page.fill("#q", "alan")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody th")).to_have_text("Alan Turing")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download a sample roster CSV").click()
    lines = Path(info.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("student_id,username,name,email,section") and len(lines) == 3
    page.set_viewport_size(PHONE)
    page.goto("/instructor/roster")
    assert sideways(page) <= 0
    _shot(page, "roster-phone", full_page=False)
