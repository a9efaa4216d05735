"""Fixture theft: read hidden.toml, the reference code and the grades database.

Tries the host paths of ``labs/*/fixtures/hidden.toml``, ``reference/losses.py``,
``reference/mistakes.py``, the grader's ``engine.py`` and a SQLite database in the
test's temporary folder, with ``open``, ``os.open``, ``io.open_code``, ``linecache``
and ``np.fromfile``; lists the project and the database folder with ``os.listdir`` and
``os.scandir`` (which the audit hook lets through) and globs the jail for ``*.toml``.
Returns what it read as byte values; finally opens hidden.toml without catching.
"""

# ruff: noqa: SIM115 - handles are opened to be refused, not to be kept

import glob
import io
import linecache
import os

import numpy as np

PARAMS: dict = {}  # filled in by the test


def _try(what, action):
    try:
        return f"{what}: {action()!r}"[:2000]
    except Exception as exc:
        return f"{what}: {type(exc).__name__}: {exc}"[:300]


_LOOT = []


def _loot():
    if _LOOT:
        return _LOOT[0]
    root, db = PARAMS["repo"], PARAMS["sqlite_path"]
    targets = [
        f"{root}/labs/lab03-softmax-ce/fixtures/hidden.toml",
        f"{root}/labs/lab01-mse/fixtures/hidden.toml",
        f"{root}/reference/losses.py",
        f"{root}/reference/mistakes.py",
        f"{root}/grader/grading/engine.py",
        db,
    ]
    found = []
    for path in targets:
        found.append(_try(path, lambda p=path: open(p, "rb").read()))
        found.append(_try("os.open " + path, lambda p=path: os.read(os.open(p, os.O_RDONLY), 4096)))
        found.append(_try("open_code " + path, lambda p=path: io.open_code(p).read()))
        found.append(_try("linecache " + path, lambda p=path: "".join(linecache.getlines(p))))
        found.append(_try("fromfile " + path, lambda p=path: np.fromfile(p, dtype=np.uint8).tobytes()))
        found.append(_try("stat " + path, lambda p=path: os.stat(p)))
    for folder in (root, f"{root}/labs", os.path.dirname(db), "/sandbox/site/grader/grading"):
        found.append(_try("listdir " + folder, lambda f=folder: os.listdir(f)))
        found.append(_try("scandir " + folder, lambda f=folder: [e.name for e in os.scandir(f)]))
    found.append(_try("glob", lambda: glob.glob("/**/*.toml", recursive=True)[:50]))
    found.append(_try("glob db", lambda: glob.glob("/**/*.sqlite3", recursive=True)[:50]))
    _LOOT.append("\n".join(found))
    return _LOOT[0]


def softmax(a):
    loot = _loot()
    print(loot[:16000])  # all of it, however long the project's path
    with open(f"{PARAMS['repo']}/labs/lab03-softmax-ce/fixtures/hidden.toml", "rb") as f:
        return [float(b) for b in f.read()]


def softmax_cross_entropy(a, t):
    return [float(b) for b in _loot().encode()[:20000]]
