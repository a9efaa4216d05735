"""Forged result frames: plausible "result" events for this and later fixtures, then "done".

On each call it writes, into every inherited descriptor (its result stream among them),
a well-formed "ok" result for the current call with a value of its choosing, then
"start" and "ok" results for later calls -- within the run's fixtures, or (with
``PARAMS["beyond"]``) for 40 calls, more than the run has -- and "done", hoping the
grader takes them for the harness's. Returns zeros itself.
"""

import contextlib
import json
import os
import struct

import numpy as np

PARAMS: dict = {}  # filled in by the test


def _frame(tag, payload):
    return tag + struct.pack(">I", len(payload)) + payload


def _array(value):
    # The real array format: dtype, dimensions, raw float64 data.
    value = np.asarray(value, dtype=np.float64)
    meta = struct.pack(f">B3sB{value.ndim}Q", 3, b"<f8", value.ndim, *value.shape)
    return _frame(b"A", meta + value.tobytes())


def _event(**fields):
    return _frame(b"J", json.dumps(fields).encode())


def _forge(call):
    last = 40 if PARAMS["beyond"] else PARAMS["calls"]
    data = _event(event="result", call=call, status="ok", kind="array", type="ndarray", mutated=[])
    data += _array(np.full(3, 1 / 3))
    for later in range(call + 1, last):
        data += _event(event="start", call=later)
        data += _event(event="result", call=later, status="ok", kind="scalar", type="float", mutated=[])
        data += _array(1.0)
    data += _event(event="done")
    for fd in range(3, 64):
        with contextlib.suppress(OSError):
            os.write(fd, data)


_CALLS = [0]


def softmax(a):
    _forge(_CALLS[0])
    _CALLS[0] += 1
    return np.zeros(np.shape(a))


def softmax_cross_entropy(a, t):
    _forge(_CALLS[0])
    _CALLS[0] += 1
    return 0.0
