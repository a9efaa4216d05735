"""Helpers for the red-team suite: hostile sources, evidence, and the state of the host.

Every attack is graded through one shared :class:`~grader.sandbox.SandboxRunner`; after
each one, :func:`aftermath` checks that nothing of it is left (processes, files,
sockets, descriptors, patched modules) and that the next, honest submission graded by
the same pool still gets every point.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.grading.engine import grade
from grader.grading.lab import Lab, find_lab, with_limits
from grader.grading.result import Result
from grader.grading.runner import Call, RunLimits, RunReport

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ATTACKS = Path(__file__).resolve().parent / "attacks"
CORRECT = PROJECT_ROOT / "tests" / "implementations" / "lab03-softmax-ce" / "correct_logsumexp.py"
LAB_ID = "lab03-softmax-ce"
NUMPY_DIR = Path(np.__file__).resolve().parent
SITE_PACKAGES = NUMPY_DIR.parent

#: Small limits keep the suite fast; the lab's own are 5 s, 2 s and 512 MiB. The wall
#: clock is well above the CPU limit so that, on a loaded machine, a CPU-bound attack
#: still meets the CPU limit first (tests of the wall clock set their own, shorter one).
LIMITS = RunLimits(wall_seconds=5, cpu_seconds=1, memory_mib=256, output_bytes=32768)

_PARAMS_LINE = "PARAMS: dict = {}  # filled in by the test"
#: ``from _prelude import <names>  # inlined by the test``: replaced by the whole prelude.
_PRELUDE_LINE = re.compile(r"^from _prelude import [\w, ]+  # inlined by the test$", re.MULTILINE)


class AftermathError(Exception):
    """Something of an attack outlived it, or the pool no longer grades correctly.

    Not an AssertionError on purpose: tests of known holes are ``xfail(raises=
    AssertionError)``, and a broken aftermath must fail them for real.
    """


def small_lab(**changes: Any) -> Lab:
    """Lab03 with the suite's small limits (and any other changes)."""
    limits = {**LIMITS.to_dict(), **changes}
    return with_limits(find_lab(LAB_ID), **limits)


def attack_source(name: str, **params: Any) -> str:
    """The source of ``attacks/<name>.py`` with its parameters and prelude inlined."""
    text = (ATTACKS / f"{name}.py").read_text()
    if _PRELUDE_LINE.search(text):
        prelude = (ATTACKS / "_prelude.py").read_text()
        text = _PRELUDE_LINE.sub(lambda _: prelude, text, count=1)
    if _PARAMS_LINE in text:  # attacks without the line take no parameters
        text = text.replace(_PARAMS_LINE, f"PARAMS: dict = {params!r}")
    return text


def attack_names() -> list[str]:
    """Every attack file (the prelude is not one)."""
    return sorted(p.stem for p in ATTACKS.glob("*.py") if not p.stem.startswith("_"))


def attack_docstring(name: str) -> str:
    """The first line of an attack's docstring: the attack it makes."""
    import ast

    doc = ast.get_docstring(ast.parse((ATTACKS / f"{name}.py").read_text())) or ""
    return doc.splitlines()[0] if doc else ""


# ---------------------------------------------------------------------------------
# Running and looking at what came back
# ---------------------------------------------------------------------------------


@dataclass
class Recorded:
    """One run as the engine made it."""

    calls: list[Call]
    report: RunReport


class RecordingRunner:
    """Delegates to the shared pool and keeps every report, for evidence."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.runs: list[Recorded] = []
        self._lock = threading.Lock()

    def run(self, source: str, functions: list[str], calls: list[Call], limits: RunLimits) -> RunReport:
        report = self.inner.run(source, functions, calls, limits)
        with self._lock:
            self.runs.append(Recorded(list(calls), report))
        return report

    def run_in_turn(
        self, source: str, functions: list[str], first: list[Call], then: list[Call], limits: RunLimits
    ) -> tuple[RunReport, RunReport | None]:
        """The pool's run in turn (what the service grades with), each part kept as a run."""
        report, second = self.inner.run_in_turn(source, functions, first, then, limits)
        with self._lock:
            self.runs.append(Recorded(list(first), report))
            if second is not None:  # None: the engine runs the hidden part apart, through run()
                self.runs.append(Recorded(list(then), second))
        return report, second


@dataclass
class Graded:
    """A graded attack: the result and the runs behind it."""

    result: Result
    runs: list[Recorded] = field(default_factory=list)

    def _run_of(self, hidden: bool) -> Recorded:
        # The two runs start together and may end in either order: tell them by their fixtures.
        names = {t.name for t in self.result.tests if t.visibility == "hidden"}
        for run in self.runs:
            if bool(run.calls) and all(c.label in names for c in run.calls) == hidden:
                return run
        raise LookupError(f"no {'hidden' if hidden else 'shown'} run among {len(self.runs)}")

    @property
    def shown(self) -> Recorded:
        return self._run_of(hidden=False)

    @property
    def hidden(self) -> Recorded:
        return self._run_of(hidden=True)

    def evidence(self) -> str:
        """Everything anyone could read: the result in every view, every report's texts,
        and returned values decoded as text when they look like character codes."""
        parts = [
            json.dumps(self.result.to_dict(), default=str),
            json.dumps(self.result.student_view(), default=str),
            json.dumps(self.result.to_gradescope(), default=str),
            self.from_child(),
        ]
        return "\n".join(parts)

    def from_child(self) -> str:
        """Everything the child sent back: output, errors, type names, values as text.

        (The grader's own result legitimately holds hidden descriptions and expected
        values for instructors; file contents must not come from the child.)"""
        parts = []
        for run in self.runs:
            report = run.report
            parts += [report.output, str(report.load_error), str(report.termination)]
            for outcome in report.outcomes:
                parts += [str(outcome.error), str(outcome.type_name)]
                parts.append(decode_text(outcome.value))
        return "\n".join(parts)

    def student_text(self) -> str:
        """What a student may see (their web page and Gradescope)."""
        gradescope = self.result.to_gradescope()
        gradescope.pop("extra_data")  # our own fields, not shown to students
        return json.dumps({"view": self.result.student_view(), "gradescope": gradescope}, default=str)


def decode_text(value: np.ndarray | None) -> str:
    """Return values an attack made of byte values, read back as text."""
    if value is None or value.size == 0 or value.ndim != 1:
        return ""
    if not np.all(np.isfinite(value)) or np.any(value < 0) or np.any(value > 255) or np.any(value != np.round(value)):
        return ""
    return bytes(value.astype(np.uint8)).decode("latin-1")


def grade_attack(pool: Any, source: str, lab: Lab | None = None, seed: int = 7) -> Graded:
    """Grade one submission through the shared pool, keeping the runs."""
    recorder = RecordingRunner(pool)
    result = grade(source, lab or small_lab(), seed, runner=recorder)
    return Graded(result, recorder.runs)


def assert_all_failed(
    graded: Graded, reason: str, visibilities: Iterable[str] = ("public", "hidden", "randomised")
) -> None:
    """Every fixture of these visibilities scored 0, and its full message names ``reason``."""
    assert graded.result.status == "graded", graded.result.error
    for test in graded.result.tests:
        if test.visibility not in visibilities:
            continue
        assert test.score == 0, f"{test.name} scored {test.score}: {test.message}"
        assert not test.passed
        assert reason in test.message, f"{test.name}: {test.message!r} does not say {reason!r}"


def assert_killed(graded: Graded, reason: str) -> None:
    """The run was stopped: the fixture it was on says ``reason on fixture X``, later
    ones ``not run: reason``; every fixture scores 0."""
    assert graded.result.status == "graded", graded.result.error
    assert all(t.score == 0 for t in graded.result.tests), [t.name for t in graded.result.tests if t.score]
    for group in (("public", "randomised"), ("hidden",)):
        tests = [t for t in graded.result.tests if t.visibility in group]
        first = tests[0]
        assert first.message == f"{reason} on fixture {first.name}", first.message
        assert first.stage == "not_run"
        for later in tests[1:]:
            assert later.message == f"not run: {reason}", later.message


# ---------------------------------------------------------------------------------
# The host, seen from outside
# ---------------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def processes_with_uids(uids: range) -> list[int]:
    found = []
    for pid in pids():
        uid = proc_status(pid).get("Uid", "").split()
        if uid and int(uid[0]) in uids:
            found.append(pid)
    return found


def children_of(pid: int) -> set[int]:
    return {p for p in pids() if proc_status(p).get("PPid") == str(pid)}


def descendants_of(pid: int) -> set[int]:
    """Every process below ``pid``."""
    parents: dict[int, list[int]] = {}
    for p in pids():
        parent = proc_status(p).get("PPid")
        if parent and parent.isdigit():
            parents.setdefault(int(parent), []).append(p)
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in parents.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def sandbox_processes(pool: Any) -> list[int]:
    """The processes of the pool's runs and spares. As root they have the pool's uids; in the
    unprivileged mode they have the service's uid outside their user namespaces, so they are
    the fork server's descendants instead."""
    if pool.mode == "root":
        return processes_with_uids(pool.uids)
    server = pool.server_pid
    return sorted(descendants_of(server)) if server else []


def host_sockets(pool: Any, ports: Iterable[int] = (5432, 6379)) -> list[str]:
    """Sockets in the host's tables that would be the sandbox's: as root, any owned by the
    pool's uids (and connections to ``ports``); in the unprivileged mode the runs share the
    service's uid with this process, so connections of that uid to ``ports``."""
    if pool.mode == "root":
        return inet_sockets(pool.uids) + connections_to(ports, pool.uids)
    uid = os.getuid()
    return connections_to(ports, range(uid, uid + 1))


#: What the runner's cache of sealed fixture inputs looks like in /proc/self/fd.
_FIXTURE_MEMFD = "/memfd:lossgrader-fixtures"


def _fd_targets() -> dict[int, str]:
    """This process's descriptors and what each points at."""
    targets = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed since
            targets[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
    return targets


def open_fds() -> set[int]:
    """This process's descriptors, but the runner's cache of sealed fixture inputs (one
    memfd per set of fixed fixtures, kept on purpose; bounded, checked apart)."""
    return {fd for fd, target in _fd_targets().items() if not target.startswith(_FIXTURE_MEMFD)}


def describe_fds(fds: set[int]) -> list[str]:
    """``fd -> target`` for a message."""
    targets = _fd_targets()
    return [f"{fd} -> {targets[fd]}" if fd in targets else f"{fd} (closed since)" for fd in sorted(fds)]


def cached_fixture_fds() -> int:
    """How many sealed fixture-input memfds this process holds."""
    return sum(target.startswith(_FIXTURE_MEMFD) for target in _fd_targets().values())


def wait_until(predicate: Any, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


_NET_TABLES = ("tcp", "tcp6", "udp", "udp6", "raw", "raw6")


def inet_sockets(uids: range | None = None, pid: int | None = None) -> list[str]:
    """Inet sockets of this network namespace (or of ``pid``'s), optionally only those
    owned by ``uids``: ``"tcp 0100007F:1538 uid 60001"``."""
    found = []
    base = f"/proc/{pid}/net" if pid else "/proc/net"
    for table in _NET_TABLES:
        try:
            lines = Path(base, table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 8:
                continue
            uid = int(fields[7])
            if uids is None or uid in uids:
                found.append(f"{table} {fields[1]}->{fields[2]} uid {uid}")
    return found


def connections_to(ports: Iterable[int], uids: range) -> list[str]:
    """Sockets owned by the sandbox uids to these remote ports, in the host's namespace."""
    wanted = {f"{p:04X}" for p in ports}
    return [s for s in inet_sockets(uids) if s.split("->")[1].split()[0].rsplit(":", 1)[-1] in wanted]


def files_owned_by(uids: range, roots: Iterable[str] = ("/tmp", "/var/tmp", "/dev/shm")) -> list[str]:
    """Files and folders in ``roots`` (two levels deep) owned by the sandbox uids."""
    found = []
    for root in roots:
        stack = [(root, 0)]
        while stack:
            path, depth = stack.pop()
            try:
                entries = list(os.scandir(path))
            except OSError:
                continue
            for entry in entries:
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    if info.st_uid in uids or info.st_gid in uids:
                        found.append(entry.path)
                    if depth < 1 and entry.is_dir(follow_symlinks=False):
                        stack.append((entry.path, depth + 1))
    return found


def paths_named(marker: str) -> list[str]:
    """Anything whose name holds ``marker`` where an attack might have left it."""
    roots = ["/tmp", "/var/tmp", "/dev/shm", str(PROJECT_ROOT), str(PROJECT_ROOT / "grader"), str(SITE_PACKAGES)]
    roots += [str(NUMPY_DIR), str(PROJECT_ROOT / "labs" / LAB_ID), str(PROJECT_ROOT / "reference"), "/"]
    found = []
    for root in roots:
        with contextlib.suppress(OSError):
            found += [os.path.join(root, name) for name in os.listdir(root) if marker in name]
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: Files an attack tries to change; none may change, none may ever hold the marker.
PROTECTED = [
    NUMPY_DIR / "__init__.py",
    NUMPY_DIR / "_core" / "__init__.py",
    PROJECT_ROOT / "reference" / "losses.py",
    PROJECT_ROOT / "labs" / LAB_ID / "fixtures" / "hidden.toml",
    PROJECT_ROOT / "grader" / "grading" / "harness.py",
]


# ---------------------------------------------------------------------------------
# After an attack
# ---------------------------------------------------------------------------------

#: Run in the sandbox after attacks: whatever a previous submission did, this one
#: starts from the clean state (patched modules, files in /tmp, import machinery).
INVARIANTS_PROBE = """
import builtins, os, sys
import numpy as np
from grader.grading import harness, wire

def check():
    problems = []
    if os.listdir("/tmp"):
        problems.append("tmp")
    if type(np.exp) is not np.ufunc or np.exp.__name__ != "exp" or abs(float(np.exp(1.0)) - 2.718281828459045) > 1e-15:
        problems.append("np.exp")
    if np.sum.__module__ != "numpy" or float(np.sum([1.0, 2.0])) != 3.0 or float(np.max([1.0, 5.0])) != 5.0:
        problems.append("np.sum/max")
    if float(np.mean(np.arange(5.0))) != 2.0 or float(np.log(np.e)) != 1.0:
        problems.append("np.mean/log")
    for name in ("len", "float", "isinstance", "sum", "abs", "print", "open", "__import__", "__build_class__"):
        if type(getattr(builtins, name)).__name__ not in ("builtin_function_or_method", "type"):
            problems.append("builtins." + name)
    if len([1, 2, 3]) != 3 or 2 + 2 != 4 or float("1.5") != 1.5:
        problems.append("arithmetic")
    if harness.to_plain.__module__ != "grader.grading.harness" or harness.SUBMISSION_FILENAME != "submission.py":
        problems.append("harness")
    if wire.MAX_FRAME_BYTES != 16 * 1024 * 1024 or wire.json_frame.__module__ != "grader.grading.wire":
        problems.append("wire")
    if sys.path[-1] != "/sandbox/site" or len(sys.meta_path) != 3 or sys.excepthook is not sys.__excepthook__:
        problems.append("import machinery")
    if [m for m in sys.modules if "redteam" in m or m.startswith("evil")]:
        problems.append("modules")
    if sys.gettrace() is not None or sys.getprofile() is not None:
        problems.append("trace")
    print("problems:", problems)
    return float(len(problems))
"""


@dataclass
class Baseline:
    """The grader's state before an attack."""

    zygote: int | None
    children: set[int]
    fds: set[int]
    digests: dict[Path, str]


def baseline(pool: Any) -> Baseline:
    pool.settle()
    return Baseline(
        zygote=pool.zygote_pid,
        children=children_of(os.getpid()),
        fds=open_fds(),
        digests={p: sha256(p) for p in PROTECTED},
    )


def aftermath(pool: Any, before: Baseline, marker: str, *, check_fds: bool = True) -> None:
    """Nothing of the attack remains, and the next submission gets its full score.

    Raises :class:`AftermathError` (see there) on any problem.
    """

    def fail(message: str) -> None:
        raise AftermathError(message)

    pool.settle()
    # Processes: only the spares remain (an init and a waiting student each); the
    # fork server is the one from before; this process has no new children.
    if not wait_until(lambda: len(sandbox_processes(pool)) <= 2 * pool.spares):
        fail(f"processes left behind: {sandbox_processes(pool)}")
    busy = [p for p in sandbox_processes(pool) if not proc_status(p).get("State", "S").startswith("S")]
    if busy and not wait_until(
        lambda: all(proc_status(p).get("State", "S").startswith("S") for p in sandbox_processes(pool)), 2.0
    ):
        fail(f"sandbox processes still running: {busy}")
    if pool.zygote_pid != before.zygote:
        fail(f"the fork server changed: {before.zygote} -> {pool.zygote_pid}")
    extra = children_of(os.getpid()) - before.children
    if extra:
        fail(f"new children of the grader: {sorted(extra)}")
    # Descriptors of the grader.
    if check_fds and open_fds() - before.fds:
        fail(f"the grader leaked descriptors: {describe_fds(open_fds() - before.fds)}")
    if cached_fixture_fds() > 32:
        fail(f"the runner's cache of fixture inputs grew past its bound: {cached_fixture_fds()} memfds")
    # Files. (Unprivileged, a run's files would have the service's uid, like this test's own:
    # there the names below, and the digests, are the check.)
    owned = files_owned_by(pool.uids) if pool.mode == "root" else []
    if owned:
        fail(f"files owned by sandbox uids: {owned}")
    named = paths_named(marker)
    if named:
        fail(f"files named after the attack's marker: {named}")
    for path, digest in before.digests.items():
        if sha256(path) != digest:
            fail(f"{path} changed")
        if marker.encode() in path.read_bytes():
            fail(f"{path} holds the marker")
    # Sockets: none of the sandbox's here, none inside any sandbox namespace.
    mine = host_sockets(pool)
    if mine:
        fail(f"sockets of the sandbox in the host's tables: {mine}")
    for pid in sandbox_processes(pool):
        theirs = inet_sockets(pid=pid)
        if theirs:
            fail(f"sockets inside sandbox process {pid}: {theirs}")
    # A fresh child starts clean.
    probe = pool.run(INVARIANTS_PROBE, ["check"], [Call("invariants", "check", ())], LIMITS)
    outcome = probe.outcomes[0]
    if outcome.status != "ok":
        fail(f"the invariants probe did not run: {outcome.status} {outcome.error} {probe.termination}")
    if float(outcome.value) != 0.0:
        fail(f"a later submission sees a changed sandbox: {probe.output.strip()}")
    # The next honest submission gets every point.
    honest = grade(CORRECT.read_bytes(), find_lab(LAB_ID), 11, runner=pool)
    if honest.status != "graded" or honest.score != honest.max_score:
        failed = [(t.name, t.message) for t in honest.tests if not t.passed]
        fail(f"the next submission got {honest.score}/{honest.max_score}: {honest.error or failed[:3]}")


def mentions_any(text: str, needles: Iterable[str]) -> list[str]:
    """The needles found in ``text``."""
    return [n for n in needles if n and n in text]
