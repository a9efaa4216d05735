"""Lab 02 - returns the per-sample losses.

BUG: returns -log(y[n, t_n] + delta) for every sample (shape (N,); shape (1,) for a
1-D y) instead of their mean. Fails every batch fixture with N > 1 (wrong shape and
values) and, if the grader requires a scalar, the single-sample fixtures too.
"""
import numpy as np


def cross_entropy_error(y, t):
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t)
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.log(y[np.arange(batch_size), t] + 1e-7)
