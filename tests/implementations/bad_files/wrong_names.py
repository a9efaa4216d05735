"""Correct maths under the wrong names: defines mse() and cee() (as in the Korean
blog) instead of mean_squared_error() / cross_entropy_error(). Every call should be
reported as a missing function.
"""
import numpy as np


def mse(y, y_i):
    error = np.sum(np.square(np.asarray(y) - np.asarray(y_i))) / 2
    return error


def cee(y, t):
    y = np.asarray(y, dtype=float)
    t = np.asarray(t)
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    return -np.sum(np.log(y[np.arange(y.shape[0]), t] + 1e-7)) / y.shape[0]


def soft_max(a):
    a = np.asarray(a, dtype=float)
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
