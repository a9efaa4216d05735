"""Returns strings instead of numbers (the student formatted the result for
printing): "0.0067" etc. Must be graded as non-numeric, not parsed as a number.
"""
import numpy as np


def mean_squared_error(y, t):
    value = 0.5 * np.sum((np.asarray(y, dtype=float) - np.asarray(t, dtype=float)) ** 2)
    return f"{value:.4f}"          # e.g. "0.0067"


def cross_entropy_error(y, t):
    return "0.1053604045467214"


def softmax(a):
    return "[0.34, 0.46, 0.2]"


def softmax_cross_entropy(a, t):
    return "1.1363"
