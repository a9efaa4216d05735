"""The byte format between the trusted grader and the process that runs student code.

Both directions are a sequence of frames: one tag byte, a 4-byte big-endian length,
then the payload. ``J`` frames carry a UTF-8 JSON object, ``A`` frames carry one
array in ``.npy`` format (always read with ``allow_pickle=False``).

The child only ever sends plain numbers: a float64 array per result. Everything the
child writes is untrusted, so :class:`FrameDecoder` validates every frame (tag,
length, JSON shape, dtype, size) and raises :class:`ProtocolError` on anything else.

This module is imported inside the student's process too: it must depend on nothing
but the standard library and NumPy.
"""

from __future__ import annotations

import io
import json
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


class ProtocolError(Exception):
    """The byte stream is not a well-formed sequence of frames."""


def frame(tag: bytes, payload: bytes) -> bytes:
    """Return one encoded frame."""
    return _HEADER.pack(tag, len(payload)) + payload


def json_frame(obj: dict[str, Any]) -> bytes:
    """Encode a JSON object as a frame (NaN and infinity allowed)."""
    return frame(JSON, json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def array_frame(array: np.ndarray) -> bytes:
    """Encode an array as an ``.npy`` frame."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return frame(ARRAY, buf.getvalue())


def decode_array(payload: bytes, *, float64_only: bool = True) -> np.ndarray:
    """Parse an ``.npy`` payload without pickle and check its dtype and size."""
    try:
        array = np.lib.format.read_array(io.BytesIO(payload), allow_pickle=False)
    except Exception as exc:  # any parse failure is the sender's fault
        raise ProtocolError(f"malformed array frame: {type(exc).__name__}") from None
    if not isinstance(array, np.ndarray) or type(array) is not np.ndarray:
        raise ProtocolError("array frame did not decode to a plain array")
    if array.dtype.hasobject:
        raise ProtocolError("array frame has an object dtype")
    if float64_only and array.dtype != np.float64:
        raise ProtocolError(f"array frame has dtype {array.dtype}, expected float64")
    if array.ndim > MAX_ARRAY_NDIM or array.size > MAX_ARRAY_ELEMENTS:
        raise ProtocolError(f"array frame too large: shape {array.shape}")
    return array


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
    ) -> None:
        self._buf = bytearray()
        self._max_frame = max_frame
        self._max_json = max_json
        self._float64_only = float64_only

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> Iterator[tuple[bytes, Any]]:
        """Add bytes; yield every complete frame they finish."""
        self._buf += data
        while len(self._buf) >= _HEADER.size:
            tag, length = _HEADER.unpack_from(self._buf)
            if tag not in (JSON, ARRAY):
                raise ProtocolError(f"unknown frame tag {tag!r}")
            limit = self._max_json if tag == JSON else self._max_frame
            if length > limit:
                raise ProtocolError(f"frame of {length} bytes exceeds the limit of {limit}")
            end = _HEADER.size + length
            if len(self._buf) < end:
                return
            payload = bytes(self._buf[_HEADER.size : end])
            del self._buf[:end]
            if tag == JSON:
                yield tag, _decode_json(payload)
            else:
                yield tag, decode_array(payload, float64_only=self._float64_only)


def _decode_json(payload: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("malformed JSON frame") from None
    if not isinstance(obj, dict):
        raise ProtocolError("JSON frame is not an object")
    return obj


def read_frames(stream: BinaryIO, **limits: Any) -> Iterator[tuple[bytes, Any]]:
    """Yield frames from a blocking binary stream until end of file."""
    decoder = FrameDecoder(**limits)
    while chunk := stream.read(65536):
        yield from decoder.feed(chunk)
    if decoder.pending:
        raise ProtocolError("stream ended in the middle of a frame")
