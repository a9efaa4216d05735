"""Lab 01 - mean squared error, textbook style ("Deep Learning from Scratch", 4.2.1).

CORRECT: the book's one-liner, with np.asarray added so Python lists work too.
"""
import numpy as np


def mean_squared_error(y, t):
    y = np.asarray(y)
    t = np.asarray(t)
    return 0.5 * np.sum((y - t) ** 2)


if __name__ == "__main__":
    # 「2」を正解とする
    t = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    y = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
    print(mean_squared_error(np.array(y), np.array(t)))  # 0.09750000000000003
    y = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]
    print(mean_squared_error(np.array(y), np.array(t)))  # 0.5975
