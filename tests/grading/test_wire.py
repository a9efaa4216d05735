"""The frame format: round trips, and nothing but ProtocolError for bad bytes."""

from __future__ import annotations

import contextlib
import io
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading import wire


def test_json_and_array_frames_round_trip() -> None:
    data = wire.json_frame({"event": "x", "n": float("nan")}) + wire.array_frame(np.arange(6.0).reshape(2, 3))
    frames = list(wire.FrameDecoder().feed(data))
    assert frames[0][0] == wire.JSON and frames[0][1]["event"] == "x"
    assert np.isnan(frames[0][1]["n"])
    assert frames[1][0] == wire.ARRAY
    np.testing.assert_array_equal(frames[1][1], np.arange(6.0).reshape(2, 3))


def test_zero_dimensional_arrays_keep_their_shape() -> None:
    ((_, value),) = wire.FrameDecoder().feed(wire.array_frame(np.array(1.5)))
    assert value.shape == () and value == 1.5


def test_frames_split_across_chunks_are_reassembled() -> None:
    data = wire.json_frame({"event": "a"}) + wire.array_frame(np.ones(100))
    decoder = wire.FrameDecoder()
    got = [frame for i in range(len(data)) for frame in decoder.feed(data[i : i + 1])]
    assert [tag for tag, _ in got] == [wire.JSON, wire.ARRAY]
    assert decoder.pending == 0


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"X" + struct.pack(">I", 0), "unknown frame tag"),
        (b"J" + struct.pack(">I", wire.MAX_JSON_BYTES + 1), "exceeds the limit"),
        (b"A" + struct.pack(">I", wire.MAX_FRAME_BYTES + 1), "exceeds the limit"),
        (wire.frame(wire.JSON, b"[1, 2]"), "not an object"),
        (wire.frame(wire.JSON, b"\xff\xfe"), "malformed JSON"),
        (wire.frame(wire.ARRAY, b"not an npy file"), "malformed array"),
        (wire.array_frame(np.arange(3, dtype=np.int64)), "expected float64"),
        (wire.array_frame(np.zeros((1, 1, 1, 1, 1))), "too large"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(payload: bytes, words: str) -> None:
    with pytest.raises(wire.ProtocolError, match=words):
        list(wire.FrameDecoder().feed(payload))


def test_pickled_object_arrays_are_never_unpickled() -> None:
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(wire.ProtocolError):
        list(wire.FrameDecoder().feed(wire.frame(wire.ARRAY, buf.getvalue())))
    with pytest.raises(wire.ProtocolError):
        list(wire.FrameDecoder().feed(wire.frame(wire.ARRAY, pickle.dumps([1.0]))))


def test_stream_ending_mid_frame_is_an_error() -> None:
    data = wire.json_frame({"event": "a"})
    with pytest.raises(wire.ProtocolError, match="middle of a frame"):
        list(wire.read_frames(io.BytesIO(data[:-1])))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_nothing_but_protocol_error(data: bytes) -> None:
    decoder = wire.FrameDecoder()
    try:
        for tag, value in decoder.feed(data):
            assert tag in (wire.JSON, wire.ARRAY)
            assert isinstance(value, (dict, np.ndarray))
    except wire.ProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512), st.integers(min_value=0, max_value=40))
def test_arbitrary_bytes_after_a_valid_header_are_handled(tail: bytes, cut: int) -> None:
    header = wire.array_frame(np.ones(3))[: 5 + cut]
    with contextlib.suppress(wire.ProtocolError):
        list(wire.FrameDecoder().feed(header + tail))


@pytest.mark.parametrize("dtype", ["f8", "f4", "i8", "i4", "u1", "b1"])
def test_plain_numeric_arrays_keep_dtype_and_shape(dtype: str) -> None:
    array = (np.arange(12) % 3).astype(dtype).reshape(3, 4)
    ((_, value),) = wire.FrameDecoder(float64_only=False).feed(wire.array_frame(array))
    assert value.dtype == array.dtype and value.shape == (3, 4)
    np.testing.assert_array_equal(value, array)
    assert not value.flags.writeable  # a view of the received bytes: the grader never writes into it


def test_big_endian_and_strided_arrays_travel_as_little_endian_c_order() -> None:
    array = np.arange(6, dtype=">f8").reshape(2, 3).T
    ((_, value),) = wire.FrameDecoder().feed(wire.array_frame(array))
    assert value.dtype.str == "<f8"
    np.testing.assert_array_equal(value, array)


def _raw_array_frame(dtype: bytes, shape: tuple[int, ...], data: bytes) -> bytes:
    meta = struct.pack(f">B{len(dtype)}sB{len(shape)}Q", len(dtype), dtype, len(shape), *shape)
    return wire.frame(wire.ARRAY, meta + data)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (_raw_array_frame(b"|O", (1,), b"\0" * 8), "unsupported dtype"),
        (_raw_array_frame(b"<c16", (1,), b"\0" * 16), "unsupported dtype"),
        (_raw_array_frame(b"<f8", (2, 2), b"\0" * 24), "does not match its shape"),
        (_raw_array_frame(b"<f8", (2**62, 4), b""), "too large"),
        (_raw_array_frame(b"<f8", (3,), b"\0" * 24)[:-30], "bad header|truncated|middle"),
    ],
)
def test_array_headers_are_checked_before_the_data_is_used(payload: bytes, words: str) -> None:
    with pytest.raises(wire.ProtocolError, match=words):
        list(wire.iter_frames(payload))


def test_a_large_frame_sent_in_small_pieces_is_joined_once() -> None:
    data = wire.array_frame(np.arange(50_000.0))
    decoder = wire.FrameDecoder()
    frames, joins = [], 0
    for i in range(0, len(data), 7):
        held = len(decoder._chunks)
        frames += list(decoder.feed(data[i : i + 7]))
        joins += held >= 1 and len(decoder._chunks) <= 1  # the pieces were joined (or used up)
    assert len(frames) == 1 and decoder.pending == 0
    np.testing.assert_array_equal(frames[0][1], np.arange(50_000.0))
    assert joins <= 3  # the header, then the whole frame: not once per piece (no quadratic copying)
