"""Lab 02 - forgot the leading minus sign.

BUG: returns +sum(t * log(y + delta)) / N, the negative of the expected value. Fails
every fixture with a non-zero loss.
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
    delta = 1e-7
    return np.sum(np.log(y[np.arange(batch_size), t] + delta)) / batch_size
