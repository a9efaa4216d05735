"""Lab 02 - y and t swapped inside the formula.

BUG: computes -sum(y * log(t + delta)) / N (prediction and target exchanged, as in
H(y, y_hat) with the roles mixed up). Labels are converted to one-hot first, so it
runs on every fixture, but the value is about 16.1 * (1 - y_true) per sample: wrong
on every fixture except those where y is itself exactly one-hot and correct.
"""
import numpy as np


def cross_entropy_error(y, t):
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t)
    if t.shape != y.shape:                    # labels -> one-hot
        t = np.eye(y.shape[-1])[t]
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = t.reshape(1, -1)
    delta = 1e-7
    batch_size = y.shape[0]
    return -np.sum(y * np.log(t + delta)) / batch_size
