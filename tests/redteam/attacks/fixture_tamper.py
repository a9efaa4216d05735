"""Tampering with the shared fixture inputs: write into the mapped request.

The inputs of a lab's fixed fixtures reach every run as views of one sealed memory
file, mapped read-only (the student gets copies). With the audit hook gone, this finds
the harness's views of the inputs through its frame and tries every way to write to
them: turning on NumPy's writeable flag, ``mprotect`` through ctypes (a sealed file
refuses a writable mapping), and ``readv`` into the page from a pipe (the kernel writes
for us). ``softmax`` returns ``[flag set, mprotect result, mprotect errno, readv
errno]``; ``softmax_cross_entropy`` writes through a raw pointer, which kills it.
"""

import ctypes
import os
import sys

import numpy as np
from _prelude import raw, unhook  # inlined by the test


def _shared_input():
    unhook()
    frame = sys._getframe(2)  # the harness's serve(): our caller's caller
    while frame is not None and "originals" not in frame.f_locals:
        frame = frame.f_back
    originals = frame.f_locals["originals"]
    return next(o for o in originals if isinstance(o, np.ndarray) and o.size)


def softmax(a):
    target = _shared_input()
    address = target.__array_interface__["data"][0]
    flag = 0.0
    try:
        target.flags.writeable = True
        flag = 1.0
    except ValueError:
        pass
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    result = libc.mprotect(address & ~4095, 4096, 3)  # PROT_READ | PROT_WRITE
    errno = ctypes.get_errno()
    r, w = os.pipe()
    os.write(w, b"\xff" * 8)
    try:
        os.readv(r, [raw(address, 8, "|u1")])
        copied = 0.0
    except OSError as exc:
        copied = float(exc.errno)
    return [flag, float(result), float(errno), copied]


def softmax_cross_entropy(a, t):
    target = _shared_input()
    raw(target.__array_interface__["data"][0], 1, "|u1")[0] = 255  # SIGSEGV: read-only page
    return 0.0
