"""The lab page, the attempts list and the attempt diff in a real browser (``lossgrader serve`` +
headless Debian chromium).

A demo student submits a wrong lab01 file, a correct one and one that does not parse. At
375 px nothing scrolls sideways and the handouts' formulas are typeset (subscripts smaller
and lowered, no raw Unicode subscripts, nothing wider than the screen); the attempts list
marks the counted attempt and the unloadable one; the diff lists the fixtures that changed
verdict beside the code. Screenshots go to ``docs/screenshots/lab-*.png``.

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
LAB01 = ROOT / "tests" / "implementations" / "lab01-mse"
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 800}
STUDENT = "demo-student3"
FORMULA_LABS = ("lab01-mse", "lab02-cross-entropy", "lab03-softmax-ce")

pytestmark = pytest.mark.slow


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"lab-{name}.png"), full_page=True)


def _submit(page: Any, source: Path | str, name: str = "mine.py") -> None:
    """Submit to lab01 and wait until the result page shows it graded."""
    from playwright.sync_api import expect

    page.goto("/labs/lab01-mse")
    if isinstance(source, Path):
        page.set_input_files("#file", str(source))
    else:
        page.set_input_files("#file", files=[{"name": name, "mimeType": "text/x-python", "buffer": source.encode()}])
    page.get_by_role("button", name="Submit for grading").click()
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    expect(page.locator("#status.status-graded")).to_be_visible(timeout=GRADING_MS)


@pytest.fixture(scope="module")
def student_page(browser: Any, server: Server) -> Any:  # noqa: F811 - pytest fixtures
    """Signed in as the demo student, with three graded attempts at lab01: wrong, correct, broken."""
    page = _page(browser, server)
    page.set_viewport_size(DESKTOP)
    _sign_in(page, server, STUDENT)
    _submit(page, LAB01 / "wrong_no_half.py")
    _submit(page, LAB01 / "correct_vectorised.py")
    _submit(page, "def mean_squared_error(y, t:\n    return 0\n", "broken.py")
    yield page
    page.context.close()


def test_formulas_are_typeset_and_nothing_scrolls_sideways_on_a_phone(student_page: Any) -> None:
    from playwright.sync_api import expect

    page = student_page
    page.set_viewport_size(PHONE)
    for lab in FORMULA_LABS:
        page.goto(f"/labs/{lab}")
        assert _sideways(page) <= 0, f"{lab}: the page scrolls {_sideways(page)} px sideways at 375 px"
        formulas = page.locator(".handout .formula[role=math]")
        assert formulas.count() >= 1, f"{lab}: no typeset formula"
        for index in range(formulas.count()):
            formula = formulas.nth(index)
            expect(formula).to_be_visible()
            box = formula.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (lab, box)
            assert not re.search("[₀-₉ₐ-ₜᵢⱼ⁰-⁹⁻]", formula.inner_text()), "raw Unicode sub/superscripts left"
            scripts = formula.locator("sub, sup")
            assert scripts.count() >= 1
            # A script is smaller than the formula's text and sits off its baseline: typeset, not flat text.
            smaller, lowered = scripts.first.evaluate(
                """e => { const s = getComputedStyle(e), p = getComputedStyle(e.closest('.formula'));
                          return [parseFloat(s.fontSize) < parseFloat(p.fontSize), s.verticalAlign]; }"""
            )
            assert smaller and lowered in ("sub", "super"), (lab, smaller, lowered)
            assert formula.locator("var").first.evaluate("e => getComputedStyle(e).fontStyle") == "italic"
        if lab == "lab02-cross-entropy":
            _shot(page, "lab02-phone")
    page.goto("/labs/lab01-mse")
    expect(page.locator("#replace-warning")).to_contain_text("Only your last attempt counts")
    _shot(page, "page-phone")
    page.set_viewport_size(DESKTOP)
    page.goto("/labs/lab01-mse")
    handout, form = page.locator("#handout-title").bounding_box(), page.locator("#submit-title").bounding_box()
    assert handout is not None and form is not None and handout["y"] < form["y"], "the handout comes first"
    _shot(page, "page-desktop")
    page.goto("/labs/lab02-cross-entropy")
    _shot(page, "lab02-desktop")


def test_attempts_mark_the_counted_and_the_unloadable_attempt(student_page: Any) -> None:
    from playwright.sync_api import expect

    page = student_page
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(viewport)
        page.goto("/labs/lab01-mse/attempts")
        assert _sideways(page) <= 0
        counted = page.locator("tr.counted-row")
        expect(counted).to_have_count(1)
        expect(counted.locator("th")).to_contain_text("2")  # the correct attempt; the broken one did not replace it
        expect(counted.locator(".mark-counted")).to_be_in_viewport()
        broken = page.locator("tr", has=page.locator(".mark-unloadable"))
        expect(broken).to_have_count(1)
        expect(broken.locator("th")).to_contain_text("3")
        _shot(page, f"attempts-{name}")


def test_the_diff_shows_verdict_changes_beside_single_spaced_code(student_page: Any) -> None:
    from playwright.sync_api import expect

    page = student_page
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(viewport)
        page.goto("/labs/lab01-mse/diff?a=1&b=2")
        assert _sideways(page) <= 0
        expect(page.locator(".diff-scores")).to_contain_text(re.compile(r"\d+(\.\d+)? / \d+"))
        expect(page.locator(".verdict-changes")).to_contain_text(re.compile(r"\d+ now pass"))
        hunk = page.locator(".hunk").filter(has=page.locator(".hunk-verdicts")).first
        expect(hunk.locator(".hunk-verdicts .now-passes").first).to_be_visible()
        lines = hunk.locator(".diff-line")
        first, second = lines.nth(0).bounding_box(), lines.nth(1).bounding_box()
        assert first is not None and second is not None
        assert second["y"] - first["y"] <= first["height"] + 1, "diff lines are double spaced"
        code, aside = hunk.locator("pre.diff").bounding_box(), hunk.locator(".hunk-verdicts").bounding_box()
        assert code is not None and aside is not None
        if viewport is DESKTOP:
            assert aside["x"] > code["x"] + code["width"] - 1 and abs(aside["y"] - code["y"]) < 2, "beside the code"
        else:
            assert aside["y"] + aside["height"] <= code["y"] + 1, "above the code on a phone"
        _shot(page, f"diff-{name}")
