"""Property tests of the parent's decoding of a child's result stream.

``tests/grading/test_wire.py`` feeds random bytes to the frame decoder alone. Here the
whole parent side (:class:`OutcomeCollector`: frames *and* the event protocol, then
``finish``) gets streams a hostile child could write: honest harness streams, mutated
(frames dropped, duplicated, swapped, inserted, bytes flipped, cut), split into random
chunks. Whatever comes in, only :class:`wire.ProtocolError` may come out, ``finish``
always gives one outcome per call, and no outcome is ``ok`` without a plain float64
array within the limits. The last test also drives the real sandbox.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from grader.grading import wire
from grader.grading.runner import Call, CallOutcome, OutcomeCollector
from tests.redteam.hostile import LIMITS

STATUSES = ("ok", "missing", "raised", "non_numeric")
KINDS = ("scalar", "array", "list", "non_numeric")
FINAL = {*STATUSES, "not_run"}

Frame = tuple[str, Any]  # ("J", dict) | ("A", ndarray) | ("raw", bytes)


def encode(frame: Frame) -> bytes:
    kind, value = frame
    if kind == "J":
        return wire.frame(wire.JSON, json.dumps(value).encode())
    if kind == "A":
        return wire.array_frame(value)
    return value


arrays = st.one_of(
    st.builds(
        lambda shape, fill: np.full(shape, fill, dtype=np.float64),
        st.lists(st.integers(0, 3), max_size=5).map(tuple),
        st.floats(allow_nan=True, allow_infinity=True),
    ),
    st.builds(
        lambda dtype, n: np.zeros(n, dtype=dtype),
        st.sampled_from(["int64", "float32", "complex128", "bool", "<U2", "V4"]),
        st.integers(0, 3),
    ),
)


def well_typed_event(calls: int) -> st.SearchStrategy[dict[str, Any]]:
    """Events whose fields have the types the harness uses (any values)."""
    return st.fixed_dictionaries(
        {"event": st.sampled_from(["loaded", "load_error", "start", "result", "done", "bogus"])},
        optional={
            "call": st.integers(-1, calls - 1),
            "status": st.sampled_from([*STATUSES, "bogus"]),
            "kind": st.sampled_from([*KINDS, None, "bogus"]),
            "type": st.none() | st.text(max_size=100),
            "error": st.none() | st.text(max_size=700),
            "line": st.none() | st.integers(-5, 10**6) | st.booleans(),
            "mutated": st.lists(st.integers(0, 20), max_size=20),
            "elapsed": st.none() | st.floats() | st.integers(-(10**6), 10**6),
        },
    )


@st.composite
def honest_stream(draw: Any, max_calls: int = 4) -> tuple[int, list[Frame]]:
    """What the harness writes for ``calls`` calls."""
    calls = draw(st.integers(1, max_calls))
    if draw(st.integers(0, 9)) == 0:
        error = {"event": "load_error", "error": draw(st.text(max_size=50)), "line": draw(st.integers(1, 99))}
        return calls, [("J", error)]
    frames: list[Frame] = [("J", {"event": "loaded"})]
    for k in range(calls):
        frames.append(("J", {"event": "start", "call": k}))
        status = draw(st.sampled_from(STATUSES))
        result = {"event": "result", "call": k, "status": status, "elapsed": draw(st.floats(0, 10))}
        if status == "ok":
            result.update(kind=draw(st.sampled_from(KINDS[:3])), type="float", mutated=[])
            frames.append(("J", result))
            frames.append(("A", draw(arrays)))
        else:
            frames.append(("J", result))
    frames.append(("J", {"event": "done"}))
    return calls, frames


@st.composite
def hostile_stream(draw: Any, max_calls: int = 4) -> tuple[int, list[Frame], bytes]:
    """An honest stream, mutated (call numbers stay below ``max_calls``); and its bytes."""
    calls, frames = draw(honest_stream(max_calls))
    extra = st.one_of(
        st.tuples(st.just("J"), well_typed_event(calls)),
        st.tuples(st.just("A"), arrays),
        st.tuples(st.just("raw"), st.binary(max_size=40)),
    )
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["drop", "dup", "swap", "insert"]))
        i = draw(st.integers(0, max(0, len(frames) - 1)))
        if op == "drop" and frames:
            del frames[i]
        elif op == "dup" and frames:
            frames.insert(i, frames[i])
        elif op == "swap" and len(frames) > 1:
            j = draw(st.integers(0, len(frames) - 1))
            frames[i], frames[j] = frames[j], frames[i]
        else:
            frames.insert(i, draw(extra))
    data = bytearray(b"".join(encode(f) for f in frames))
    if data and draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return calls, frames, bytes(data)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def collect(calls: int, chunks: list[bytes], termination: str | None) -> tuple[list[CallOutcome], str | None]:
    collector = OutcomeCollector([Call(f"fixture-{k}", "f", ()) for k in range(calls)])
    corrupt = None
    for chunk in chunks:
        try:
            collector.feed(chunk)
        except wire.ProtocolError as exc:
            corrupt = f"corrupted ({exc})"
            break
    return collector.finish(termination, corrupt), corrupt


def check_outcomes(outcomes: list[CallOutcome], calls: int) -> None:
    assert len(outcomes) == calls
    for outcome in outcomes:
        assert outcome.status in FINAL
        if outcome.status == "ok":
            value = outcome.value
            assert type(value) is np.ndarray and value.dtype == np.float64
            assert value.ndim <= wire.MAX_ARRAY_NDIM and value.size <= wire.MAX_ARRAY_ELEMENTS
        if outcome.status == "not_run":
            assert isinstance(outcome.error, str) and outcome.error
        assert outcome.error is None or (isinstance(outcome.error, str) and len(outcome.error) <= 600)
        assert outcome.type_name is None or (isinstance(outcome.type_name, str) and len(outcome.type_name) <= 80)
        assert all(type(i) is int for i in outcome.mutated) and len(outcome.mutated) <= 16
        assert outcome.elapsed is None or isinstance(outcome.elapsed, float)
        assert outcome.line is None or type(outcome.line) is int


#: No example database: this suite writes nothing outside tests/redteam.
SETTINGS = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(hostile_stream(), st.lists(st.integers(0, 10**6), max_size=6), st.sampled_from([None, "time limit"]))
def test_mutated_streams_raise_only_protocol_errors_and_never_fake_an_ok(
    stream: tuple[int, list[Frame], bytes], cuts: list[int], termination: str | None
) -> None:
    calls, _, data = stream
    outcomes, _ = collect(calls, chunked(data, cuts), termination)
    check_outcomes(outcomes, calls)


@SETTINGS
@given(hostile_stream(), st.lists(st.integers(0, 10**6), max_size=6))
def test_how_the_stream_is_chunked_never_changes_the_outcomes(
    stream: tuple[int, list[Frame], bytes], cuts: list[int]
) -> None:
    calls, _, data = stream
    whole, whole_corrupt = collect(calls, [data], None)
    pieces, pieces_corrupt = collect(calls, chunked(data, cuts), None)
    assert whole_corrupt == pieces_corrupt
    for a, b in zip(whole, pieces, strict=True):
        assert (a.status, a.error, a.kind, a.type_name, a.line, a.mutated) == (
            b.status,
            b.error,
            b.kind,
            b.type_name,
            b.line,
            b.mutated,
        )
        assert (a.value is None) == (b.value is None)
        if a.value is not None:
            np.testing.assert_array_equal(a.value, b.value)


@settings(SETTINGS, max_examples=100)
@given(honest_stream())
def test_honest_streams_decode_exactly(stream: tuple[int, list[Frame]]) -> None:
    calls, frames = stream
    outcomes, corrupt = collect(calls, [b"".join(encode(f) for f in frames)], None)
    results = [v for kind, v in frames if kind == "J" and v.get("event") == "result"]
    values = [v for kind, v in frames if kind == "A"]
    if frames[0][1]["event"] == "load_error":
        assert all(o.error == "the file could not be loaded" for o in outcomes)
        return
    ok_values = iter(values)
    refused = False
    for outcome, result in zip(outcomes, results, strict=True):
        value = next(ok_values) if result["status"] == "ok" else None
        if refused:  # everything after a refused value is not run
            assert outcome.status == "not_run"
        elif value is not None and (value.dtype != np.float64 or value.ndim > wire.MAX_ARRAY_NDIM):
            assert outcome.status == "not_run"  # refused: only plain float64 arrays count
            refused = True
        else:
            assert outcome.status == result["status"]
            if value is not None:
                np.testing.assert_array_equal(outcome.value, value)
    assert bool(corrupt) == refused
    check_outcomes(outcomes, calls)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
any_event = st.fixed_dictionaries(
    {"event": st.sampled_from(["loaded", "load_error", "start", "result", "done"]) | json_values},
    optional={k: json_values for k in ("call", "status", "kind", "type", "error", "line", "mutated", "elapsed")},
)
_START = [("J", {"event": "loaded"}), ("J", {"event": "start", "call": 0})]


@settings(SETTINGS, report_multiple_bugs=False)
@example(stream=(1, [*_START, ("J", {"event": "result", "call": 0, "status": "raised", "elapsed": 10**400})]))
@example(stream=(1, [*_START, ("J", {"event": "result", "call": 0, "status": []})]))
@example(stream=(1, [*_START, ("J", {"event": "result", "call": 0, "status": "ok", "kind": {}})]))
@example(
    stream=(
        1,
        [
            *_START,
            ("J", {"event": "result", "call": 0, "status": "raised"}),
            ("J", {"event": "start", "call": 1}),
            ("J", {"event": "result", "call": 1, "status": "raised"}),
        ],
    )
)
@given(st.integers(1, 3).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.just("J"), any_event)))))
def test_any_json_in_any_field_is_at_worst_a_protocol_error(stream: tuple[int, list[Frame]]) -> None:
    calls, frames = stream
    outcomes, _ = collect(calls, [b"".join(encode(f) for f in frames)], None)
    check_outcomes(outcomes, calls)


# ---------------------------------------------------------------------------------
# The same, end to end: the bytes come from a real child in the sandbox.
# ---------------------------------------------------------------------------------

WRITER = """
import os
PAYLOAD = bytes.fromhex({payload!r})
def f(k):
    if k == 0:
        for fd in range(3, 64):
            try:
                os.write(fd, PAYLOAD)
            except OSError:
                pass
        if {exit_now}:
            os._exit(0)
    return float(k)
"""


@settings(SETTINGS, max_examples=25)
@given(hostile_stream(max_calls=3), st.booleans())
def test_whatever_a_child_writes_ends_as_a_report(pool, stream: tuple[int, list[Frame], bytes], exit_now: bool) -> None:
    _, _, data = stream
    source = WRITER.format(payload=data.hex(), exit_now=exit_now)
    calls = [Call(f"fixture-{k}", "f", (k,)) for k in range(3)]
    fds = set(os.listdir("/proc/self/fd"))
    report = pool.run(source, ["f"], calls, LIMITS)  # never raises for what a child does
    check_outcomes(report.outcomes, 3)  # a forged result for the running call may stand: it is judged by value
    pool.settle()
    assert set(os.listdir("/proc/self/fd")) <= fds
