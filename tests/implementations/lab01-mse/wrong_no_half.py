"""Lab 01 - sum of squares without the 1/2.

BUG: returns sum((y - t)^2), forgetting the factor 1/2 (the Chinese slides' formula
sum (y - y_hat)^2). Exactly twice the expected value: fails every fixture with a
non-zero loss.
"""
import numpy as np


def mean_squared_error(y, t):
    y = np.array(y)
    t = np.array(t)
    return np.sum((y - t) ** 2)
