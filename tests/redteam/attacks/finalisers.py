"""Code after the end: atexit handlers, a module-level __del__, weakref finalizers.

Registers an ``atexit`` handler and a ``weakref.finalize`` that write a forged "done"
frame and a perfect-score line, keeps a module global whose ``__del__`` does the same
(none of these may ever run: nothing of a run may happen after it ends), and returns
values whose ``__del__`` does it while the run goes on, when the harness lets go of
them (that one runs, and only corrupts its own stream).
"""

import atexit
import contextlib
import json
import os
import struct
import sys
import weakref


def _frame(obj):
    data = json.dumps(obj).encode()
    return b"J" + struct.pack(">I", len(data)) + data


def _forge(tag):
    # The line first: the grader stops a run as soon as its stream is corrupt.
    print(f"{tag} RAN: Score 100/100", flush=True)
    for fd in range(3, 64):
        with contextlib.suppress(OSError):
            os.write(fd, _frame({"event": "result", "call": 0, "status": "ok"}) + _frame({"event": "done"}))


class Haunt:
    def __del__(self):
        _forge("MODULE-DEL")


class Value(float):
    def __del__(self):
        _forge("VALUE-DEL")


atexit.register(_forge, "ATEXIT")
_GHOST = Haunt()
weakref.finalize(_GHOST, _forge, "WEAKREF-FINALIZE")
sys.modules["haunt"] = _GHOST


def softmax(a):
    return Value(0.5)


def softmax_cross_entropy(a, t):
    return Value(0.5)
