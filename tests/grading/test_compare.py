"""The fixed order of checks, and what each one tells the student."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from grader.grading import compare
from grader.grading.compare import Diagnostic, check, errors, parameter_names
from grader.grading.lab import FunctionSpec, Policy
from grader.grading.runner import CallOutcome

SCALAR = FunctionSpec("loss", "loss(y, t)", "scalar", "loss", "", Policy())
ARRAY = FunctionSpec("softmax", "softmax(a)", "array", "softmax", "", Policy())
POLICY = Policy(rtol=1e-6, atol=1e-9)


def ok(value, kind: str = "scalar", type_name: str = "float", **extra) -> CallOutcome:
    return CallOutcome(
        status="ok",
        value=np.array(value, dtype=np.float64),
        kind=kind,
        type_name=type_name,
        **extra,
    )


def test_missing_function_names_the_expected_signature_and_what_the_file_defines() -> None:
    verdict = check(CallOutcome(status="missing"), np.array(1.0), SCALAR, POLICY, defined_names=["mse", "np"])
    assert verdict.stage == "missing" and not verdict.passed
    assert "`loss(y, t)`" in verdict.message and "mse" in verdict.message


def test_a_name_bound_to_something_else_is_reported() -> None:
    verdict = check(CallOutcome(status="missing", type_name="int"), np.array(1.0), SCALAR, POLICY)
    assert "is a int, not a function" in verdict.message


def test_exception_text_is_shown_in_full_but_hidden_summary_gives_only_a_builtin_type() -> None:
    outcome = CallOutcome(status="raised", error="ValueError: y was [0.1, 0.2]", line=7)
    verdict = check(outcome, np.array(1.0), SCALAR, POLICY)
    assert verdict.stage == "raised"
    assert "y was [0.1, 0.2]" in verdict.message and "line 7" in verdict.message
    assert verdict.summary == "`loss` raised `ValueError`."  # no line: a child can forge it
    custom = check(CallOutcome(status="raised", error="Leak_0_1_2: data"), np.array(1.0), SCALAR, POLICY)
    assert "Leak" not in custom.summary and "an exception" in custom.summary


def test_none_suggests_a_missing_return() -> None:
    verdict = check(CallOutcome(status="non_numeric", type_name="NoneType"), np.array(1.0), SCALAR, POLICY)
    assert verdict.stage == "type" and "forget `return`" in verdict.message


@pytest.mark.parametrize(
    ("kind", "type_name", "value"),
    [("scalar", "float", 2.0), ("scalar", "float64", 2.0), ("array", "ndarray", 2.0)],
)
def test_scalar_forms_accepted(kind: str, type_name: str, value) -> None:
    assert check(ok(value, kind, type_name), np.array(2.0), SCALAR, POLICY).passed


def test_scalar_forms_can_be_restricted() -> None:
    strict = Policy(scalar_forms=("python",))
    verdict = check(ok(2.0, "scalar", "float64"), np.array(2.0), SCALAR, strict)
    assert verdict.stage == "type" and "Python float" in verdict.message


def test_an_array_of_one_is_not_a_scalar() -> None:
    verdict = check(ok([2.0], "array", "ndarray"), np.array(2.0), SCALAR, POLICY)
    assert verdict.stage == "type" and "shape (1,)" in verdict.message and "single number" in verdict.message


def test_arrays_may_come_back_as_lists_unless_the_policy_says_no() -> None:
    assert check(ok([0.5, 0.5], "list", "list"), np.array([0.5, 0.5]), ARRAY, POLICY).passed
    verdict = check(ok([0.5, 0.5], "list", "list"), np.array([0.5, 0.5]), ARRAY, Policy(list_for_array=False))
    assert verdict.stage == "type"


def test_scalar_where_an_array_is_expected() -> None:
    verdict = check(ok(1.0), np.array([0.5, 0.5]), ARRAY, POLICY)
    assert verdict.stage == "type" and "(2,)" in verdict.message


def test_shape_mismatch_comes_before_values() -> None:
    verdict = check(ok([[0.5, 0.5]], "array", "ndarray"), np.array([0.5, 0.5]), ARRAY, POLICY)
    assert verdict.stage == "shape" and "(1, 2)" in verdict.message and "(2,)" in verdict.message


def test_non_finite_results_are_caught_with_advice() -> None:
    cee = FunctionSpec("cross_entropy_error", "cross_entropy_error(y, t)", "scalar", "cee", "−Σ t·ln(y + δ)", Policy())
    verdict = check(ok(np.inf), np.array(16.1), cee, POLICY)
    assert verdict.stage == "finite" and "inf" in verdict.message and "δ" in verdict.advice
    verdict = check(ok([np.nan, 1.0], "array", "ndarray"), np.array([0.5, 0.5]), ARRAY, POLICY)
    assert verdict.stage == "finite" and "nan at index (0,)" in verdict.message


def test_non_finite_advice_for_a_formula_without_logs_never_mentions_them() -> None:
    mse = FunctionSpec("mean_squared_error", "mean_squared_error(y, t)", "scalar", "mse", "½·Σ(y − t)²", Policy())
    verdict = check(ok(np.inf), np.array(0.5), mse, POLICY)
    assert verdict.stage == "finite" and "division by zero" in verdict.advice
    assert not any(word in verdict.advice for word in ("ln", "log", "δ", "exp"))


def test_nan_match_policy_accepts_matching_non_finite_values() -> None:
    policy = Policy(nan="match")
    assert check(ok([np.nan, 1.0], "array", "ndarray"), np.array([np.nan, 1.0]), ARRAY, policy).passed


def test_wrong_values_report_errors_and_tolerance_but_hidden_summary_does_not() -> None:
    verdict = check(ok(0.0134), np.array(0.0067), SCALAR, POLICY)
    assert verdict.stage == "value" and not verdict.passed
    assert "expected 0.0067, got 0.0134" in verdict.message
    assert "max abs error 0.0067" in verdict.message and "max rel error 1" in verdict.message
    assert verdict.summary == "wrong value."
    assert verdict.max_rel_error == pytest.approx(1.0)


def test_largest_difference_is_located_in_arrays() -> None:
    verdict = check(ok([0.1, 0.9, 0.0], "array", "ndarray"), np.array([0.1, 0.2, 0.7]), ARRAY, POLICY)
    assert "largest difference at index (1,)" in verdict.message


def test_tolerance_is_relative_plus_absolute() -> None:
    assert check(ok(1.0 + 5e-7), np.array(1.0), SCALAR, POLICY).passed
    assert not check(ok(1.0 + 5e-6), np.array(1.0), SCALAR, POLICY).passed
    assert check(ok(5e-10), np.array(0.0), SCALAR, POLICY).passed


def test_mutated_inputs_fail_only_where_the_fixture_checks_them() -> None:
    outcome = ok(2.0, mutated=[1])
    assert check(outcome, np.array(2.0), SCALAR, POLICY).passed
    verdict = check(outcome, np.array(2.0), SCALAR, POLICY, check_unmodified=True)
    assert verdict.stage == "unmodified" and "changed its input t in place" in verdict.message


def test_diagnostics_explain_a_wrong_value_only_when_they_reproduce_it() -> None:
    diagnostics = [
        Diagnostic("double it", lambda y: 2 * float(np.sum(y))),
        Diagnostic("never", lambda y: -1.0),
        Diagnostic("raises", lambda y: 1 / 0),
    ]
    verdict = check(
        ok(6.0),
        np.array(3.0),
        SCALAR,
        POLICY,
        diagnostics=diagnostics,
        args=(np.array([1.0, 2.0]),),
    )
    assert verdict.diagnosis == ["double it"]


def test_not_run_passes_the_reason_through() -> None:
    verdict = check(
        CallOutcome(status="not_run", error="time limit of 2 s exceeded on fixture X"),
        np.array(1.0),
        SCALAR,
        POLICY,
    )
    assert verdict.stage == "not_run" and verdict.message == "time limit of 2 s exceeded on fixture X"


def test_errors_handle_zero_expected_values() -> None:
    assert errors(np.array([0.0, 2.0]), np.array([0.0, 1.0])) == (1.0, 1.0)
    assert errors(np.array(1e-3), np.array(0.0)) == (1e-3, float("inf"))


def test_parameter_names_come_from_the_signature() -> None:
    assert parameter_names("softmax_cross_entropy(a, t)") == ["a", "t"]
    assert parameter_names("huber(y, t, delta=1.0)") == ["y", "t", "delta"]


_EDGE_VALUES = [0.0, -0.0, 1.0, -1.0, 1e-9, 1 + 1e-7, 1.5, 1e300, -1e300, 5e-324, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("nan", ["match", "fail"])
def test_close_and_errors_agree_with_numpy_for_scalars_and_arrays(nan: str) -> None:
    policy = Policy(rtol=1e-6, atol=1e-9, nan=nan)
    for got, expected in itertools.product(_EDGE_VALUES, repeat=2):
        want = bool(np.isclose(got, expected, rtol=1e-6, atol=1e-9, equal_nan=nan == "match"))
        assert compare.close(np.array(got), np.array(expected), policy) is want, (got, expected)
        assert compare.close(np.array([got, 1.0]), np.array([expected, 1.0]), policy) is want, (got, expected)
        scalar = compare.errors(np.array(got), np.array(expected))
        array = compare.errors(np.array([got]), np.array([expected]))
        np.testing.assert_array_equal(scalar, array)  # NaN where NaN


def test_numpy_exception_types_are_named_even_for_hidden_fixtures_but_never_a_childs_own() -> None:
    axis = check(
        CallOutcome(status="raised", error="AxisError: axis 1 is out of bounds"), np.array(1.0), SCALAR, POLICY
    )
    assert axis.summary == "`loss` raised `AxisError`." and axis.error_type == "AxisError"
    assert compare.known_exception_type("LinAlgError: singular") == "LinAlgError"
    assert compare.known_exception_type("MyOwnSecret_3_1: x") is None
    assert compare.known_exception_type("numpy: x") is None  # a module, not an exception class


def test_no_doubled_punctuation_after_an_exception_text() -> None:
    verdict = check(CallOutcome(status="raised", error="KeyError: did you mean 'y'?"), np.array(1.0), SCALAR, POLICY)
    assert verdict.message == "`loss` raised KeyError: did you mean 'y'?"


def test_one_loss_per_sample_is_told_to_average_over_the_batch_not_to_sum() -> None:
    verdict = check(ok([1.0, 3.0], "array", "ndarray"), np.array(2.0), SCALAR, POLICY)
    assert verdict.stage == "type" and verdict.reason == "per_sample_mean"
    for text in (verdict.message, verdict.summary):
        assert "mean over the batch" in text and "np.sum" not in text
    summed = check(ok([[1.0], [3.0]], "array", "ndarray"), np.array(4.0), SCALAR, POLICY)
    assert summed.reason == "per_sample_sum" and "adds them all up" in summed.summary
    wrapped = check(ok([2.0], "array", "ndarray"), np.array(2.0), SCALAR, POLICY)
    assert wrapped.reason == "wrapped" and "`float(...)`" in wrapped.message
    neither = check(ok([5.0, 7.0], "array", "ndarray"), np.array(2.0), SCALAR, POLICY)
    assert neither.reason == "array_for_scalar" and "np.sum" not in neither.message


def test_every_fitting_mistake_is_a_candidate_closest_first() -> None:
    diagnostics = [
        Diagnostic("far", lambda y: float(np.sum(y)) + 1e-8, "far"),
        Diagnostic("exact", lambda y: float(np.sum(y)), "exact"),
        Diagnostic("other", lambda y: 99.0, "other"),
    ]
    verdict = check(ok(3.0), np.array(1.0), SCALAR, POLICY, diagnostics=diagnostics, args=([1.0, 2.0],))
    assert verdict.candidates == ["exact", "far"] and verdict.diagnosis == ["exact"]


def test_a_mistake_that_raises_alike_is_a_candidate_of_a_raised_call() -> None:
    def broadcast(y, t):
        return float(np.sum(np.asarray(t) * np.asarray(y)))

    diagnostics = [Diagnostic("broadcast", broadcast, "broadcast"), Diagnostic("fine", lambda y, t: 1.0, "fine")]
    args = (np.ones((2, 3)), np.array([1, 0]))
    outcome = CallOutcome(status="raised", error="ValueError: operands could not be broadcast")
    verdict = check(outcome, np.array(1.0), SCALAR, POLICY, diagnostics=diagnostics, args=args)
    assert verdict.candidates == ["broadcast"]
    other = check(
        CallOutcome(status="raised", error="TypeError: x"),
        np.array(1.0),
        SCALAR,
        POLICY,
        diagnostics=diagnostics,
        args=args,
    )
    assert other.candidates == []


def test_input_traits_name_the_target_convention_and_sizes() -> None:
    probs = np.array([[0.2, 0.8, 0.0], [0.5, 0.25, 0.25]])
    assert compare.input_traits((probs, np.array([1, 0]))) == {
        "rows": 2,
        "elements": 6,
        "targets": "labels",
        "zero_probability": True,
    }
    one_hot = compare.input_traits((probs[1], [1, 0, 0]))
    assert one_hot["targets"] == "one-hot" and one_hot["lists"] and one_hot["rows"] == 1
    assert compare.input_traits((np.array([[1e4, 0.0, -1e4]]),))["large_inputs"] is True
