"""A catalogue of known-wrong variants of the lab functions.

The grader runs these on the trusted side: when a student's value is wrong, the
mistakes whose value matches it explain what the student most likely wrote. Each
``compute`` takes the same arguments as the lab function it imitates (arrays, lists,
integer labels or one-hot targets where meaningful). It may raise or return nan/inf,
and on some inputs it may coincide with the correct value (e.g. a batch-size mistake
on 1-D input), so callers must check correctness first and guard every call.

Messages are addressed to the student and never contain expected numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from reference.losses import _batch_size, _f64, _split_targets, log_softmax, softmax

__all__ = ["MISTAKES", "Mistake", "mistakes_for"]

_DELTA = 1e-7


@dataclass(frozen=True)
class Mistake:
    """One known-wrong variant of a lab function."""

    key: str
    function: str
    message: str
    compute: Callable[..., Any]
    #: ``convention`` for code that handles only one target convention (one-hot or
    #: integer labels); ``mistake`` for a wrong formula.
    kind: str = "mistake"
    #: computes the student's code as written, with the targets as given: integer labels and
    #: one-hot targets then behave differently (and some inputs raise, as the student's code does).
    literal: bool = False


# --------------------------------------------------------------------------- helpers


def _diff(y: ArrayLike, t: ArrayLike) -> NDArray[np.float64]:
    return _f64(y) - _f64(t)


def _one_hot(y: NDArray[np.float64], t: ArrayLike, what: str) -> NDArray[np.float64]:
    """Targets as one-hot of y's shape, whether given one-hot or as integer labels."""
    one_hot, labels = _split_targets(y, t, what)
    if one_hot is not None:
        return one_hot
    out = np.zeros((_batch_size(y, what), y.shape[-1]))
    out[np.arange(out.shape[0]), labels] = 1.0
    return out.reshape(y.shape)


def _probs_targets(y: ArrayLike, t: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    y = _f64(y)
    n = _batch_size(y, "y")
    return y, _one_hot(y, t, "predictions"), n


def _logits_targets(a: ArrayLike, t: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    a = _f64(a)
    n = _batch_size(a, "a")
    return a, _one_hot(a, t, "logits"), n


def _errstate() -> np.errstate:
    return np.errstate(all="ignore")


# --------------------------------------------------------------------------- mean_squared_error


def _mse_mean(y, t):
    return float(np.mean(_diff(y, t) ** 2))


def _mse_no_half(y, t):
    return float(np.sum(_diff(y, t) ** 2))


def _mse_euclidean(y, t):
    return float(np.sqrt(np.sum(_diff(y, t) ** 2)))


def _mse_sqrt_half_sum(y, t):
    return float(np.sqrt(0.5 * np.sum(_diff(y, t) ** 2)))


def _mse_half_mean(y, t):
    return float(0.5 * np.mean(_diff(y, t) ** 2))


def _mse_abs_mean(y, t):
    return float(np.mean(np.abs(_diff(y, t))))


def _mse_half_abs_sum(y, t):
    return float(0.5 * np.sum(np.abs(_diff(y, t))))


def _mse_batch_mean(y, t):
    d = _diff(y, t)
    n = d.shape[0] if d.ndim >= 2 else 1
    return float(0.5 * np.sum(d**2) / n)


_MSE = "mean_squared_error"
_MSE_MISTAKES = [
    Mistake(
        "mse_mean",
        _MSE,
        "Your value matches the mean of the squared differences, (1/n)·Σ(y−t)². The lab's "
        "formula is ½·Σ(y−t)²: multiply the plain sum by ½ instead of dividing by the "
        "number of elements.",
        _mse_mean,
    ),
    Mistake(
        "mse_no_half",
        _MSE,
        "Your value matches Σ(y−t)² without the ½: the lab's formula has a factor ½ in front of the sum.",
        _mse_no_half,
    ),
    Mistake(
        "mse_euclidean",
        _MSE,
        "Your value matches √(Σ(y−t)²), the Euclidean distance between y and t. The lab's "
        "loss has no square root: it is ½·Σ(y−t)².",
        _mse_euclidean,
    ),
    Mistake(
        "mse_sqrt_half_sum",
        _MSE,
        "Your value matches √(½·Σ(y−t)²): you have the right sum with the ½, but the "
        "result should not be square-rooted.",
        _mse_sqrt_half_sum,
    ),
    Mistake(
        "mse_half_mean",
        _MSE,
        "Your value matches ½·(1/n)·Σ(y−t)², i.e. you also divided by the number of "
        "elements. The lab's formula is ½·Σ(y−t)², with no division.",
        _mse_half_mean,
    ),
    Mistake(
        "mse_abs_mean",
        _MSE,
        "Your value matches the mean absolute error, (1/n)·Σ|y−t|. This lab asks for squared differences: ½·Σ(y−t)².",
        _mse_abs_mean,
    ),
    Mistake(
        "mse_half_abs_sum",
        _MSE,
        "Your value matches ½·Σ|y−t|: the differences should be squared, (y−t)², not taken in absolute value.",
        _mse_half_abs_sum,
    ),
    Mistake(
        "mse_batch_mean",
        _MSE,
        "Your value matches ½·Σ(y−t)² divided by the batch size. The lab's formula has no "
        "batch averaging: it is ½·Σ(y−t)² over all elements.",
        _mse_batch_mean,
    ),
]


# --------------------------------------------------------------------------- cross_entropy_error


def _cee_log10(y, t, delta=_DELTA):
    y, t, n = _probs_targets(y, t)
    return float(-np.sum(t * np.log10(y + delta)) / n)


def _cee_log2(y, t, delta=_DELTA):
    y, t, n = _probs_targets(y, t)
    return float(-np.sum(t * np.log2(y + delta)) / n)


def _cee_no_minus(y, t, delta=_DELTA):
    y, t, n = _probs_targets(y, t)
    return float(np.sum(t * np.log(y + delta)) / n)


def _cee_no_batch_mean(y, t, delta=_DELTA):
    y, t, _ = _probs_targets(y, t)
    return float(-np.sum(t * np.log(y + delta)))


def _cee_mean_all(y, t, delta=_DELTA):
    y, t, _ = _probs_targets(y, t)
    return float(-np.mean(t * np.log(y + delta)))


def _cee_swapped(y, t, delta=_DELTA):
    y, t, n = _probs_targets(y, t)
    return float(-np.sum(y * np.log(t + delta)) / n)


def _cee_delta_outside(y, t, delta=_DELTA):
    # np.log(y + delta) with the parenthesis closed too early: np.log(y) + delta
    y, t, n = _probs_targets(y, t)
    with _errstate():
        return float(-np.sum(t * np.log(y) + delta) / n)


def _cee_no_delta(y, t, delta=_DELTA):
    y, t, n = _probs_targets(y, t)
    with _errstate():
        return float(-np.sum(t * np.log(y)) / n)


def _rows(y: NDArray[np.float64]) -> int:
    return y.shape[0] if y.ndim == 2 else 1


def _cee_labels_as_one_hot(y, t, delta=_DELTA):
    # −Σ t·ln(y + δ) / N written for one-hot targets and handed integer labels as they are:
    # a label multiplies the logarithms (0-d), or (N,) labels fail to broadcast against (N, K).
    y, t = _f64(y), np.asarray(t)
    return float(-np.sum(t * np.log(y + delta)) / _rows(y))


def _one_hot_as_labels(y, t, of=None):
    """The notebook's label code, y[np.arange(N), t], handed whatever t is (one-hot too); ``of``: what is
    indexed instead of y, made from y once it is 2-D (``log_softmax`` for logits)."""
    y, t = _f64(y), np.asarray(t)
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.dtype.kind == "f":
        raise IndexError("arrays used as indices must be of integer (or boolean) type")
    n = y.shape[0]  # before ``of``: a 0-d y fails here, as the notebook's code does
    return (y if of is None else of(y))[np.arange(n), t], n


def _cee_one_hot_as_labels(y, t, delta=_DELTA):
    picked, n = _one_hot_as_labels(y, t)
    return float(-np.sum(np.log(picked + delta)) / n)


def _cee_one_hot_as_labels_no_delta(y, t, delta=_DELTA):
    picked, n = _one_hot_as_labels(y, t)
    with _errstate():
        return float(-np.sum(np.log(picked)) / n)


def _cee_swapped_literal(y, t, delta=_DELTA):
    # −Σ y·ln(t + δ) / N with the targets as given: (N,) labels fail to broadcast
    y, t = _f64(y), np.asarray(t)
    with _errstate():
        return float(-np.sum(y * np.log(t + delta)) / _rows(y))


def _cee_row_loop_log_of_sum(y, t, delta=_DELTA):
    # The Korean blog's loop: for i in range(len(y)): -log(sum(t[i] * y[i])), over len(y)
    y, t = _f64(y), np.asarray(t)
    result = 0.0
    with _errstate():
        for i in range(len(y)):
            result += -np.log(np.sum(t[i] * y[i]))
    return float(result / len(y))


def _cee_binary(y, t, delta=_DELTA):
    # binary cross-entropy applied to categorical targets, as in the Chinese notes
    y, t, _ = _probs_targets(y, t)
    with _errstate():
        return float(np.mean(-(t * np.log(y) + (1 - t) * np.log(1 - y))))


_CEE = "cross_entropy_error"
_CEE_MISTAKES = [
    Mistake(
        "cee_log10",
        _CEE,
        "Your value matches the formula with log base 10 (`np.log10`). Cross-entropy uses the "
        "natural logarithm: `np.log`.",
        _cee_log10,
    ),
    Mistake(
        "cee_log2",
        _CEE,
        "Your value matches the formula with log base 2 (`np.log2`). The lab uses the natural logarithm: `np.log`.",
        _cee_log2,
    ),
    Mistake(
        "cee_no_minus",
        _CEE,
        "Your value has the right size but the wrong sign: the formula starts with a "
        "minus, −Σ t·ln(y + δ), so the loss is never negative.",
        _cee_no_minus,
    ),
    Mistake(
        "cee_no_batch_mean",
        _CEE,
        "Your value matches the sum over the whole batch. For a batch of N rows, divide "
        "the sum by N (the number of rows, `y.shape[0]`).",
        _cee_no_batch_mean,
    ),
    Mistake(
        "cee_mean_all",
        _CEE,
        "Your value matches a mean over all N·K elements (e.g. `np.mean` over the whole "
        "array). Sum over the classes and divide only by the batch size N.",
        _cee_mean_all,
    ),
    Mistake(
        "cee_swapped",
        _CEE,
        "Your value matches −Σ y·ln(t + δ): the arguments are swapped. The targets t "
        "multiply the logarithm of the predictions y: −Σ t·ln(y + δ).",
        _cee_swapped,
    ),
    Mistake(
        "cee_no_delta",
        _CEE,
        "Your value matches the formula without δ, −Σ t·ln(y). A zero probability then "
        "gives inf or nan: add the small δ inside the logarithm, `np.log(y + delta)`.",
        _cee_no_delta,
    ),
    Mistake(
        "cee_delta_outside",
        _CEE,
        "Your value matches a formula where δ is added outside the logarithm, "
        "`np.log(y) + delta`. Put δ inside: `np.log(y + delta)`, so that a zero probability "
        "does not give inf or nan.",
        _cee_delta_outside,
    ),
    Mistake(
        "cee_labels_as_one_hot",
        _CEE,
        "Your function handles one-hot targets only: it computes −Σ t·ln(y + δ) with `t` as "
        "given, so an integer label multiplies the logarithms (and labels of shape `(N,)` cannot "
        "be broadcast against `y` of shape `(N, K)`). When `t` holds labels (`t.ndim == y.ndim - 1`), "
        "take each row's true-class probability, `y[np.arange(N), t]`.",
        _cee_labels_as_one_hot,
        "convention",
        literal=True,
    ),
    Mistake(
        "cee_one_hot_as_labels",
        _CEE,
        "Your function handles integer labels only: it uses `t` as class indices, "
        "`y[np.arange(N), t]`, so one-hot targets (`t` with the shape of `y`) pick the wrong "
        "entries or raise. When `t.shape == y.shape`, use −Σ t·ln(y + δ) / N, or turn `t` into "
        "labels with `t.argmax(axis=-1)`.",
        _cee_one_hot_as_labels,
        "convention",
        literal=True,
    ),
    Mistake(
        "cee_one_hot_as_labels_no_delta",
        _CEE,
        "Your function handles integer labels only and has no δ: it uses `t` as class indices, "
        "`y[np.arange(N), t]`, so one-hot targets (`t` with the shape of `y`) pick the wrong "
        "entries or raise. When `t.shape == y.shape`, turn `t` into labels with "
        "`t.argmax(axis=-1)`, and add δ inside the logarithm: `np.log(y + delta)`.",
        _cee_one_hot_as_labels_no_delta,
        "convention",
        literal=True,
    ),
    Mistake(
        "cee_swapped_literal",
        _CEE,
        "Your value matches −Σ y·ln(t + δ) with the targets as given: the arguments are swapped "
        "(with labels of shape `(N,)` this cannot even be broadcast). The targets `t` multiply the "
        "logarithm of the predictions `y`: −Σ t·ln(y + δ).",
        _cee_swapped_literal,
        literal=True,
    ),
    Mistake(
        "cee_row_loop_log_of_sum",
        _CEE,
        "Your function loops over `len(y)` and takes −ln(Σ t·y) per row, with the predictions "
        "and targets in the other order: a 1-D `y` is one sample, not K samples of one value, "
        "an integer label must select a probability rather than multiply it, and δ belongs "
        "inside the logarithm. The lab calls `cross_entropy_error(y, t)` with the predictions first.",
        _cee_row_loop_log_of_sum,
        literal=True,
    ),
    Mistake(
        "cee_binary",
        _CEE,
        "Your value matches the binary cross-entropy, −mean(t·ln y + (1−t)·ln(1−y)). This lab's "
        "loss is the categorical one, −(1/N)·Σ t·ln(y + δ): no (1−t)·ln(1−y) term, and a mean "
        "over the N rows only.",
        _cee_binary,
    ),
]


# --------------------------------------------------------------------------- softmax


def _softmax_whole_batch(a):
    a = _f64(a)
    with _errstate():
        e = np.exp(a - np.max(a))
        return e / np.sum(e)


def _softmax_axis0(a):
    a = _f64(a)
    with _errstate():
        e = np.exp(a - np.max(a, axis=0, keepdims=True))
        return e / np.sum(e, axis=0, keepdims=True)


def _softmax_no_normalisation(a):
    with _errstate():
        return np.exp(_f64(a))


def _softmax_no_max_shift(a):
    with _errstate():
        e = np.exp(_f64(a))
        return e / np.sum(e, axis=-1, keepdims=True)


def _softmax_no_keepdims(a):
    a = _f64(a)
    with _errstate():
        e = np.exp(a - np.max(a, axis=-1, keepdims=True))
        return e / np.sum(e, axis=-1)  # broadcasts the row sums along the wrong axis


_SOFTMAX = "softmax"
_SOFTMAX_MISTAKES = [
    Mistake(
        "softmax_whole_batch",
        _SOFTMAX,
        "Your rows are divided by one sum over the whole batch. Normalise each row on its "
        "own: `np.sum(..., axis=-1, keepdims=True)`, so every row sums to 1.",
        _softmax_whole_batch,
    ),
    Mistake(
        "softmax_axis0",
        _SOFTMAX,
        "Your values are normalised down the columns (`axis=0`). For a batch of shape "
        "(N, K) each row is one sample: use `axis=-1` with `keepdims=True`.",
        _softmax_axis0,
    ),
    Mistake(
        "softmax_no_normalisation",
        _SOFTMAX,
        "Your values match `np.exp(a)` without the division: divide by the sum of the "
        "exponentials so that each row sums to 1.",
        _softmax_no_normalisation,
    ),
    Mistake(
        "softmax_no_max_shift",
        _SOFTMAX,
        "Your softmax overflows for large inputs: `np.exp` of a large number is inf. "
        "Subtract the row maximum first, `np.exp(a - a.max(axis=-1, keepdims=True))`; the "
        "result is mathematically the same.",
        _softmax_no_max_shift,
    ),
    Mistake(
        "softmax_no_keepdims",
        _SOFTMAX,
        "Your row sums are broadcast along the wrong axis: `np.sum(e, axis=-1)` has shape "
        "(N,), which divides columns, not rows. Use `keepdims=True`.",
        _softmax_no_keepdims,
    ),
]


# --------------------------------------------------------------------------- softmax_cross_entropy


def _sce_textbook(a, t):
    y, t, n = _logits_targets(a, t)
    return float(-np.sum(t * np.log(softmax(y) + _DELTA)) / n)


def _sce_no_batch_mean(a, t):
    a, t, _ = _logits_targets(a, t)
    with _errstate():
        return float(-np.sum(np.where(t == 0, 0.0, t * log_softmax(a))))


def _sce_no_minus(a, t):
    a, t, n = _logits_targets(a, t)
    with _errstate():
        return float(np.sum(np.where(t == 0, 0.0, t * log_softmax(a))) / n)


def _sce_log10(a, t):
    a, t, n = _logits_targets(a, t)
    with _errstate():
        return float(-np.sum(np.where(t == 0, 0.0, t * log_softmax(a))) / n / np.log(10.0))


def _sce_swapped(a, t):
    a, t, n = _logits_targets(a, t)
    return float(-np.sum(a * log_softmax(t)) / n)


def _sce_swapped_probs(a, t):
    # cross_entropy_error(t, softmax(a)): the probabilities end up inside the weights
    a, t, n = _logits_targets(a, t)
    return float(-np.sum(softmax(a) * np.log(t + _DELTA)) / n)


def _sce_whole_batch(a, t):
    a, t, n = _logits_targets(a, t)
    with _errstate():
        shifted = a - np.max(a)
        logp = shifted - np.log(np.sum(np.exp(shifted)))
        return float(-np.sum(np.where(t == 0, 0.0, t * logp)) / n)


def _sce_no_softmax(a, t):
    a, t, n = _logits_targets(a, t)
    with _errstate():
        return float(-np.sum(t * np.log(a + _DELTA)) / n)


def _sce_no_max_shift(a, t):
    a, t, n = _logits_targets(a, t)
    with _errstate():
        e = np.exp(a)
        return float(-np.sum(t * np.log(e / np.sum(e, axis=-1, keepdims=True))) / n)


def _sce_labels_as_one_hot(a, t):
    # −Σ t·log_softmax(a) / N with integer labels used as they are
    a, t = _f64(a), np.asarray(t)
    with _errstate():
        return float(-np.sum(t * log_softmax(a)) / _rows(a))


def _sce_one_hot_as_labels(a, t):
    picked, n = _one_hot_as_labels(a, t, log_softmax)
    return float(-np.sum(picked) / n)


def _sce_swapped_literal(a, t):
    # softmax_cross_entropy(t, a) written out: the targets as given go through softmax
    a, t = _f64(a), np.asarray(t, dtype=np.float64)
    shifted = t - np.max(t, axis=-1, keepdims=True)
    logp = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    return float(-np.sum(a * logp) / _rows(a))


_SCE = "softmax_cross_entropy"
_SCE_MISTAKES = [
    Mistake(
        "sce_textbook",
        _SCE,
        "Your value matches `softmax` followed by `cross_entropy_error` with δ = 1e-7. That "
        "route saturates at −ln δ ≈ 16.12 for extreme logits; compute log-softmax with "
        "log-sum-exp instead: a − max(a) − ln Σ exp(a − max(a)).",
        _sce_textbook,
    ),
    Mistake(
        "sce_no_batch_mean",
        _SCE,
        "Your value matches the sum over the whole batch. Divide by the batch size N "
        "(the number of rows) to get the mean loss.",
        _sce_no_batch_mean,
    ),
    Mistake(
        "sce_no_minus",
        _SCE,
        "Your value has the right size but the wrong sign: the loss is minus the mean "
        "log-probability of the true class, so it is never negative.",
        _sce_no_minus,
    ),
    Mistake(
        "sce_log10",
        _SCE,
        "Your value matches the loss computed with log base 10. Use the natural logarithm "
        "(`np.log`) in the log-sum-exp.",
        _sce_log10,
    ),
    Mistake(
        "sce_swapped",
        _SCE,
        "Your value matches the loss with the arguments swapped (the targets treated as "
        "logits). The first argument `a` holds the logits, the second `t` the targets.",
        _sce_swapped,
    ),
    Mistake(
        "sce_swapped_probs",
        _SCE,
        "Your value matches `cross_entropy_error(t, softmax(a))`: the targets and the "
        "predicted probabilities are swapped. The logarithm belongs on the predictions: "
        "−Σ t·log softmax(a).",
        _sce_swapped_probs,
    ),
    Mistake(
        "sce_whole_batch",
        _SCE,
        "Your value matches a softmax normalised over the whole batch instead of each "
        "row. Take the maximum and the log-sum-exp per row: `axis=-1, keepdims=True`.",
        _sce_whole_batch,
    ),
    Mistake(
        "sce_no_softmax",
        _SCE,
        "Your value matches the cross-entropy applied to the raw logits, −ln(a[true] + δ). "
        "Logits are not probabilities: apply (log-)softmax to them first.",
        _sce_no_softmax,
    ),
    Mistake(
        "sce_no_max_shift",
        _SCE,
        "Your value overflows or underflows for large logits because exp(a) is computed "
        "directly. Subtract the row maximum and use log-sum-exp: "
        "a − max(a) − ln Σ exp(a − max(a)).",
        _sce_no_max_shift,
    ),
    Mistake(
        "sce_labels_as_one_hot",
        _SCE,
        "Your function handles one-hot targets only: it computes −Σ t·log softmax(a) with `t` as "
        "given, so an integer label multiplies the log-probabilities (and labels of shape `(N,)` "
        "cannot be broadcast against `a` of shape `(N, K)`). When `t` holds labels "
        "(`t.ndim == a.ndim - 1`), take each row's true-class log-probability, `logp[np.arange(N), t]`.",
        _sce_labels_as_one_hot,
        "convention",
        literal=True,
    ),
    Mistake(
        "sce_one_hot_as_labels",
        _SCE,
        "Your function handles integer labels only: it uses `t` as class indices, so one-hot "
        "targets (`t` with the shape of `a`) pick the wrong entries or raise. When "
        "`t.shape == a.shape`, use −Σ t·log softmax(a) / N, or turn `t` into labels with `t.argmax(axis=-1)`.",
        _sce_one_hot_as_labels,
        "convention",
        literal=True,
    ),
    Mistake(
        "sce_swapped_literal",
        _SCE,
        "Your value matches the loss with the arguments swapped (the targets, as given, treated as "
        "logits; integer labels then cannot be broadcast). The first argument `a` holds the logits, "
        "the second `t` the targets.",
        _sce_swapped_literal,
        literal=True,
    ),
]


#: Known-wrong variants, keyed by the name of the lab function they imitate.
MISTAKES: dict[str, list[Mistake]] = {
    _MSE: _MSE_MISTAKES,
    _CEE: _CEE_MISTAKES,
    _SOFTMAX: _SOFTMAX_MISTAKES,
    _SCE: _SCE_MISTAKES,
}


def mistakes_for(function: str) -> list[Mistake]:
    """The known mistakes for a lab function (an empty list if none are catalogued)."""
    return list(MISTAKES.get(function, []))
