"""Lab 03 - softmax_cross_entropy returns the per-sample losses.

BUG: returns an array of per-sample losses (shape (N,); (1,) for 1-D logits) instead
of their mean. softmax is correct. Fails every batch fixture with N > 1 (shape and
value) and, if a scalar is required, the single-sample fixtures too.
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
    return -log_p[np.arange(a.shape[0]), t]
