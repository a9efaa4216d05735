"""Malformed result stream: oversized lengths, unknown tags, pickles and object arrays.

Writes, into every inherited descriptor, a frame header announcing 4 GiB, then
(in later fixtures) an unknown tag, a pickled array, a NumPy object array and bytes
from /dev/urandom.
"""

import contextlib
import io
import os
import pickle
import struct

import numpy as np

_K = [0]


def _payload():
    _K[0] += 1
    kind = _K[0] % 5
    if kind == 1:
        return b"A" + struct.pack(">I", 0xFFFFFFFF)
    if kind == 2:
        return b"Z" + struct.pack(">I", 4) + b"evil"
    if kind == 3:
        data = pickle.dumps(np.ones(3))
        return b"A" + struct.pack(">I", len(data)) + data
    if kind == 4:
        buf = io.BytesIO()
        np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
        return b"A" + struct.pack(">I", len(buf.getvalue())) + buf.getvalue()
    return os.urandom(4096)


def softmax(a):
    data = _payload()
    for fd in range(3, 64):
        with contextlib.suppress(OSError):
            os.write(fd, data)
    return np.zeros(np.shape(a))


def softmax_cross_entropy(a, t):
    softmax(a)
    return 0.0
