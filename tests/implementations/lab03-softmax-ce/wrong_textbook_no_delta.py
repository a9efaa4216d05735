"""Lab 03 - softmax then the one-hot cross-entropy without delta.

BUG: -sum(t * log(softmax(a))) / N with no delta (labels are converted to one-hot
first). Fine for moderate logits, but whenever a probability underflows to 0:
at the true class the loss is inf (e.g. [1e4, 0, -1e4] with label 2 gives inf instead
of 2e4), and at another class 0 * log(0) = nan. Fails the extreme-logit fixtures
(and any fixture with a logit gap over ~745 in a row).
"""
import numpy as np


def softmax(a):
    a = np.asarray(a, dtype=np.float64)
    c = np.max(a, axis=-1, keepdims=True)
    exp_a = np.exp(a - c)
    return exp_a / np.sum(exp_a, axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = t.reshape(1, -1)
    return -np.sum(t * np.log(y)) / y.shape[0]


def softmax_cross_entropy(a, t):
    y = softmax(a)
    t = np.asarray(t)
    if t.shape != y.shape:
        t = np.eye(y.shape[-1])[t]
    return cross_entropy_error(y, t)
