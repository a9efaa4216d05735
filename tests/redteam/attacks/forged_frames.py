"""Forged result frames: plausible "result" events for this and later fixtures, then "done".

On each call it writes, into every inherited descriptor (its result stream among them),
a well-formed "ok" result for the current call with a value of its choosing, then
"start" and "ok" results for later calls -- within the run's fixtures, or (with
``PARAMS["beyond"]``) for 40 calls, more than the run has -- and "done", hoping the
grader takes them for the harness's. Returns zeros itself.
"""

import numpy as np
from _prelude import forge_results  # inlined by the test

PARAMS: dict = {}  # filled in by the test


def _forge(call):
    forge_results(call, 40 if PARAMS["beyond"] else PARAMS["calls"], np.full(3, 1 / 3), 1.0)


_CALLS = [0]


def softmax(a):
    _forge(_CALLS[0])
    _CALLS[0] += 1
    return np.zeros(np.shape(a))


def softmax_cross_entropy(a, t):
    _forge(_CALLS[0])
    _CALLS[0] += 1
    return 0.0
