"""Lab 02 - cross-entropy error (vectorised NumPy).

CORRECT: E = -(1/N) * sum_n sum_k t_nk * ln(y_nk + delta), delta = 1e-7.
- y: (K,) or (N, K), float64 or float32 (computed in float64); a 1-D y is one sample.
- t: one-hot with y's shape, or integer labels of shape () / (N,).
A zero probability at the true class gives -ln(delta) ~ 16.118; zeros at other
classes are multiplied by t = 0 after adding delta, so never nan. Inputs untouched.
"""
import numpy as np

DELTA = 1e-7


def cross_entropy_error(y, t):
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t)
    if t.shape == y.shape:                       # one-hot (or any target distribution)
        y2 = y.reshape(-1, y.shape[-1])
        t2 = t.reshape(y2.shape).astype(np.float64)
        return float(-np.sum(t2 * np.log(y2 + DELTA)) / y2.shape[0])
    # integer labels
    y2 = y.reshape(-1, y.shape[-1])
    labels = t.reshape(-1).astype(np.intp)
    if labels.shape[0] != y2.shape[0]:
        raise ValueError(f"labels shape {t.shape} does not match y shape {y.shape}")
    picked = y2[np.arange(y2.shape[0]), labels]
    return float(-np.sum(np.log(picked + DELTA)) / y2.shape[0])


if __name__ == "__main__":
    t = [0, 0, 1, 0, 0]
    print(cross_entropy_error(np.array([0.01, 0.02, 0.9, 0.05, 0.02]), np.array(t)))
    print(cross_entropy_error(np.array([0.5, 0.1, 0.2, 0.2, 0.1]), np.array(2)))
