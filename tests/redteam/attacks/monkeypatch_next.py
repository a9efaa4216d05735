"""Vandalism for the next submission: patch NumPy, builtins, the harness and the interpreter.

Replaces ``np.exp``, ``np.log``, ``np.sum``, ``np.max`` and ``np.mean`` with functions
that are subtly wrong, ``builtins`` functions, the harness's and wire's functions and
constants, ``json``, ``copy`` and the import machinery (a meta-path finder that
returns a poisoned NumPy), installs trace and profile hooks, and finally, with raw
memory writes, changes the interpreter's cached small integer 2 into 3. All of it can
only affect this process: the next submission must start clean.
"""

import builtins
import copy
import json
import sys

import numpy as np
from _prelude import raw, unhook  # inlined by the test

from grader.grading import harness, wire


class _Poison:
    def find_spec(self, name, path=None, target=None):
        return None


def _vandalise():
    np.exp = lambda x, *a, **k: np.ones_like(np.asarray(x, dtype=float))
    np.log = lambda x, *a, **k: np.zeros_like(np.asarray(x, dtype=float))
    np.sum = lambda *a, **k: 0.0
    np.max = lambda *a, **k: 0.0
    np.mean = lambda *a, **k: 1.0
    builtins.len = lambda x: 0
    builtins.isinstance = lambda *a: True
    builtins.float = lambda *a: 1.0
    harness.to_plain = lambda value: ("scalar", "float", np.array(1.0))
    harness.unchanged = lambda before, after: True
    harness.SUBMISSION_FILENAME = "elsewhere.py"
    wire.MAX_FRAME_BYTES = 1
    json.dumps = lambda *a, **k: "{}"
    copy.deepcopy = lambda x, *a: x
    sys.meta_path.insert(0, _Poison())
    sys.path.insert(0, "/tmp")
    sys.modules["evil_implant"] = sys
    sys.settrace(lambda *a: None)
    sys.setprofile(lambda *a: None)
    two = raw(id(2) + 24, 1, "<u4")  # ob_digit[0] of the cached small int 2
    two[0] = 3


def softmax(a):
    _vandalise()
    return a


def softmax_cross_entropy(a, t):
    _vandalise()
    return 0.0


assert unhook
