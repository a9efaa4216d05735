"""Hidden-input hunt in a run in turn: forge the end of the shown part, then read the second request.

On the first shown call it writes, into every inherited descriptor, well-formed "ok"
results for every shown call and "done", so that the grader seals the shown part and
sends the hidden request while this call is still running. It then reads every
descriptor it can for two seconds, prints what it got (as numbers and as text) and
returns the numbers as its value, hoping they land in what the student sees. In the
hidden part it prints its inputs and returns them.
"""

import contextlib
import json
import os
import select
import time

import numpy as np
from _prelude import forge_results  # inlined by the test

PARAMS: dict = {}  # filled in by the test
_CALLS = [0]


def _hunt(seconds=2.0):
    got = bytearray()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for fd in range(0, 64):
            with contextlib.suppress(OSError, ValueError):
                if select.select([fd], [], [], 0)[0]:
                    got += os.read(fd, 1 << 20)
        time.sleep(0.01)
    usable = len(got) // 8 * 8
    numbers = np.frombuffer(bytes(got[:usable]), dtype="<f8")
    numbers = numbers[np.isfinite(numbers)][:5000]
    print("HUNTED", len(got), json.dumps(numbers.tolist()), got[:4000].decode("latin-1"), flush=True)
    return numbers


def softmax(a):
    _CALLS[0] += 1
    if _CALLS[0] == 1:
        forge_results(0, PARAMS["calls"], np.full(3, 1 / 3), 1.0)
        found = _hunt()
        return found if found.size else np.zeros(np.shape(a))
    print("INPUT", json.dumps(np.asarray(a).tolist()), flush=True)
    return a


def softmax_cross_entropy(a, t):
    print("INPUT", json.dumps(np.asarray(a).tolist()), flush=True)
    return 0.0
