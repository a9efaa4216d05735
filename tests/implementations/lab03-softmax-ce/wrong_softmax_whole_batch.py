"""Lab 03 - normalises over the whole batch (the book's 1-D softmax applied to 2-D).

BUG: uses np.max(a) and np.sum(np.exp(...)) over ALL elements, not per row, so for an
(N, K) batch the whole matrix sums to 1 instead of each row; the cross-entropy uses
the log of that same whole-batch softmax (computed stably, as log-sum-exp over all
elements). Correct for 1-D input and for N == 1; fails every batch fixture with
N > 1, for softmax and softmax_cross_entropy.
"""
import numpy as np


def softmax(a):
    a = np.asarray(a, dtype=np.float64)
    c = np.max(a)
    exp_a = np.exp(a - c)  # オーバーフロー対策
    sum_exp_a = np.sum(exp_a)
    return exp_a / sum_exp_a


def softmax_cross_entropy(a, t):
    a = np.asarray(a, dtype=np.float64)
    t = np.asarray(t)
    c = np.max(a)
    log_y = (a - c) - np.log(np.sum(np.exp(a - c)))     # log(softmax(a)), stable
    if log_y.ndim == 1:
        log_y = log_y.reshape(1, -1)
        t = t.reshape(1, -1) if t.ndim == 1 else t.reshape(1)
    batch_size = log_y.shape[0]
    if t.size == log_y.size:
        return -np.sum(np.where(t != 0, t * log_y, 0.0)) / batch_size
    return -np.sum(log_y[np.arange(batch_size), t.reshape(-1)]) / batch_size
