"""The code that runs *inside* the untrusted process: load the submission, call it.

It receives a request (the source, the functions to look for and the calls to make,
with their inputs but never the expected values), runs each call and streams back,
per call, a start event and then a result event with the return value converted to a
float64 array. Everything it sends is re-validated by the parent, which treats it as
hostile: this module makes honest submissions easy to grade, it does not make
dishonest ones harmless (the parent and the sandbox do).

Depends on the standard library and NumPy only, so that the sandbox's fork server can
import it without importing anything that holds secrets or expected values.

Events written (JSON frames, see :mod:`grader.grading.wire`):

- ``{"event": "loaded"}`` or ``{"event": "load_error", "error": ..., "line": n}``; after a
  forgiving load (the request's ``forgiving``), ``loaded`` lists the top-level statements
  that raised and were skipped: ``"skipped": [{"line": n, "error": ...}, ...]`` (at most
  :data:`MAX_SKIPPED`) and ``"skipped_more": k`` for any beyond those
- per call k: ``{"event": "start", "call": k}`` then ``{"event": "result", "call": k,
  "status": "ok" | "missing" | "raised" | "non_numeric", "kind": ..., "type": ...,
  "error": ..., "line": n, "mutated": [arg indices], "elapsed": seconds}``; a result
  with status ``ok`` is followed by one array frame holding the value.
- ``{"event": "done"}``

A run *in turn* (the sandbox's, see :func:`serve`) then waits for a second request and
answers it the same way, from ``loaded`` to ``done``, in the same process.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import itertools
import math
import sys
import time
import traceback
import types
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

import numpy as np

from grader.grading import wire

SUBMISSION_FILENAME = "submission.py"
_MAX_ERROR_CHARS = 500
#: Skipped statements a forgiving load reports one by one; later ones are only counted.
MAX_SKIPPED = 20
#: Characters of each skipped statement's error.
MAX_SKIPPED_ERROR_CHARS = 300


def read_request(stream: BinaryIO) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Read a whole request from ``stream``; see :func:`decode_request`."""
    return decode_request(stream.read())


def decode_request(data: bytes, calls: bytes | memoryview | None = None) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The request header (its ``calls`` filled in) and the input arrays, read-only
    views of the request: a call's ``{"array": i}`` argument is ``arrays[i]``.

    ``calls``: the calls' frames, when they arrive apart from the header (the sandbox
    maps them from a sealed, shared memory file instead of copying them).
    """
    header: dict[str, Any] | None = None
    decoded: list[dict[str, Any]] = []
    arrays: list[np.ndarray] = []
    awaiting = 0  # array frames still due for the last call
    limits = {"max_frame": 1 << 30, "max_json": 1 << 30, "float64_only": False, "max_ndim": 32}
    frames = wire.iter_frames(data, **limits)
    if calls is not None:
        frames = itertools.chain(frames, wire.iter_frames(calls, **limits))
    for tag, value in frames:
        if header is None:
            if tag != wire.JSON:
                raise wire.ProtocolError("a request starts with its header")
            header = value
        elif tag == wire.JSON and not awaiting:
            for spec in value["args"]:
                if "array" in spec:
                    spec["array"] = len(arrays) + awaiting
                    awaiting += 1
            decoded.append(value)
        elif tag == wire.ARRAY and awaiting:
            arrays.append(value)
            awaiting -= 1
        else:
            raise wire.ProtocolError("a request's frames are out of order")
    if header is None or awaiting or len(decoded) != header.get("calls"):
        raise wire.ProtocolError("incomplete request")
    header["calls"] = decoded
    return header, arrays


def encode_call(function: str, args: Sequence[Any]) -> bytes:
    """One call of a request: ``function(*args)``.

    NumPy arrays travel as array frames after the call's JSON frame; other arguments
    (nested lists, Python numbers) travel as JSON, which keeps ints and floats apart.
    The bytes depend on the inputs only, so a fixed fixture's call is encoded once.
    """
    specs: list[dict[str, Any]] = []
    frames: list[bytes] = []
    for arg in args:
        if isinstance(arg, np.ndarray):
            specs.append({"array": True})
            frames.append(wire.array_frame(arg))
        else:
            specs.append({"value": arg})
    return wire.json_frame({"function": function, "args": specs}) + b"".join(frames)


def encode_header(source: str, functions: list[str], count: int, **fields: Any) -> bytes:
    """A request's first frame: the source, the functions to look for, how many calls
    follow (and ``fields``, such as a second request's ``cpu_seconds``)."""
    return wire.json_frame({**fields, "source": source, "functions": functions, "calls": count})


def encode_request(
    source: str, functions: list[str], calls: Sequence[tuple[str, list[Any]] | bytes], **fields: Any
) -> bytes:
    """Encode a request; each call is ``(function name, args)`` or :func:`encode_call`'s bytes;
    ``fields`` go in the header (``forgiving=True``: a forgiving load)."""
    encoded = [call if isinstance(call, bytes) else encode_call(*call) for call in calls]
    return b"".join([encode_header(source, functions, len(encoded), **fields), *encoded])


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


def _describe_exception(exc: BaseException) -> tuple[str, int | None]:
    """``"TypeError: message"`` and the deepest line of the submission involved."""
    line = None
    for frame_summary in traceback.extract_tb(exc.__traceback__):
        if frame_summary.filename == SUBMISSION_FILENAME:
            line = frame_summary.lineno
    if isinstance(exc, SyntaxError) and exc.filename == SUBMISSION_FILENAME:
        line = exc.lineno
    message = str(exc)
    text = type(exc).__name__ + (f": {message}" if message else "")
    return _short(text), line


def to_plain(value: Any) -> tuple[str, str, np.ndarray | None]:
    """Convert a return value to ``(kind, type name, float64 array or None)``.

    kind is ``scalar`` (Python or NumPy number), ``array`` (ndarray, 0-d included),
    ``list`` (list or tuple), or ``non_numeric``; the array is ``None`` when the value
    is not made of real numbers.
    """
    type_name = type(value).__name__
    if isinstance(value, (bool, np.bool_)) or value is None:
        return "non_numeric", type_name, None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "scalar", type_name, np.array(float(value), dtype=np.float64)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iuf":
            return "non_numeric", f"ndarray of {value.dtype}", None
        return "array", type_name, np.array(value, dtype=np.float64, copy=True, subok=False)
    if isinstance(value, (list, tuple)):
        try:
            array = np.array(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return "non_numeric", type_name, None
        return "list", type_name, array
    return "non_numeric", type_name, None


def unchanged(before: Any, after: Any) -> bool:
    """Whether an argument is exactly as it was before the call."""
    if isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and before.shape == after.shape
            and before.dtype == after.dtype
            # The plain comparison first: equal_nan makes it some 20 times slower.
            and bool(
                np.array_equal(before, after)
                or (before.dtype.kind in "fc" and np.array_equal(before, after, equal_nan=True))
            )
        )
    return _same_plain(before, after)


def _same_plain(a: Any, b: Any) -> bool:
    if isinstance(a, list):
        return type(b) is list and len(a) == len(b) and all(map(_same_plain, a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


def _originals(specs: list[dict[str, Any]], arrays: list[np.ndarray]) -> list[Any]:
    """A call's inputs as received (read-only arrays, JSON values): never given to the
    submission, so they are what its arguments are compared with afterwards."""
    return [arrays[s["array"]] if "array" in s else s["value"] for s in specs]


def load_submission(source: str, skipped: list[tuple[int, str]] | None = None) -> types.ModuleType:
    """Execute the submission as a module named ``submission``.

    ``__name__`` is not ``"__main__"``, so a student's own test code under
    ``if __name__ == "__main__":`` does not run.

    With ``skipped`` (a list), the load is forgiving, as a notebook runs on past a
    failing cell: each top-level statement runs on its own, and one that raises is
    skipped and appended to ``skipped`` as ``(line, error)``. Otherwise the first
    exception ends the load.
    """
    module = types.ModuleType("submission")
    module.__file__ = SUBMISSION_FILENAME
    module.__dict__["__builtins__"] = builtins
    sys.modules["submission"] = module
    if skipped is None:
        code = compile(source, SUBMISSION_FILENAME, "exec", dont_inherit=True)
        exec(code, module.__dict__)
        return module
    flags = 0  # the file's __future__ imports, which apply to every later statement
    for statement in ast.parse(source, SUBMISSION_FILENAME).body:
        try:
            code = compile(ast.Module([statement], []), SUBMISSION_FILENAME, "exec", flags=flags, dont_inherit=True)
            exec(code, module.__dict__)
        except BaseException as exc:  # SystemExit included: a notebook runs on past it too
            error, _ = _describe_exception(exc)
            skipped.append((statement.lineno, error[:MAX_SKIPPED_ERROR_CHARS]))
            continue
        if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
            flags |= _future_flags(statement)
    return module


def _future_flags(statement: ast.ImportFrom) -> int:
    import __future__

    flags = 0
    for alias in statement.names:
        flags |= getattr(getattr(__future__, alias.name, None), "compiler_flag", 0)
    return flags


def serve(
    request: tuple[dict[str, Any], list[np.ndarray]],
    out: BinaryIO,
    then: Callable[[], tuple[dict[str, Any], list[np.ndarray]] | None] | None = None,
    flush: Callable[[], None] | None = None,
) -> None:
    """Run one request and write its events to ``out``.

    One write per call: a call's result goes out with the next call's start event,
    flushed before that call runs, so the grader always knows which call was running.

    ``then``: called after ``done`` (a load error ends the run instead); it returns a
    second request (None: there is none), whose calls run against the same module,
    with the CPU limit raised by its ``cpu_seconds``. ``flush`` is called just before
    the first ``done``: the output must be written by then, as the grader seals all
    that the first part wrote when it reads ``done``, and only then sends the second
    request, for which the sandbox's ``then`` waits (see :mod:`grader.sandbox.runner`).
    """
    header, arrays = request
    pending: list[bytes | memoryview] = []

    def send(*frames: bytes | memoryview) -> None:
        pending.extend(frames)
        for data in pending:
            out.write(data)
        out.flush()
        pending.clear()

    skipped: list[tuple[int, str]] | None = [] if header.get("forgiving") else None
    try:
        module = load_submission(header["source"], skipped)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included
        error, line = _describe_exception(exc)
        send(wire.json_frame({"event": "load_error", "error": error, "line": line}))
        return
    pending.append(wire.json_frame(_loaded_event(skipped or [])))
    _call_all(module, header["calls"], arrays, pending, send, flush if then is not None else None)
    if then is None:
        return
    second = then()
    if second is None:
        return
    header, arrays = second
    _extend_cpu_limit(float(header.get("cpu_seconds") or 0))
    pending.append(wire.json_frame({"event": "loaded"}))
    _call_all(module, header["calls"], arrays, pending, send)


def _loaded_event(skipped: list[tuple[int, str]]) -> dict[str, Any]:
    """The ``loaded`` event, with the statements a forgiving load skipped (if any)."""
    event: dict[str, Any] = {"event": "loaded"}
    if skipped:
        event["skipped"] = [{"line": line, "error": error} for line, error in skipped[:MAX_SKIPPED]]
    if len(skipped) > MAX_SKIPPED:
        event["skipped_more"] = len(skipped) - MAX_SKIPPED
    return event


def _extend_cpu_limit(seconds: float) -> None:
    """Give the second part of a run its own CPU time: the soft limit moves up by
    ``seconds`` from what has been used, within the hard limit the sandbox set."""
    import resource

    if seconds <= 0:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if soft == resource.RLIM_INFINITY:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    wanted = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
    ceiling = hard - 1 if hard != resource.RLIM_INFINITY else wanted
    resource.setrlimit(resource.RLIMIT_CPU, (max(soft, min(wanted, ceiling)), hard))


def _call_all(
    module: types.ModuleType,
    calls: list[dict[str, Any]],
    arrays: list[np.ndarray],
    pending: list[bytes | memoryview],
    send: Callable[..., None],
    before_done: Callable[[], None] | None = None,
) -> None:
    """Make every call of a request, reporting each; ends with ``done`` (after ``before_done()``)."""
    for index, call in enumerate(calls):
        send(wire.json_frame({"event": "start", "call": index}))
        result: dict[str, Any] = {"event": "result", "call": index}
        function = getattr(module, call["function"], None)
        if not callable(function):
            result["status"] = "missing"
            result["type"] = type(function).__name__ if function is not None else None
            pending.append(wire.json_frame(result))
            continue
        originals = _originals(call["args"], arrays)
        args = [a.copy() if isinstance(a, np.ndarray) else copy.deepcopy(a) for a in originals]
        started = time.perf_counter()
        try:
            value = function(*args)
        except BaseException as exc:
            result["elapsed"] = time.perf_counter() - started
            result["status"] = "raised"
            result["error"], result["line"] = _describe_exception(exc)
            pending.append(wire.json_frame(result))
            continue
        result["elapsed"] = time.perf_counter() - started
        result["mutated"] = [i for i, (a, b) in enumerate(zip(originals, args, strict=True)) if not unchanged(a, b)]
        try:
            kind, type_name, array = to_plain(value)
        except BaseException as exc:  # a rigged __float__ or __array__, say
            kind, type_name, array = "non_numeric", type(value).__name__, None
            result["error"], _ = _describe_exception(exc)
        result["kind"], result["type"] = kind, type_name
        if array is None:
            result["status"] = "non_numeric"
            pending.append(wire.json_frame(result))
        else:
            result["status"] = "ok"
            pending.extend([wire.json_frame(result), *wire.array_parts(array)])
    if before_done is not None:
        before_done()
    send(wire.json_frame({"event": "done"}))


def main() -> None:
    """Subprocess entry point: request on stdin, events on stdout.

    The real stdout is kept for events and descriptor 1 is pointed at stderr, so
    whatever the submission prints (from Python or C) lands in the output stream,
    not in the event stream. Works the same on Linux, macOS and Windows.
    """
    import os

    request = read_request(sys.stdin.buffer)
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process; the submission gets no access to the request
    with os.fdopen(events_fd, "wb") as out:  # buffered: serve() flushes once per call
        serve(request, out)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):  # the submission may have replaced or closed them
            stream.flush()
    # Everything is sent: end without the interpreter's teardown (~15 ms with NumPy loaded,
    # which the grader would wait for), and without running the submission's atexit
    # handlers and finalisers, which have nothing left to report.
    os._exit(0)


if __name__ == "__main__":
    main()
