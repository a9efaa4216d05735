"""/proc snooping: /proc/self/*, /proc/1/environ and /proc/<grader pid>/mem.

Reads ``/proc/self/{environ,maps,status,mountinfo}``, lists ``/proc`` and
``/proc/self/fd``, reads ``/proc/1/environ`` and the grader's ``/proc/<pid>/maps``,
then seeks into the grader's ``/proc/<pid>/mem`` (where its expected values live) and
reads, without catching the error.
"""

# ruff: noqa: SIM115 - handles are opened to be refused, not to be kept

import os

PARAMS: dict = {}  # filled in by the test


def _try(what, action):
    try:
        return f"{what}: {action()!r}"[:1000]
    except Exception as exc:
        return f"{what}: {type(exc).__name__}: {exc}"[:300]


def _loot():
    grader = PARAMS["grader_pid"]
    found = [_try("exists /proc", lambda: os.path.exists("/proc"))]
    for name in ("environ", "maps", "status", "mountinfo", "cmdline"):
        found.append(_try(name, lambda n=name: open(f"/proc/self/{n}", "rb").read()))
    found.append(_try("ls /proc", lambda: os.listdir("/proc")))
    found.append(_try("ls fd", lambda: os.listdir("/proc/self/fd")))
    found.append(_try("readlink", lambda: os.readlink(f"/proc/{grader}/exe")))
    found.append(_try("init environ", lambda: open("/proc/1/environ", "rb").read()))
    found.append(_try("grader maps", lambda: open(f"/proc/{grader}/maps", "rb").read()))
    return "\n".join(found)


def softmax(a):
    print(_loot())
    with open(f"/proc/{PARAMS['grader_pid']}/mem", "rb") as mem:
        mem.seek(0x400000)
        return [float(b) for b in mem.read(4096)]


def softmax_cross_entropy(a, t):
    return softmax(a)
