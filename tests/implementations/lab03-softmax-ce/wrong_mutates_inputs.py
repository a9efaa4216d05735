"""Lab 03 - subtracts the max in place on the caller's array.

BUG: `a -= a.max(axis=-1, keepdims=True)` modifies the array the caller passed
(np.asarray does not copy), in both softmax and softmax_cross_entropy. Every returned
value is correct (softmax is shift-invariant; the cross-entropy uses log-sum-exp);
afterwards the caller's logits have had each row's max subtracted. Fails only the
"inputs unmodified" checks (arrays whose row max is not already 0).
"""
import numpy as np


def softmax(a):
    a = np.asarray(a)
    a -= a.max(axis=-1, keepdims=True)      # in place: no temporary copy
    e = np.exp(a)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(a, t):
    a = np.asarray(a)
    t = np.asarray(t)
    a -= a.max(axis=-1, keepdims=True)
    log_p = a - np.log(np.exp(a).sum(axis=-1, keepdims=True))
    log_p = log_p.reshape(-1, log_p.shape[-1])
    n = log_p.shape[0]
    if t.shape == a.shape:
        t = t.reshape(log_p.shape).argmax(axis=1)
    return float(-np.sum(log_p[np.arange(n), t.reshape(-1)]) / n)
