"""Causes: one diagnosis per cause, decided per submission, safe for hidden fixtures."""

from __future__ import annotations

import copy
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.grading import fixtures
from grader.grading.causes import find_causes
from grader.grading.engine import grade
from grader.grading.lab import VISIBILITIES, find_lab
from grader.grading.result import Result, TestResult
from grader.grading.runner import SubprocessRunner
from reference.mistakes import MISTAKES

IMPLEMENTATIONS = Path(__file__).parent.parent / "implementations"
MESSAGES = {m.key: m.message for ms in MISTAKES.values() for m in ms}


def fixture(name: str, **fields: Any) -> TestResult:
    """A failed (by default) public fixture of function ``f`` worth one point."""
    passed = fields.pop("passed", False)
    values: dict[str, Any] = {
        "name": name,
        "function": "f",
        "category": "c",
        "visibility": "public",
        "description": "",
        "max_score": 1.0,
        "score": 1.0 if passed else 0.0,
        "passed": passed,
        "stage": "ok" if passed else "value",
        "message": "passed" if passed else f"wrong value on {name}.",
        "summary": "passed" if passed else "wrong value.",
    }
    values.update(fields)
    return TestResult(**values)


def causes_of(*tests: TestResult, **fields: Any) -> list:
    result = Result(lab_id="lab", lab_title="Lab", lab_version="1", seed=0, tests=list(tests), **fields)
    return find_causes(result)


# --------------------------------------------------------------------------- grouping


def test_fixtures_with_one_cause_are_grouped_once_most_points_lost_first() -> None:
    tests = [
        fixture("a", candidates=["mse_no_half"], max_score=1.0),
        fixture(
            "b", stage="raised", error_type="ValueError", message="`f` raised ValueError: x (line 3).", max_score=5
        ),
        fixture("c", candidates=["mse_no_half"], max_score=1.0),
        fixture("d", passed=True),
    ]
    causes = causes_of(*tests)
    assert [c.kind for c in causes] == ["exception", "mistake"]
    assert causes[1].fixtures == ["a", "c"] and causes[1].points_lost == 2.0
    assert causes[1].mistake == "mse_no_half" and causes[1].message == MESSAGES["mse_no_half"]
    assert [t.cause for t in tests] == [causes[1].key, causes[0].key, causes[1].key, None]


def test_a_cause_key_does_not_depend_on_numbers_that_vary_per_fixture() -> None:
    tests = [
        fixture(
            f"r{n}",
            stage="raised",
            error_type="ValueError",
            error_line=17,
            message=f"`f` raised ValueError: operands could not be broadcast together with shapes ({n},) ({n},3).",
        )
        for n in (2, 33, 28)
    ]
    (cause,) = causes_of(*tests)
    assert cause.key == "exception:f:ValueError:17" and cause.fixtures == ["r2", "r33", "r28"]
    assert cause.message.count("raised") == 1


def test_hidden_exceptions_show_their_known_type_only_and_join_the_shown_group() -> None:
    shown = fixture("p", stage="raised", error_type="AxisError", error_line=4, message="`f` raised AxisError: secret.")
    hidden = fixture(
        "h", stage="raised", visibility="hidden", error_type="AxisError", summary="`f` raised `AxisError`."
    )
    (cause,) = causes_of(shown, hidden)
    assert cause.fixtures == ["p", "h"]
    (alone,) = causes_of(fixture("h2", **{**_hidden_raise("AxisError"), "message": "`f` raised AxisError: 0.123"}))
    assert alone.message == "`f` raised `AxisError`." and "0.123" not in alone.message and alone.code is None
    (unknown,) = causes_of(fixture("h3", **_hidden_raise(None)))
    assert unknown.message == "`f` raised an exception."


def _hidden_raise(error_type: str | None) -> dict[str, Any]:
    return {"stage": "raised", "visibility": "hidden", "error_type": error_type, "error_line": None}


def test_an_exception_on_a_shown_fixture_quotes_the_students_line() -> None:
    source = "import numpy as np\ndef f(y, t):\n    return (y - t) ** 2 .sum()\n"
    test = fixture(
        "p", stage="raised", error_type="TypeError", error_line=3, message="`f` raised TypeError: no (line 3)."
    )
    result = Result("lab", "Lab", "1", 0, [test])
    (cause,) = find_causes(result, source=source)
    assert cause.code is not None and "return (y - t) ** 2 .sum()" in cause.code and "^" in cause.code


def test_a_load_error_is_one_cause_with_the_line_quoted() -> None:
    tests = [fixture(n, stage="not_run", message="not run", summary="not run") for n in "abc"]
    (cause,) = causes_of(*tests, submission_error="syntax error on line 2: invalid syntax. Perhaps you forgot a comma?")
    assert cause.kind == "load" and cause.fixtures == ["a", "b", "c"]
    assert cause.message.endswith("comma?") and "?." not in cause.message


# --------------------------------------------------------------------------- one submission, one explanation


def test_the_one_element_case_takes_the_mistake_that_fits_most_fixtures() -> None:
    # On one element "mean" and "no ½" give the same value; elsewhere only "no ½" fits.
    one_element = fixture("one", candidates=["mse_mean", "mse_no_half"])
    others = [fixture(n, candidates=["mse_no_half"]) for n in ("a", "b")]
    (cause,) = causes_of(one_element, *others)
    assert cause.mistake == "mse_no_half" and cause.fixtures == ["one", "a", "b"]
    assert one_element.diagnosis == [MESSAGES["mse_no_half"]]

    one_element = fixture("one", candidates=["mse_no_half", "mse_mean"])
    (cause,) = causes_of(one_element, fixture("a", candidates=["mse_mean"]), fixture("b", candidates=["mse_mean"]))
    assert cause.mistake == "mse_mean"


def test_two_contradicting_mistakes_are_never_both_shown() -> None:
    # "mean" explains a and both; "no ½" would explain c but also fits "both": contradicting.
    tests = [
        fixture("a", candidates=["mse_mean"]),
        fixture("a2", candidates=["mse_mean"]),
        fixture("both", candidates=["mse_no_half", "mse_mean"]),
        fixture("c", candidates=["mse_no_half"], got=3.0, expected=1.0),
    ]
    causes = causes_of(*tests)
    assert [c.mistake for c in causes if c.kind == "mistake"] == ["mse_mean"]
    assert tests[3].cause != causes[0].key


def test_independent_mistakes_on_disjoint_fixtures_are_both_named() -> None:
    tests = [fixture("a", candidates=["cee_no_batch_mean"]), fixture("b", candidates=["cee_labels_as_one_hot"])]
    assert {c.mistake for c in causes_of(*tests)} == {"cee_no_batch_mean", "cee_labels_as_one_hot"}


def test_raising_alike_counts_only_for_a_mistake_that_also_fits_a_value() -> None:
    raised = fixture("r", stage="raised", error_type="ValueError", candidates=["cee_labels_as_one_hot"])
    (cause,) = causes_of(raised)
    assert cause.kind == "exception"
    value = fixture("v", candidates=["cee_labels_as_one_hot"])
    (cause,) = causes_of(raised, value)
    assert cause.kind == "convention" and cause.fixtures == ["r", "v"]


# --------------------------------------------------------------------------- patterns


def _value(name: str, got: float, expected: float, visibility: str = "public", **traits: Any) -> TestResult:
    return fixture(name, got=got, expected=expected, visibility=visibility, traits=traits)


def test_a_factor_of_n_the_number_of_rows() -> None:
    tests = [_value(f"n{n}", 0.7 * n, 0.7, rows=n, elements=3 * n) for n in (1, 4, 9)]
    tests[0].passed, tests[0].stage, tests[0].score = True, "ok", 1.0  # N = 1: right
    (cause,) = causes_of(*tests)
    assert cause.key == "pattern:f:factor-n" and "number of rows" in cause.message
    assert cause.fixtures == ["n4", "n9"]


def test_a_factor_of_ln_10_is_named_even_on_hidden_fixtures() -> None:
    tests = [_value(f"h{i}", e / math.log(10), e, "hidden", rows=1) for i, e in enumerate((0.3, 2.0))]
    (cause,) = causes_of(*tests)
    assert cause.key == "pattern:f:factor-log10" and "ln 10" in cause.message and "`np.log`" in cause.message


def test_a_sign_flip() -> None:
    (cause,) = causes_of(_value("a", -1.5, 1.5), _value("b", -0.2, 0.2, "hidden"))
    assert cause.key == "pattern:f:sign" and "sign" in cause.message


def test_an_offset_is_printed_only_when_a_shown_fixture_has_it() -> None:
    (cause,) = causes_of(_value("a", 1.25, 1.0), _value("b", 2.25, 2.0, "hidden"))
    assert cause.key == "pattern:f:offset" and "+0.25" in cause.message
    (cause,) = causes_of(_value("a", 1.25, 1.0, "hidden"), _value("b", 2.25, 2.0, "hidden"))
    assert cause.key == "pattern:f:offset" and "0.25" not in cause.message


def test_a_constant_answer_never_reveals_a_hidden_expected_value() -> None:
    # A submission returning c everywhere: c/expected is no factor; the factor must not be printed.
    c = 0.123
    tests = [_value(f"h{i}", c, e, "hidden") for i, e in enumerate((0.37, 1.91, 4.4))]
    (cause,) = causes_of(*tests)
    assert cause.key == "pattern:f:constant"
    for e in (0.37, 1.91, 4.4):
        assert f"{c / e:.3g}" not in cause.message and f"{e:g}" not in cause.message
    assert "0.123" not in cause.message  # the child's value on a hidden fixture is not repeated


def test_a_hidden_only_constant_factor_names_the_kind_not_the_number() -> None:
    tests = [_value(f"h{i}", 3.7 * e, e, "hidden") for i, e in enumerate((0.5, 1.5))]
    (cause,) = causes_of(*tests)
    assert cause.key == "pattern:f:factor" and "3.7" not in cause.message
    tests = [_value("p", 3.7 * 0.2, 0.2), *tests]
    (cause,) = causes_of(*tests)
    assert "×3.7" in cause.message


def test_wrong_only_where_a_probability_is_zero() -> None:
    tests = [
        _value("zero", 16.0, 16.1, zero_probability=True),
        fixture("zero-nan", stage="finite", reason="nan", visibility="hidden", traits={"zero_probability": True}),
        fixture("plain", passed=True, traits={"zero_probability": False}),
    ]
    (cause,) = causes_of(*tests)
    assert cause.key == "pattern:f:zeros" and cause.fixtures == ["zero", "zero-nan"]


def test_wrong_only_for_large_inputs() -> None:
    tests = [_value("big", 1.0, 2.0, large_inputs=True), fixture("small", passed=True, traits={"large_inputs": False})]
    (cause,) = causes_of(*tests)
    assert cause.key == "pattern:f:large-inputs"


def test_no_pattern_still_says_more_than_wrong_value() -> None:
    (cause,) = causes_of(_value("a", 1.0, 2.0, "hidden"), _value("b", 5.0, 3.0, "hidden"))
    assert cause.kind == "value" and cause.message != "Wrong value." and "no pattern" in cause.message


def test_code_that_handles_one_convention_is_told_so() -> None:
    tests = [
        fixture("oh", passed=True, traits={"targets": "one-hot"}),
        fixture("lab", got=2.0, expected=1.0, traits={"targets": "labels"}),
        fixture(
            "lab-batch", stage="raised", error_type="ValueError", visibility="hidden", traits={"targets": "labels"}
        ),
    ]
    (cause,) = causes_of(*tests)
    assert cause.kind == "convention" and cause.fixtures == ["lab", "lab-batch"]
    assert "one-hot targets only" in cause.message and "`ValueError`" in cause.message
    tests = [
        fixture("lab", passed=True, traits={"targets": "labels"}),
        fixture("oh", stage="raised", error_type="IndexError", traits={"targets": "one-hot"}),
    ]
    (cause,) = causes_of(*tests)
    assert "integer class labels only" in cause.message and cause.fixtures == ["oh"]


# --------------------------------------------------------------------------- graded as students write it


def _grade(path: str, lab: str, seed: int = 3) -> Result:
    return grade((IMPLEMENTATIONS / path).read_bytes(), lab, seed, runner=SubprocessRunner())


def test_a_log10_submission_has_one_cause_said_once() -> None:
    result = _grade("lab02-cross-entropy/wrong_log10.py", "lab02-cross-entropy")
    (cause,) = result.causes
    assert cause.mistake == "cee_log10" and len(cause.fixtures) == len(result.tests)
    text = result.summary_text()
    assert text.count(cause.message) == 1 and "all 30 fixtures" in text
    assert all(not t.hint for t in result.tests)  # the δ hint: not for a value that is no δ mistake


def test_one_hot_only_code_is_told_it_handles_one_hot_targets_only() -> None:
    result = _grade("lab02-cross-entropy/wrong_onehot_only.py", "lab02-cross-entropy")
    (cause,) = result.causes
    labels = [t.name for t in result.tests if t.traits.get("targets") == "labels"]
    assert cause.kind == "convention" and sorted(cause.fixtures) == sorted(labels)
    assert "one-hot targets only" in cause.message


def test_labels_only_code_is_told_it_handles_labels_only() -> None:
    result = _grade("lab02-cross-entropy/wrong_labels_only.py", "lab02-cross-entropy")
    assert result.causes[0].kind == "convention" and "integer labels only" in result.causes[0].message
    one_hot = {t.name for t in result.tests if t.traits.get("targets") == "one-hot"}
    assert one_hot <= set(result.causes[0].fixtures)


def test_one_loss_per_sample_is_told_to_average_over_the_batch() -> None:
    result = _grade("lab02-cross-entropy/wrong_returns_array.py", "lab02-cross-entropy")
    text = result.summary_text()
    assert "mean over the batch" in text and "np.sum(" not in text


def test_the_lists_hint_only_where_lists_made_the_call_raise() -> None:
    result = _grade("lab01-mse/textbook_verbatim.py", "lab01-mse")
    hinted = [t for t in result.tests if t.hint]
    assert hinted and all(t.stage == "raised" and t.traits.get("lists") for t in hinted)
    (cause,) = result.causes
    assert cause.kind == "exception" and "TypeError" in cause.message and "np.asarray" in cause.message


def test_every_failure_of_every_implementation_is_named() -> None:
    """No cause of a wrong implementation is a bare 'wrong value'."""
    for lab_dir in ("lab01-mse", "lab02-cross-entropy", "lab03-softmax-ce"):
        for path in sorted((IMPLEMENTATIONS / lab_dir).glob("wrong_*.py")):
            if "hardcoded" in path.name:
                continue  # its values follow no formula: "no pattern" is the honest answer
            result = _grade(f"{lab_dir}/{path.name}", lab_dir)
            kinds = {c.kind for c in result.causes}
            assert result.causes and "value" not in kinds, (path.name, result.summary_text())


# --------------------------------------------------------------------------- new catalogue entries

SOFTMAX = """
def softmax(a):
    a = np.asarray(a, dtype=np.float64)
    e = np.exp(a - np.max(a, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)

def _logp(a):
    a = np.asarray(a, dtype=np.float64)
    s = a - np.max(a, axis=-1, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))
"""

LITERAL_SOURCES: dict[str, tuple[str, str]] = {
    "cee_labels_as_one_hot": (
        "lab02-cross-entropy",
        """
        def cross_entropy_error(y, t):
            y, t = np.asarray(y, dtype=np.float64), np.asarray(t)
            n = y.shape[0] if y.ndim == 2 else 1
            return float(-np.sum(t * np.log(y + 1e-7)) / n)
        """,
    ),
    "cee_one_hot_as_labels": (
        "lab02-cross-entropy",
        """
        def cross_entropy_error(y, t):
            y, t = np.asarray(y, dtype=np.float64), np.asarray(t)
            if y.ndim == 1:
                t, y = t.reshape(1, t.size), y.reshape(1, y.size)
            n = y.shape[0]
            return float(-np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n)
        """,
    ),
    "cee_swapped_literal": (
        "lab02-cross-entropy",
        """
        def cross_entropy_error(y, t):
            y, t = np.asarray(y, dtype=np.float64), np.asarray(t)
            n = y.shape[0] if y.ndim == 2 else 1
            return float(-np.sum(y * np.log(t + 1e-7)) / n)
        """,
    ),
    "cee_binary": (
        "lab02-cross-entropy",
        """
        def cross_entropy_error(y, t):
            y, t = np.asarray(y, dtype=np.float64), np.asarray(t)
            if t.shape != y.shape:
                t = np.eye(y.shape[-1])[t]
            return float(np.mean(-(t * np.log(y) + (1 - t) * np.log(1 - y))))
        """,
    ),
    "sce_labels_as_one_hot": (
        "lab03-softmax-ce",
        """
        def softmax_cross_entropy(a, t):
            a, t = np.asarray(a, dtype=np.float64), np.asarray(t)
            n = a.shape[0] if a.ndim == 2 else 1
            return float(-np.sum(t * _logp(a)) / n)
        """,
    ),
    "sce_one_hot_as_labels": (
        "lab03-softmax-ce",
        """
        def softmax_cross_entropy(a, t):
            a, t = np.asarray(a, dtype=np.float64), np.asarray(t)
            if a.ndim == 1:
                t, a = t.reshape(1, t.size), a.reshape(1, a.size)
            n = a.shape[0]
            return float(-np.sum(_logp(a)[np.arange(n), t]) / n)
        """,
    ),
    "sce_swapped_literal": (
        "lab03-softmax-ce",
        """
        def softmax_cross_entropy(a, t):
            a, t = np.asarray(a, dtype=np.float64), np.asarray(t, dtype=np.float64)
            n = a.shape[0] if a.ndim == 2 else 1
            return float(-np.sum(a * _logp(t)) / n)
        """,
    ),
}
FILES = {
    "cee_one_hot_as_labels_no_delta": "wrong_labels_only.py",
    "cee_row_loop_log_of_sum": "wrong_korean_argument_order.py",
}


def _applies(mistake_key: str, fixture: fixtures.Fixture) -> bool:
    """Whether the mistake's value differs from the expected one on this fixture (or it raises)."""
    (mistake,) = [m for ms in MISTAKES.values() for m in ms if m.key == mistake_key]
    try:
        with np.errstate(all="ignore"):
            value = np.asarray(mistake.compute(*copy.deepcopy(fixture.args)), dtype=np.float64)
    except Exception:
        return True
    if not np.isfinite(value).all():
        return True
    return not np.allclose(value, fixture.expected, rtol=fixture.spec.policy.rtol, atol=fixture.spec.policy.atol)


@pytest.mark.parametrize("key", [*LITERAL_SOURCES, *FILES])
def test_each_new_mistake_is_diagnosed_on_every_fixture_where_it_applies(key: str) -> None:
    if key in FILES:
        lab_id, source = "lab02-cross-entropy", (IMPLEMENTATIONS / "lab02-cross-entropy" / FILES[key]).read_text()
    else:
        lab_id, body = LITERAL_SOURCES[key]
        source = "import numpy as np\n" + SOFTMAX + textwrap.dedent(body)
    seed = 11
    result = grade(source, lab_id, seed, runner=SubprocessRunner())
    function = next(m.function for ms in MISTAKES.values() for m in ms if m.key == key)
    built = {
        f.spec.name: f for f in fixtures.build(find_lab(lab_id), VISIBILITIES, seed) if f.spec.function == function
    }
    applies = {name for name, f in built.items() if _applies(key, f)}
    failed = {t.name for t in result.tests if not t.passed and t.function == function}
    assert applies and failed == applies
    explained = {t.name for t in result.tests if t.cause == f"mistake:{key}"}
    assert explained == failed, [(t.name, t.cause) for t in result.tests if t.name in failed - explained]


def test_a_fixtures_own_feedback_agrees_with_its_cause() -> None:
    dropped = fixture("c", candidates=["mse_no_half"], diagnosis=[MESSAGES["mse_no_half"]], got=3.0, expected=1.0)
    tests = [fixture(n, candidates=["mse_mean"]) for n in ("a", "b")]
    tests.append(fixture("both", candidates=["mse_no_half", "mse_mean"]))
    causes_of(*tests, dropped)
    assert MESSAGES["mse_no_half"] not in dropped.feedback()
    hidden = fixture("h", visibility="hidden", got=1.0, expected=2.0)
    (cause,) = causes_of(hidden, fixture("h2", visibility="hidden", got=5.0, expected=3.0))
    assert hidden.feedback() != "wrong value." and cause.message in hidden.feedback()


def test_the_delta_hint_only_for_a_value_without_delta_or_a_non_finite_one() -> None:
    result = _grade("lab02-cross-entropy/wrong_no_delta.py", "lab02-cross-entropy")
    hinted = {t.name for t in result.tests if t.hint}
    assert {"zero-probability-true-class", "zero-probability-true-class-label"} <= hinted
    assert all(t.stage == "finite" or "cee_no_delta" in t.candidates for t in result.tests if t.hint)
    swapped = _grade("lab02-cross-entropy/wrong_missing_minus.py", "lab02-cross-entropy")
    assert not any(t.hint for t in swapped.tests)  # a sign mistake: no talk of δ


def test_an_exception_without_a_line_still_groups_shown_and_hidden_fixtures() -> None:
    shown = fixture("p", stage="raised", error_type="KeyError", message="`f` raised KeyError: 'y'.")
    hidden = fixture("h", **_hidden_raise("KeyError"))
    (cause,) = causes_of(shown, hidden)
    assert cause.fixtures == ["p", "h"] and cause.key == "exception:f:KeyError:0"
