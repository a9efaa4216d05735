"""Signals and tracing with the audit hook gone: kill(-1), then ptrace the grader.

Disables the audit hook (see the prelude), then sends SIGKILL through libc to -1, to
pid 1, to the grader's and fork server's pids and to every pid up to 400 (the other
submission being graded at the same time is somewhere), and records the results.
Every softmax_cross_entropy fixture attaches to the grader with ``ptrace(PTRACE_ATTACH)``, to read its
expected values: seccomp kills the process for that.
"""

import ctypes

from _prelude import raw, unhook  # inlined by the test

PARAMS: dict = {}  # filled in by the test


def _attempts():
    unhook()
    libc = ctypes.CDLL(None, use_errno=True)
    results = {}
    for pid in [-1, 1, PARAMS["grader_pid"], PARAMS["zygote_pid"], *range(3, 400)]:
        code = libc.kill(pid, 9)
        results[pid] = code if code == 0 else -ctypes.get_errno()
    delivered = sorted(pid for pid, code in results.items() if code == 0)
    return [float(len(delivered)), *[float(p) for p in delivered]]


def softmax(a):
    found = _attempts()
    print(found)
    return found


def softmax_cross_entropy(a, t):
    unhook()
    ctypes.CDLL(None).ptrace(16, PARAMS["grader_pid"], None, None)  # PTRACE_ATTACH


assert raw
