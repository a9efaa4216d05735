"""Lab 02 - cross-entropy error with plain Python loops and the math module.

CORRECT: E = -(1/N) * sum_n sum_k t_nk * ln(y_nk + delta), delta = 1e-7.
Inputs are turned into Python lists with np.asarray(...).tolist() (that is the only
NumPy used). With integer labels only the true class's probability is read, so a
1000 x 100 batch costs 1000 logs; with one-hot targets terms with t == 0 are
skipped (they contribute exactly 0, and skipping them means a zero probability
elsewhere can never produce nan).
"""
import math

import numpy as np

DELTA = 1e-7


def cross_entropy_error(y, t):
    y_arr = np.asarray(y)
    t_arr = np.asarray(t)
    one_hot = t_arr.shape == y_arr.shape
    rows = y_arr.tolist()
    targets = t_arr.tolist()
    if y_arr.ndim == 1:              # a single sample counts as a batch of one
        rows = [rows]
        targets = [targets] if one_hot else [int(targets)]
    n = len(rows)
    total = 0.0
    if one_hot:
        for row, trow in zip(rows, targets):
            for p, tk in zip(row, trow):
                if tk != 0:
                    total += tk * math.log(p + DELTA)
    else:
        if len(targets) != n:
            raise ValueError("need one label per sample")
        for row, label in zip(rows, targets):
            total += math.log(row[int(label)] + DELTA)
    return -total / n
