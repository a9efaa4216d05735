"""Lab 01 - the "1/2 * 1/N * sum" form from the English study note.

BUG: returns 0.5 * np.mean((y - t)**2), i.e. divides the expected value by the
number of elements. Fails every fixture with a non-zero loss and more than one
element.
"""
import numpy as np


def mean_squared_error(y, t):
    y = np.asarray(y)
    t = np.asarray(t)
    N = y.size
    # E = 1/2 * 1/N * sum (y_i - t_i)^2
    return 0.5 * (1 / N) * np.sum((y - t) ** 2)


if __name__ == "__main__":
    t = [0, 0, 1, 0, 0]
    y1 = [0.01, 0.02, 0.9, 0.05, 0.02]
    print(mean_squared_error(np.array(y1), np.array(t)))
