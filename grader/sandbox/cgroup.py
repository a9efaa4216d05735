"""Per-run cgroup v2 caps, where the service has a delegated cgroup (systemd ``Delegate=yes``).

Layout, under the service's delegated folder ``D`` (its own cgroup when it starts)::

    D/             controllers enabled for its children: memory, pids, cpu
    D/service/     the service's own processes (a cgroup with controllers for its
                   children may hold none itself)
    D/sandbox/     LOSSGRADER_SANDBOX_CGROUP: one folder per runner, ``runner-<pid>-<n>``,
                   and in each one per run, ``run-<uid>`` (made by the fork server)

:func:`delegate` sets that up once, in ``lossgrader serve`` or ``worker`` before they
fork; :func:`runner_cgroup` gives each runner its folder. Without a delegated cgroup,
or with any step refused, runs are capped by rlimits alone (as they always are too),
and :func:`why_unavailable` says why.
"""

from __future__ import annotations

import contextlib
import itertools
import os

#: Names the folder under which runners make theirs; set by :func:`delegate` or by the operator.
ENV = "LOSSGRADER_SANDBOX_CGROUP"
#: What each run gets: its memory and process caps, and an equal share of CPU time.
CONTROLLERS = ("memory", "pids", "cpu")
#: Every run's cpu.weight (100 is the kernel's default: runs share CPU time equally).
CPU_WEIGHT = 100
_counter = itertools.count()


def _mount_point() -> str | None:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup``, or ``unified`` below it on hybrid hosts)."""
    try:
        with open("/proc/self/mountinfo") as mounts:
            for line in mounts:
                before, _, after = line.partition(" - ")
                if after.split()[:1] == ["cgroup2"]:
                    return before.split()[4]
    except OSError:
        pass
    return None


def own_cgroup() -> str | None:
    """This process's cgroup v2 folder, or None."""
    root = _mount_point()
    try:
        with open("/proc/self/cgroup") as lines:
            for line in lines:
                if line.startswith("0::"):
                    path = line[3:].strip()
                    return os.path.normpath(root + path) if root else None
    except OSError:
        pass
    return None


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _enable(folder: str) -> list[str]:
    """Enable for ``folder``'s children the wanted controllers it has; returns those now enabled."""
    available = _read(os.path.join(folder, "cgroup.controllers")).split()
    wanted = [c for c in CONTROLLERS if c in available]
    if wanted:
        _write(os.path.join(folder, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted))
    return [name.lstrip("+") for name in _read(os.path.join(folder, "cgroup.subtree_control")).split()]


def why_unavailable(folder: str | None) -> str | None:
    """Why runs cannot get cgroups under ``folder`` (memory and pids caps), or None if they can."""
    if not folder:
        return f"no delegated cgroup v2 ({ENV} unset, and the service's own cgroup is not delegated)"
    try:
        enabled = _read(os.path.join(folder, "cgroup.subtree_control")).split()
    except OSError as exc:
        return f"{folder}: {exc.strerror or exc}"
    missing = [c for c in ("memory", "pids") if c not in enabled]
    if missing:
        return f"{folder} does not enable {', '.join(missing)} for its children"
    if not os.access(folder, os.W_OK):
        return f"{folder} is not writable by this user"
    return None


def delegate() -> str | None:
    """Set up the layout above in this process's own cgroup, if it is delegated to us; returns
    the sandbox folder (also put in :data:`ENV` for the processes forked later) or None.

    Call once, early, before forking: every process of the cgroup is moved to ``service``.
    """
    if os.environ.get(ENV):
        return os.environ[ENV]
    own = own_cgroup()
    # Delegated means handed to this (unprivileged) user: systemd chowns the unit's cgroup to
    # User= with Delegate=yes. Never root's, never the hierarchy's root: the processes in it
    # are moved.
    if not own or own == _mount_point() or os.geteuid() == 0:
        return None
    try:
        if os.stat(own).st_uid != os.geteuid() or not os.access(os.path.join(own, "cgroup.subtree_control"), os.W_OK):
            return None
    except OSError:
        return None
    try:
        service = os.path.join(own, "service")
        os.makedirs(service, exist_ok=True)
        for pid in _read(os.path.join(own, "cgroup.procs")).split():
            with contextlib.suppress(ProcessLookupError):
                _write(os.path.join(service, "cgroup.procs"), pid)
        if not {"memory", "pids"} <= set(_enable(own)):
            return None
        sandbox = os.path.join(own, "sandbox")
        os.makedirs(sandbox, exist_ok=True)
        _enable(sandbox)
    except OSError:
        return None
    os.environ[ENV] = sandbox
    return sandbox


def runner_cgroup() -> str | None:
    """A fresh folder for one runner's runs under :data:`ENV`, with the controllers enabled; None
    (rlimits only) when there is no usable delegated cgroup."""
    base = os.environ.get(ENV)
    if why_unavailable(base) is not None:
        return None
    assert base is not None
    folder = os.path.join(base, f"runner-{os.getpid()}-{next(_counter)}")
    try:
        os.mkdir(folder)
        if not {"memory", "pids"} <= set(_enable(folder)):
            os.rmdir(folder)
            return None
    except OSError:
        with contextlib.suppress(OSError):
            os.rmdir(folder)
        return None
    return folder


def remove_runner_cgroup(folder: str) -> None:
    """Remove a runner's folder and its (by now empty) run folders; best effort."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.is_dir(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.rmdir(entry.path)
        os.rmdir(folder)
