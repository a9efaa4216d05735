"""Lab 03 - calls cross_entropy_error with its arguments swapped.

BUG: softmax is correct, but softmax_cross_entropy(a, t) returns
cross_entropy_error(t, softmax(a)) with the target and the prediction exchanged
(labels are made one-hot first), i.e. -sum(softmax(a) * log(t + delta)) / N, about
16.1 * (1 - p_true) per sample. Fails every softmax_cross_entropy fixture (except
where the prediction is already exactly one-hot and right).
"""
import numpy as np


def softmax(a):
    a = np.asarray(a, dtype=np.float64)
    a = a - np.max(a, axis=-1, keepdims=True)
    e = np.exp(a)
    return e / np.sum(e, axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    delta = 1e-7
    return -np.sum(t * np.log(y + delta)) / y.shape[0]


def softmax_cross_entropy(a, t):
    y = softmax(a)
    t = np.asarray(t)
    if t.shape != y.shape:
        t = np.eye(y.shape[-1])[t]
    return cross_entropy_error(t, y)
