"""Fixtures for the sandbox tests: they need Linux and pyseccomp, and root or unprivileged
user namespaces, and run here.

As root the sandbox runs in its ``root`` mode; as any other user in its ``userns`` mode
(tests/sandbox/test_unprivileged.py runs the red-team suite that way as a service user).
Each runner here gets its own block of uids (UID_BASE + 64 k), distinct between
pytest processes too, so that the per-uid checks (leftover processes) see only it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from grader.grading.runner import RunLimits, SubprocessRunner


def _userns_works() -> bool:
    """Whether this (unprivileged) user may make the namespaces the sandbox's ``userns`` mode needs."""
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    try:
        probe = subprocess.run([unshare, "-U", "-r", "-m", "-p", "-n", "--fork", "true"], capture_output=True)
    except OSError:
        return False
    return probe.returncode == 0


#: "root" or "userns": the sandbox mode these tests run in (who runs them decides).
SANDBOX_MODE = "root" if sys.platform == "linux" and os.geteuid() == 0 else "userns"
SANDBOX_OK = (
    sys.platform == "linux"
    and bool(importlib.util.find_spec("pyseccomp"))
    and (SANDBOX_MODE == "root" or _userns_works())
)
#: Tests that look at the runs' uids from outside (in the userns mode those are the service's).
root_mode_only = pytest.mark.skipif(
    SANDBOX_MODE != "root", reason="looks at the runs' host uids, which only the root mode gives them"
)
#: Where the sandbox tests must run, not skip: CI on Linux (or when asked to).
SANDBOX_REQUIRED = os.environ.get("LOSSGRADER_REDTEAM_REQUIRED") == "1" or (
    bool(os.environ.get("CI")) and sys.platform == "linux"
)
requires_sandbox = pytest.mark.skipif(
    not SANDBOX_OK, reason="the sandbox needs Linux, pyseccomp, and root or unprivileged user namespaces"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SANDBOX_REQUIRED and not SANDBOX_OK:
        raise pytest.UsageError(
            "the sandbox tests must run here (CI), but Linux, pyseccomp, or root/user namespaces are missing"
        )


_UID_BLOCKS = 4096
_uid_lock: list[int] = []  # the lock file of this session's uids, held until the process ends


def _claim_uid_base() -> int:
    """The first of 512 uids no other pytest process on this host is using.

    A block per process, held by a flock (a pid modulo the block count alone could
    collide with a concurrent session, whose runners' processes the per-uid checks
    would then see); the lock goes away with the process, however it ends.
    """
    import fcntl

    directory = "/run/lossgrader-test-uids" if os.access("/run", os.W_OK) else "/tmp/lossgrader-test-uids"
    os.makedirs(directory, mode=0o700, exist_ok=True)
    for step in range(_UID_BLOCKS):
        block = (os.getpid() + step) % _UID_BLOCKS
        fd = os.open(os.path.join(directory, f"{block}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _uid_lock.append(fd)
        return 100_000 + block * 512
    raise RuntimeError(f"every block of test uids in {directory} is taken")


#: This test session's uids: UID_BASE .. UID_BASE + 511, in blocks of 64 per runner.
UID_BASE = _claim_uid_base() if SANDBOX_OK else 100_000

LIMITS = RunLimits(wall_seconds=10, cpu_seconds=5, memory_mib=256, output_bytes=4000)


def portable_or_sandbox(kind: str, uid_offset: int) -> Iterator:
    """A ``portable`` SubprocessRunner, or a one-slot ``sandbox`` runner on ``UID_BASE + uid_offset`` (a block
    no other suite uses) where it runs, as it must in CI; elsewhere the test asking for it is skipped."""
    if kind == "portable":
        yield SubprocessRunner()
        return
    if not SANDBOX_OK and not SANDBOX_REQUIRED:
        pytest.skip("the sandbox needs Linux, root and pyseccomp")
    from grader.sandbox import SandboxRunner

    with SandboxRunner(slots=1, uid_base=UID_BASE + uid_offset) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def runner() -> Iterator:
    """A shared runner with the friendly audit hook, three slots."""
    from grader.sandbox import SandboxRunner

    with SandboxRunner(slots=3, uid_base=UID_BASE) as shared:
        yield shared


@pytest.fixture(scope="module")
def bare_runner() -> Iterator:
    """A runner without the audit hook: code meets the real walls directly."""
    from grader.sandbox import SandboxRunner

    with SandboxRunner(slots=2, uid_base=UID_BASE + 64, audit_hook=False) as bare:
        yield bare
