"""Loads fine, but every contract function loops forever (a `while` whose exit
condition never becomes true). The grader must time the call out.
"""
import numpy as np


def _forever(y):
    total = 0.0
    i = 0
    while i < np.size(y):        # forgot to increment i
        total += 0.0
    return total


def mean_squared_error(y, t):
    return _forever(y)


def cross_entropy_error(y, t):
    return _forever(y)


def softmax(a):
    return _forever(a)


def softmax_cross_entropy(a, t):
    return _forever(a)
