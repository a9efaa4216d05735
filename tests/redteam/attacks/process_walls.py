"""Process creation with the audit hook gone: fork, _posixsubprocess, libc fork and execve.

Disables the audit hook (see the prelude), then forks with ``os.fork``,
``os.posix_spawn``, ``_posixsubprocess.fork_exec`` (no audit event of its own), libc
``fork()`` and ``vfork()`` and raw ``clone(SIGCHLD)`` through ctypes, and records the
errno of each. Every softmax_cross_entropy fixture calls libc ``execve("/bin/sh")``: seccomp kills the
process for that.
"""

import ctypes
import os

from _prelude import raw, unhook  # inlined by the test

PARAMS: dict = {}  # filled in by the test


def _errno(action):
    try:
        result = action()
        return -1000 if result is None else result
    except OSError as exc:
        return -exc.errno
    except Exception:
        return -999


def _attempts():
    unhooked = unhook()
    libc = ctypes.CDLL(None, use_errno=True)

    def call(function, *args):
        result = function(*args)
        return result if result >= 0 else -ctypes.get_errno()

    import _posixsubprocess

    def fork_exec():  # the 3.11 signature; any other version fails with TypeError (-999)
        return _posixsubprocess.fork_exec(
            [b"/bin/sh", b"-c", b"true"], [b"/bin/sh"], True, (), None, None,
            -1, -1, -1, -1, -1, -1, -1, -1, False, False, -1, None, None, None, -1, None, False,
        )  # fmt: skip

    return [
        unhooked,
        _errno(os.fork),
        _errno(lambda: os.posix_spawn("/bin/true", ["true"], {})),
        _errno(fork_exec),
        call(libc.fork),
        call(libc.vfork),
        call(libc.syscall, 56, 17, 0, 0, 0, 0),  # clone(SIGCHLD): a new process
        call(libc.syscall, 435, 0, 0),  # clone3
    ]


def softmax(a):
    found = _attempts()
    print(found)
    return [float(x) for x in found]


def softmax_cross_entropy(a, t):
    unhook()
    ctypes.CDLL(None).execve(b"/bin/sh", None, None)


assert raw
