"""Lab 01 - keeps the last axis.

BUG: sums with axis=-1, keepdims=True, so a 1-D input returns an array of shape (1,)
instead of a scalar, and a 2-D (N, K) input returns per-row values of shape (N, 1)
instead of one total. The single number inside the (1,) result is right, so a grader
that insists on a scalar fails every 1-D fixture; every 2-D fixture with N > 1 fails
on both shape and value.
"""
import numpy as np


def mean_squared_error(y, t):
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    return 0.5 * np.sum((y - t) ** 2, axis=-1, keepdims=True)
