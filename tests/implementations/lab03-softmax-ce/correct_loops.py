"""Lab 03 - softmax and softmax cross-entropy with Python loops and math.

CORRECT: every row is handled with math.exp / math.log after subtracting the row max;
the cross-entropy uses log-sum-exp (loss = log(sum exp(a - m)) - (a_true - m)), so
extreme logits such as [1e4, 0, -1e4] with label 2 give exactly 2e4. NumPy is only
used to normalise the input (np.asarray(...).tolist()) and to hand softmax's result
back as an array. Integer labels read just one logit per row besides the
log-sum-exp; one-hot rows skip t == 0.
"""
import math

import numpy as np


def _softmax_row(row):
    m = max(row)
    exps = [math.exp(x - m) for x in row]
    s = sum(exps)
    return [e / s for e in exps]


def _logsumexp_row(row):
    m = max(row)
    s = 0.0
    for x in row:
        s += math.exp(x - m)
    return m + math.log(s)


def softmax(a):
    arr = np.asarray(a, dtype=np.float64)
    data = arr.tolist()
    if arr.ndim == 1:
        out = _softmax_row(data)
    else:
        out = [_softmax_row(row) for row in data]
    return np.array(out, dtype=np.float64)


def softmax_cross_entropy(a, t):
    a_arr = np.asarray(a, dtype=np.float64)
    t_arr = np.asarray(t)
    one_hot = t_arr.shape == a_arr.shape
    rows = a_arr.tolist()
    targets = t_arr.tolist()
    if a_arr.ndim == 1:
        rows = [rows]
        targets = [targets]
    n = len(rows)
    total = 0.0
    if one_hot:
        for row, trow in zip(rows, targets):
            lse = _logsumexp_row(row)
            for x, tk in zip(row, trow):
                if tk != 0:
                    total += tk * (lse - x)
    else:
        for row, label in zip(rows, targets):
            total += _logsumexp_row(row) - row[int(label)]
    return total / n


if __name__ == "__main__":
    print(softmax([0.9, 1.2, 0.4]))
    print(softmax_cross_entropy(np.array([1e4, 0.0, -1e4]), np.array(2)))
