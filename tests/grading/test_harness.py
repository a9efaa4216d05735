"""The in-child harness, run in this process on trusted test inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest

from grader.grading import harness, wire

SOURCE = """
import numpy as np

def add(a, b):
    return a + b

def boom(a):
    raise ValueError("no " + str(a))

def nothing(a):
    pass

def scale_in_place(a):
    a *= 2
    return float(a.sum())

not_a_function = 3
"""


def _events(source: str, calls: list[tuple[str, list]]) -> list:
    request = harness.read_request(io.BytesIO(harness.encode_request(source, ["add"], calls)))
    out = io.BytesIO()
    harness.serve(request, out)
    return list(wire.FrameDecoder().feed(out.getvalue()))


@pytest.mark.parametrize(
    ("value", "kind", "shape"),
    [
        (1.5, "scalar", ()),
        (3, "scalar", ()),
        (np.float32(2.0), "scalar", ()),
        (np.array(4.0), "array", ()),
        (np.arange(3), "array", (3,)),
        ([[1, 2], [3, 4]], "list", (2, 2)),
        ((1.0, 2.0), "list", (2,)),
    ],
)
def test_numbers_become_float64_arrays(value, kind: str, shape: tuple) -> None:
    got_kind, _, array = harness.to_plain(value)
    assert got_kind == kind
    assert array.dtype == np.float64 and array.shape == shape


@pytest.mark.parametrize(
    "value", [None, True, np.bool_(False), "0.5", 1 + 2j, {"a": 1}, [[1], [2, 3]], np.array(["x"])]
)
def test_non_numbers_are_refused(value) -> None:
    kind, _, array = harness.to_plain(value)
    assert kind == "non_numeric" and array is None


def test_serve_reports_every_outcome_in_order() -> None:
    calls = [
        ("add", [np.array([1.0, 2.0]), np.array([3.0, 4.0])]),
        ("boom", [7]),
        ("nothing", [1]),
        ("missing", [1]),
        ("not_a_function", [1]),
        ("scale_in_place", [np.array([1.0, 2.0])]),
    ]
    frames = _events(SOURCE, calls)
    events = [v for tag, v in frames if tag == wire.JSON]
    assert events[0] == {"event": "loaded"}
    results = [e for e in events if e["event"] == "result"]
    assert [r["status"] for r in results] == [
        "ok",
        "raised",
        "non_numeric",
        "missing",
        "missing",
        "ok",
    ]
    assert results[1]["error"] == "ValueError: no 7" and results[1]["line"] == 8
    assert results[2]["type"] == "NoneType"
    assert results[4]["type"] == "int"
    assert results[5]["mutated"] == [0]
    assert events[-1] == {"event": "done"}
    arrays = [v for tag, v in frames if tag == wire.ARRAY]
    np.testing.assert_array_equal(arrays[0], [4.0, 6.0])
    assert arrays[1] == 6.0


def test_load_errors_name_the_line() -> None:
    frames = _events("x = 1\ny = undefined_name\n", [("add", [1, 2])])
    assert frames == [
        (
            wire.JSON,
            {
                "event": "load_error",
                "error": "NameError: name 'undefined_name' is not defined",
                "line": 2,
            },
        )
    ]


def test_sys_exit_at_import_is_a_load_error() -> None:
    frames = _events("import sys\nsys.exit(0)\n", [])
    assert frames[0][1]["event"] == "load_error" and "SystemExit" in frames[0][1]["error"]


def test_main_block_of_the_submission_does_not_run() -> None:
    frames = _events(
        "def add(a, b):\n    return a + b\nif __name__ == '__main__':\n    raise SystemExit(3)\n",
        [("add", [1, 2])],
    )
    assert [v["event"] for t, v in frames if t == wire.JSON] == [
        "loaded",
        "start",
        "result",
        "done",
    ]


def test_lists_passed_in_keep_ints_and_mutation_of_lists_is_seen() -> None:
    source = "def f(a):\n    a.append(1)\n    return float(len(a))\n"
    frames = _events(source, [("f", [[1, 2]])])
    result = next(v for t, v in frames if t == wire.JSON and v.get("event") == "result")
    assert result["mutated"] == [0]


def test_unchanged_compares_exactly() -> None:
    assert harness.unchanged(np.array([1.0, np.nan]), np.array([1.0, np.nan]))
    assert not harness.unchanged(np.array([1.0, np.nan]), np.array([np.nan, 1.0]))
    assert not harness.unchanged(np.array([1.0, np.nan]), np.array([1.5, np.nan]))
    assert not harness.unchanged(np.ones((2, 3)), np.ones((3, 2)))
    assert harness.unchanged(np.arange(6), np.arange(6))
    assert not harness.unchanged(np.array([1.0]), np.array([1.0], dtype=np.float32))
    assert not harness.unchanged([1, 2], [1.0, 2.0])
    assert harness.unchanged([[1, 2]], [[1, 2]])
