"""Lab 01 - mean squared error (vectorised NumPy).

CORRECT: E = 1/2 * sum((y - t)^2) over every element. Converts both arguments with
np.asarray (float64), so NumPy arrays of any numeric dtype and nested Python lists,
1-D or 2-D, all work. The inputs are never modified. Returns a Python float.
"""
import numpy as np


def mean_squared_error(y, t):
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if y.shape != t.shape:
        raise ValueError(f"y and t must have the same shape, got {y.shape} and {t.shape}")
    diff = y - t
    return float(0.5 * np.sum(diff * diff))


if __name__ == "__main__":
    t = [0, 0, 1, 0, 0]
    print(mean_squared_error([0.01, 0.02, 0.9, 0.05, 0.02], t))  # 0.0067
    print(mean_squared_error([0.5, 0.1, 0.2, 0.2, 0.1], t))      # 0.475
