"""Attacker for the concurrency test: find, signal and read a submission graded meanwhile.

While the victim spins, it disables the audit hook, sends SIGKILL and SIGSTOP through
libc to every pid up to 400, looks for ``/proc/<pid>/mem``, scans its own memory (heap
pages) for the victim's marker, and lists ``/tmp`` for the victim's files. Returns
what it reached.
"""

import ctypes
import gc
import os
import time

from _prelude import raw, unhook  # inlined by the test

PARAMS: dict = {}  # filled in by the test

_DONE = []


def _attack():
    if _DONE:
        return _DONE[0]
    unhook()
    libc = ctypes.CDLL(None, use_errno=True)
    reached = []
    needle = PARAMS["victim_marker"].encode()  # the victim holds it three times in a row
    size = len(needle)
    end = time.monotonic() + PARAMS["spin"] / 2
    while time.monotonic() < end:
        for pid in range(1, 400):
            if pid != os.getpid():
                for sig in (9, 19):
                    if libc.kill(pid, sig) == 0:
                        reached.append(f"signalled {pid}")
        reached += [f"proc {p}" for p in (1, 2, 3) if os.path.exists(f"/proc/{p}/mem")]
        reached += [f"tmp {name}" for name in os.listdir("/tmp")]
    r, w = os.pipe()
    for base in {id(o) & ~0xFFFFF for o in gc.get_objects()}:
        for address in range(base, base + (1 << 20), 4096):
            try:
                count = os.write(w, raw(address, 4096, "|u1"))
            except OSError:
                continue
            page = os.read(r, count)
            at = page.find(needle)
            while at >= 0:
                if page[at + size : at + 2 * size] == needle == page[at + 2 * size : at + 3 * size]:
                    reached.append(f"marker at {address + at:#x}")
                at = page.find(needle, at + 1)
    _DONE.append(reached)
    print(reached)
    return reached


def softmax(a):
    return [float(len(_attack()))]


def softmax_cross_entropy(a, t):
    return float(len(_attack()))
