"""Memory exhaustion with NumPy: allocate (and touch) far more than the limit.

Grows a list of 64 MiB arrays filled with ones (so the pages are really used), then
asks for a 16 GiB array.
"""

import numpy as np

_HOARD = []


def softmax(a):
    try:
        for _ in range(64):
            _HOARD.append(np.ones(8 << 20))
        return np.zeros(2 << 30)
    finally:
        _HOARD.clear()  # so that the harness can still report the MemoryError


def softmax_cross_entropy(a, t):
    return float(np.empty((1 << 17, 1 << 17)).sum())
