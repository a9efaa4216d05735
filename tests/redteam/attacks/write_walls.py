"""Persistence with the audit hook gone: the read-only jail and the uid must refuse.

Disables the audit hook (see the prelude), then writes to ``numpy/__init__.py``,
creates files next to numpy and at the jail's root, ``chmod``s numpy's files, makes a
set-uid copy of a library in ``/tmp``, and writes a marker file in ``/tmp`` (its own,
private ``/tmp``: allowed, and gone with the run). Returns the errno of each attempt;
finally opens numpy's ``__init__.py`` for appending without catching the error.
"""

# ruff: noqa: SIM115 - handles are opened to be refused, not to be kept

import os

import numpy
from _prelude import raw, unhook  # inlined by the test

PARAMS: dict = {}  # filled in by the test


def _errno(action):
    try:
        action()
        return 0
    except OSError as exc:
        return exc.errno


def _attempts():
    marker = PARAMS["marker"]
    site = os.path.dirname(numpy.__file__)
    results = [
        float(unhook()),
        _errno(lambda: open(numpy.__file__, "a")),
        _errno(lambda: open(f"{site}/{marker}.py", "w")),
        _errno(lambda: open(f"/{marker}", "w")),
        _errno(lambda: open(f"/sandbox/site/{marker}.pth", "w")),
        _errno(lambda: os.chmod(numpy.__file__, 0o777)),
        _errno(lambda: os.utime(numpy.__file__)),
        _errno(lambda: os.mkdir(f"/usr/{marker}")),
        _errno(lambda: open(f"/tmp/{marker}", "w").write("left behind")),
        _errno(lambda: os.chmod(f"/tmp/{marker}", 0o4755)),
    ]
    return [float(r) for r in results]


def softmax(a):
    print(_attempts())
    with open(numpy.__file__, "a") as f:
        f.write(PARAMS["marker"])
    return [1.0]


def softmax_cross_entropy(a, t):
    return _attempts()


assert raw
