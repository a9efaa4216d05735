"""Lab 03 - softmax without subtracting the max.

BUG: softmax is exp(a) / sum(exp(a)) with no max subtraction. For logits above ~709
exp overflows to inf and the result is inf / inf = nan (with RuntimeWarnings); the
cross-entropy, taken as -log(p + delta) of that softmax, is nan too. Fails the
large-logit / stability fixtures (|a| up to 1e4) for both functions; fine for
moderate logits.
"""
import numpy as np


def softmax(a):
    a = np.asarray(a, dtype=np.float64)
    exp_a = np.exp(a)
    return exp_a / np.sum(exp_a, axis=-1, keepdims=True)


def softmax_cross_entropy(a, t):
    y = softmax(a)
    t = np.asarray(t)
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = t.reshape(1, -1)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t.reshape(-1)] + 1e-7)) / batch_size
