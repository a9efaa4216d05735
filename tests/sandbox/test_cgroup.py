"""Per-run cgroups: each run's init moves itself into a cgroup of its own, which gets the job's
caps and is removed when the run is reaped; without a delegated cgroup, rlimits alone (and
the service never touches a cgroup that is not its own)."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.grading.runner import Call
from grader.sandbox import cgroup
from tests.sandbox.conftest import LIMITS, SANDBOX_MODE, UID_BASE, requires_sandbox


def _zygote_module():  # type: ignore[no-untyped-def]
    """zygote.py, loaded as the fork server loads it (a script of the standard library only)."""
    path = Path(cgroup.__file__).with_name("zygote.py")
    spec = importlib.util.spec_from_file_location("lossgrader_zygote_for_tests", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def fake_cgroup(folder: Path, controllers: str) -> Path:
    """A folder with the files of a cgroup v2 folder whose children get ``controllers``."""
    (folder / "cgroup.controllers").write_text(controllers + "\n")
    (folder / "cgroup.subtree_control").write_text(controllers + "\n")
    return folder


def test_a_job_sets_its_runs_memory_and_process_caps(tmp_path: Path) -> None:
    zygote = _zygote_module()
    base = fake_cgroup(tmp_path, "cpu memory pids")
    run = base / "run-1000"
    run.mkdir()
    for name in ("memory.max", "memory.swap.max", "pids.max", "memory.events"):
        (run / name).write_text("")  # written in place, as cgroupfs files are
    cgroups = zygote.RunCgroups(str(base), cpu_weight=100)
    cgroups.open()
    limits = {"memory_mib": 256, "processes": 4}
    cgroups.limit(1000, limits, tmp_bytes=8 << 20)
    # The limit, its /tmp, and the pages a run is charged for but does not allocate (warm-up, copies).
    assert (run / "memory.max").read_text() == str((256 << 20) + (8 << 20) + zygote.RunCgroups.SLACK_BYTES)
    assert (run / "memory.swap.max").read_text() == "0"
    assert (run / "pids.max").read_text() == "5"  # init, the student and its threads
    (run / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n")
    assert not cgroups.out_of_memory(1000)
    (run / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert cgroups.out_of_memory(1000)


def test_caps_go_only_where_their_controller_is_enabled(tmp_path: Path) -> None:
    zygote = _zygote_module()
    base = fake_cgroup(tmp_path, "pids")
    run = base / "run-7"
    run.mkdir()
    (run / "pids.max").write_text("")
    cgroups = zygote.RunCgroups(str(base), cpu_weight=100)
    cgroups.open()
    cgroups.limit(7, {"memory_mib": 64, "processes": 1}, tmp_bytes=0)
    assert (run / "pids.max").read_text() == "2" and not (run / "memory.max").exists()
    assert not cgroups.out_of_memory(7)


def test_no_delegated_cgroup_means_rlimits_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cgroup.ENV, raising=False)
    assert cgroup.runner_cgroup() is None
    assert "no delegated cgroup v2" in (cgroup.why_unavailable(None) or "")
    without_memory = fake_cgroup(tmp_path, "pids cpu")
    assert "does not enable memory" in (cgroup.why_unavailable(str(without_memory)) or "")
    monkeypatch.setenv(cgroup.ENV, str(without_memory))
    assert cgroup.runner_cgroup() is None


@pytest.mark.skipif(os.geteuid() != 0, reason="checks what root is never given")
def test_root_never_takes_over_its_own_cgroup(monkeypatch: pytest.MonkeyPatch) -> None:
    """As root the service's cgroup is the host's or a session's, never delegated to it: untouched."""
    monkeypatch.delenv(cgroup.ENV, raising=False)
    assert cgroup.delegate() is None
    assert cgroup.ENV not in os.environ


def _writable_cgroup2() -> Path | None:
    """A cgroup v2 folder this test may make children in (root, on this machine), or None."""
    own = cgroup.own_cgroup()
    if own is None or os.geteuid() != 0 or not os.access(own, os.W_OK):
        return None
    return Path(own)


@requires_sandbox
@pytest.mark.skipif(SANDBOX_MODE != "root", reason="makes a cgroup beside its own, which needs root here")
def test_each_run_is_in_a_cgroup_of_its_own_removed_when_it_is_reaped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real cgroup v2 folders (with whatever controllers this machine has: without memory and
    pids it checks the moving and the removing, and the caps are the fake tests' part)."""
    from grader.sandbox import SandboxRunner
    from tests.redteam.hostile import processes_with_uids

    parent = _writable_cgroup2()
    if parent is None:
        pytest.skip("no writable cgroup v2 folder here")
    folder = parent / f"lossgrader-test-{os.getpid()}"
    folder.mkdir()
    try:
        monkeypatch.setattr("grader.sandbox.runner.cgroup.runner_cgroup", lambda: str(folder))
        monkeypatch.setattr("grader.sandbox.runner.cgroup.remove_runner_cgroup", lambda path: None)
        uids = range(UID_BASE + 400, UID_BASE + 420)
        with SandboxRunner(slots=1, spares=1, uid_base=uids.start) as runner:
            seen: dict[str, object] = {}

            def run() -> None:
                source = "import time\ndef f():\n    time.sleep(1.0)\n    return 1.0\n"
                seen["report"] = runner.run(source, ["f"], [Call("nap", "f", ())], LIMITS)

            thread = threading.Thread(target=run)
            thread.start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and "groups" not in seen:
                running = [p for p in processes_with_uids(uids) if _state(p) == "S" and _has_job(p)]
                groups = {Path(f"/proc/{p}/cgroup").read_text().strip() for p in running}
                if groups:
                    seen["groups"] = groups
                time.sleep(0.02)
            thread.join()
            report = seen["report"]
            assert report.outcomes[0].status == "ok"  # type: ignore[attr-defined]
            runs = {line.rsplit("/", 1)[-1] for line in seen.get("groups", set())}  # type: ignore[union-attr]
            assert runs and all(name.startswith("run-") for name in runs), seen.get("groups")
            runner.settle()
            # The finished run's folder is gone; only the spares' remain (one each).
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and runs & {p.name for p in folder.iterdir() if p.is_dir()}:
                time.sleep(0.02)
            assert not runs & {p.name for p in folder.iterdir() if p.is_dir()}
    finally:
        for child in folder.iterdir():
            if child.is_dir():
                _remove_when_empty(child)
        _remove_when_empty(folder)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def _has_job(pid: int) -> bool:
    """Whether ``pid`` is a student that got its job (its output is a pipe, not /dev/null)."""
    try:
        return os.readlink(f"/proc/{pid}/fd/1").startswith("pipe:")
    except OSError:
        return False


def _remove_when_empty(folder: Path) -> None:
    deadline = time.monotonic() + 5
    while True:
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
