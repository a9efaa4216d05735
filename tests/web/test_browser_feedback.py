"""The result page in a real browser (``lossgrader serve`` + headless Debian chromium).

A demo student submits a lab02 file that uses ``np.log10`` (every fixture fails, one
mistake) and a file that does not parse, and reads the pages as they come: the
diagnosis is said once, thirty failing fixtures fit in two screens at 1280×800 with
their details folded, nothing scrolls sideways on a 375 px phone, and the syntax
error quotes its line. Screenshots go to ``docs/screenshots/result-*.png``.

Launching the server and the browser is :mod:`tests.web.test_browser`'s (same rules:
fails in CI without chromium or playwright, skips elsewhere).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import GRADING_MS, Server, _page, _sideways, _sign_in, browser, server  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
IMPLEMENTATIONS = ROOT / "tests" / "implementations"
LOG10 = IMPLEMENTATIONS / "lab02-cross-entropy" / "wrong_log10.py"
SYNTAX_ERROR = IMPLEMENTATIONS / "bad_files" / "syntax_error.py"
NO_DELTA = IMPLEMENTATIONS / "lab02-cross-entropy" / "wrong_no_delta.py"
NOTEBOOK = ROOT / "tests" / "grading" / "notebooks" / "textbook.ipynb"
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 800}

pytestmark = pytest.mark.slow


def _shot(page: Any, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"result-{name}.png"), full_page=full_page)


def _submit(page: Any, lab: str, path: Path) -> str:
    """Upload ``path`` to ``lab`` and wait until its page shows it graded; its address."""
    from playwright.sync_api import expect

    page.goto(f"/labs/{lab}")
    page.set_input_files("#file", str(path))
    page.get_by_role("button", name="Submit for grading").click()
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    expect(page.locator("#status.status-graded")).to_be_visible(timeout=GRADING_MS)
    return page.url


@pytest.fixture(scope="module")
def student_page(browser: Any, server: Server) -> Any:  # noqa: F811 - pytest fixtures
    page = _page(browser, server)
    page.set_viewport_size(DESKTOP)
    _sign_in(page, server, "demo-student1")
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def log10_url(student_page: Any) -> str:
    return _submit(student_page, "lab02-cross-entropy", LOG10)


def test_a_log10_submission_reads_its_diagnosis_once(student_page: Any, log10_url: str) -> None:
    page = student_page
    page.set_viewport_size(DESKTOP)
    page.goto(log10_url)
    status = page.locator("#status")
    assert "outcome-failed" in (status.get_attribute("class") or ""), "0 / 30 must not look like a success"
    assert "No fixture passed" in status.inner_text()

    causes = page.locator(".causes > li.cause")
    diagnosed = causes.filter(has_text=re.compile(r"log(arithm)? base 10|log10", re.I))
    assert diagnosed.count() == 1, page.locator(".causes").inner_text()
    sentence = diagnosed.first.locator(".cause-message p").first.inner_text().strip()
    body = page.locator("main").inner_text()
    assert body.count(sentence) == 1, f"said {body.count(sentence)} times: {sentence!r}"
    group = diagnosed.first.locator("ol.results")
    assert group.count() == 0 or group.inner_text().count(sentence) == 0  # the group lists fixtures, not the diagnosis
    assert "`" not in body, "Markdown must be rendered, never raw backticks"
    assert page.locator(".cause-message code").count() >= 1
    assert "randomised randomised" not in body
    command = page.locator(".reproduce code.copyable").inner_text()
    assert re.fullmatch(r"lossgrader check wrong_log10\.py --lab lab02-cross-entropy --seed \d+", command), command
    _shot(page, "log10-desktop")


def test_thirty_failing_fixtures_fit_in_two_screens(student_page: Any, log10_url: str) -> None:
    page = student_page
    page.set_viewport_size(DESKTOP)
    page.goto(log10_url)
    assert page.locator("li.result").count() == 30
    assert page.locator("li.result.failed").count() == 30
    assert page.locator("details[open]").count() == 0 or page.locator(".detail:visible").count() == 0
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= 2 * DESKTOP["height"], f"the page is {height} px tall at 1280×800"
    _shot(page, "log10-screen", full_page=False)

    # One click opens a fixture's details: call, expected, got, tolerance.
    first = page.locator("li.result:has(.tag-public) details").first
    first.locator("summary").click()
    detail = first.locator("dl.detail")
    for word in ("Call", "Expected", "Got", "Tolerance"):
        assert word in detail.inner_text(), detail.inner_text()
    hidden = page.locator("li.result:has(.tag-hidden)")
    assert hidden.count() > 0 and hidden.locator("details, dl.detail").count() == 0  # verdicts only
    _shot(page, "log10-fixture-open")


def test_nothing_scrolls_sideways_on_a_phone(student_page: Any, log10_url: str) -> None:
    page = student_page
    page.set_viewport_size(PHONE)
    page.goto(log10_url)
    assert _sideways(page) <= 0, f"the page is {_sideways(page)} px wider than a 375 px screen"
    _shot(page, "log10-phone")
    # Still true with every fixture's details open (long values wrap or scroll inside their box).
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert _sideways(page) <= 0, f"opened, the page is {_sideways(page)} px wider than a 375 px screen"
    page.set_viewport_size(DESKTOP)


def test_a_syntax_error_is_one_error_quoting_its_line(student_page: Any) -> None:
    page = student_page
    page.set_viewport_size(DESKTOP)
    _submit(page, "lab01-mse", SYNTAX_ERROR)
    status = page.locator("#status")
    assert "outcome-unloadable" in (status.get_attribute("class") or "")
    assert "could not be run" in status.inner_text()
    problem = page.locator("section.load-error")
    assert problem.count() == 1
    assert "line 4" in problem.locator(".cause-message").inner_text().lower()
    quoted = problem.locator("pre.cause-code").inner_text()
    assert "return 0.5 * np.sum((y - t) ** 2))" in quoted and "^" in quoted, quoted
    assert page.locator(".causes > li.cause").count() == 0  # not one card per fixture
    assert page.locator("li.result:visible").count() == 0  # the fixtures that did not run are folded away
    _shot(page, "syntax-error-desktop")
    page.set_viewport_size(PHONE)
    assert _sideways(page) <= 0
    _shot(page, "syntax-error-phone")
    page.set_viewport_size(DESKTOP)


def test_a_partly_right_file_shows_its_causes_passed_fixtures_folded_and_its_warnings(student_page: Any) -> None:
    page = student_page
    page.set_viewport_size(DESKTOP)
    _submit(page, "lab02-cross-entropy", NO_DELTA)
    status = page.locator("#status")
    assert "outcome-partial" in (status.get_attribute("class") or "")
    verdict = status.inner_text()
    assert "Some fixtures failed" in verdict and re.search(r"\d+ of 30 fixtures passed", verdict), verdict
    passed = page.locator("details.passed-group")
    assert passed.count() == 1 and passed.get_attribute("open") is None
    assert re.fullmatch(r"\d+ fixtures passed", passed.locator("> summary").inner_text().strip())
    # NumPy's warnings from the shown fixtures reach the student (the log of 0 is their clue).
    printed = page.locator("details.printed")
    assert printed.get_attribute("open") is not None
    assert "RuntimeWarning: divide by zero encountered in log" in printed.locator("pre").inner_text()
    messages = [m.strip() for m in page.locator(".cause-message").all_inner_texts()]
    assert len(messages) == len(set(messages)), messages  # each cause once
    _shot(page, "partial-desktop")


def test_a_notebook_with_leftover_cells_gets_every_point_and_reads_what_was_skipped(student_page: Any) -> None:
    # The course's own notebook (Japanese notes, an MNIST cell that cannot run here).
    page = student_page
    page.set_viewport_size(DESKTOP)
    _submit(page, "lab01-mse", NOTEBOOK)
    status = page.locator("#status")
    assert "outcome-passed" in (status.get_attribute("class") or ""), status.inner_text()
    assert " ".join(status.inner_text().split()) == "✓ Graded — All 25 fixtures passed: 25 / 25 points"  # once
    notes = page.locator("section.file-notes li")
    texts = [notes.nth(i).inner_text() for i in range(notes.count())]
    assert texts[0].startswith("cell 13, line 5 (from dataset.mnist import load_mnist) was skipped"), texts
    assert "only NumPy and the Python standard library are available to your code; dataset is not." in texts[0]
    assert texts[1].endswith("it uses load_mnist, which cell 13, line 5 would have defined."), texts
    body = page.locator("main").inner_text()
    assert "`" not in body and "NameError" not in body  # said as causes, once each, not as the cascade's errors
    _shot(page, "notebook-desktop")
    page.set_viewport_size(PHONE)
    assert _sideways(page) <= 0, f"the page is {_sideways(page)} px wider than a 375 px screen"
    _shot(page, "notebook-phone")
    page.set_viewport_size(DESKTOP)
