"""Persistence: write into site-packages (numpy/__init__.py), the repo, /tmp and /dev/shm.

Appends an implant to ``numpy/__init__.py`` (so every later submission would import
it), drops a ``.pth`` file and a module into site-packages, appends to the project's
``reference/losses.py`` and creates a file in the project, in ``/tmp``, ``/var/tmp`` and
``/dev/shm``, each named after the test's marker; also ``os.rename``, ``os.symlink`` and
``shutil.copy`` into those places. Finally appends to numpy's ``__init__.py`` without
catching the error.
"""

# ruff: noqa: SIM115 - handles are opened to be refused, not to be kept

import os
import shutil

import numpy

PARAMS: dict = {}  # filled in by the test


def _try(what, action):
    try:
        return f"{what}: {action()!r}"
    except Exception as exc:
        return f"{what}: {type(exc).__name__}: {exc}"


def _targets():
    marker, repo, site = PARAMS["marker"], PARAMS["repo"], os.path.dirname(os.path.dirname(numpy.__file__))
    return [
        numpy.__file__,
        f"{site}/{marker}.pth",
        f"{site}/{marker}.py",
        f"{PARAMS['site_packages']}/{marker}.pth",
        f"{repo}/reference/losses.py",
        f"{repo}/{marker}.txt",
        f"/tmp/{marker}",
        f"/var/tmp/{marker}",
        f"/dev/shm/{marker}",
        f"/{marker}",
    ]


def _attempts():
    marker = PARAMS["marker"]
    implant = f"\nimport os  # {marker}\n"
    found = []
    for path in _targets():
        found.append(_try("append " + path, lambda p=path: open(p, "a").write(implant)))
        found.append(_try("os.open " + path, lambda p=path: os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND)))
        found.append(_try("symlink " + path, lambda p=path: os.symlink("/tmp", p)))
        found.append(_try("copy " + path, lambda p=path: shutil.copy(numpy.__file__, p)))
        found.append(_try("rename " + path, lambda p=path: os.rename(f"/tmp/{marker}", p)))
    return found


def softmax(a):
    print("\n".join(_attempts()))
    with open(numpy.__file__, "a") as f:
        f.write(f"\nimport os  # {PARAMS['marker']}\n")
    return [1.0]


def softmax_cross_entropy(a, t):
    return softmax(a)
