"""Lab 02 - the one-hot formula without delta.

BUG: -sum(t * log(y)) / N with no delta (labels are first turned into one-hot, so
both target forms reach the same formula). A zero probability at the true class gives
inf instead of -ln(1e-7) ~ 16.118, and a zero probability at any other class gives
0 * -inf = nan. Fails the zero-probability fixtures (true class and elsewhere); on
ordinary fixtures it differs from the reference only by about delta / y_true.
"""
import numpy as np


def cross_entropy_error(y, t):
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t)
    if t.shape != y.shape:                    # labels -> one-hot
        one_hot = np.zeros(y.shape)
        if y.ndim == 1:
            one_hot[int(t)] = 1.0
        else:
            one_hot[np.arange(y.shape[0]), t.reshape(-1)] = 1.0
        t = one_hot
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = t.reshape(1, -1)
    batch_size = y.shape[0]
    return -np.sum(t * np.log(y)) / batch_size
