"""The byte format between the trusted grader and the process that runs student code.

Both directions are a sequence of frames: one tag byte, a 4-byte big-endian length,
then the payload. ``J`` frames carry a UTF-8 JSON object, ``A`` frames carry one
array: a one-byte length and the dtype string (``<f8``: only plain numeric dtypes
exist on the wire, never objects or pickles), one byte of dimensions, 8 bytes per
dimension, then the raw little-endian data. Reading one is a bounds check and
``np.frombuffer``, without copying and without parsing a ``.npy`` header.

The child only ever sends plain numbers: a float64 array per result. Everything the
child writes is untrusted, so :class:`FrameDecoder` validates every frame (tag,
length, JSON shape, dtype, size) and raises :class:`ProtocolError` on anything else.

This module is imported inside the student's process too: it must depend on nothing
but the standard library and NumPy.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np

JSON = b"J"
ARRAY = b"A"
_HEADER = struct.Struct(">cI")

#: Largest frame the parent accepts; a result array of 1,000 x 1,000 float64 fits.
MAX_FRAME_BYTES = 16 * 1024 * 1024
#: Largest JSON frame the parent accepts from the child (events are small).
MAX_JSON_BYTES = 64 * 1024
#: Largest result array, in elements, and number of dimensions.
MAX_ARRAY_ELEMENTS = 2_000_000
MAX_ARRAY_NDIM = 4
#: The only dtypes an array frame may have: plain little-endian numbers.
WIRE_DTYPES = frozenset(
    np.dtype(t).newbyteorder("<").str for t in ("f8", "f4", "f2", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "b1")
)


class ProtocolError(Exception):
    """The byte stream is not a well-formed sequence of frames."""


def frame(tag: bytes, payload: bytes) -> bytes:
    """Return one encoded frame."""
    return _HEADER.pack(tag, len(payload)) + payload


def json_frame(obj: dict[str, Any]) -> bytes:
    """Encode a JSON object as a frame (NaN and infinity allowed)."""
    return frame(JSON, json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def array_parts(array: np.ndarray) -> tuple[bytes, memoryview]:
    """An array frame as (frame header + array header, the data itself), for writing
    without copying the data."""
    array = np.asarray(array)
    if array.dtype.str not in WIRE_DTYPES:  # big-endian, say: the wire is little-endian
        array = array.astype(array.dtype.newbyteorder("<"))
    if not array.flags.c_contiguous:
        array = array.copy(order="C")  # not np.ascontiguousarray: it turns 0-d into 1-d
    dtype = array.dtype.str.encode("ascii")
    meta = struct.pack(f">B{len(dtype)}sB{array.ndim}Q", len(dtype), dtype, array.ndim, *array.shape)
    data = memoryview(array).cast("B") if array.size else memoryview(b"")
    return _HEADER.pack(ARRAY, len(meta) + data.nbytes) + meta, data


def array_frame(array: np.ndarray) -> bytes:
    """Encode an array as one frame."""
    head, data = array_parts(array)
    return head + data.tobytes()


def decode_array(
    payload: bytes | memoryview, *, float64_only: bool = True, max_ndim: int = MAX_ARRAY_NDIM
) -> np.ndarray:
    """Check an array payload and view it as an array (read-only, no copy)."""
    view = memoryview(payload)
    try:
        dtype_len = view[0]
        dtype_str = bytes(view[1 : 1 + dtype_len]).decode("ascii")
        ndim = view[1 + dtype_len]
        start = 2 + dtype_len + 8 * ndim
        if len(view) < start:
            raise ProtocolError("malformed array frame: truncated header")
        shape = struct.unpack_from(f">{ndim}Q", view, 2 + dtype_len)
    except (IndexError, UnicodeDecodeError, struct.error):
        raise ProtocolError("malformed array frame: bad header") from None
    if dtype_str not in WIRE_DTYPES:
        raise ProtocolError(f"array frame has an unsupported dtype {dtype_str[:12]!r}")
    if float64_only and dtype_str != "<f8":
        raise ProtocolError(f"array frame has dtype {dtype_str}, expected float64")
    size = math.prod(shape)
    if ndim > max_ndim or size > MAX_ARRAY_ELEMENTS * (1 if float64_only else 256):
        raise ProtocolError(f"array frame too large: shape {shape}")
    dtype = np.dtype(dtype_str)
    if len(view) - start != size * dtype.itemsize:
        raise ProtocolError("malformed array frame: the data does not match its shape")
    return np.frombuffer(view[start:], dtype=dtype).reshape(shape)


class FrameDecoder:
    """Incremental, validating decoder for a stream of frames.

    Feed it bytes as they arrive; it yields ``(tag, value)`` pairs, where value is a
    ``dict`` for JSON frames and an ``ndarray`` for array frames.
    """

    def __init__(
        self,
        *,
        max_frame: int = MAX_FRAME_BYTES,
        max_json: int = MAX_JSON_BYTES,
        float64_only: bool = True,
        max_ndim: int = MAX_ARRAY_NDIM,
    ) -> None:
        # Unparsed bytes as received; joined only once the next frame is complete, so
        # a frame sent a byte at a time costs no more than one sent whole.
        self._chunks: list[bytes] = []
        self._pos = 0  # where the unparsed bytes start in the first chunk
        self._have = 0
        self._need = _HEADER.size
        self._max_frame = max_frame
        self._max_json = max_json
        self._float64_only = float64_only
        self._max_ndim = max_ndim

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole frame."""
        return self._have

    def feed(self, data: bytes | memoryview) -> Iterator[tuple[bytes, Any]]:
        """Add bytes; yield every complete frame they finish."""
        if data:
            if type(data) is not bytes and not (isinstance(data, memoryview) and data.readonly):
                data = bytes(data)  # arrays are views of what is kept: never of a buffer that may change
            self._chunks.append(data)
            self._have += len(data)
        while self._have >= self._need:
            if len(self._chunks) > 1:
                first = memoryview(self._chunks[0])[self._pos :]
                self._chunks = [b"".join([first, *self._chunks[1:]])]
                self._pos = 0
            buf, pos = self._chunks[0], self._pos
            tag, length = _HEADER.unpack_from(buf, pos)
            if tag not in (JSON, ARRAY):
                raise ProtocolError(f"unknown frame tag {tag!r}")
            limit = self._max_json if tag == JSON else self._max_frame
            if length > limit:
                raise ProtocolError(f"frame of {length} bytes exceeds the limit of {limit}")
            size = _HEADER.size + length
            if self._have < size:
                self._need = size
                return
            self._pos += size
            self._have -= size
            self._need = _HEADER.size
            if not self._have:
                self._chunks, self._pos = [], 0
            payload = memoryview(buf)[pos + _HEADER.size : pos + size]
            if tag == JSON:
                yield tag, _decode_json(payload)
            else:
                yield tag, decode_array(payload, float64_only=self._float64_only, max_ndim=self._max_ndim)


def iter_frames(data: bytes | memoryview, **limits: Any) -> Iterator[tuple[bytes, Any]]:
    """Yield the frames of a complete message (arrays are views of ``data``: bytes, or
    a read-only view of memory that nobody can change)."""
    decoder = FrameDecoder(**limits)
    yield from decoder.feed(data)
    if decoder.pending:
        raise ProtocolError("stream ended in the middle of a frame")


def _decode_json(payload: bytes | memoryview) -> dict[str, Any]:
    try:
        obj = json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("malformed JSON frame") from None
    if not isinstance(obj, dict):
        raise ProtocolError("JSON frame is not an object")
    return obj


def read_frames(stream: BinaryIO, **limits: Any) -> Iterator[tuple[bytes, Any]]:
    """Yield frames from a blocking binary stream until end of file."""
    yield from iter_frames(stream.read(), **limits)
