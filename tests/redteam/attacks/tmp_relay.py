"""Cross-run relay through /tmp: leave a file for the next submission, then look for one.

Every run writes ``/tmp/<marker>`` (its private ``/tmp`` allows it) and returns how many
entries it found in ``/tmp`` before writing: a file left by an earlier run (this
attack's, graded before, or any other) would show up as a non-zero count.
"""

import os

PARAMS: dict = {}  # filled in by the test

_SEEN = []


def _relay():
    if not _SEEN:
        _SEEN.append(sorted(os.listdir("/tmp")))
        with open(f"/tmp/{PARAMS['marker']}", "w") as f:
            f.write("relay " * 1000)
    return _SEEN[0]


def softmax(a):
    return [float(len(_relay()))]


def softmax_cross_entropy(a, t):
    return float(len(_relay()))
