"""SubprocessRunner.prestarted: the child started before the request is known gets the
same limits, environment and isolation as one started for the run, and never lingers;
and the runner notices a child's exit when it happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from grader.grading.runner import Call, RunLimits, SubprocessRunner, child_environment, wait_for_exit

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="rlimits are POSIX-only")

LIMITS = RunLimits(wall_seconds=5, cpu_seconds=3, memory_mib=900, output_bytes=2000)
OTHER = RunLimits(wall_seconds=5, cpu_seconds=2, memory_mib=800, output_bytes=2000)

# What the child sees of its own process: rlimits, environment, working folder, session.
INTROSPECT = """
import os, resource
def f(a):
    limits = [resource.getrlimit(r) for r in (
        resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE, resource.RLIMIT_CORE)]
    own_session = os.getsid(0) == os.getpid()
    return [x for pair in limits for x in pair] + [len(os.environ), int(own_session), len(os.listdir("."))]
"""


def introspect(runner: SubprocessRunner, limits: RunLimits) -> list[int]:
    report = runner.run(INTROSPECT, ["f"], [Call("c", "f", (np.zeros(1),))], limits)
    outcome = report.outcomes[0]
    assert outcome.status == "ok", (outcome, report.output)
    return [int(x) for x in outcome.value]


@posix_only
def test_a_prestarted_child_has_the_limits_environment_and_isolation_of_a_fresh_one(monkeypatch):
    monkeypatch.setenv("LOSSGRADER_SECRET_FOR_TEST", "s3cret")  # a child's environment is minimal either way
    fresh = introspect(SubprocessRunner(), LIMITS)
    with SubprocessRunner.prestarted(LIMITS) as runner:
        prestarted = introspect(runner, LIMITS)
    assert prestarted == fresh
    cpu, _, memory, _, file_bytes, _, open_files, _, core, _, *_ = prestarted
    assert (cpu, memory, file_bytes, open_files, core) == (3, 900 * 1024 * 1024, LIMITS.file_bytes, 64, 0)


@posix_only
def test_a_prestarted_child_is_not_used_for_other_limits():
    with SubprocessRunner.prestarted(LIMITS) as runner:
        spare = runner._spare
        assert spare is not None
        other = introspect(runner, OTHER)
        assert spare.proc.returncode is not None  # ended, not reused
    assert other == introspect(SubprocessRunner(), OTHER)
    assert other[0] == 2 and other[2] == 800 * 1024 * 1024


def test_only_the_first_run_uses_the_prestarted_child():
    source = "def f(a):\n    return float(a.sum())\n"
    calls = [Call("c", "f", (np.array([1.0, 2.0]),))]
    with SubprocessRunner.prestarted(LIMITS) as runner:
        first, second = (runner.run(source, ["f"], calls, LIMITS) for _ in range(2))
    assert [float(r.outcomes[0].value) for r in (first, second)] == [3.0, 3.0]


def test_closing_ends_an_unused_child_and_removes_its_folder():
    runner = SubprocessRunner.prestarted(LIMITS)
    spare = runner._spare
    assert spare is not None and spare.proc.poll() is None
    folder = spare.workdir.name
    assert os.path.isdir(folder)
    runner.close()
    assert spare.proc.returncode is not None
    assert not os.path.exists(folder)
    runner.close()  # twice is harmless


def test_limits_still_stop_a_prestarted_child():
    with SubprocessRunner.prestarted(RunLimits(wall_seconds=1, cpu_seconds=5)) as runner:
        report = runner.run(
            "def f(a):\n    while True:\n        pass\n", ["f"], [Call("loop", "f", (1,))], RunLimits(1, 5)
        )
    assert report.outcomes[0].status == "not_run"
    assert "time limit of 1 s exceeded" in (report.termination or "")


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
def test_wait_for_exit_reaps_an_ended_child_and_times_out_on_a_running_one(monkeypatch, pidfd):
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    elif not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfds on this platform")
    ended = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert wait_for_exit(ended, 30.0)
    assert ended.returncode == 3
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert not wait_for_exit(running, 0.2)
        assert running.returncode is None
    finally:
        running.kill()
        running.wait()


# A forked child (``prestarted(..., fork=True)``, what ``check`` asks for) is compared with
# a new one from a process of its own: pytest's process runs BLAS threads, in which the
# runner rightly refuses to fork. What each child reports of itself goes to its output.
FORK_SCRIPT = r"""
import json, sys, time
import numpy as np
from grader.grading.runner import Call, RunLimits, SubprocessRunner, _ForkedProcess

SELF = '''
import json, os, sys, resource
def f(a):
    names = ("CPU", "AS", "FSIZE", "NOFILE", "CORE")
    print(json.dumps({
        "limits": [resource.getrlimit(getattr(resource, "RLIMIT_" + n)) for n in names],
        "environment": dict(os.environ), "own session": os.getsid(0) == os.getpid(),
        "folder": os.listdir("."), "descriptors": sorted(os.listdir("/proc/self/fd")),
        "path": sys.path, "argv": sys.argv, "stdin": sys.stdin.read(),
        "threads": len(os.listdir("/proc/self/task")),
    }))
    return float(a.sum())
'''
LIMITS = RunLimits(wall_seconds=5, cpu_seconds=3, memory_mib=900, output_bytes=20000)
CALLS = [Call("c", "f", (np.array([1.0, 2.0]),))]

def child_view(runner):
    report = runner.run(SELF, ["f"], CALLS, LIMITS)
    return {"value": float(report.outcomes[0].value), "termination": report.termination, **json.loads(report.output)}

found = {}
with SubprocessRunner.prestarted(LIMITS, fork=True) as runner:
    found["forked"] = isinstance(runner._spare.proc, _ForkedProcess)
    found["forked child"] = child_view(runner)
found["new child"] = child_view(SubprocessRunner())
with SubprocessRunner.prestarted(RunLimits(wall_seconds=1, cpu_seconds=5), fork=True) as runner:
    looping = runner.run("def f(a):\n    while True:\n        pass\n", ["f"], CALLS, RunLimits(1, 5))
    found["loop"] = [looping.outcomes[0].status, looping.termination]
started = time.monotonic()
for _ in range(20):  # killed at once, maybe before its setsid(): reaped, never waited on forever
    runner = SubprocessRunner.prestarted(LIMITS, fork=True)
    child = runner._spare.proc
    assert isinstance(child, _ForkedProcess)
    runner.close()
    found.setdefault("closed", []).append(child.returncode)
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def forked() -> dict:
    if not sys.platform.startswith("linux"):
        pytest.skip("the runner forks on Linux only")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": "/nonexistent-on-the-parent-path"}
    done = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_forked_child_is_what_a_new_interpreter_would_be(forked):
    assert forked["forked"] is True  # it did fork: one thread, Linux
    assert forked["forked child"] == forked["new child"]  # limits, environment, session, folder, fds, path
    child = forked["forked child"]
    assert child["value"] == 3.0 and child["termination"] is None
    assert child["limits"][:2] == [[3, 4], [900 * 1024 * 1024] * 2]
    assert sorted(child["environment"]) == sorted(child_environment())
    assert child["own session"] and child["folder"] == [] and child["stdin"] == "" and child["threads"] == 1
    assert "/nonexistent-on-the-parent-path" not in child["path"] and child["argv"] == ["-c"]


def test_a_forked_child_is_stopped_by_the_limits_and_never_lingers(forked):
    assert forked["loop"] == ["not_run", "time limit of 1 s exceeded"]
    assert forked["closed"] == [-9] * 20  # SIGKILLed and reaped


def test_no_fork_while_another_thread_runs_or_off_linux(monkeypatch):
    from grader.grading.runner import _Child

    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert _Child.fork(LIMITS) is None
    finally:
        release.set()
        other.join()
    monkeypatch.setattr(sys, "platform", "darwin")
    assert _Child.fork(LIMITS) is None
    with SubprocessRunner.prestarted(LIMITS, fork=True) as runner:  # a new interpreter instead
        assert isinstance(runner._spare.proc, subprocess.Popen)
        assert introspect(runner, LIMITS)[:2] == [3, 4]
