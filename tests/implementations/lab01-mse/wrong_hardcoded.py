"""Lab 01 - returns the answers printed in the course documents.

BUG: does not compute anything. If the inputs are one of the documents' examples it
returns the published answer (0.0067, 0.475, 0.0975, 0.5975, 5.5); for anything else
it returns 0.0. Passes only fixtures that reuse those exact examples (and ones whose
true loss is 0); fails every other fixture, in particular all randomised ones.
"""
import numpy as np

_PUBLISHED = [
    # (y, t, answer)
    ([0.01, 0.02, 0.9, 0.05, 0.02], [0, 0, 1, 0, 0], 0.006699999999999998),
    ([0.5, 0.1, 0.2, 0.2, 0.1], [0, 0, 1, 0, 0], 0.4750000000000001),
    ([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0],
     [0, 0, 1, 0, 0, 0, 0, 0, 0, 0], 0.09750000000000003),
    ([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0],
     [0, 0, 1, 0, 0, 0, 0, 0, 0, 0], 0.5975),
    ([1, 3, 5, 6, 7], [3, 2, 7, 5, 8], 5.5),
]


def _same(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return a.shape == b.shape and np.allclose(a, b)


def mean_squared_error(y, t):
    for py, pt, answer in _PUBLISHED:
        if _same(y, py) and _same(t, pt):
            return answer
    return 0.0
