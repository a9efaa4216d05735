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
