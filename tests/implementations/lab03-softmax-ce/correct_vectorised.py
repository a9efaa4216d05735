"""Lab 03 - softmax and softmax cross-entropy (vectorised NumPy).

CORRECT:
- softmax(a): exp(a - max) / sum(exp(a - max)) over the last axis, for (K,) or (N, K);
  subtracting the row max keeps it finite for |a| <= 1e4.
- softmax_cross_entropy(a, t): log-softmax computed as (a - max) - log(sum(exp(a - max)))
  (log-sum-exp), so no delta is needed and extreme logits such as [1e4, 0, -1e4]
  give the exact loss (2e4 for label 2). Mean over the batch; t one-hot with a's
  shape or integer labels of shape () / (N,). Inputs are never modified.
"""
import numpy as np


def softmax(a):
    a = np.asarray(a, dtype=np.float64)
    shifted = a - np.max(a, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def _log_softmax(a):
    shifted = a - np.max(a, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def softmax_cross_entropy(a, t):
    a = np.asarray(a, dtype=np.float64)
    t = np.asarray(t)
    a2 = a.reshape(-1, a.shape[-1])            # a 1-D a is a batch of one
    n = a2.shape[0]
    logp = _log_softmax(a2)
    if t.shape == a.shape:                     # one-hot
        t2 = t.reshape(a2.shape).astype(np.float64)
        # only where t != 0, so 0 * (-inf) can never appear
        return float(-np.sum(np.where(t2 != 0, t2 * logp, 0.0)) / n)
    labels = t.reshape(-1).astype(np.intp)
    return float(-np.sum(logp[np.arange(n), labels]) / n)


if __name__ == "__main__":
    print(softmax(np.array([0.9, 1.2, 0.4])))                        # [0.34 0.46 0.20]
    print(softmax_cross_entropy(np.array([0.0, 0.006, 0.12]), np.array([0, 1, 0])))
    print(softmax_cross_entropy(np.array([1e4, 0.0, -1e4]), np.array(2)))  # 20000.0
