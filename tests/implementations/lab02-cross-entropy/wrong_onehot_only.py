"""Lab 02 - only handles one-hot targets.

BUG: -sum(t * log(y + delta)) / N applied to whatever t is. With integer labels the
product broadcasts the label values against y: a 0-d label with 1-D y gives
label * sum(log(y + delta)) (wrong value, 0 for label 0), labels of shape (N,) with
(N, K) y raise a broadcasting ValueError unless N == K (then a wrong value). Passes
every one-hot fixture; fails the labels fixtures.
"""
import numpy as np


def cross_entropy_error(y, t):
    y = np.asarray(y)
    t = np.asarray(t)
    delta = 1e-7
    batch_size = y.shape[0] if y.ndim == 2 else 1
    return -np.sum(t * np.log(y + delta)) / batch_size
