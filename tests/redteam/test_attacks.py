"""Hostile submissions, graded through one shared sandbox pool.

Each test grades an attack from ``attacks/`` (lab03, every fixture, small limits) and
checks that it failed, that every affected fixture scores 0 with a reason a person
understands, that no secret, file content or hidden input appears anywhere in what
came back, and (:func:`~tests.redteam.hostile.aftermath`) that nothing of it remains
and the next, honest submission graded by the same pool gets every point.

Tests of holes found here are ``xfail(strict=True, raises=AssertionError)``: they fail
until the grader is fixed, and then must be un-marked.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.grading import fixtures, wire
from grader.grading.lab import find_lab
from grader.grading.runner import Call
from tests.redteam.conftest import Secrets
from tests.redteam.hostile import (
    LAB_ID,
    LIMITS,
    PROJECT_ROOT,
    SITE_PACKAGES,
    Baseline,
    Graded,
    aftermath,
    assert_all_failed,
    assert_killed,
    attack_docstring,
    attack_names,
    attack_source,
    baseline,
    grade_attack,
    host_sockets,
    inet_sockets,
    mentions_any,
    open_fds,
    sandbox_processes,
    small_lab,
)

SEED = 7


@pytest.fixture()
def before(pool: Any) -> Baseline:
    return baseline(pool)


def params(pool: Any, found: Secrets, **extra: Any) -> dict[str, Any]:
    return {
        "grader_pid": os.getpid(),
        "zygote_pid": pool.zygote_pid,
        "repo": str(PROJECT_ROOT),
        "sqlite_path": found.sqlite_path,
        "marker": found.marker,
        "site_packages": str(SITE_PACKAGES),
        **extra,
    }


def run_attack(pool: Any, found: Secrets, name: str, *, lab: Any = None, **extra: Any) -> Graded:
    graded = grade_attack(pool, attack_source(name, **params(pool, found, **extra)), lab, SEED)
    assert len(graded.runs) == 2, "both the shown and the hidden fixtures should have run"
    leaked = mentions_any(graded.evidence(), found.values())
    assert not leaked, f"secrets in the result: {leaked}"
    return graded


def fixtures_of(graded: Graded, function: str) -> list[Any]:
    return [t for t in graded.result.tests if t.function == function]


def values_of(graded: Graded) -> list[np.ndarray]:
    """The value the first fixture of the shown, then the hidden run returned (attacks
    return their findings there)."""
    return [run.report.outcomes[0].value for run in (graded.shown, graded.hidden)]


PROJECT_UNDER_TMP = str(PROJECT_ROOT).startswith("/tmp/")


# ---------------------------------------------------------------------------------
# Reading what is not theirs
# ---------------------------------------------------------------------------------


def test_environment_argv_and_proc_environ_hold_no_secret(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "secrets_env")
    assert "LOOT" in graded.shown.report.output and "PATH=/bin:/usr/bin" in graded.shown.report.output
    for test in fixtures_of(graded, "softmax"):
        assert "not allowed in the sandbox: reading files outside the sandbox" in test.message, test.message
    assert graded.result.score == 0  # softmax_cross_entropy returned its loot: the wrong type
    aftermath(pool, before, grader_secrets.marker)


def test_hidden_fixtures_reference_and_database_cannot_be_read(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "read_hidden_files")
    hidden_toml = (PROJECT_ROOT / "labs" / LAB_ID / "fixtures" / "hidden.toml").read_text()
    reference = (PROJECT_ROOT / "reference" / "losses.py").read_text()
    contents = [
        *re.findall(r'description = "([^"]{20,})"', hidden_toml),
        reference.splitlines()[0],
        "Shape rules shared by the classification losses",
        "MISTAKES_MODULE",
    ]
    assert len(contents) > 10
    assert not mentions_any(graded.from_child(), contents)
    output = graded.shown.report.output
    assert f"listdir {PROJECT_ROOT}: FileNotFoundError" in output  # the walls, past the hook
    assert f"stat {grader_secrets.sqlite_path}: FileNotFoundError" in output
    assert "glob: []" in output
    for test in fixtures_of(graded, "softmax"):
        # Under /tmp the hook lets the read through to the sandbox's own empty /tmp: not found.
        assert "reading files outside the sandbox" in test.message or (
            PROJECT_UNDER_TMP and "FileNotFoundError" in test.message
        ), test.message
    assert graded.result.score == 0
    aftermath(pool, before, grader_secrets.marker)


def test_proc_is_absent_for_self_init_and_the_grader(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "read_proc")
    output = graded.shown.report.output
    assert "exists /proc: False" in output
    assert "ls /proc: FileNotFoundError" in output
    assert_all_failed(graded, "not allowed in the sandbox: reading files outside the sandbox")
    aftermath(pool, before, grader_secrets.marker)


def _distinct(values: Any) -> set[float]:
    """Floats an attack could not find by chance: not integers, with a long mantissa."""
    flat = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in values]) if values else np.zeros(0)
    flat = np.unique(flat[np.isfinite(flat) & (flat != np.round(flat))])
    return {x for x in flat.tolist() if len(repr(x)) >= 10}


def _groups(seed: int) -> dict[str, dict[str, set[float]]]:
    """Distinctive inputs and expected values of the shown and hidden runs."""
    lab = find_lab(LAB_ID)
    built = fixtures.build(lab, ("public", "hidden", "randomised"), seed)
    groups = {}
    for name, members in (
        ("shown", [f for f in built if f.spec.visibility != "hidden"]),
        ("hidden", [f for f in built if f.spec.visibility == "hidden"]),
    ):
        inputs = _distinct([a for f in members for a in f.args])
        expected = _distinct([f.expected for f in members])
        groups[name] = {"inputs": inputs, "expected": expected}
    every_input = groups["shown"]["inputs"] | groups["hidden"]["inputs"]
    for group in groups.values():
        group["expected"] -= every_input
    assert all(g["inputs"] and g["expected"] for g in groups.values())
    return groups


def test_frames_and_gc_lead_to_inputs_only(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "frame_walk")
    groups = _groups(SEED)
    shown, hidden = (set(v.tolist()) for v in values_of(graded))
    assert len(shown) > 50 and len(hidden) > 50  # it did walk something
    # The child finds its own inputs (the walk works)...
    assert groups["shown"]["inputs"] <= shown
    assert groups["hidden"]["inputs"] <= hidden
    # ...and nothing else: no expected value anywhere, no hidden input in the shown run.
    # (The hidden part runs in the same child after the shown one, so it may find the
    # shown inputs: they are public.)
    assert not (groups["shown"]["expected"] | groups["hidden"]["expected"]) & (shown | hidden)
    assert not (groups["hidden"]["inputs"] - groups["shown"]["inputs"]) & shown
    assert graded.result.score == 0
    aftermath(pool, before, grader_secrets.marker)


def test_raw_memory_holds_no_secret_and_no_expected_value(pool, before, grader_secrets) -> None:
    groups = _groups(SEED)
    multiplier = secrets.randbits(64) | 1

    rng = np.random.default_rng(SEED)

    def hashed(values: set[float], most: int = 1500) -> list[int]:
        """A sample (the source must stay under 256 KB), hashed: see the attack."""
        chosen = sorted(values)
        if len(chosen) > most:
            chosen = rng.choice(chosen, most, replace=False).tolist()
        bits = np.array(chosen, dtype=np.float64).view(np.uint64).tolist()
        return [((b * multiplier) & (2**64 - 1)) >> 8 for b in bits]  # 56 bits: no chance hits

    source = attack_source(
        "memory_scan",
        **params(pool, grader_secrets),
        A=multiplier,
        expected=hashed(groups["shown"]["expected"] | groups["hidden"]["expected"]),
        shown_inputs=hashed(groups["shown"]["inputs"] - groups["hidden"]["inputs"]),
        hidden_inputs=hashed(groups["hidden"]["inputs"] - groups["shown"]["inputs"]),
        limit=32 << 20,
    )
    graded = grade_attack(pool, source, small_lab(wall_seconds=30, cpu_seconds=12), SEED)
    assert len(graded.runs) == 2, graded.result.submission_error
    assert not mentions_any(graded.evidence(), grader_secrets.values())
    for run, own, other in ((graded.shown, 1, 2), (graded.hidden, 2, 1)):
        outcome = run.report.outcomes[0]
        assert outcome.status == "ok", (outcome.error, run.report.termination)
        hits = outcome.value.tolist()
        assert hits[3] > 500 and hits[own] > 0, f"the scan should find its own run's inputs: {hits}"
        assert hits[0] == 0, f"expected values in the child's memory: {hits}"
        if run is graded.shown:  # the hidden part comes later, in the same child: shown inputs are public
            assert hits[other] == 0, f"hidden inputs in the child's memory while it ran the shown fixtures: {hits}"
    assert "CONTEXTS" in graded.shown.report.output
    aftermath(pool, before, grader_secrets.marker)


# ---------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------


class SocketWatch:
    """Samples the host's socket tables while an attack runs."""

    def __init__(self, pool: Any, port: int) -> None:
        self.pool = pool
        self.ports = (5432, 6379, port)
        self.seen: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.seen += host_sockets(self.pool, self.ports)
            for pid in sandbox_processes(self.pool):  # inside the runs' own network namespaces
                self.seen += inet_sockets(pid=pid)
            time.sleep(0.005)

    def __enter__(self) -> SocketWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def assert_no_connection(listener: Any) -> None:
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_loopback_tcp_to_postgres_redis_and_a_listener_is_refused(pool, listener, before, grader_secrets) -> None:
    port = listener.getsockname()[1]
    with SocketWatch(pool, port) as watch:
        graded = run_attack(pool, grader_secrets, "network_tcp", port=port)
    assert watch.seen == []
    assert_no_connection(listener)
    output = graded.shown.report.output
    assert "connected to" not in output
    assert f"{port}: PermissionError: not allowed in the sandbox: network access" in output
    assert "5432: PermissionError" in output and "6379: PermissionError" in output
    assert_all_failed(graded, "not allowed in the sandbox: network access")
    aftermath(pool, before, grader_secrets.marker)


def test_udp_ipv6_unix_sockets_and_stolen_descriptors_are_refused(pool, listener, before, grader_secrets) -> None:
    with SocketWatch(pool, listener.getsockname()[1]) as watch:
        graded = run_attack(pool, grader_secrets, "network_other", port=listener.getsockname()[1])
    assert watch.seen == []
    assert_no_connection(listener)
    output = graded.shown.report.output
    for attempt in ("udp4", "udp6", "tcp6 pg", "tcp6 redis", "unix pg", "abstract", "netlink", "adopt 4"):
        assert f"{attempt}: PermissionError: not allowed in the sandbox: network access" in output, attempt
    assert "pair: PermissionError: [Errno 1] Operation not permitted" in output  # no audit event: seccomp says no
    assert_all_failed(graded, "not allowed in the sandbox: network access")
    aftermath(pool, before, grader_secrets.marker)


def test_without_the_audit_hook_seccomp_refuses_every_socket(pool, listener, before, grader_secrets) -> None:
    with SocketWatch(pool, listener.getsockname()[1]) as watch:
        graded = run_attack(pool, grader_secrets, "network_walls", port=listener.getsockname()[1])
    assert watch.seen == []
    assert_no_connection(listener)
    output = graded.shown.report.output
    assert "unhooked 1" in output
    assert "CONNECTED" not in output
    assert "syscall socket(2,1) = -1 errno 1" in output and "libc socket(10,1) = -1 errno 1" in output
    assert "socketpair = -1 errno 1" in output
    assert_all_failed(graded, "PermissionError: [Errno 1] Operation not permitted")
    aftermath(pool, before, grader_secrets.marker)


# ---------------------------------------------------------------------------------
# Writing what outlives the run
# ---------------------------------------------------------------------------------


def test_writes_to_site_packages_the_repo_tmp_and_shm_are_refused(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "write_persist")
    output = graded.shown.report.output
    assert output.count("PermissionError: not allowed in the sandbox: writing files outside /tmp") >= 20
    assert_all_failed(graded, "not allowed in the sandbox: writing files outside /tmp")
    aftermath(pool, before, grader_secrets.marker)


def test_without_the_audit_hook_the_jail_is_read_only(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "write_walls")
    for test in fixtures_of(graded, "softmax"):
        assert re.search(r"\[Errno (13|30)\] (Permission denied|Read-only file system)", test.message), test.message
        assert test.score == 0
    sce = graded.shown.report.outcomes[3]  # the first softmax_cross_entropy fixture
    assert sce.status == "ok", sce.error
    unhooked, numpy_init, numpy_new, root, site, chmod, utime, usr, tmp, setuid = sce.value.tolist()
    assert unhooked == 1
    assert 0 not in (numpy_init, numpy_new, root, site, chmod, utime, usr)  # every write refused
    assert tmp == 0 and setuid == 0  # its own /tmp is writable (and nosuid, noexec, gone after)
    assert graded.result.score == 0
    aftermath(pool, before, grader_secrets.marker)


def test_the_shared_fixture_inputs_cannot_be_changed(pool, before, grader_secrets) -> None:
    # The lab itself, not a copy: the honest submission of the aftermath then reads the
    # very same sealed memory file of hidden inputs that the attack had mapped.
    graded = run_attack(pool, grader_secrets, "fixture_tamper", lab=find_lab(LAB_ID))
    for run in (graded.shown, graded.hidden):
        flag, result, errno, copied = run.report.outcomes[0].value.tolist()
        assert flag == 0.0  # NumPy: the view of a read-only buffer stays read-only
        assert (result, errno) == (-1.0, 13.0)  # mprotect: EACCES on a write-sealed file
        assert copied == 14.0  # readv into the page: EFAULT
    for test in graded.result.tests:
        if test.function == "softmax_cross_entropy":
            assert test.score == 0 and "signal 11" in test.message, test.message
    aftermath(pool, before, grader_secrets.marker)  # the next submission: full marks


def test_tmp_carries_nothing_from_one_run_to_the_next(pool, before, grader_secrets) -> None:
    runs = [run_attack(pool, grader_secrets, "tmp_relay") for _ in range(2)]
    seen = [o.value.tolist() for graded in runs for run in graded.runs for o in run.report.outcomes]
    assert seen and all(v in ([0.0], 0.0) for v in seen), seen
    aftermath(pool, before, grader_secrets.marker)


# ---------------------------------------------------------------------------------
# Processes: starting them, signalling and tracing others
# ---------------------------------------------------------------------------------


def test_starting_processes_is_refused(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "processes")
    output = graded.shown.report.output
    for attempt in ("fork", "forkpty", "system", "subprocess", "execv", "posix_spawn", "spawnv", "pty"):
        assert f"{attempt}: PermissionError: not allowed in the sandbox: starting processes" in output, attempt
    assert "Slides 5-3" not in graded.from_child()
    assert_all_failed(graded, "not allowed in the sandbox: starting processes")
    aftermath(pool, before, grader_secrets.marker)


def test_without_the_audit_hook_fork_and_exec_hit_seccomp(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "process_walls")
    found = graded.shown.report.outcomes[0].value.tolist()
    unhooked, fork, spawn, fork_exec, libc_fork, libc_vfork, clone, clone3 = found
    assert unhooked == 1
    assert fork == spawn == libc_fork == libc_vfork == clone == -1  # EPERM
    assert fork_exec < 0
    assert clone3 == -38  # ENOSYS: glibc then falls back to clone
    assert_killed_from(graded, "softmax_cross_entropy", "not allowed in the sandbox: a forbidden system call")
    aftermath(pool, before, grader_secrets.marker)


def assert_killed_from(graded: Graded, function: str, reason: str) -> None:
    """Each run was killed at the first fixture of ``function``: that one says so,
    later ones are "not run", earlier ones ran (and failed); all score 0."""
    assert graded.result.score == 0
    for group in (("public", "randomised"), ("hidden",)):
        tests = [t for t in graded.result.tests if t.visibility in group]
        first = next(i for i, t in enumerate(tests) if t.function == function)
        assert tests[first].message == f"{reason} on fixture {tests[first].name}"
        assert all(t.message == f"not run: {reason}" for t in tests[first + 1 :])
        assert all(t.stage != "not_run" for t in tests[:first])


def test_signals_to_the_grader_init_and_everyone_are_refused(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "signal_grader")
    output = graded.shown.report.output
    for pid in (os.getpid(), pool.zygote_pid, 1, -1):
        assert f"kill {pid}: PermissionError: not allowed in the sandbox: signalling other processes" in output
    assert "killpg 0: PermissionError" in output and "pidfd: PermissionError" in output
    assert "sigio init: 1" in output  # the kernel's SIGKILL from inside the namespace: init ignores it
    assert "sigio grader: ProcessLookupError" in output  # the grader is not in its namespace
    assert_all_failed(graded, "not allowed in the sandbox: signalling other processes")
    aftermath(pool, before, grader_secrets.marker)


def test_without_the_audit_hook_kill_reaches_nothing_and_ptrace_kills(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "trace_walls")
    for run in graded.runs:
        delivered = run.report.outcomes[0].value.tolist()
        assert delivered == [0.0], f"signals were delivered to {delivered[1:]}"
    assert_killed_from(graded, "softmax_cross_entropy", "not allowed in the sandbox: a forbidden system call")
    aftermath(pool, before, grader_secrets.marker)


def test_a_submission_graded_at_the_same_time_cannot_be_signalled_or_read(pool, before, grader_secrets) -> None:
    marker = "victim-" + secrets.token_hex(8)
    lab = small_lab(wall_seconds=12, cpu_seconds=4)
    victim = attack_source("concurrent_victim", victim_marker=marker, spin=1.0)
    attacker = attack_source("concurrent_attacker", victim_marker=marker, spin=1.0)
    with ThreadPoolExecutor(max_workers=2) as executor:
        first = executor.submit(grade_attack, pool, victim, lab, SEED)
        time.sleep(0.2)
        second = executor.submit(grade_attack, pool, attacker, lab, SEED)
        victim_graded, attacker_graded = first.result(), second.result()
    result = victim_graded.result
    assert result.score == result.max_score, [t.message for t in result.tests if not t.passed]
    for run in attacker_graded.runs:
        assert run.report.outcomes[0].status == "ok", run.report.outcomes[0].error
        assert run.report.outcomes[0].value.tolist() == [0.0], run.report.output  # reached nothing
    assert marker * 3 not in attacker_graded.evidence()
    aftermath(pool, before, grader_secrets.marker)


# ---------------------------------------------------------------------------------
# Exhausting resources
# ---------------------------------------------------------------------------------


def test_cpu_burn_is_stopped_by_the_cpu_limit(pool, before, grader_secrets) -> None:
    # A wall limit far beyond the CPU limit: on a loaded machine a second of CPU takes several.
    graded = run_attack(pool, grader_secrets, "cpu_burn", lab=small_lab(wall_seconds=60))
    assert_killed(graded, "CPU time limit of 1 s exceeded")
    aftermath(pool, before, grader_secrets.marker)


def test_sleeping_and_blocking_are_stopped_by_the_wall_clock(pool, before, grader_secrets) -> None:
    started = time.monotonic()
    graded = run_attack(pool, grader_secrets, "wall_sleep", lab=small_lab(wall_seconds=1))
    assert time.monotonic() - started < 8  # two runs of 1 s, however loaded the machine
    assert_killed(graded, "time limit of 1 s exceeded")
    aftermath(pool, before, grader_secrets.marker)


@pytest.mark.parametrize("attack", ["memory_numpy", "memory_python"])
def test_memory_hogs_hit_the_memory_limit(pool, before, grader_secrets, attack: str) -> None:
    # Each call touches the whole 256 MiB before it fails, some 40 ms of CPU: with
    # twenty calls in a run, the suite's 1 s CPU limit could come first.
    graded = run_attack(pool, grader_secrets, attack, lab=small_lab(wall_seconds=12, cpu_seconds=4))
    assert_all_failed(graded, "memory limit of 256 MiB exceeded (MemoryError")
    aftermath(pool, before, grader_secrets.marker)


@pytest.mark.parametrize("processes", [1, 4])
def test_a_thread_bomb_stops_at_the_processes_limit(pool, before, grader_secrets, processes: int) -> None:
    graded = run_attack(pool, grader_secrets, "thread_bomb", lab=small_lab(processes=processes))
    assert_all_failed(graded, "RuntimeError: can't start new thread")
    aftermath(pool, before, grader_secrets.marker)


def test_a_fork_bomb_without_the_audit_hook_never_forks(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "fork_bomb", lab=small_lab(processes=8))
    assert_all_failed(graded, "PermissionError: [Errno 1] Operation not permitted")
    aftermath(pool, before, grader_secrets.marker)


def test_filling_tmp_ends_with_no_space_left(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "disk_fill")
    assert_all_failed(graded, "OSError: [Errno 28] No space left on device")
    aftermath(pool, before, grader_secrets.marker)


def test_an_output_flood_is_capped_and_stopped(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "output_flood", lab=small_lab(wall_seconds=1.5, cpu_seconds=5))
    assert_killed(graded, "time limit of 1.5 s exceeded")
    for run in graded.runs:
        assert run.report.output_truncated and len(run.report.output.encode()) <= LIMITS.output_bytes
    assert graded.result.output_truncated and len(graded.result.output) <= LIMITS.output_bytes
    aftermath(pool, before, grader_secrets.marker)


def test_running_out_of_descriptors_is_an_ordinary_error(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "fd_exhaustion")
    assert_all_failed(graded, "OSError: [Errno 24] Too many open files")
    aftermath(pool, before, grader_secrets.marker)


def test_a_recursion_bomb_through_c_is_a_segfault(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "recursion_bomb")
    assert_killed(graded, "the process was killed by signal 11 (SIGSEGV)")
    aftermath(pool, before, grader_secrets.marker)


def test_signal_tricks_do_not_escape_the_cpu_limit(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "signal_tricks", lab=small_lab(wall_seconds=60))
    assert_killed(graded, "CPU time limit of 1 s exceeded")
    aftermath(pool, before, grader_secrets.marker)


# ---------------------------------------------------------------------------------
# Forging a score
# ---------------------------------------------------------------------------------


def test_fake_printed_results_score_nothing(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "fake_output")
    assert "Score: 100/100" in graded.result.output
    assert graded.result.score == 0 and graded.result.status == "graded"
    assert all(t.stage in ("type", "value", "shape") for t in graded.result.tests), {
        t.stage for t in graded.result.tests
    }
    aftermath(pool, before, grader_secrets.marker)


def test_sys_exit_and_os_exit_mid_run_are_failures(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "exit_clean")
    assert graded.result.score == 0
    for group in (("public", "randomised"), ("hidden",)):
        tests = [t for t in graded.result.tests if t.visibility in group]
        first = next(i for i, t in enumerate(tests) if t.function == "softmax_cross_entropy")
        assert all("`softmax` raised SystemExit: 0" in t.message for t in tests[:first])
        reason = "the process exited early (exit code 0)"
        assert tests[first].message == f"{reason} on fixture {tests[first].name}"
        assert all(t.message == f"not run: {reason}" for t in tests[first + 1 :])
    aftermath(pool, before, grader_secrets.marker)


def test_exiting_cleanly_while_loading_is_a_failure(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "exit_at_load")
    assert_all_failed(graded, "not run: the process exited early (exit code 0)")
    aftermath(pool, before, grader_secrets.marker)


@pytest.mark.parametrize("attack", ["rigged_objects", "ndarray_subclass"])
def test_rigged_objects_and_ndarray_subclasses_score_nothing(pool, before, grader_secrets, attack: str) -> None:
    graded = run_attack(pool, grader_secrets, attack)
    assert graded.result.status == "graded" and graded.result.score == 0
    assert {t.stage for t in graded.result.tests} <= {"type", "finite", "value", "shape"}
    for run in graded.runs:  # the parent only ever holds plain float64 arrays
        for outcome in run.report.outcomes:
            assert outcome.value is None or (type(outcome.value) is np.ndarray and outcome.value.dtype == np.float64)
    aftermath(pool, before, grader_secrets.marker)


def test_arrays_over_the_limits_corrupt_the_stream(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "huge_arrays")
    assert graded.result.score == 0
    for group in (("public", "randomised"), ("hidden",)):
        first, *later = [t for t in graded.result.tests if t.visibility in group]
        assert first.stage == "not_run"  # its own wording: see the xfail test below
        for test in later:
            assert (
                test.message
                == "not run: the submission corrupted the result stream (array frame too large: shape (2000001,))"
            )
    aftermath(pool, before, grader_secrets.marker)


def test_forged_result_frames_within_the_run_are_a_corrupt_stream(pool, before, grader_secrets) -> None:
    lab = small_lab()
    shown = len(lab.fixtures_by("public", "randomised"))
    graded = run_attack(pool, grader_secrets, "forged_frames", lab=lab, beyond=False, calls=shown)
    assert graded.result.status == "graded" and graded.result.score == 0
    # Its forged "done" ends the shown part early (sealed: the hidden inputs go to the
    # child only then); the harness's own frames that follow break the hidden part.
    assert "corrupted the result stream" in (graded.hidden.report.termination or "")
    # Forged outcomes for calls that had not run yet are kept, and judged on their value.
    for test in graded.result.tests:
        assert test.stage in ("type", "value") or "corrupted the result stream" in test.message, test.message
    aftermath(pool, before, grader_secrets.marker)


def test_garbage_frames_are_a_corrupt_stream(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "garbage_frames")
    assert_all_failed(graded, "the submission corrupted the result stream (frame of 4294967295 bytes exceeds")
    aftermath(pool, before, grader_secrets.marker)


def test_monkey_patching_and_memory_vandalism_stay_in_their_process(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "monkeypatch_next")
    assert graded.result.status == "graded" and graded.result.score == 0
    for run in graded.runs:  # the vandalism took: its own harness (json, len) no longer works
        assert run.report.termination == "the submission corrupted the result stream (malformed JSON frame)"
    aftermath(pool, before, grader_secrets.marker)  # the invariants probe, then a full score


def test_finalisers_and_atexit_handlers_never_count(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "finalisers")
    assert graded.result.status == "graded" and graded.result.score == 0
    output = "".join(run.report.output for run in graded.runs)
    assert "VALUE-DEL RAN" in output  # during the run: allowed, it only hurts its own stream
    for tag in ("ATEXIT", "MODULE-DEL", "WEAKREF-FINALIZE"):
        assert f"{tag} RAN" not in output
    for test in graded.result.tests:
        assert test.stage in ("type", "value", "shape") or "corrupted the result stream" in test.message
    aftermath(pool, before, grader_secrets.marker)


def test_segfaults_are_reported_as_signal_11(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "segfault")
    assert_killed(graded, "the process was killed by signal 11 (SIGSEGV)")
    aftermath(pool, before, grader_secrets.marker)


# x86-64 numbers: (name, number, arguments). Each kills the process (SIGSYS).
_KILLED = [
    ("mount", 165, [0, 0, 0, 0, 0]),
    ("umount2", 166, [0, 0]),
    ("pivot_root", 155, [0, 0]),
    ("chroot", 161, [0]),
    ("unshare-user", 272, [0x10000000]),
    ("setns", 308, [0, 0]),
    ("bpf", 321, [0, 0, 0]),
    ("io_uring_setup", 425, [1, 0]),
    ("userfaultfd", 323, [0]),
    ("perf_event_open", 298, [0, 0, -1, -1, 0]),
    ("keyctl", 250, [0, 0]),
    ("add_key", 248, [0, 0, 0, 0, 0]),
    ("process_vm_readv", 310, [1, 0, 0, 0, 0]),
    ("pidfd_getfd", 438, [0, 0, 0]),
    ("open_by_handle_at", 304, [0, 0, 0]),
    ("init_module", 175, [0, 0, 0]),
    ("kexec_load", 246, [0, 0, 0, 0]),
    ("reboot", 169, [0, 0, 0, 0]),
    ("ptrace-attach-init", 101, [16, 1, 0, 0]),
    ("execveat", 322, [0, 0, 0, 0, 0]),
    ("syslog", 103, [0, 0, 0]),
    ("sethostname", 170, [0, 0]),
]
# (name, number, arguments, expected -errno): refused with an error the code can read.
_REFUSED = [
    ("setuid", 105, [0], -1),
    ("setresuid", 117, [0, 0, 0], -1),
    ("capset", 126, [0, 0], -1),
    ("socket", 41, [2, 1, 0], -1),
    ("pidfd_open", 434, [1, 0], -1),
    ("memfd_create", 319, [0, 0], -1),
    ("shmget", 29, [0, 4096, 0o1000], -1),
    ("msgget", 68, [0, 0o1000], -1),
    ("mknod", 133, [0, 0, 0], -1),
    ("kill-init", 62, [1, 9], -1),
    ("kill-everyone", 62, [-1, 9], -1),
    ("tgkill-init", 234, [1, 1, 9], -1),
    ("personality", 135, [0], -1),
    ("seccomp", 317, [1, 0, 0], -1),
    ("sched_setaffinity", 203, [0, 8, 0], -1),
    ("inotify_init1", 294, [0], -1),
    ("prctl-dumpable", 157, [4, 1, 0, 0, 0], -38),
    ("prctl-pdeathsig", 157, [1, 0, 0, 0, 0], -38),
    ("prlimit-init", 302, [1, 0, 0, 0], -38),
    ("clone3", 435, [0, 0], -38),
    ("tiocsti", 16, [0, 0x5412, 0], -25),  # ioctl(0, TIOCSTI): stdin is /dev/null
]


@pytest.mark.skipif(platform.machine() != "x86_64", reason="system call numbers for x86-64")
def test_kernel_escape_system_calls_without_the_audit_hook(pool, before, grader_secrets) -> None:
    for name, number, args in _KILLED:
        source = attack_source("escape_syscalls", number=number, args=args)
        report = pool.run(source, ["call"], [Call(name, "call", (0.0,))], LIMITS)
        assert report.outcomes[0].error == f"not allowed in the sandbox: a forbidden system call on fixture {name}", (
            name,
            report.outcomes[0],
            report.termination,
        )
    source = attack_source("escape_syscalls", refused=[(number, args) for _, number, args, _ in _REFUSED])
    report = pool.run(source, ["probe"], [Call("refused", "probe", (0.0,))], LIMITS)
    assert report.outcomes[0].status == "ok", report.outcomes[0].error
    got = dict(zip([name for name, *_ in _REFUSED], report.outcomes[0].value.tolist(), strict=True))
    assert got == {name: float(errno) for name, _, _, errno in _REFUSED}
    aftermath(pool, before, grader_secrets.marker)


# ---------------------------------------------------------------------------------
# Holes: these fail until the grader is fixed (see each reason)
# ---------------------------------------------------------------------------------

_LEAK = (
    "compare.check puts text the child controls (type names, not_run reasons from the result stream, "
    "line numbers) into the `summary` shown for hidden fixtures: hidden inputs reach the student"
)
_CRASH = (
    "OutcomeCollector raises TypeError/OverflowError/IndexError (not ProtocolError) on hostile event fields or "
    "calls past the last: grade() ends as status 'error' (a grader failure, retried, not counted against the "
    "submission quota) and _Job.supervise leaks the reaped pipe"
)


def _hidden_needles(seed: int) -> list[str]:
    """Texts that would only be in the student's view if hidden inputs leaked."""
    lab = find_lab(LAB_ID)
    built = fixtures.build(lab, ("public", "hidden", "randomised"), seed)

    def compact(value: Any) -> str:
        return json.dumps(np.asarray(value).tolist(), separators=(",", ":"))

    shown = {compact(a) for f in built if f.spec.visibility != "hidden" for a in f.args}
    needles = [compact(f.args[0])[:24] for f in built if f.spec.visibility == "hidden"]
    needles = [n for n in needles if not any(n in s for s in shown) and len(n) >= 8]
    longs = [
        repr(x)
        for f in built
        if f.spec.visibility == "hidden"
        for x in sorted(_distinct([np.asarray(f.args[0]).ravel()[:20]]))
    ]
    return sorted(set(needles + longs))


@pytest.mark.parametrize("attack", ["leak_type_name", "leak_returned_type", "leak_stream_text"])
def test_hidden_inputs_never_reach_the_student(pool, before, grader_secrets, attack: str) -> None:
    graded = run_attack(pool, grader_secrets, attack)
    aftermath(pool, before, grader_secrets.marker)
    assert graded.result.score == 0
    needles = _hidden_needles(SEED)
    assert len(needles) > 10
    leaked = mentions_any(graded.student_text(), needles)
    assert not leaked, f"{len(leaked)} hidden inputs shown to the student, e.g. {leaked[:3]}"


def test_hidden_inputs_never_reach_the_student_from_a_forged_end_of_the_shown_part(
    pool, before, grader_secrets
) -> None:
    # The hidden fixtures run in the child that ran the shown ones: a forged "done" gets
    # the hidden request sent while the shown part's code still runs, and it reads it.
    lab = small_lab()
    shown = len(lab.fixtures_by("public", "randomised"))
    graded = run_attack(pool, grader_secrets, "hunt_after_done", lab=lab, calls=shown)
    aftermath(pool, before, grader_secrets.marker)
    assert graded.result.score == 0
    # The forgery worked: the shown part was sealed on it (the harness's own frames then
    # broke the hidden part's stream), so the hidden request went out during the hunt.
    assert "corrupted the result stream" in (graded.hidden.report.termination or "")
    assert "HUNTED" not in graded.shown.report.output  # printed after the seal: dropped
    needles = _hidden_needles(SEED)
    assert len(needles) > 10
    leaked = mentions_any(graded.student_text() + graded.shown.report.output, needles)
    assert not leaked, f"{len(leaked)} hidden inputs shown to the student, e.g. {leaked[:3]}"
    assert not mentions_any(graded.result.output, needles)


def test_hidden_inputs_never_reach_the_student_through_line_numbers(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "leak_line_number")
    aftermath(pool, before, grader_secrets.marker)
    built = fixtures.build(find_lab(LAB_ID), ("hidden",), SEED)
    lines = {round(float(np.asarray(f.args[0], dtype=float).ravel()[0]) * 1e6) % (1 << 31) for f in built}
    needles = [f"(line {n})" for n in lines if n > 1000]
    assert len(needles) > 5
    leaked = mentions_any(graded.student_text(), needles)
    assert not leaked, f"hidden inputs shown as line numbers: {leaked[:5]}"


@pytest.mark.parametrize("field", ["elapsed", "status", "kind"])
def test_hostile_event_fields_are_a_corrupt_stream(pool, before, grader_secrets, field: str) -> None:
    graded = grade_attack(pool, attack_source("hostile_fields", field=field), None, SEED)
    aftermath(pool, before, grader_secrets.marker, check_fds=False)
    leaked = open_fds() - before.fds - set(pool._pending)  # reaped pipes of finished runs close on the next run
    assert graded.result.status == "graded", graded.result.error
    assert_all_failed(graded, "corrupted the result stream")
    assert not leaked, f"the grader leaked descriptors {sorted(leaked)}"


def test_forged_result_frames_past_the_last_fixture_are_a_corrupt_stream(pool, before, grader_secrets) -> None:
    graded = grade_attack(pool, attack_source("forged_frames", beyond=True, calls=0), None, SEED)
    aftermath(pool, before, grader_secrets.marker, check_fds=False)
    leaked = open_fds() - before.fds - set(pool._pending)  # reaped pipes of finished runs close on the next run
    assert graded.result.status == "graded", graded.result.error
    assert graded.result.score == 0
    assert not leaked, f"the grader leaked descriptors {sorted(leaked)}"


def test_result_arrays_held_by_the_grader_are_bounded(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "huge_results", lab=small_lab(wall_seconds=10, cpu_seconds=5))
    aftermath(pool, before, grader_secrets.marker)
    assert graded.result.score == 0
    for run in graded.runs:
        held = sum(o.value.nbytes for o in run.report.outcomes if o.value is not None)
        assert held <= 4 * wire.MAX_FRAME_BYTES, f"the grader holds {held / 1e6:.0f} MB for one run"


def test_an_oversized_result_says_why_on_its_own_fixture(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "huge_arrays")
    aftermath(pool, before, grader_secrets.marker)
    assert_all_failed(graded, "array frame too large: shape (2000001,)")


def test_a_stream_cut_mid_frame_is_reported_as_corrupt(pool, before, grader_secrets) -> None:
    graded = run_attack(pool, grader_secrets, "truncated_frame")
    aftermath(pool, before, grader_secrets.marker)
    assert graded.result.score == 0
    assert_all_failed(graded, "corrupted the result stream")


# ---------------------------------------------------------------------------------
# The forgiving load as a hiding place (issue 14)
# ---------------------------------------------------------------------------------


def _skip_attack(pool: Any, found: Secrets, flood: int = 0, **extra: Any) -> Graded:
    """``skip_to_hide``, with ``flood`` more statements that raise, on a forgiving lab."""
    source = attack_source("skip_to_hide", **params(pool, found, **extra))
    source += "".join(f"raise ValueError({i})\n" for i in range(flood))
    graded = grade_attack(pool, source, small_lab(forgiving_load=True), SEED)
    leaked = mentions_any(graded.evidence(), found.values())
    assert not leaked, f"secrets in the result: {leaked}"
    return graded


def test_statements_skipped_after_forbidden_acts_gain_nothing_and_say_one_short_line(
    pool, before, grader_secrets
) -> None:
    graded = _skip_attack(pool, grader_secrets, flood=60)
    result = graded.result
    assert result.score == result.max_score  # the honest functions below were graded
    messages = [w["message"] for w in result.load_warnings]
    assert len(messages) == 21 and messages[-1] == "43 more statements were skipped."  # 3 + 60 raised, 20 listed
    loot = next(w for w in result.load_warnings if w["error"].startswith("RuntimeError: LOOT"))
    # the file is not there (the jail), or the audit hook refused the read first: never its text
    assert "FileNotFoundError" in loot["error"] or "reading files outside the sandbox" in loot["error"]
    assert "KeyError: 'LOSSGRADER_SECRET_KEY'" in loot["error"]
    assert grader_secrets.key not in loot["error"] and grader_secrets.marker not in loot["error"]
    forged = next(w for w in result.load_warnings if w["error"].startswith("ValueError:"))
    for text in (forged["error"], forged["message"]):
        assert not any(c in text for c in "\n\r\x1b\u202e"), text
    assert "`code`" not in forged["message"] and "'code'" in forged["message"]  # no code span of its own
    assert all(len(m) < 600 for m in messages)
    aftermath(pool, before, grader_secrets.marker)


def test_a_load_with_the_hidden_inputs_in_memory_never_reaches_the_student(pool, before, grader_secrets) -> None:
    """The functions exit, so the shown part does not end cleanly and the hidden fixtures
    run apart: that child loads the file with the hidden inputs in its memory already."""
    graded = _skip_attack(pool, grader_secrets, exit=True)
    assert len(graded.runs) == 2, "the hidden fixtures should have run apart"
    prefix = "RuntimeError: LEAK "
    hidden_leak = next(s.error for s in graded.hidden.report.skipped if s.error.startswith(prefix))
    shown_leak = next(s.error for s in graded.shown.report.skipped if s.error.startswith(prefix))
    hidden_inputs = hidden_leak[len(prefix) :]
    assert hidden_inputs and hidden_inputs != shown_leak[len(prefix) :]  # the attack found them
    assert hidden_inputs[:40] not in graded.student_text()
    shown = [_letters(s.error) for s in graded.shown.report.skipped]
    for warning in graded.result.load_warnings:  # what the student reads is the shown load's
        assert any(text.startswith(_letters(warning["error"])) for text in shown), warning
    aftermath(pool, before, grader_secrets.marker)


def _letters(text: str) -> str:
    """Letters and digits only: a warning's error is the child's, cleaned and cut short."""
    return "".join(c for c in text.rstrip("…") if c.isalnum())


# ---------------------------------------------------------------------------------
# The suite itself
# ---------------------------------------------------------------------------------


def test_every_attack_is_documented_and_used() -> None:
    here = Path(__file__).read_text() + (Path(__file__).parent / "hostile.py").read_text()
    names = attack_names()
    assert len(names) >= 25
    for name in names:
        assert attack_docstring(name), f"attacks/{name}.py has no docstring naming its attack"
        assert f'"{name}"' in here, f"attacks/{name}.py is not used by any test"
