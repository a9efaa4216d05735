"""Lab 01 - "mean" squared error taken literally.

BUG: uses np.mean((y - t)**2) (the 1/N form from the notes) instead of 1/2 * sum.
Off by a factor of 2/size, so it fails every fixture with a non-zero loss (only
agrees when y.size == 2 or the loss is 0).
"""
import numpy as np


def mean_squared_error(y, t):
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    return np.mean((y - t) ** 2)
