"""Lab 03 - textbook route ("Deep Learning from Scratch" 3.5.2 + 4.2.4).

EXPECTED TO FAIL ONLY THE EXTREME-LOGIT FIXTURES. The book's softmax (with max
subtraction, batch-aware) is correct and stable. softmax_cross_entropy is
cross_entropy_error(softmax(a), t) with delta = 1e-7: for logits like [1e4, 0, -1e4]
with label 2 the probability underflows to 0 and the loss saturates at
-ln(1e-7) ~ 16.118 instead of 2e4. Every other fixture should pass.
"""
import numpy as np


def softmax(x):
    x = np.asarray(x)
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T

    x = x - np.max(x)  # オーバーフロー対策
    return np.exp(x) / np.sum(np.exp(x))


def cross_entropy_error(y, t):
    t = np.asarray(t)
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)

    # 教師データがone-hot-vectorの場合、正解ラベルのインデックスに変換
    if t.size == y.size:
        t = t.argmax(axis=1)

    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


def softmax_cross_entropy(a, t):
    y = softmax(a)
    return cross_entropy_error(y, t)
