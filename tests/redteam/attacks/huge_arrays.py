"""Oversized results: return arrays just over the parent's limits.

The first call returns 2,000,001 float64 values (one over the element limit), later
ones a 5-dimensional array (one dimension over the limit): the parent must refuse
both without trying to compare them.
"""

import numpy as np

_K = [0]


def softmax(a):
    _K[0] += 1
    if _K[0] == 1:
        return np.zeros(2_000_001)
    return np.zeros((1, 1, 1, 1, 3))


def softmax_cross_entropy(a, t):
    return np.zeros((1, 1, 1, 1, 1))
