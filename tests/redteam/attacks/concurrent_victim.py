"""Victim for the concurrency test: a correct lab03 submission that takes its time.

Holds a marker string in memory and spins for a while on its first call, so that an
attacker graded at the same time has a live process to look for, signal or read.
"""

import time

import numpy as np

PARAMS: dict = {}  # filled in by the test

SECRET_OF_THE_VICTIM = PARAMS["victim_marker"] * 3
_SPUN = []


def _spin():
    if not _SPUN:
        end = time.monotonic() + PARAMS["spin"]
        while time.monotonic() < end:
            pass
        _SPUN.append(SECRET_OF_THE_VICTIM)


def _logsumexp(a):
    m = np.max(a, axis=-1, keepdims=True)
    return m + np.log(np.sum(np.exp(a - m), axis=-1, keepdims=True))


def softmax(a):
    _spin()
    a = np.asarray(a, dtype=np.float64)
    return np.exp(a - _logsumexp(a))


def softmax_cross_entropy(a, t):
    _spin()
    a = np.asarray(a, dtype=np.float64)
    t = np.asarray(t)
    one_hot = t.shape == a.shape
    a = a.reshape(-1, a.shape[-1])
    lse = _logsumexp(a)[:, 0]
    if one_hot:
        t = t.reshape(a.shape).astype(np.float64)
        per_sample = lse * t.sum(axis=1) - np.sum(t * a, axis=1)
    else:
        per_sample = lse - a[np.arange(a.shape[0]), t.reshape(-1).astype(np.intp)]
    return float(np.mean(per_sample))
