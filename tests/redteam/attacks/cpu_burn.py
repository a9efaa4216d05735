"""CPU exhaustion: spin forever, in pure Python and in NumPy.

The first call alternates a Python busy loop with large matrix products until the
CPU limit stops it.
"""

import numpy as np


def softmax(a):
    m = np.random.default_rng(0).random((300, 300))
    while True:
        for _ in range(100000):
            pass
        m = m @ m
        m /= np.abs(m).max()


def softmax_cross_entropy(a, t):
    return softmax(a)
