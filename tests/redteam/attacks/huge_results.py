"""Grader memory amplification: return the largest accepted array for every fixture.

Each call returns 2,000,000 float64 values (16 MB, just within the parent's limit);
a three-line submission makes the grader hold 16 MB per fixture, every run.
"""

import numpy as np

_BIG = np.zeros(2_000_000)


def softmax(a):
    return _BIG


def softmax_cross_entropy(a, t):
    return _BIG
