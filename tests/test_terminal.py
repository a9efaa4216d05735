"""The terminal layout of a result (grader.terminal), on results built by hand."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from grader import terminal
from grader.grading.result import Cause, Result, TestResult


def fixture(name: str, *, passed: bool = False, visibility: str = "public", **fields) -> TestResult:
    values = {
        "function": "f",
        "category": "basic",
        "description": "",
        "max_score": 1.0,
        "score": 1.0 if passed else 0.0,
        "stage": "ok" if passed else "value",
        "message": "passed" if passed else "wrong value: expected 2, got 1 (max abs error 1).",
        "summary": "passed" if passed else "wrong value.",
        "inputs": ["np.array([1.0, 2.0])", "np.array([1.0, 0.0])"],
        "expected": None if passed else 2.0,
        "got": None if passed else 1.0,
    }
    values.update(fields)
    return TestResult(name=name, visibility=visibility, passed=passed, **values)


def result(tests: list[TestResult], causes: list[Cause] | None = None, **fields) -> Result:
    return Result("lab01-mse", "MSE", "1", 4, tests, causes=causes or [], **fields)


def render(value: Result, width: int = 80, **options) -> str:
    console = Console(file=io.StringIO(), width=width, highlight=False, color_system=None)
    terminal.print_result(console, value, "f.py · lab01-mse", **options)
    return console.file.getvalue()


def test_markdown_code_spans_lose_their_backticks_and_keep_their_style():
    text = terminal.markdown_text("use `np.log`, not ``np.log10``; **never** `a * b`")
    assert text.plain == "use np.log, not np.log10; never a * b"
    styled = {text.plain[span.start : span.end]: str(span.style) for span in text.spans}
    assert styled == {
        "np.log": terminal.CODE_STYLE,
        "np.log10": terminal.CODE_STYLE,
        "never": "bold",
        "a * b": "bold cyan",
    }


@pytest.mark.parametrize(
    ("passed", "error", "colour", "words"),
    [
        ([True, True], None, "green", "2 / 2 points: all 2 fixtures passed."),
        ([True, False], None, "yellow", "1 / 2 points: 1 of 2 fixtures failed."),
        ([False, False], None, "red", "0 / 2 points: all 2 fixtures failed."),
        ([False, False], "the file is empty.", "red", "0 / 2 points: the file could not be loaded."),
    ],
)
def test_verdict_is_coloured_by_outcome_and_never_green_for_nothing(passed, error, colour, words):
    tests = [fixture(f"t{i}", passed=p) for i, p in enumerate(passed)]
    assert terminal.verdict(result(tests, submission_error=error)) == (colour, words)


def test_a_result_the_grader_could_not_grade_is_red_and_not_a_score():
    failed = result([], status="error", error="the worker died")
    assert terminal.verdict(failed) == ("red", "not graded: the grader failed (not your file's fault).")


def test_each_cause_is_said_once_with_its_fixtures_most_points_first():
    tests = [fixture("a"), fixture("b"), fixture("c", max_score=3.0), fixture("d", passed=True)]
    causes = [
        Cause("k2", "mistake", "Use `np.log`, the natural log.", ["c"], 3.0, "cee_log10"),
        Cause("k1", "value", "Off by a factor 2.", ["a", "b"], 2.0),
    ]
    text = render(result(tests, causes))
    assert text.count("Use np.log, the natural log.") == 1 and "`" not in text
    assert text.index("(1) fixture c · 3 points lost") < text.index("(2) 2 fixtures: a, b · 2 points lost")
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line[:1] in "abcd" and len(line) > 1}
    assert rows["c"][-3:] == ["(1)", "wrong", "value"] and rows["a"][-3] == "(2)" and rows["d"][-1] == "passed"


def test_a_cause_shows_one_example_call_unless_details_lists_every_one():
    tests = [fixture("a"), fixture("b"), fixture("h", visibility="hidden", inputs=["np.array([7.25])"])]
    causes = [Cause("k", "value", "Off by a factor 2.", ["h", "a", "b"], 3.0)]
    brief = render(result(tests, causes))
    assert brief.count("f(np.array([1.0, 2.0]), np.array([1.0, 0.0]))") == 1
    assert "For example, a:" in brief and "expected 2, got 1" in brief and "7.25" not in brief
    detailed = render(result(tests, causes), details=True)
    assert detailed.count("f(np.array([1.0, 2.0]), np.array([1.0, 0.0]))") == 2  # a and b, once each
    assert "For example" not in detailed and "7.25" not in detailed  # hidden inputs: never for students
    assert "7.25" in render(result(tests, causes), details=True, instructor=True)


def test_values_already_in_the_message_are_not_repeated():
    causes = [Cause("k", "value", "wrong value: expected 2, got 1 (max abs error 1).", ["a"], 1.0)]
    assert render(result([fixture("a")], causes)).count("expected 2, got 1") == 1


def test_text_wraps_by_words_so_numbers_are_never_cut():
    message = "Your values are 1.2345678901 times the expected ones, " * 6
    text = render(result([fixture("a")], [Cause("k", "pattern", message, ["a"], 1.0)]), width=50)
    assert all(len(line.rstrip()) <= 50 for line in text.splitlines())
    assert " ".join(text.split()).count("1.2345678901 times") == 6  # a number cut in two would not count


def test_a_load_error_has_no_table_and_quotes_the_line_once():
    tests = [fixture(n, stage="not_run", message="not run: syntax error", inputs=["1"]) for n in "abc"]
    code = "line 4: return x)\n                ^"
    causes = [Cause("load", "load", "syntax error on line 4: unmatched ')'.", ["a", "b", "c"], 3.0, code=code)]
    text = render(result(tests, causes, submission_error="syntax error on line 4: unmatched ')'."))
    assert "FAILED" not in text and "For example" not in text
    assert text.count("return x)") == 1
    quoted, caret = (line for line in text.splitlines() if "return x)" in line or line.strip() == "^")
    assert caret.index("^") == quoted.index(")")


def test_the_seed_is_given_only_when_a_randomised_fixture_failed():
    again = "lossgrader check f.py --lab lab01-mse --seed {seed}"
    failing = [fixture("r", visibility="randomised", seed=4)]
    assert "lossgrader check f.py --lab lab01-mse --seed 4" in render(result(failing), reproduce=again)
    passing = [fixture("r", visibility="randomised", seed=4, passed=True)]
    assert "--seed" not in render(result(passing), reproduce=again)


def test_the_seed_command_is_one_line_even_when_longer_than_the_console():
    again = "lossgrader check " + "long/" * 20 + "f.py --lab lab01-mse --seed {seed}"
    text = render(result([fixture("r", visibility="randomised", seed=4)]), reproduce=again)
    assert again.format(seed=4) in text.splitlines()[-1]


def test_without_causes_identical_feedback_is_grouped_once():
    tests = [fixture("a"), fixture("b"), fixture("c", message="`f` raised ValueError.", stage="raised")]
    causes = terminal.group_by_feedback(result(tests))
    assert [(c.fixtures, c.points_lost) for c in causes] == [(["a", "b"], 2.0), (["c"], 1.0)]
    assert render(result(tests)).count("wrong value: expected 2, got 1") == 1


def test_many_fixtures_make_a_row_per_kind_and_with_details_fold_the_passed_ones():
    tests = [fixture(f"p{i}", passed=True, visibility="hidden") for i in range(20)] + [fixture("bad")]
    value = result(tests, [Cause("k", "value", "Off.", ["bad"], 1.0)])
    rows = [line.split() for line in render(value).splitlines()]
    assert ["hidden", "20", "20", "0"] in rows and ["public", "1", "0", "1", "(1)"] in rows
    detailed = render(value, details=True)
    assert "p3 " not in detailed and "… 20 more" in detailed and "bad " in detailed


def test_a_cause_names_every_fixture_or_the_few_it_leaves_out():
    names = [f"t{i}" for i in range(10)]
    tests = [fixture(n) for n in names]
    assert terminal.fixtures_phrase(Cause("k", "v", "m", names, 10), names) == "all 10 fixtures"
    assert terminal.fixtures_phrase(Cause("k", "v", "m", names[1:], 9), names) == "9 fixtures: all but t0"
    assert terminal.fixtures_phrase(Cause("k", "v", "m", names[:3], 3), names) == "3 fixtures: t0, t1, t2"
    assert terminal.fixtures_phrase(Cause("k", "v", "m", ["t4"], 1), names) == "fixture t4"
    assert "(1) 9 fixtures: all but t0 · 9 points lost" in render(result(tests, [Cause("k", "v", "m", names[1:], 9)]))


def test_narrow_console_drops_the_category_rather_than_cutting_the_cause():
    tests = [fixture("zero-probability-true-class-label", category="zero probability", visibility="hidden")]
    text = render(result(tests, [Cause("k", "value", "Off.", [tests[0].name], 1.0)]), width=72)
    assert "category" not in text and "(1) wrong value" in text
    assert "category" in render(result(tests, [Cause("k", "value", "Off.", [tests[0].name], 1.0)]), width=100)


def test_headline_gives_the_costliest_cause_s_first_sentence_cut_between_words():
    tests = [fixture("a"), fixture("b", max_score=2.0), fixture("c", passed=True)]
    causes = [
        Cause("k1", "mistake", "Use `np.log`, not np.log10. Then it passes.", ["b"], 2.0),
        Cause("k2", "value", "Off.", ["a"], 1.0),
    ]
    assert terminal.headline(result(tests, causes)).plain == (
        "2 of 3 fixtures failed. Use np.log, not np.log10. (+ 1 more cause)"
    )
    long = [Cause("k", "pattern", "Your values are 12345.678901 times the expected ones " * 5, ["a", "b"], 3.0)]
    text = terminal.headline(result(tests, long)).plain
    assert len(text) <= terminal.HEADLINE_WIDTH + 2 and text.endswith(" …")
    assert text[:-2].split()[-1] in {"Your", "values", "are", "12345.678901", "times", "the", "expected", "ones"}


def test_printed_output_is_indented_under_a_heading_and_cut():
    printed = "".join(f"All tests passed! line {i}\n" for i in range(50))
    text = render(result([fixture("a")], output=printed))
    assert "Your code printed (20 of 50 lines):" in text
    assert "  All tests passed! line 19" in text and "line 20" not in text
    assert "printed" not in render(result([fixture("a")], output=printed), instructor=True)


def test_notes_about_the_file_are_a_list_each_with_a_hanging_indent():
    warnings = [
        {
            "message": "line 5 (`import matplotlib.pyplot as plt`) was skipped when your file loaded: only NumPy "
            "and the Python standard library are available to your code; `matplotlib` is not."
        },
        {
            "message": "line 9 (`plt.show()`) was skipped when your file loaded: it uses `plt`, which line 5 "
            "would have defined."
        },
    ]
    text = render(
        result([fixture("a", passed=True)], notes=["`%matplotlib inline` was dropped."], load_warnings=warnings)
    )
    lines = [line.rstrip() for line in text[text.index("About your file") :].splitlines()]
    assert lines[1] == "  - %matplotlib inline was dropped."
    assert lines[2].startswith("  - line 5 (import matplotlib.pyplot as plt) was skipped")
    assert lines[3].startswith("    ") and not lines[3].startswith("     ")  # under the note's text, not the dash
    assert [line[:4] for line in lines[1:7]].count("  - ") == 3 and all(len(line.rstrip()) <= 80 for line in lines)
