"""Lab 03 - softmax cross-entropy without the minus sign.

BUG: returns mean(log softmax(a)[true class]) (log-sum-exp route, correct otherwise),
i.e. the negative of the loss. softmax is correct. softmax_cross_entropy fails every
fixture with a non-zero loss.
"""
import numpy as np


def softmax(a):
    a = np.asarray(a, dtype=np.float64)
    a = a - np.max(a, axis=-1, keepdims=True)
    e = np.exp(a)
    return e / np.sum(e, axis=-1, keepdims=True)


def softmax_cross_entropy(a, t):
    a = np.asarray(a, dtype=np.float64)
    t = np.asarray(t)
    if a.ndim == 1:
        a = a.reshape(1, -1)
        t = t.reshape(1, -1) if t.ndim == 1 else t.reshape(1)
    shifted = a - np.max(a, axis=1, keepdims=True)
    log_p = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    if t.shape == a.shape:
        t = t.argmax(axis=1)
    return np.sum(log_p[np.arange(a.shape[0]), t]) / a.shape[0]
