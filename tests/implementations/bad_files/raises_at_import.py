"""Raises at module level: the student left a test call at top level (not under
`if __name__ == "__main__":`) that passes Python lists to the textbook one-liner,
so importing the file raises TypeError (the call on line 13 fails inside line 9).
"""
import numpy as np


def mean_squared_error(y, t):
    return 0.5 * np.sum((y - t) ** 2)


t = [0, 0, 1, 0, 0]
print(mean_squared_error([0.01, 0.02, 0.9, 0.05, 0.02], t))
