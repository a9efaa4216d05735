"""Lab 02 - the Japanese notebook's mini-batch version (labels only, no delta).

BUG: copied from the notebook's last cell: it only handles integer labels and has no
delta. One-hot targets are used as fancy indices (y[np.arange(N), t] with t of shape
(N, K)), which raises a broadcasting IndexError when N != K and N > 1, and gives a
wrong value for a 1-D y or when N == K. A zero probability at the true class gives
inf. Passes the labels fixtures without zeros; fails every one-hot fixture and the
zero-probability fixtures.
"""
import numpy as np


def cross_entropy_error(y, t):
    """
    交差エントロピー誤差を出力します

    Parameters
    ----------
    y : np.array
        ニューラルネットワークの出力
    t : np.array
        教師データ
    """
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)

    batch_size = y.shape[0]

    # 教師データがone-hot表現のとき
    # return -np.sum(t * np.log(y) / batch_size)

    # 教師データがラベルの場合
    return -np.sum(np.log(y[np.arange(batch_size), t])) / batch_size
