"""Hide hostile statements behind the forgiving load: each one does something forbidden
and then raises, so that the load skips it and grades the honest functions below.

What a skipped statement can do is what any statement can (the walls still hold); what
it can say reaches the student only as a warning of the load of the shown fixtures, cut
short and stripped of control characters. ``PARAMS["exit"]``: the functions exit, so
that the shown part of a run in turn does not end cleanly and the hidden fixtures run
apart, in a child that loads the file with the hidden inputs already in its memory.
"""

import os
import socket
import sys
from pathlib import Path

import numpy as np

PARAMS: dict = {}  # filled in by the test


def _attempt(action):
    try:
        return repr(action())[:80]
    except BaseException as exc:
        return f"{type(exc).__name__}: {exc}"[:120]


def _connect():
    with socket.create_connection(("127.0.0.1", 5432), timeout=1) as sock:
        return sock.recv(100)


# Forbidden, then raise: the loot (refusals) goes out as the error of a skipped statement.
raise RuntimeError(
    "LOOT "
    + " | ".join(
        _attempt(action)
        for action in (
            lambda: Path(PARAMS["sqlite_path"]).read_bytes(),
            lambda: os.environ["LOSSGRADER_SECRET_KEY"],
            lambda: os.kill(PARAMS["grader_pid"], 0),  # a probe: signal 0 delivers nothing
            _connect,
            lambda: Path("/proc/1/environ").read_bytes(),
        )
    )
)

# Forged warning text: line breaks, terminal escapes, markup, bidi overrides, backticks.
raise ValueError(
    "\n\x1b[2J\x1b[31m<script>alert(1)</script> `code` [x](javascript:alert(1))\u202egnp.\r\ncell 1, line 1"
)


def _inputs():
    frame = sys._getframe()
    while frame is not None:
        if "arrays" in frame.f_locals and "header" in frame.f_locals:
            return [repr(np.asarray(a).ravel()[:4].tolist()) for a in frame.f_locals["arrays"]]
        frame = frame.f_back
    return []


# The request being served, at load: only a run of the shown fixtures loads before the
# hidden inputs exist; a run of the hidden ones alone has them in memory already.
raise RuntimeError("LEAK " + " ".join(_inputs()))


def _logsumexp(a):
    m = np.max(a, axis=-1, keepdims=True)
    return m + np.log(np.sum(np.exp(a - m), axis=-1, keepdims=True))


def softmax(a):
    if PARAMS.get("exit"):
        os._exit(0)
    a = np.asarray(a, dtype=np.float64)
    return np.exp(a - _logsumexp(a))


def softmax_cross_entropy(a, t):
    if PARAMS.get("exit"):
        os._exit(0)
    a = np.asarray(a, dtype=np.float64)
    t = np.asarray(t)
    is_one_hot = t.shape == a.shape
    a = a.reshape(-1, a.shape[-1])
    n = a.shape[0]
    lse = _logsumexp(a)[:, 0]
    if is_one_hot:
        t = t.reshape(a.shape).astype(np.float64)
        per_sample = lse * t.sum(axis=1) - np.sum(t * a, axis=1)
    else:
        labels = t.reshape(-1).astype(np.intp)
        per_sample = lse - a[np.arange(n), labels]
    return float(np.mean(per_sample))
