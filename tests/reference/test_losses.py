"""Tests for the trusted reference losses.

The first test reproduces every sample value printed in the course documents (the five
files in /work/shared/seeds/: an English note, a Japanese notebook, a Chinese blog post,
a Korean blog post and Chinese slides), with the inputs printed next to them. The rest
checks properties the grader relies on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from reference.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    cross_entropy_error,
    entropy,
    huber,
    log_softmax,
    mean_absolute_error,
    mean_squared_error,
    mean_squared_error_mean,
    sigmoid,
    softmax,
    softmax_cross_entropy,
)

LN_DELTA = 16.11809565095832  # -ln(1e-7)

# Tolerances: (relative, absolute). FULL where a document prints full float precision,
# DP(n) where it prints n decimals, DELTA where the document uses no delta but the lab's
# cross_entropy_error adds delta = 1e-7 inside the log (shifts the value by < 1e-6).
FULL = (1e-12, 0.0)
DELTA = (0.0, 1e-6)


def DP(n: int) -> tuple[float, float]:
    return (0.0, 0.5 * 10.0**-n + 1e-12)


def mean_of(fn: Callable[..., Any]) -> Callable[..., float]:
    return lambda *args: float(np.mean(fn(*args)))


def onehot(label: int, k: int) -> list[int]:
    return [1 if i == label else 0 for i in range(k)]


KO_A = 0.8634223884819422  # Korean post, batch A
KO_B = 0.6323733282952938  # Korean post, batch B
KO_B1 = 0.5108256237659907  # Korean post, sample B1 (= -ln 0.6)

# English note (000): t, y1, y2 of "Pattern 1/2".
EN_T = [0, 0, 1, 0, 0]
EN_Y1 = [0.01, 0.02, 0.9, 0.05, 0.02]
EN_Y2 = [0.5, 0.1, 0.2, 0.2, 0.1]
# Japanese notebook (001): "2" is the correct class out of 10.
JA_T = onehot(2, 10)
JA_Y2 = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
JA_Y7 = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]
# Korean post (003). Its softmax_cee(y, y_i) takes (targets, predictions), uses no
# delta and computes -ln(sum(t * y)), which equals -sum(t * ln y) for one-hot t.
KO_T = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
KO_LABELS = [0, 1, 2]
KO_Y_A = [[0.3, 0.1, 0.6], [0.3, 0.5, 0.2], [0.4, 0.1, 0.5]]
KO_Y_B = [[0.6, 0.1, 0.3], [0.3, 0.5, 0.2], [0.4, 0.1, 0.5]]
KO_BIN_T = [0, 1, 0, 0, 1, 1]
KO_BIN_P = [0.5, 0.7, 0.3, 0.2, 0.7, 0.9]
# Chinese slides (004): the two distributions of the entropy slide.
P1 = [1 / 3, 1 / 2, 1 / 6]
P2 = [1 / 4, 1 / 2, 1 / 4]
LN = math.log


def _logit(p: list[float]) -> np.ndarray:
    p_arr = np.asarray(p)
    return np.log(p_arr / (1 - p_arr))


# fmt: off
DOCUMENT_VALUES: list[tuple[str, Callable[..., Any], tuple[Any, ...], Any, tuple[float, float]]] = [
    # --- English note (000) ----------------------------------------------------------
    # Its intro prints "0.6094374124342252": that is 1.6094374124342252 (pattern 2's
    # cross-entropy, below) with the leading "1" lost, not a separate correct value.
    ("en: MSE pattern 1", mean_squared_error, (EN_Y1, EN_T), 0.006699999999999998, FULL),
    ("en: MSE pattern 2", mean_squared_error, (EN_Y2, EN_T), 0.4750000000000001, FULL),
    ("en: CEE pattern 1", cross_entropy_error, (EN_Y1, EN_T), 0.1053604045467214, FULL),
    ("en: CEE pattern 2", cross_entropy_error, (EN_Y2, EN_T), 1.6094374124342252, FULL),
    ("en: CEE pattern 2, label", cross_entropy_error, (EN_Y2, 2), 1.6094374124342252, FULL),
    # --- Japanese notebook (001) -----------------------------------------------------
    ("ja: MSE, 2 most likely", mean_squared_error, (JA_Y2, JA_T), 0.09750000000000003, FULL),
    ("ja: MSE, 7 most likely", mean_squared_error, (JA_Y7, JA_T), 0.5975, FULL),
    ("ja: CEE, 2 most likely", cross_entropy_error, (JA_Y2, JA_T), 0.510825457099338, FULL),
    ("ja: CEE, 7 most likely", cross_entropy_error, (JA_Y7, JA_T), 2.302584092994546, FULL),
    ("ja: CEE, label 2", cross_entropy_error, (JA_Y2, 2), 0.510825457099338, FULL),
    # --- Korean post (003) -----------------------------------------------------------
    ("ko: MSE of integers", mean_squared_error,
     (np.array([1, 3, 5, 6, 7]), np.array([3, 2, 7, 5, 8])), 5.5, FULL),
    ("ko: -log(0.9) = 0.105", cross_entropy_error, ([0.05, 0.9, 0.05], 1), 0.105, DP(3)),
    ("ko: batch CEE A, with delta", cross_entropy_error, (KO_Y_A, KO_T), KO_A, DELTA),
    ("ko: batch CEE A, labels", cross_entropy_error, (KO_Y_A, KO_LABELS), KO_A, DELTA),
    ("ko: batch CEE A, no delta", mean_of(cross_entropy), (KO_T, KO_Y_A), KO_A, FULL),
    ("ko: batch CEE A, log-probs as logits", softmax_cross_entropy,
     (np.log(KO_Y_A), KO_LABELS), KO_A, FULL),
    ("ko: batch CEE B, with delta", cross_entropy_error, (KO_Y_B, KO_T), KO_B, DELTA),
    ("ko: batch CEE B, no delta", mean_of(cross_entropy), (KO_T, KO_Y_B), KO_B, FULL),
    ("ko: CEE sample A1", cross_entropy, (KO_T[0], KO_Y_A[0]), 1.2039728043259361, FULL),
    ("ko: CEE sample A1, delta", cross_entropy_error, (KO_Y_A[0], 0), 1.2039728043259361, DELTA),
    ("ko: CEE sample A2", cross_entropy, (KO_T[1], KO_Y_A[1]), 0.6931471805599453, FULL),
    ("ko: CEE sample A3", cross_entropy, (KO_T[2], KO_Y_A[2]), 0.6931471805599453, FULL),
    ("ko: CEE sample B1", cross_entropy, (KO_T[0], KO_Y_B[0]), KO_B1, FULL),
    ("ko: CEE sample B1, delta", cross_entropy_error, (KO_Y_B[0], 0), KO_B1, DELTA),
    ("ko: BCE mean", binary_cross_entropy, (KO_BIN_P, KO_BIN_T), 0.34861267989136313, FULL),
    ("ko: BCE mean from logits", binary_cross_entropy_with_logits,
     (_logit(KO_BIN_P), KO_BIN_T), 0.34861267989136313, FULL),
    ("ko: BCE sample 1", binary_cross_entropy, (0.5, 0), 0.6931471805599453, FULL),
    ("ko: BCE sample 2", binary_cross_entropy, (0.7, 1), 0.35667494393873245, FULL),
    ("ko: BCE sample 3", binary_cross_entropy, (0.3, 0), 0.35667494393873245, FULL),
    ("ko: BCE sample 4", binary_cross_entropy, (0.2, 0), 0.2231435513142097, FULL),
    ("ko: BCE sample 5", binary_cross_entropy, ([0.7], [1]), 0.35667494393873245, FULL),
    ("ko: BCE sample 6", binary_cross_entropy, (0.9, 1), 0.10536051565782628, FULL),
    # --- Chinese blog post (002); it prints no values, these follow from its inputs ---
    ("zh: PyTorch BCE", binary_cross_entropy,
     ([0.2] + [0.8] * 9, [0.0] + [1.0] * 9), 0.2231435513142097, FULL),
    ("zh: Keras BCE (1,1,1)", binary_cross_entropy, ([[[0.5]]], [[[0.0]]]), LN(2), FULL),
    ("zh: Keras categorical CE", cross_entropy_error, ([0.4, 0.6], [0.0, 1.0]), -LN(0.6), DELTA),
    ("zh: Keras categorical CE, batch", cross_entropy_error, ([[0.4, 0.6]], [1]), -LN(0.6), DELTA),
    ("zh: categorical CE, no delta", cross_entropy, ([0.0, 1.0], [0.4, 0.6]), -LN(0.6), FULL),
    # --- Chinese slides (004) --------------------------------------------------------
    # The slide prints [0.34, 0.46, 0.2]; the exact third value 0.2052 is "0.2" only to
    # one decimal (to two it would be 0.21), hence the per-element tolerance.
    ("slides: softmax([0.9, 1.2, 0.4])", softmax, ([0.9, 1.2, 0.4],), [0.34, 0.46, 0.2],
     (0.0, np.array([DP(2)[1], DP(2)[1], DP(1)[1]]))),
    ("slides: softmax([0, 0.006, 0.12])", softmax, ([0, 0.006, 0.12],), [0.319, 0.321, 0.36],
     (0.0, np.array([DP(3)[1], DP(3)[1], DP(2)[1]]))),
    # The slide's 1.1363 is -ln(0.321), the cross-entropy of the *rounded* softmax.
    ("slides: CE of rounded softmax", cross_entropy_error,
     ([0.319, 0.321, 0.36], [0, 1, 0]), 1.1363, DP(4)),
    ("slides: CE of rounded softmax, no delta", cross_entropy,
     ([0, 1, 0], [0.319, 0.321, 0.36]), 1.1363, DP(4)),
    # From the logits directly it is 1.136155..., i.e. 1.1362 to 4 places, not 1.1363.
    ("slides: CE from the logits", softmax_cross_entropy, ([0, 0.006, 0.12], 1), 1.1362, DP(4)),
    ("slides: Entropy(p1)", entropy, (P1,), LN(3) / 3 + LN(2) / 2 + LN(6) / 6, FULL),
    ("slides: Entropy(p2)", entropy, (P2,), LN(4) / 4 + LN(2) / 2 + LN(4) / 4, FULL),
    ("slides: CE(p1, p2)", cross_entropy, (P1, P2), LN(4) / 3 + LN(2) / 2 + LN(4) / 6, FULL),
    ("slides: CE(p2, p1)", cross_entropy, (P2, P1), LN(3) / 4 + LN(2) / 2 + LN(6) / 4, FULL),
]
# fmt: on


def _close(actual: Any, expected: Any, rel: float, abs_: Any) -> bool:
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    if actual.shape != expected.shape:
        return False
    return bool(np.all(np.abs(actual - expected) <= abs_ + rel * np.abs(expected)))


@pytest.mark.parametrize(
    ("description", "fn", "args", "expected", "tolerance"),
    DOCUMENT_VALUES,
    ids=[row[0] for row in DOCUMENT_VALUES],
)
def test_document_values(
    description: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    expected: Any,
    tolerance: tuple[float, Any],
) -> None:
    actual = fn(*args)
    rel, abs_ = tolerance
    assert _close(actual, expected, rel, abs_), f"{description}: {actual!r} != {expected!r}"


def test_slide_rounding_claims() -> None:
    # 1.1363 holds for the rounded softmax, not for the logits (1.136155... -> 1.1362).
    assert round(cross_entropy([0, 1, 0], [0.319, 0.321, 0.36]), 4) == 1.1363
    assert round(softmax_cross_entropy([0, 0.006, 0.12], 1), 4) == 1.1362


def test_cross_entropy_is_at_least_entropy() -> None:
    assert cross_entropy(P1, P2) >= entropy(P1)
    assert cross_entropy(P2, P1) >= entropy(P2)
    assert cross_entropy(P1, P1) == pytest.approx(entropy(P1), rel=1e-15)
    assert cross_entropy(P2, P2) == pytest.approx(entropy(P2), rel=1e-15)


# --------------------------------------------------------------------------- input handling

SCALAR_LOSSES: list[tuple[Callable[..., float], Any, Any]] = [
    (mean_squared_error, [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]], [[0, 1, 0], [1, 0, 0]]),
    (mean_squared_error_mean, [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]], [[0, 1, 0], [1, 0, 0]]),
    (mean_absolute_error, [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]], [[0, 1, 0], [1, 0, 0]]),
    (huber, [[0.1, 3.0, 0.2], [0.5, -2.0, 0.25]], [[0, 1, 0], [1, 0, 0]]),
    (cross_entropy_error, [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]], [[0, 1, 0], [1, 0, 0]]),
    (cross_entropy_error, [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]], [1, 0]),
    (softmax_cross_entropy, [[0.1, 2.7, -1.2], [3.5, 0.25, 0.25]], [[0, 1, 0], [1, 0, 0]]),
    (softmax_cross_entropy, [[0.1, 2.7, -1.2], [3.5, 0.25, 0.25]], [1, 0]),
    (binary_cross_entropy, [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]], [[0, 1, 0], [1, 0, 0]]),
    (binary_cross_entropy_with_logits, [[0.1, 2.7, -1.2], [3.5, 0, 0.25]], [[0, 1, 0], [1, 0, 0]]),
]
SCALAR_IDS = [f"{fn.__name__}-{i}" for i, (fn, _, _) in enumerate(SCALAR_LOSSES)]


@pytest.mark.parametrize(("fn", "y", "t"), SCALAR_LOSSES, ids=SCALAR_IDS)
def test_inputs_unchanged_and_lists_equal_arrays(fn: Callable[..., float], y: Any, t: Any) -> None:
    y_arr, t_arr = np.array(y, dtype=np.float64), np.array(t)
    y_copy, t_copy = y_arr.copy(), t_arr.copy()
    y_list, t_list = [list(row) for row in y], (list(t) if isinstance(t[0], int) else t)
    y_list_copy = [list(row) for row in y_list]

    from_arrays = fn(y_arr, t_arr)
    from_lists = fn(y_list, t_list)

    np.testing.assert_array_equal(y_arr, y_copy)
    np.testing.assert_array_equal(t_arr, t_copy)
    assert y_list == y_list_copy
    assert type(from_arrays) is float
    assert type(from_lists) is float
    assert from_arrays == from_lists


@pytest.mark.parametrize(("fn", "y", "t"), SCALAR_LOSSES, ids=SCALAR_IDS)
def test_float32_inputs_are_computed_in_float64(fn: Callable[..., float], y: Any, t: Any) -> None:
    y32 = np.array(y, dtype=np.float32)
    t_arr = np.array(t)
    t32 = t_arr.astype(np.float32) if t_arr.shape == y32.shape else t_arr.astype(np.int32)
    expected = fn(y32.astype(np.float64), t32.astype(np.float64 if t_arr.shape == y32.shape else int))
    assert fn(y32, t32) == expected
    assert type(fn(y32, t32)) is float


@pytest.mark.parametrize("fn", [mean_squared_error, mean_squared_error_mean, mean_absolute_error, huber])
def test_integer_scalar_and_0d_inputs(fn: Callable[..., float]) -> None:
    y_int, t_int = np.array([1, 3, 5, 6, 7]), np.array([3, 2, 7, 5, 8])
    assert fn(y_int, t_int) == fn(y_int.astype(float), t_int.astype(float))
    assert fn(y_int.astype(np.int8), t_int.astype(np.uint8)) == fn(y_int, t_int)
    assert fn(3, 1) == fn(np.array(3.0), np.array(1.0)) == fn([3.0], [1.0])
    assert type(fn(3, 1)) is float


def test_integer_arithmetic_does_not_wrap() -> None:
    # int8 inputs must be converted before subtracting/squaring.
    y, t = np.array([127], dtype=np.int8), np.array([-128], dtype=np.int8)
    assert mean_squared_error(y, t) == 0.5 * 255.0**2


def test_regression_known_values() -> None:
    y, t = [1, 3, 5, 6, 7], [3, 2, 7, 5, 8]
    assert mean_squared_error(y, t) == 5.5
    assert mean_squared_error_mean(y, t) == pytest.approx(2.2, rel=1e-15)
    assert mean_absolute_error(y, t) == pytest.approx(7 / 5, rel=1e-15)
    r = [0, 0, 0]
    target = [0.5, 2.0, -3.0]
    assert mean_absolute_error(r, target) == pytest.approx(5.5 / 3, rel=1e-15)
    # delta = 1: 0.5 * 0.25, 1 * (2 - 0.5), 1 * (3 - 0.5)
    assert huber(r, target) == pytest.approx((0.125 + 1.5 + 2.5) / 3, rel=1e-15)
    # delta = 2: 0.5 * 0.25, 0.5 * 4 (|r| = delta is quadratic), 2 * (3 - 1)
    assert huber(r, target, delta=2.0) == pytest.approx((0.125 + 2.0 + 4.0) / 3, rel=1e-15)
    # small residuals: half the mean squared error; huge ones: linear
    assert huber([0.1, -0.2], [0, 0]) == pytest.approx(0.5 * mean_squared_error_mean([0.1, -0.2], [0, 0]))
    assert huber([1e6], [0]) == 1e6 - 0.5
    # continuous at |r| = delta
    assert huber([1.0 + 1e-9], [0]) == pytest.approx(huber([1.0], [0]), abs=1e-8)
    with pytest.raises(ValueError, match="delta"):
        huber([1.0], [0.0], delta=0.0)


def test_shape_mismatch_is_rejected() -> None:
    for fn in (mean_squared_error, mean_absolute_error, binary_cross_entropy, huber):
        with pytest.raises(ValueError, match="same shape"):
            fn([0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(ValueError, match="same shape"):
        cross_entropy([0.5, 0.5], [0.2, 0.3, 0.5])


# --------------------------------------------------------------------------- labels vs one-hot


@pytest.mark.parametrize("fn", [cross_entropy_error, softmax_cross_entropy])
def test_labels_equal_one_hot_and_1d_equals_batch_of_one(fn: Callable[..., float]) -> None:
    y = np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25], [0.05, 0.05, 0.9]])
    labels = np.array([1, 0, 2])
    one_hot = np.eye(3)[labels]
    expected = fn(y, one_hot)
    assert fn(y, labels) == pytest.approx(expected, rel=1e-15)
    assert fn(y, labels.astype(np.int32)) == pytest.approx(expected, rel=1e-15)
    assert fn(y, labels.astype(np.uint8)) == pytest.approx(expected, rel=1e-15)
    assert fn(y, [1.0, 0.0, 2.0]) == pytest.approx(expected, rel=1e-15)  # whole floats
    assert fn(y.tolist(), labels.tolist()) == pytest.approx(expected, rel=1e-15)
    for row, label in zip(y, labels, strict=True):
        single = fn(row, label)
        assert single == fn(row, np.eye(3)[label])
        assert single == fn(row, np.int64(label)) == fn(row, np.array(label))
        assert single == fn(row[np.newaxis], [label]) == fn(row[np.newaxis], np.eye(3)[[label]])


def test_soft_targets_use_the_full_formula() -> None:
    y, t = np.array([0.2, 0.3, 0.5]), np.array([0.1, 0.6, 0.3])
    expected = -np.sum(t * np.log(y + 1e-7))
    assert cross_entropy_error(y, t) == pytest.approx(expected, rel=1e-15)
    a = np.array([1.0, -2.0, 0.5])
    assert softmax_cross_entropy(a, t) == pytest.approx(-np.sum(t * log_softmax(a)), rel=1e-15)


@pytest.mark.parametrize("fn", [cross_entropy_error, softmax_cross_entropy])
@pytest.mark.parametrize(
    ("y", "t", "match"),
    [
        ([0.2, 0.3, 0.5], [2], "shape"),  # 1-D y takes a label of shape ()
        ([0.2, 0.3, 0.5], [0, 1], "shape"),
        ([[0.2, 0.3, 0.5]], 2, "shape"),  # 2-D y takes labels of shape (N,)
        ([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]], [[2], [1]], "shape"),
        ([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]], [2, 1, 0], "shape"),
        ([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]], [[0, 0, 1]], "shape"),
        ([0.2, 0.3, 0.5], 3, "lie in"),
        ([0.2, 0.3, 0.5], -1, "lie in"),
        ([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]], [0, 5], "lie in"),
        ([0.2, 0.3, 0.5], 1.5, "integers"),
        ([0.2, 0.3, 0.5], float("nan"), "integers"),
        ([0.2, 0.3, 0.5], True, "integers"),
        ([[[0.2, 0.3, 0.5]]], [[[0, 0, 1]]], r"\(K,\) or \(N, K\)"),
        (0.5, 1.0, r"\(K,\) or \(N, K\)"),
    ],
)
def test_bad_targets_raise(fn: Callable[..., float], y: Any, t: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fn(y, t)


# --------------------------------------------------------------------------- zeros and extremes


@pytest.mark.filterwarnings("error")
def test_zero_probability_at_true_class_is_minus_ln_delta() -> None:
    y = [0.0, 0.6, 0.4]
    for t in ([1, 0, 0], 0):
        value = cross_entropy_error(y, t)
        assert value == pytest.approx(LN_DELTA, rel=1e-12)
        assert value == pytest.approx(-math.log(1e-7), rel=1e-15)
    batch = [[0.0, 0.6, 0.4], [0.0, 0.6, 0.4]]
    assert cross_entropy_error(batch, [0, 0]) == pytest.approx(LN_DELTA, rel=1e-12)


@pytest.mark.filterwarnings("error")
def test_zeros_elsewhere_stay_finite() -> None:
    assert math.isfinite(cross_entropy_error([0.0, 1.0, 0.0], [0, 1, 0]))
    # -ln(1 + delta) is a hair below zero: the textbook formula, kept as is.
    assert cross_entropy_error([0.0, 1.0, 0.0], 1) == pytest.approx(0.0, abs=1e-6)
    assert math.isfinite(cross_entropy_error([[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]], [2, 1]))
    assert entropy([0.0, 1.0, 0.0]) == 0.0
    assert entropy([0.5, 0.0, 0.5]) == pytest.approx(math.log(2), rel=1e-15)
    assert cross_entropy([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert math.isinf(cross_entropy([1.0, 0.0], [0.0, 1.0]))
    # y = 1 is clipped to 1 - 1e-7, which is not exact in binary: ln(1 - y') is off by ~1e-10
    assert binary_cross_entropy([0.0], [1.0]) == pytest.approx(LN_DELTA, rel=1e-12)
    assert binary_cross_entropy([0.0, 1.0], [1.0, 0.0]) == pytest.approx(LN_DELTA, rel=1e-9)
    assert binary_cross_entropy([0.0, 1.0], [0.0, 1.0]) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    "a",
    [
        [1e4, 0.0, -1e4],
        [1e5, 0.0, -1e5],
        [-1e5, 1e5, 0.0],
        [1e4, 1e4, 1e4],
        [1e300, -1e300, 0.0],
        [[1e4, 0.0, -1e4], [-1e5, 1e5, 3.0]],
    ],
)
def test_softmax_extreme_inputs(a: Any) -> None:
    s = softmax(a)
    assert s.dtype == np.float64
    assert s.shape == np.shape(a)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-15)
    assert np.all(np.isfinite(log_softmax(a)))


def test_softmax_rows_sum_to_one_and_match_definition() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(scale=3.0, size=(50, 7))
    s = softmax(a)
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(s, np.exp(a) / np.exp(a).sum(axis=1, keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(log_softmax(a), np.log(s), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(log_softmax([1e4, 0.0, -1e4]), [0.0, -1e4, -2e4])
    assert softmax([1, 2, 3]).dtype == np.float64
    with pytest.raises(ValueError):
        softmax(1.0)


@pytest.mark.filterwarnings("error")
def test_softmax_cross_entropy_extremes_are_exact() -> None:
    a = [1e4, 0.0, -1e4]
    assert softmax_cross_entropy(a, 2) == 2e4
    assert softmax_cross_entropy(a, [0, 0, 1]) == 2e4
    assert softmax_cross_entropy(a, 1) == 1e4
    zero = softmax_cross_entropy(a, 0)
    assert zero == 0.0
    assert math.copysign(1.0, zero) == 1.0  # not -0.0
    assert softmax_cross_entropy(a, [1, 0, 0]) == 0.0
    assert softmax_cross_entropy([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]], [2, 0]) == pytest.approx(
        (2e4 + math.log(3)) / 2, rel=1e-15
    )
    # far beyond float overflow of exp: still exact, one-hot zeros contribute nothing
    assert softmax_cross_entropy([1e300, -1e300], [0, 1]) == 2e300
    assert softmax_cross_entropy([1e300, -1e300], 1) == 2e300
    assert softmax_cross_entropy([1e300, -1e300], [1, 0]) == 0.0


@pytest.mark.filterwarnings("error")
def test_sigmoid_and_bce_with_logits() -> None:
    assert sigmoid(0.0) == 0.5
    np.testing.assert_array_equal(sigmoid([1e4, -1e4]), [1.0, 0.0])
    x = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(sigmoid(x) + sigmoid(-x), 1.0, rtol=1e-15)
    t = (np.arange(61) % 2).astype(float)
    assert binary_cross_entropy_with_logits(x[20:41], t[20:41]) == pytest.approx(
        binary_cross_entropy(sigmoid(x[20:41]), t[20:41]), rel=1e-12
    )
    assert binary_cross_entropy_with_logits([1e4], [0]) == 1e4
    assert binary_cross_entropy_with_logits([-1e4], [1]) == 1e4
    assert binary_cross_entropy_with_logits([1e4], [1]) == 0.0
    assert binary_cross_entropy_with_logits(0.0, 1.0) == pytest.approx(math.log(2), rel=1e-15)


def test_entropy_shapes() -> None:
    assert type(entropy([0.5, 0.5])) is float
    assert type(cross_entropy([0.5, 0.5], [0.25, 0.75])) is float
    rows = entropy([P1, P2])
    assert isinstance(rows, np.ndarray)
    assert rows.shape == (2,)
    np.testing.assert_allclose(rows, [entropy(P1), entropy(P2)], rtol=1e-15)
    ce_rows = cross_entropy([P1, P2], [P2, P1])
    np.testing.assert_allclose(ce_rows, [cross_entropy(P1, P2), cross_entropy(P2, P1)], rtol=1e-15)


# --------------------------------------------------------------------------- large batch vs loops


@pytest.fixture(scope="module")
def big_batch() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240601)
    n, k = 1000, 100
    logits = rng.normal(scale=4.0, size=(n, k))
    # mixed with a uniform floor so no probability gets near BCE's clip at 1e-7
    probs = 0.9 * rng.dirichlet(np.ones(k), size=n) + 0.1 / k
    labels = rng.integers(0, k, size=n)
    targets = rng.random(size=(n, k))
    return logits, probs, labels, targets


def _loop_softmax_row(row: list[float]) -> list[float]:
    m = max(row)
    exps = [math.exp(v - m) for v in row]
    total = math.fsum(exps)
    return [e / total for e in exps]


def test_big_batch_matches_python_loops(big_batch: tuple[np.ndarray, ...]) -> None:
    logits, probs, labels, targets = big_batch
    n, k = probs.shape
    logits_l, probs_l, labels_l = logits.tolist(), probs.tolist(), labels.tolist()
    pairs = list(zip(probs.ravel().tolist(), targets.ravel().tolist(), strict=True))
    one_hot = np.eye(k)[labels]

    mse = 0.5 * math.fsum((y - t) ** 2 for y, t in pairs)
    assert mean_squared_error(probs, targets) == pytest.approx(mse, rel=1e-12)
    mse_mean = math.fsum((y - t) ** 2 for y, t in pairs) / (n * k)
    assert mean_squared_error_mean(probs, targets) == pytest.approx(mse_mean, rel=1e-12)

    cee = -math.fsum(math.log(probs_l[i][labels_l[i]] + 1e-7) for i in range(n)) / n
    assert cross_entropy_error(probs, labels) == pytest.approx(cee, rel=1e-12)
    assert cross_entropy_error(probs, one_hot) == pytest.approx(cee, rel=1e-12)

    soft = -math.fsum(t * math.log(y + 1e-7) for y, t in pairs) / n
    assert cross_entropy_error(probs, targets) == pytest.approx(soft, rel=1e-12)

    loop_softmax = [_loop_softmax_row(row) for row in logits_l]
    np.testing.assert_allclose(softmax(logits), loop_softmax, rtol=1e-12, atol=0)

    def loop_log_softmax(row: list[float], j: int) -> float:
        m = max(row)
        return row[j] - m - math.log(math.fsum(math.exp(v - m) for v in row))

    sce = -math.fsum(loop_log_softmax(logits_l[i], labels_l[i]) for i in range(n)) / n
    assert softmax_cross_entropy(logits, labels) == pytest.approx(sce, rel=1e-12)
    assert softmax_cross_entropy(logits, one_hot) == pytest.approx(sce, rel=1e-12)

    ent = [-math.fsum(p * math.log(p) for p in row) for row in probs_l]
    np.testing.assert_allclose(entropy(probs), ent, rtol=1e-12)

    bin_t = (targets > 0.5).astype(float)
    bin_pairs = [(p, float(t > 0.5)) for p, t in pairs]
    bce = -math.fsum(t * math.log(p) + (1 - t) * math.log(1 - p) for p, t in bin_pairs) / (n * k)
    assert binary_cross_entropy(probs, bin_t) == pytest.approx(bce, rel=1e-12)
