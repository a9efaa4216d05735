"""Lab 02 - cross-entropy error, textbook style ("Deep Learning from Scratch", 4.2.4).

CORRECT: the book's mini-batch version, which handles both one-hot targets and
integer labels: a 1-D y is reshaped to a batch of one, one-hot targets are turned into
labels with argmax (fine because the lab's targets are one-hot), then the true-class
probabilities are gathered and -sum(log(p + 1e-7)) / batch_size is returned.
Note: float32 inputs are computed in float32 (the book does not convert), which is
within a float32 tolerance.
"""
import numpy as np


def cross_entropy_error(y, t):
    y = np.asarray(y)
    t = np.asarray(t)
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)

    # 教師データがone-hot-vectorの場合、正解ラベルのインデックスに変換
    if t.size == y.size:
        t = t.argmax(axis=1)

    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


if __name__ == "__main__":
    t = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    y = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
    print(cross_entropy_error(np.array(y), np.array(t)))  # 0.510825457099338
