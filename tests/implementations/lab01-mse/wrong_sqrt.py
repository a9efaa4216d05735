"""Lab 01 - MSE as the Euclidean distance (the slides: "兩個向量之間的直線距離").

BUG: returns sqrt(sum((y - t)^2)) as in the slides'
sqrt((0.15-0)^2+(0.2-1)^2+...), instead of 1/2 * sum((y - t)^2). Fails every fixture
with a non-zero loss (except the coincidence sum == 4).
"""
import numpy as np


def mean_squared_error(y, t):
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    # MSE介紹: 代表兩個向量之間的直線距離
    return np.sqrt(np.sum((y - t) ** 2))
