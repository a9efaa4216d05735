"""Lab 02 - correct value, but adds delta to the caller's array.

BUG: `y += 1e-7` is done in place on the array the caller passed (np.asarray does
not copy), so after the call the caller's probabilities have all been shifted by 1e-7.
The returned value is correct (float32 y is shifted in float32, well within a float32
tolerance). Fails only the "inputs unmodified" checks.
"""
import numpy as np


def cross_entropy_error(y, t):
    y = np.asarray(y)
    t = np.asarray(t)
    y += 1e-7                    # avoid log(0)
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t])) / batch_size
