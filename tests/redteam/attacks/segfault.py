"""Segfault: crash the interpreter with ctypes (audit hook removed) or faulthandler.

Disables the audit hook (see the prelude) and reads address 16 with
``ctypes.string_at``; the other function calls ``faulthandler._sigsegv()``.
"""

import ctypes
import faulthandler

from _prelude import raw, unhook  # inlined by the test


def softmax(a):
    unhook()
    return ctypes.string_at(16, 8)  # not 0: string_at(0, n) makes an empty buffer


def softmax_cross_entropy(a, t):
    faulthandler._sigsegv()


assert raw
