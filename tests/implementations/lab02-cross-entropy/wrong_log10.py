"""Lab 02 - common logarithm instead of the natural one.

BUG: uses np.log10(y + delta); the result is the expected value divided by ln(10)
(~2.3026). Fails every fixture with a non-zero loss.
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
    return -np.sum(np.log10(y[np.arange(batch_size), t] + 1e-7)) / batch_size
