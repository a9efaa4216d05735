"""Trusted reference implementations of the lab's loss functions.

Every function converts its inputs with ``np.asarray(x, dtype=np.float64)`` (integer
class labels keep an integer dtype), never modifies them, and is vectorised. Scalar
losses are returned as Python ``float``; softmax-like functions return float64 arrays.

Shape rules shared by the classification losses (``cross_entropy_error`` and
``softmax_cross_entropy``): predictions have shape (K,) or (N, K), a 1-D input counting
as a batch of N = 1. Targets either have exactly the predictions' shape (one-hot, soft
targets allowed) or are integer class labels of shape () for 1-D predictions and (N,)
for 2-D predictions. Anything else raises ``ValueError``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "cross_entropy_error",
    "entropy",
    "huber",
    "log_softmax",
    "mean_absolute_error",
    "mean_squared_error",
    "mean_squared_error_mean",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
]

FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------- helpers


def _f64(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _same_shape(y: FloatArray, t: FloatArray, names: str = "y and t") -> None:
    if y.shape != t.shape:
        raise ValueError(f"{names} must have the same shape, got {y.shape} and {t.shape}")


def _scalar(x: float | np.floating) -> float:
    # ``+ 0.0`` turns a negative zero (e.g. ``-(0.0)``) into 0.0.
    return float(x) + 0.0


def _batch_size(y: FloatArray, what: str) -> int:
    if y.ndim not in (1, 2):
        raise ValueError(f"{what} must have shape (K,) or (N, K), got shape {y.shape}")
    return 1 if y.ndim == 1 else y.shape[0]


def _split_targets(y: FloatArray, t: ArrayLike, what: str) -> tuple[FloatArray | None, NDArray]:
    """Return ``(one_hot, None)`` or ``(None, labels)`` with labels of shape (N,).

    Targets with the same shape as ``y`` are one-hot (or soft) targets; otherwise they
    must be integer labels of shape () for 1-D ``y`` or (N,) for 2-D ``y``.
    """
    t_raw = np.asarray(t)
    if t_raw.shape == y.shape:
        return _f64(t_raw), None
    expected = () if y.ndim == 1 else (y.shape[0],)
    if t_raw.shape != expected:
        raise ValueError(
            f"targets must be one-hot with the same shape as the {what} {y.shape}, or "
            f"integer class labels of shape {expected}; got shape {t_raw.shape}"
        )
    if t_raw.dtype.kind in "iu":
        labels = t_raw.astype(np.intp)
    elif t_raw.dtype.kind == "f" and np.all(np.isfinite(t_raw)) and np.all(t_raw == np.round(t_raw)):
        labels = t_raw.astype(np.intp)  # labels that arrived as whole floats, e.g. 2.0
    else:
        raise ValueError(f"class labels must be integers, got dtype {t_raw.dtype}")
    labels = labels.reshape(-1)
    n_classes = y.shape[-1]
    if np.any(labels < 0) or np.any(labels >= n_classes):
        raise ValueError(f"class labels must lie in [0, {n_classes}), got {t_raw.tolist()}")
    return None, labels


def _last_axis_result(x: FloatArray) -> float | FloatArray:
    return _scalar(x) if x.ndim == 0 else x


# --------------------------------------------------------------------------- regression


def mean_squared_error(y: ArrayLike, t: ArrayLike) -> float:
    """Sum-of-squares error, the lab's contract: E = 1/2 * sum_k (y_k - t_k)^2.

    The sum runs over all elements (no division by the number of elements).
    """
    y, t = _f64(y), _f64(t)
    _same_shape(y, t)
    return _scalar(0.5 * np.sum((y - t) ** 2))


def mean_squared_error_mean(y: ArrayLike, t: ArrayLike) -> float:
    """Mean form of the squared error: E = (1/n) * sum_i (y_i - t_i)^2 over all n elements."""
    y, t = _f64(y), _f64(t)
    _same_shape(y, t)
    return _scalar(np.mean((y - t) ** 2))


def mean_absolute_error(y: ArrayLike, t: ArrayLike) -> float:
    """Mean absolute error: E = (1/n) * sum_i |y_i - t_i| over all n elements."""
    y, t = _f64(y), _f64(t)
    _same_shape(y, t)
    return _scalar(np.mean(np.abs(y - t)))


def huber(y: ArrayLike, t: ArrayLike, delta: float = 1.0) -> float:
    """Huber loss, averaged over all elements, with r = y - t:

    E = mean( 1/2 * r^2                   if |r| <= delta
              delta * (|r| - delta / 2)   otherwise )
    """
    if not delta > 0:
        raise ValueError(f"delta must be positive, got {delta}")
    y, t = _f64(y), _f64(t)
    _same_shape(y, t)
    r = np.abs(y - t)
    return _scalar(np.mean(np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))))


# --------------------------------------------------------------------------- classification


def cross_entropy_error(y: ArrayLike, t: ArrayLike, delta: float = 1e-7) -> float:
    """Cross-entropy error of probabilities y against targets t (the textbook form):

    E = -(1/N) * sum_n sum_k t_nk * ln(y_nk + delta)

    y has shape (K,) (N = 1) or (N, K). t is one-hot / soft targets of y's shape, or
    integer labels of shape () or (N,), in which case E = -(1/N) * sum_n ln(y[n, t_n] + delta).
    The small delta keeps a zero probability at the true class finite (-ln 1e-7 ~ 16.118).
    """
    y = _f64(y)
    n = _batch_size(y, "y")
    one_hot, labels = _split_targets(y, t, "predictions")
    if one_hot is not None:
        return _scalar(-np.sum(one_hot * np.log(y + delta)) / n)
    picked = y.reshape(n, -1)[np.arange(n), labels]
    return _scalar(-np.sum(np.log(picked + delta)) / n)


def softmax(a: ArrayLike) -> FloatArray:
    """Softmax over the last axis: s_k = exp(a_k - m) / sum_j exp(a_j - m), m = max_j a_j.

    Subtracting the row maximum keeps every exponent <= 0, so large logits never overflow.
    """
    a = _f64(a)
    if a.ndim == 0:
        raise ValueError("softmax needs at least one axis, got a scalar")
    with np.errstate(over="ignore"):
        e = np.exp(a - np.max(a, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(a: ArrayLike) -> FloatArray:
    """Log-softmax over the last axis via log-sum-exp:

    log s_k = (a_k - m) - ln sum_j exp(a_j - m),  m = max_j a_j.
    """
    a = _f64(a)
    if a.ndim == 0:
        raise ValueError("log_softmax needs at least one axis, got a scalar")
    with np.errstate(over="ignore"):
        shifted = a - np.max(a, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def softmax_cross_entropy(a: ArrayLike, t: ArrayLike) -> float:
    """Cross-entropy computed directly from logits a, averaged over the batch:

    E = -(1/N) * sum_n sum_k t_nk * log_softmax(a_n)_k

    with log_softmax via log-sum-exp (no delta), so it is finite and exact for extreme
    logits. a has shape (K,) or (N, K); t is one-hot / soft targets or integer labels,
    with the same rules as ``cross_entropy_error``.
    """
    a = _f64(a)
    n = _batch_size(a, "a")
    one_hot, labels = _split_targets(a, t, "logits")
    logp = log_softmax(a)
    if one_hot is not None:
        with np.errstate(invalid="ignore"):
            terms = np.where(one_hot == 0, 0.0, one_hot * logp)  # 0 * log 0 = 0
        return _scalar(-np.sum(terms) / n)
    return _scalar(-np.sum(logp.reshape(n, -1)[np.arange(n), labels]) / n)


def binary_cross_entropy(y: ArrayLike, t: ArrayLike, eps: float = 1e-7) -> float:
    """Binary cross-entropy of probabilities y against targets t in [0, 1]:

    E = -mean( t * ln(y') + (1 - t) * ln(1 - y') ),  y' = clip(y, eps, 1 - eps)

    As in Keras, y is clipped to [eps, 1 - eps] first, so y = 0 or y = 1 stays finite
    (a confidently wrong prediction costs -ln(eps) ~ 16.118 per element).
    """
    y, t = _f64(y), _f64(t)
    _same_shape(y, t)
    yc = np.clip(y, eps, 1.0 - eps)
    return _scalar(-np.mean(t * np.log(yc) + (1.0 - t) * np.log(1.0 - yc)))


def sigmoid(x: ArrayLike) -> FloatArray:
    """Logistic sigmoid, elementwise: s(x) = 1 / (1 + exp(-x)).

    Computed as 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, with e = exp(-|x|),
    so it never overflows.
    """
    x = _f64(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def binary_cross_entropy_with_logits(x: ArrayLike, t: ArrayLike) -> float:
    """Binary cross-entropy from logits x, i.e. BCE(sigmoid(x), t) without the clip:

    E = mean( max(x, 0) - x * t + ln(1 + exp(-|x|)) )

    which is stable for any finite x.
    """
    x, t = _f64(x), _f64(t)
    _same_shape(x, t, "x and t")
    return _scalar(np.mean(np.maximum(x, 0.0) - x * t + np.log1p(np.exp(-np.abs(x)))))


# --------------------------------------------------------------------------- information theory


def entropy(p: ArrayLike) -> float | FloatArray:
    """Shannon entropy over the last axis: H(p) = -sum_k p_k * ln p_k, with 0 * ln 0 = 0.

    Returns a float for a 1-D distribution and an array of shape (N,) for shape (N, K).
    """
    p = _f64(p)
    if p.ndim == 0:
        raise ValueError("entropy needs at least one axis, got a scalar")
    safe = np.where(p == 0, 1.0, p)  # the p == 0 terms become 0 * ln 1 = 0
    return _last_axis_result(-np.sum(p * np.log(safe), axis=-1))


def cross_entropy(p: ArrayLike, q: ArrayLike) -> float | FloatArray:
    """Cross-entropy between two distributions over the last axis (no delta):

    H(p, q) = -sum_k p_k * ln q_k

    Terms with p_k = 0 contribute 0; q_k = 0 where p_k > 0 gives +inf. Returns a float
    for 1-D inputs and an array of shape (N,) for shape (N, K).
    """
    p, q = _f64(p), _f64(q)
    _same_shape(p, q, "p and q")
    if p.ndim == 0:
        raise ValueError("cross_entropy needs at least one axis, got scalars")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p == 0, 0.0, p * np.log(q))
    return _last_axis_result(-np.sum(terms, axis=-1))
