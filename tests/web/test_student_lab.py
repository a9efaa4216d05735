"""The lab page, the attempts list and the attempt diff (issue 13): handout first with its
formulas typeset, one check command, the unloadable-files rule, the "last attempt counts"
warning, the counted attempt marked, and which fixtures changed verdict beside the code."""

from __future__ import annotations

import re
from types import SimpleNamespace

from grader.web.student.attempt_diff import attempt_diff, function_spans, hunks, verdict_changes
from grader.web.student.handout import check_command, formula_html, is_formula, render_handout
from tests.web.test_student import CORRECT, MAX, WRONG, grade_now, set_lab, submission_id, text, upload

SYNTAX_ERROR = "def mean_squared_error(y, t:\n    return 0\n"
LAB02 = "/labs/lab02-cross-entropy"


def graded(client, services, source, filename="mine.py"):
    sid = submission_id(upload(client, source, filename))
    grade_now(services, sid)
    return sid


# --- handout and formulas --------------------------------------------------------------------


def test_formula_blocks_become_typeset_html_and_code_stays_code():
    html = str(
        render_handout("Text.\n\n    E = −(1/N) · Σₙ tₙₖ,    δ = 10⁻⁷\n\n```python\nx = 1\n```\n\n    def f():\n")
    )
    assert '<div class="formula" role="math" aria-label="E = −(1/N) · Σₙ tₙₖ, δ = 10⁻⁷">' in html
    assert "<var>t</var><sub><var>n</var><var>k</var></sub>" in html  # subscripts as <sub>, each index a variable
    assert "10<sup>−7</sup>" in html
    assert html.count('class="formula-part"') == 2  # the two parts may wrap apart on a phone
    # Code blocks are focusable: one wider than a phone scrolls from the keyboard too (axe-core).
    assert '<pre tabindex="0"><code class="language-python">x = 1' in html
    assert '<pre tabindex="0"><code>def f():' in html  # an indented block of code is not a formula


def test_is_formula():
    assert is_formula("σ(a)ⱼ = exp(aⱼ − m) / Σₖ exp(aₖ − m)")
    assert not is_formula("def f(x):\n    return x ** 2  # ½ of it")
    assert not is_formula("pip install lossgrader")


def test_formula_html_escapes():
    html = formula_html("a < b · <script>")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_prose_subscripts_become_sub_and_raw_html_stays_text():
    html = str(render_handout("where σ(aₙ)[tₙ] is <b>the</b> probability, `aₖ` in code"))
    assert "σ(a<sub>n</sub>)[t<sub>n</sub>]" in html
    assert "&lt;b&gt;the&lt;/b&gt;" in html
    assert "<code>aₖ</code>" in html  # code spans are left as written


def test_check_command_follows_the_handout():
    handout = "Run\n\n```\nlossgrader check my_mse.py --lab lab01-mse\n```\n"
    assert check_command("lab01-mse", handout) == "lossgrader check my_mse.py --lab lab01-mse"
    assert check_command("lab07-hinge", "no command here") == "lossgrader check lab07.py --lab lab07-hinge"


def test_lab_page_shows_the_handout_first_with_formulas(student_client):
    html = text(student_client.get(LAB02))
    assert html.index('id="handout-title"') < html.index('id="check-title"') < html.index('id="submit-title"')
    assert html.count("Lab02: Cross-entropy error</h") == 1  # the handout's own title is not repeated
    formula = re.search(r'<div class="formula" role="math"[^>]*>(.*?)</div>', html, re.S)
    assert formula and "<var>y</var><sub><var>n</var><var>k</var></sub>" in formula.group(1)
    assert "<code>E =" not in html  # the formula is typeset, not left as a code block


def test_lab_page_says_how_to_install_and_uses_one_check_command(student_client):
    for lab in ("lab01-mse", "lab02-cross-entropy", "lab03-softmax-ce"):
        html = text(student_client.get(f"/labs/{lab}"))
        assert html.count("pip install lossgrader-") == 1
        commands = re.findall(r"lossgrader check [^<\n]*", html)
        # said once, in the page's own panel: the handout's section on it is left out here
        assert commands == [f"lossgrader check {lab.split('-')[0]}.py --lab {lab}"], commands
        assert "Check before you submit" not in html


def test_the_handout_keeps_everything_but_its_check_section():
    handout = (
        "# T\n\n## Formula\n\nE = ½\n\n## Check before you submit\n\n"
        "```\nlossgrader check a.py --lab x\n```\n\n## Notes\n\nKeep y.\n"
    )
    html = str(render_handout(handout, "T"))
    assert "Formula" in html and "Notes" in html and "Keep y." in html
    assert "Check before you submit" not in html and "lossgrader check" not in html


def test_lab_page_states_the_unloadable_rule(student_client, services):
    html = text(student_client.get("/labs/lab01-mse"))
    assert "uses no attempt and never replaces your counted score" in html
    set_lab(services, unloadable_counts=True)
    html = text(student_client.get("/labs/lab01-mse"))
    assert "counts as an attempt like any other" in html and "uses no attempt" not in html


# --- "last attempt counts" warning and the counted attempt -----------------------------------------


def test_last_counts_warns_with_the_counted_and_the_best_score(student_client, services):
    assert 'id="replace-warning"' not in text(student_client.get("/labs/lab01-mse"))  # nothing to lose yet
    graded(student_client, services, CORRECT)
    html = text(student_client.get("/labs/lab01-mse"))
    warning = re.search(r'<div class="replace-warning" id="replace-warning"[^>]*>(.*?)</div>', html, re.S)
    assert warning and f"Your counted score is {MAX} / {MAX} (attempt 1), your best so far." in " ".join(
        warning.group(1).split()
    )
    assert 'aria-describedby="replace-warning unloadable-rule"' in html  # read out with the submit button

    graded(student_client, services, WRONG)
    html = " ".join(text(student_client.get("/labs/lab01-mse")).split())
    assert re.search(
        rf"Your counted score is [\d.]+ / {MAX} \(attempt 2\); your best is {MAX} / {MAX} \(attempt 1\)", html
    )
    assert "A new attempt replaces it, even if it scores less." in html

    set_lab(services, counting="best")
    assert 'id="replace-warning"' not in text(student_client.get("/labs/lab01-mse"))


def test_an_unloadable_file_is_marked_and_the_counted_attempt_stays(student_client, services):
    set_lab(services, max_submissions=2)
    graded(student_client, services, CORRECT)
    graded(student_client, services, SYNTAX_ERROR, "broken.py")
    html = text(student_client.get("/labs/lab01-mse/attempts"))
    rows = re.findall(r"<tr( class=\"counted-row\")?>\s*<th scope=\"row\">.*?</tr>", html, re.S)
    assert len(rows) == 2
    assert html.count('<span class="mark mark-counted">counted</span>') == 2  # the rule and the row
    assert "not counted: could not be loaded" in html
    assert re.search(r'class="counted-row">.*?>1</a>.*?mark-counted', html, re.S)  # attempt 1 counts
    lab = " ".join(text(student_client.get("/labs/lab01-mse")).split())
    assert f'Counted score: <strong>{MAX} / {MAX}</strong> <span class="note">(attempt 1)</span>' in lab
    # The broken file used no attempt: a second one that loads is still accepted.
    assert upload(student_client, WRONG).status_code == 303


# --- the attempt diff ------------------------------------------------------------------------------


def test_diff_shows_scores_verdict_changes_and_single_spaced_code(student_client, services):
    graded(student_client, services, WRONG)
    graded(student_client, services, CORRECT)
    html = text(student_client.get("/labs/lab01-mse/diff?a=1&b=2"))
    assert re.search(rf"<strong class=\"nowrap\">[\d.]+ / {MAX}</strong>", html)
    assert f'<strong class="nowrap">{MAX} / {MAX}</strong>' in html
    assert re.search(r"\d+ now pass, 0 now fail", html)
    assert '<span class="verdict">now passes</span>' in html
    assert "In <code>mean_squared_error</code>" in html
    assert re.search(
        r'<aside class="hunk-verdicts"[^>]*>\s*<ul class="change-list">\s*<li class="verdict-change now-passes">', html
    )
    code = re.search(r'<pre class="diff"[^>]*><code>(.*?)</code></pre>', html, re.S)
    assert code and "\n" not in code.group(1).replace("\\n", "")  # one block per line, no blank line between
    assert "randomised</span> <span" not in html  # no "randomised randomised"
    assert "@@" not in html and "+++" not in html


def test_diff_with_an_ungraded_attempt_compares_no_verdicts(student_client, services):
    upload(student_client, CORRECT)
    upload(student_client, WRONG)
    html = text(student_client.get("/labs/lab01-mse/diff?a=1&b=2"))
    assert "Both attempts must be graded" in html and "queued" in html


def _result(name, passed, function="f"):
    return SimpleNamespace(name=name, function=function, category="basic", visibility="public", passed=passed)


def test_verdict_changes_and_hunks_by_function():
    old = "import numpy as np\n\n\ndef f(y):\n    return y\n\n\ndef g(y):\n    return 2 * y\n"
    new = old.replace("return y", "return 0.5 * y")
    changes = verdict_changes(
        [_result("a", False), _result("b", True), _result("gone", True)],
        [_result("a", True), _result("b", True), _result("new", False)],
    )
    assert [(c.name, c.now_passes) for c in changes] == [("a", True)]
    (hunk,) = hunks(old, new)
    assert hunk.functions == ["f"] and hunk.new_lines == (2, 8)
    assert [line.kind for line in hunk.lines].count("add") == 1 and [line.kind for line in hunk.lines].count("del") == 1
    assert function_spans("def broken(:\n") == {}


def test_attempt_diff_puts_each_functions_changes_beside_its_hunk():
    old = SimpleNamespace(
        status="graded",
        source="def f():\n    return 1\n\n\n\n\n\n\n\ndef g():\n    return 1\n",
        results=[_result("f1", False, "f"), _result("g1", False, "g")],
    )
    new = SimpleNamespace(
        status="graded",
        source=old.source.replace("return 1", "return 2"),
        results=[_result("f1", True, "f"), _result("g1", False, "g")],
    )
    diff = attempt_diff(old, new, ["f", "g"])
    assert [h.functions for h in diff.hunks] == [["f"], ["g"]]
    assert [[c.name for c in h.changes] for h in diff.hunks] == [["f1"], []]
    assert [c.name for c in diff.fixed] == ["f1"] and diff.broken == []
