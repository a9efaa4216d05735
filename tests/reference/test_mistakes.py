"""Tests for the catalogue of known-wrong variants in reference.mistakes."""

from __future__ import annotations

import copy
import math
import re
from typing import Any

import numpy as np
import pytest

from reference import losses
from reference.mistakes import MISTAKES, Mistake, mistakes_for

# The grader's diagnosis tolerance: a mistake is only useful if, on some input, its value
# is not within this of the correct one (or is not finite).
LOOSE_RTOL, LOOSE_ATOL = 1e-6, 1e-9

ONE_HOT_2D = [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
PROBS_2D = [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25], [0.05, 0.15, 0.8]]
JA_Y = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]  # zeros off the true class

REPRESENTATIVE: dict[str, list[tuple[Any, ...]]] = {
    "mean_squared_error": [
        ([0.5, 0.1, 0.2, 0.2, 0.1], [0, 0, 1, 0, 0]),
        (PROBS_2D, ONE_HOT_2D),
        (np.array([1, 3, 5, 6, 7]), np.array([3, 2, 7, 5, 8])),
    ],
    "cross_entropy_error": [
        (JA_Y, 2),
        (JA_Y, [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
        (PROBS_2D, [1, 0, 2]),
        (np.array(PROBS_2D), np.array(ONE_HOT_2D)),
    ],
    "softmax": [
        ([0.9, 1.2, 0.4],),
        ([[0.9, 1.2, 0.4], [0.0, 0.006, 0.12]],),
        (np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [0.0, 0.0, 4.0]]),),
        ([1e4, 0.0, -1e4],),
    ],
    "softmax_cross_entropy": [
        ([0.0, 0.006, 0.12], 1),
        ([[0.5, 2.0, -1.0], [3.0, 0.1, 0.2], [0.0, -0.5, 1.5]], [1, 0, 2]),
        (np.array([[0.5, 2.0, -1.0], [3.0, 0.1, 0.2]]), np.array([[0, 1, 0], [1, 0, 0]])),
        ([1e4, 0.0, -1e4], 2),
        ([0.5, 2.0, -1.0], [0, 1, 0]),
    ],
}

ALL_MISTAKES = [m for ms in MISTAKES.values() for m in ms]
IDS = [m.key for m in ALL_MISTAKES]


def _correct(function: str) -> Any:
    return getattr(losses, function)


def _differs(value: Any, correct: Any) -> bool:
    value = np.asarray(value, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if not np.all(np.isfinite(value)):
        return True
    if value.shape != correct.shape:
        return True
    return not np.allclose(value, correct, rtol=LOOSE_RTOL, atol=LOOSE_ATOL)


def test_catalogue_covers_the_lab_functions() -> None:
    assert set(MISTAKES) >= {
        "mean_squared_error",
        "cross_entropy_error",
        "softmax",
        "softmax_cross_entropy",
    }
    for function, mistakes in MISTAKES.items():
        assert hasattr(losses, function), function
        assert mistakes, function
        assert all(isinstance(m, Mistake) and m.function == function for m in mistakes)
    assert len(set(IDS)) == len(IDS), "mistake keys must be unique"


def test_required_mistakes_are_present() -> None:
    keys = set(IDS)
    assert {
        "mse_mean",
        "mse_no_half",
        "mse_euclidean",
        "mse_sqrt_half_sum",
        "mse_half_mean",
        "mse_abs_mean",
        "mse_half_abs_sum",
        "cee_log10",
        "cee_log2",
        "cee_no_minus",
        "cee_no_batch_mean",
        "cee_mean_all",
        "cee_swapped",
        "cee_delta_outside",
        "softmax_whole_batch",
        "softmax_axis0",
        "softmax_no_normalisation",
        "sce_textbook",
        "sce_no_batch_mean",
        "sce_no_minus",
        "sce_log10",
        "sce_swapped",
        "sce_no_softmax",
    } <= keys


def test_mistakes_for() -> None:
    assert mistakes_for("no_such_function") == []
    found = mistakes_for("mean_squared_error")
    assert [m.key for m in found] == [m.key for m in MISTAKES["mean_squared_error"]]
    found.clear()  # a copy: the catalogue is not affected
    assert MISTAKES["mean_squared_error"]


@pytest.mark.parametrize("mistake", ALL_MISTAKES, ids=IDS)
def test_message_is_specific_and_has_no_numbers(mistake: Mistake) -> None:
    message = mistake.message.strip()
    assert len(message) > 40
    assert message.endswith(".")
    # no expected values: nothing that looks like a computed number
    assert not re.search(r"\d\.\d{3,}", message), message


@pytest.mark.parametrize("mistake", ALL_MISTAKES, ids=IDS)
def test_mistake_runs_and_differs_from_the_correct_value(mistake: Mistake) -> None:
    correct_fn = _correct(mistake.function)
    differs_somewhere = False
    for args in REPRESENTATIVE[mistake.function]:
        before = copy.deepcopy(args)
        expected = correct_fn(*args)
        try:
            with np.errstate(all="ignore"):
                value = mistake.compute(*args)
        except (ValueError, IndexError):
            continue  # a mistake may not apply to every input shape
        for arg, original in zip(args, before, strict=True):
            np.testing.assert_array_equal(np.asarray(arg), np.asarray(original))
        differs_somewhere |= _differs(value, expected)
    assert differs_somewhere, f"{mistake.key} never differs from {mistake.function}"


@pytest.mark.parametrize(
    "mistake",
    [m for m in ALL_MISTAKES if m.function in ("cross_entropy_error", "softmax_cross_entropy") and not m.literal],
    ids=lambda m: m.key,
)
def test_labels_and_one_hot_give_the_same_wrong_value(mistake: Mistake) -> None:
    y = [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25], [0.05, 0.15, 0.8]]
    labels = [1, 0, 2]
    with np.errstate(all="ignore"):
        from_labels = mistake.compute(y, labels)
        from_one_hot = mistake.compute(y, np.eye(3)[labels])
        single = mistake.compute(y[0], 1)
        single_one_hot = mistake.compute(y[0], [0, 1, 0])
    np.testing.assert_allclose(from_labels, from_one_hot, rtol=1e-15)
    np.testing.assert_allclose(single, single_one_hot, rtol=1e-15)


KO_Y, KO_T = [1, 3, 5, 6, 7], [3, 2, 7, 5, 8]  # sum of squares 11, sum of |d| 7, n = 5
Y3, T3 = [0.2, 0.5, 0.3], 1
LN_DELTA = -math.log(1e-7)

KNOWN_VALUES: list[tuple[str, tuple[Any, ...], float]] = [
    ("mse_mean", (KO_Y, KO_T), 11 / 5),
    ("mse_no_half", (KO_Y, KO_T), 11.0),
    ("mse_euclidean", (KO_Y, KO_T), math.sqrt(11)),
    ("mse_sqrt_half_sum", (KO_Y, KO_T), math.sqrt(5.5)),
    ("mse_half_mean", (KO_Y, KO_T), 1.1),
    ("mse_abs_mean", (KO_Y, KO_T), 7 / 5),
    ("mse_half_abs_sum", (KO_Y, KO_T), 3.5),
    ("mse_batch_mean", ([[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]), 0.5 * 30 / 2),
    ("cee_log10", (Y3, T3), -math.log10(0.5 + 1e-7)),
    ("cee_log2", (Y3, T3), -math.log2(0.5 + 1e-7)),
    ("cee_no_minus", (Y3, T3), math.log(0.5 + 1e-7)),
    (
        "cee_no_batch_mean",
        (PROBS_2D, [1, 0, 2]),
        -math.log(0.7 + 1e-7) - math.log(0.5 + 1e-7) - math.log(0.8 + 1e-7),
    ),
    ("cee_mean_all", (Y3, T3), -math.log(0.5 + 1e-7) / 3),
    ("cee_swapped", (Y3, [0, 1, 0]), -(0.2 + 0.3) * math.log(1e-7) - 0.5 * math.log(1 + 1e-7)),
    ("cee_delta_outside", (Y3, T3), -math.log(0.5) - 3e-7),
    ("cee_no_delta", (Y3, T3), -math.log(0.5)),
    ("sce_textbook", ([1e4, 0.0, -1e4], 2), LN_DELTA),
    ("sce_no_batch_mean", ([[0.0, 0.0], [0.0, 0.0]], [0, 1]), 2 * math.log(2)),
    ("sce_no_minus", ([0.0, 0.0], 0), -math.log(2)),
    ("sce_log10", ([0.0, 0.0], 0), math.log10(2)),
    ("sce_swapped", ([1.0, 0.0], [0, 1]), math.log(1 + math.e)),
    ("sce_swapped_probs", ([0.0, 0.0], 0), -0.5 * math.log(1e-7) - 0.5 * math.log(1 + 1e-7)),
    ("sce_whole_batch", ([[0.0, 0.0], [0.0, 0.0]], [0, 1]), math.log(4)),
    ("sce_no_softmax", ([0.2, 0.5, 0.3], 1), -math.log(0.5 + 1e-7)),
    # integer labels used as if one-hot: the label multiplies every logarithm
    ("cee_labels_as_one_hot", (Y3, 2), -2 * (math.log(0.2 + 1e-7) + math.log(0.5 + 1e-7) + math.log(0.3 + 1e-7))),
    # one-hot targets used as indices: y[0, [0, 1, 0]] picks y0, y1, y0
    ("cee_one_hot_as_labels", (Y3, [0, 1, 0]), -(2 * math.log(0.2 + 1e-7) + math.log(0.5 + 1e-7))),
    ("cee_one_hot_as_labels_no_delta", (Y3, [0, 1, 0]), -(2 * math.log(0.2) + math.log(0.5))),
    ("cee_one_hot_as_labels_no_delta", (PROBS_2D, [1, 0, 2]), -(math.log(0.7) + math.log(0.5) + math.log(0.8)) / 3),
    ("cee_swapped_literal", (Y3, 1), -math.log(1 + 1e-7)),
    ("cee_row_loop_log_of_sum", ([[0.2, 0.8], [0.6, 0.4]], [[0, 1], [1, 0]]), -(math.log(0.8) + math.log(0.6)) / 2),
    ("cee_binary", ([0.2, 0.8], [0, 1]), -2 * math.log(0.8) / 2),
    ("sce_labels_as_one_hot", ([0.0, 0.0], 1), 2 * math.log(2)),
    ("sce_one_hot_as_labels", ([0.0, math.log(3.0)], [1, 0]), -(math.log(0.25) + math.log(0.75))),
    ("sce_swapped_literal", ([[1.0, 0.0], [0.0, 1.0]], [0, 0]), 2 * math.log(2) / 2 * 1),
]


@pytest.mark.parametrize(("key", "args", "expected"), KNOWN_VALUES, ids=[k for k, _, _ in KNOWN_VALUES])
def test_mistake_computes_what_its_key_says(key: str, args: tuple[Any, ...], expected: float) -> None:
    (mistake,) = [m for m in ALL_MISTAKES if m.key == key]
    assert mistake.compute(*args) == pytest.approx(expected, rel=1e-9)


def test_softmax_mistakes_known_values() -> None:
    by_key = {m.key: m for m in MISTAKES["softmax"]}
    a = np.array([[0.0, math.log(3.0)], [0.0, 0.0]])  # rows of exp: [1, 3], [1, 1]
    np.testing.assert_allclose(by_key["softmax_whole_batch"].compute(a), [[1 / 6, 3 / 6], [1 / 6, 1 / 6]])
    np.testing.assert_allclose(by_key["softmax_axis0"].compute(a), [[0.5, 0.75], [0.5, 0.25]])
    np.testing.assert_allclose(by_key["softmax_no_normalisation"].compute(a), [[1.0, 3.0], [1.0, 1.0]])
    with np.errstate(all="ignore"):
        assert np.isnan(by_key["softmax_no_max_shift"].compute([1e4, 0.0])).any()
    with pytest.raises(ValueError):
        by_key["softmax_no_keepdims"].compute(np.zeros((2, 3)))


LITERAL_RAISES: list[tuple[str, tuple[Any, ...], type[BaseException]]] = [
    # labels of shape (N,) against (N, K) arithmetic: what one-hot-only code raises
    ("cee_labels_as_one_hot", (PROBS_2D[:2], [1, 0]), ValueError),
    ("sce_labels_as_one_hot", (PROBS_2D[:2], [1, 0]), ValueError),
    # the swap puts the labels where the predictions go
    ("cee_swapped_literal", (PROBS_2D[:2], [1, 0]), ValueError),
    ("sce_swapped_literal", (PROBS_2D[:2], [1, 0]), ValueError),
    # one-hot targets used as indices: the index arrays cannot be broadcast
    ("cee_one_hot_as_labels", (PROBS_2D[:2], [[0, 1, 0], [1, 0, 0]]), IndexError),
    ("sce_one_hot_as_labels", (PROBS_2D[:2], [[0, 1, 0], [1, 0, 0]]), IndexError),
]


@pytest.mark.parametrize(("key", "args", "error"), LITERAL_RAISES, ids=[k for k, _, _ in LITERAL_RAISES])
def test_literal_mistakes_raise_where_the_students_code_does(
    key: str, args: tuple[Any, ...], error: type[BaseException]
) -> None:
    (mistake,) = [m for m in ALL_MISTAKES if m.key == key]
    with pytest.raises(error):
        mistake.compute(*args)


def test_convention_mistakes_are_literal_and_say_which_targets_they_handle() -> None:
    conventions = [m for m in ALL_MISTAKES if m.kind == "convention"]
    assert {m.key for m in conventions} >= {"cee_labels_as_one_hot", "cee_one_hot_as_labels", "sce_labels_as_one_hot"}
    for mistake in conventions:
        assert mistake.literal
        assert "one-hot targets only" in mistake.message or "integer labels only" in mistake.message


def test_hint_conditions_name_catalogued_mistakes() -> None:
    """A fixture's ``hint_when = ["mistake:KEY"]`` must name a mistake that exists."""
    from pathlib import Path

    import tomllib

    labs = Path(__file__).resolve().parents[2] / "labs"
    named = []
    for path in labs.glob("*/fixtures/*.toml"):
        for fixture in tomllib.loads(path.read_text()).get("fixture", []):
            named += [w.split(":", 1)[1] for w in fixture.get("hint_when", []) if w.startswith("mistake:")]
    assert named and set(named) <= set(IDS)
