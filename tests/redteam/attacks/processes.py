"""Process creation: fork, os.system, subprocess, exec, posix_spawn, pty, multiprocessing.

Tries every stdlib way to start a process (a shell that would ``cat`` the hidden
fixtures, a Python that would read the environment) and finally runs
``subprocess.run`` without catching the error.
"""

import multiprocessing
import os
import pty
import subprocess
import sys

PARAMS: dict = {}  # filled in by the test


def _try(what, action):
    try:
        return f"{what}: {action()!r}"
    except BaseException as exc:
        return f"{what}: {type(exc).__name__}: {exc}"


def _attempts():
    steal = f"cat {PARAMS['repo']}/labs/*/fixtures/hidden.toml; env"
    return [
        _try("fork", os.fork),
        _try("forkpty", os.forkpty),
        _try("system", lambda: os.system(steal)),
        _try("popen", lambda: os.popen(steal).read()),
        _try("subprocess", lambda: subprocess.check_output(["/bin/sh", "-c", steal])),
        _try("execv", lambda: os.execv("/bin/sh", ["sh", "-c", steal])),
        _try("execve", lambda: os.execve(sys.executable, [sys.executable, "-c", "1"], {})),
        _try("posix_spawn", lambda: os.posix_spawn("/bin/sh", ["sh", "-c", steal], {})),
        _try("spawnv", lambda: os.spawnv(os.P_WAIT, "/bin/sh", ["sh", "-c", steal])),
        _try("pty", lambda: pty.spawn(["/bin/sh", "-c", steal])),
        _try("multiprocessing", lambda: multiprocessing.Process(target=print).start()),
    ]


def softmax(a):
    print("\n".join(_attempts()))
    subprocess.run(["/bin/sh", "-c", f"cat {PARAMS['repo']}/labs/*/fixtures/hidden.toml"], check=True)
    return [1.0]


def softmax_cross_entropy(a, t):
    return softmax(a)
