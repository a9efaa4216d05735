"""Running student code out of process, and reading back what it returned.

A :class:`Runner` takes the source, the calls to make (inputs only, never expected
values) and the limits, and returns a :class:`RunReport` with one :class:`CallOutcome`
per call. :class:`SubprocessRunner` is the portable runner (a fresh interpreter with a
wall-clock timeout, an output cap and, on POSIX, rlimits): the student's local
``check`` uses it on any OS. The server uses :mod:`grader.sandbox` behind the same
interface.

This module is imported by the CLI before anything heavy (the lab's limits come from
here, and ``check`` starts its child first): it imports neither NumPy nor the harness
at load time.

:class:`OutcomeCollector` turns the child's untrusted event stream into outcomes; every
runner uses it, so every runner validates the stream the same way.
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

# grader.grading.wire and harness import NumPy: they are imported where first needed
# (``from grader.grading import wire`` in the functions below) so that importing this
# module stays cheap.

_STATUSES = {"ok", "missing", "raised", "non_numeric"}
_KINDS = {"scalar", "array", "list", "non_numeric"}
_MAX_TEXT = 600
#: A skipped statement's error, as kept from the child's event.
_MAX_SKIPPED_TEXT = 300
#: All result arrays of one run together; far above any lab's answers (a 1,000 x 100
#: softmax is 0.8 MB), far below what would strain the grader.
MAX_RESULT_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class RunLimits:
    """Resource limits of one group of fixtures (the shown ones, or the hidden ones): each gets these."""

    wall_seconds: float = 10.0
    cpu_seconds: float = 5.0
    memory_mib: int = 1024
    output_bytes: int = 64 * 1024
    file_bytes: int = 1024 * 1024
    open_files: int = 64
    processes: int = 1
    #: How the file loads, not a limit, but set per lab and carried with its limits to
    #: every runner: True skips top-level statements that raise (see
    #: :func:`grader.grading.harness.load_submission`); False stops at the first.
    forgiving_load: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, for results and the sandbox."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Call:
    """One function call to make in the child: ``function(*args)``.

    ``label`` names the fixture, for messages such as "time limit exceeded on X".
    """

    label: str
    function: str
    args: tuple[Any, ...]
    #: The same inputs for every submission (not randomised): runners may keep what
    #: they derive from this Call, for as long as they hold it.
    fixed: bool = field(default=False, compare=False)

    @functools.cached_property
    def encoded(self) -> bytes:
        """This call as a request encodes it; made once per Call (fixed fixtures keep theirs)."""
        from grader.grading import harness

        return harness.encode_call(self.function, self.args)


@dataclass
class CallOutcome:
    """What happened to one call, as reported by the child and checked by the parent.

    status: ``ok``, ``missing`` (function not defined), ``raised``, ``non_numeric``
    (returned something that is not made of numbers), or ``not_run`` (the process
    ended, or was stopped, before it reported this call).
    """

    status: str
    value: np.ndarray | None = None
    kind: str | None = None
    type_name: str | None = None
    error: str | None = None
    line: int | None = None
    mutated: list[int] = field(default_factory=list)
    elapsed: float | None = None


@dataclass(frozen=True)
class SkippedStatement:
    """A top-level statement that raised during a forgiving load and was skipped:
    its first line and the error, as the child reported them (untrusted text)."""

    line: int
    error: str


@dataclass
class RunReport:
    """Everything a runner learned from one run of a submission."""

    outcomes: list[CallOutcome]
    load_error: str | None = None
    load_error_line: int | None = None
    skipped: list[SkippedStatement] = field(default_factory=list)
    skipped_more: int = 0  # skipped statements beyond those listed
    output: str = ""
    output_truncated: bool = False
    termination: str | None = None
    wall_seconds: float = 0.0


class Runner(Protocol):
    """Runs untrusted code; never sees expected values."""

    def run(self, source: str, functions: list[str], calls: list[Call], limits: RunLimits) -> RunReport:
        """Run ``calls`` against ``source`` within ``limits``."""
        ...


class OutcomeCollector:
    """Validates the child's events, in order, and builds the outcomes.

    Any deviation from the protocol (wrong order, unknown fields, a result without
    its array, malformed frames) raises :class:`wire.ProtocolError`; outcomes
    gathered before it are kept.
    """

    def __init__(self, calls: list[Call]) -> None:
        from grader.grading import wire

        self.calls = calls
        self.outcomes: list[CallOutcome | None] = [None] * len(calls)
        self.loaded = False
        self.load_error: str | None = None
        self.load_error_line: int | None = None
        self.skipped: list[SkippedStatement] = []
        self.skipped_more = 0
        self.done = False
        self.running: int | None = None  # index of the call started, not yet reported
        self._awaiting_array: CallOutcome | None = None
        self._next = 0
        self._array_bytes = 0
        self.decoder = wire.FrameDecoder()

    def feed(self, data: bytes) -> None:
        """Consume raw bytes from the child; anything malformed is a :class:`wire.ProtocolError`."""
        from grader.grading import wire

        try:
            for tag, value in self.decoder.feed(data):
                self._frame(tag, value)
        except wire.ProtocolError:
            raise
        except Exception as exc:  # hostile field values must never crash the grader
            raise wire.ProtocolError(f"malformed event ({type(exc).__name__})") from None

    def _frame(self, tag: bytes, value: Any) -> None:
        from grader.grading import wire

        if self._awaiting_array is not None:
            if tag != wire.ARRAY:
                raise wire.ProtocolError("a result was not followed by its value")
            self._array_bytes += value.nbytes
            if self._array_bytes > MAX_RESULT_BYTES:
                raise wire.ProtocolError("the results are larger than the grader accepts")
            self._awaiting_array.value = value
            self._awaiting_array = None
            return
        if tag != wire.JSON or self.done:
            raise wire.ProtocolError("unexpected frame")
        event = value.get("event")
        if not self.loaded and self.load_error is None:
            if event == "loaded":
                self.skipped, self.skipped_more = _skipped(value)
                self.loaded = True
            elif event == "load_error":
                self.load_error = _text(value.get("error")) or "the file could not be loaded"
                self.load_error_line = _int(value.get("line"))
                self.done = True
            else:
                raise wire.ProtocolError("expected a load event")
        elif event == "start":
            if value.get("call") != self._next or self.running is not None or self._next >= len(self.calls):
                raise wire.ProtocolError("calls reported out of order")
            self.running = self._next
        elif event == "result":
            if value.get("call") != self.running:
                raise wire.ProtocolError("result for a call that was not started")
            self.outcomes[self.running] = outcome = self._outcome(value)
            self.running = None
            self._next += 1
            if outcome.status == "ok":
                self._awaiting_array = outcome
        elif event == "done":
            if self._next != len(self.calls):
                raise wire.ProtocolError("done before every call was reported")
            self.done = True
        else:
            raise wire.ProtocolError("unknown event")  # the event's text is the child's: not repeated

    def _outcome(self, event: dict[str, Any]) -> CallOutcome:
        from grader.grading import wire

        status = event.get("status")
        kind = event.get("kind")
        if not isinstance(status, str) or status not in _STATUSES:
            raise wire.ProtocolError("result with an unknown status")
        if kind is not None and (not isinstance(kind, str) or kind not in _KINDS):
            raise wire.ProtocolError("result with an unknown kind")
        mutated = event.get("mutated") or []
        n_args = len(self.calls[self.running or 0].args)
        if not isinstance(mutated, list) or not all(_int(i) is not None and 0 <= i < n_args for i in mutated):
            raise wire.ProtocolError("malformed mutated list")
        elapsed = event.get("elapsed")
        if elapsed is not None and (
            isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not 0 <= elapsed < 1e6
        ):
            raise wire.ProtocolError("malformed elapsed time")
        line = _int(event.get("line"))
        return CallOutcome(
            status=status,
            kind=kind,
            type_name=_text(event.get("type"), 80),
            error=_text(event.get("error")),
            line=line if line is not None and 0 < line < 1_000_000 else None,
            mutated=sorted(set(mutated)),
            elapsed=float(elapsed) if elapsed is not None else None,
        )

    def finish(self, termination: str | None, corrupt: str | None = None) -> list[CallOutcome]:
        """Outcomes for every call; unreported ones become ``not_run`` with a reason."""
        if self._awaiting_array is not None:
            self._awaiting_array.status = "not_run"
            self._awaiting_array.error = f"not run: {corrupt}" if corrupt else "the result was cut off"
        reason = corrupt or termination
        result = []
        for index, outcome in enumerate(self.outcomes):
            if outcome is None:
                if self.load_error is not None:
                    why = "the file could not be loaded"
                elif index == self.running and termination:
                    why = f"{termination} on fixture {self.calls[index].label}"
                elif reason:
                    why = f"not run: {reason}"
                else:
                    why = "not run: the process ended before reaching this fixture"
                outcome = CallOutcome(status="not_run", error=why)
            result.append(outcome)
        return result


def _skipped(event: dict[str, Any]) -> tuple[list[SkippedStatement], int]:
    """A ``loaded`` event's skipped statements, checked: at most as many as the harness
    lists, each with a plausible line and a short text; anything else is hostile."""
    from grader.grading import harness, wire

    listed = event.get("skipped") or []
    more = event.get("skipped_more") or 0
    if not isinstance(listed, list) or len(listed) > harness.MAX_SKIPPED:
        raise wire.ProtocolError("malformed skipped statements")
    if _int(more) is None or not 0 <= more < 1_000_000:
        raise wire.ProtocolError("malformed skipped count")
    skipped = []
    for item in listed:
        line = _int(item.get("line")) if isinstance(item, dict) else None
        error = item.get("error") if isinstance(item, dict) else None
        if line is None or not 0 < line < 1_000_000 or not isinstance(error, str):
            raise wire.ProtocolError("malformed skipped statement")
        skipped.append(SkippedStatement(line, _text(error, _MAX_SKIPPED_TEXT) or ""))
    return skipped, more


def _text(value: Any, limit: int = _MAX_TEXT) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def describe_exit(returncode: int | None) -> str | None:
    """A person-readable reason for an abnormal exit, or None for a normal one."""
    if returncode is None or returncode >= 0:
        return None
    signum = -returncode
    if signum == getattr(signal, "SIGXCPU", -1):
        return "CPU time limit exceeded"
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return f"the process was killed by signal {signum} ({name})"


def child_environment() -> dict[str, str]:
    """A minimal environment: no secrets, single-threaded BLAS."""
    env = {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    if sys.platform == "win32":  # Python cannot start on Windows without these
        for key in ("SYSTEMROOT", "TEMP", "TMP"):
            if key in os.environ:
                env[key] = os.environ[key]
    return env


# The package root is put on the child's path explicitly so that the harness imports
# from the same tree as the parent, installed or not.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BOOTSTRAP = "import sys; sys.path.insert(0, {root!r}); from grader.grading.harness import main; main()"


class SubprocessRunner:
    """A fresh interpreter per submission: portable, not a sandbox.

    Limits: wall clock (the process group is killed), output cap, and on POSIX the
    CPU, address-space, file-size, open-files and core rlimits.

    :meth:`prestarted` starts the first child at once, before the caller knows what it
    will run: its interpreter and NumPy load while the caller loads the rest (what
    ``lossgrader check`` does on start-up), or, with ``fork``, it is this process
    forked. Such a runner is closed after use (or used as a context manager) so that a
    child never run does not linger.
    """

    def __init__(self) -> None:
        self._spare: _Child | None = None
        self._lock = threading.Lock()

    @classmethod
    def prestarted(cls, limits: RunLimits, *, fork: bool = False) -> SubprocessRunner:
        """A runner whose first run with exactly ``limits`` uses a child started now.

        ``fork``: on Linux, if this process runs no other thread once it has imported
        NumPy and the harness, the child is this process forked (ready in ~2 ms, where a
        new interpreter takes as long as ``import numpy`` again, and two such imports at
        once slow each other down on two cores). Only for a caller that holds nothing
        yet that a submission must not see: ``check``, before it loads its lab. The
        child then gets what a new one gets (limits, session, folder, environment, path).
        """
        runner = cls()
        runner._spare = (_Child.fork(limits) if fork else None) or _Child.start(limits)
        return runner

    def run(self, source: str, functions: list[str], calls: list[Call], limits: RunLimits) -> RunReport:
        """Run ``calls`` against ``source`` in a new interpreter."""
        from grader.grading import harness

        request = harness.encode_request(
            source, functions, [c.encoded for c in calls], **({"forgiving": True} if limits.forgiving_load else {})
        )
        collector = OutcomeCollector(calls)
        started = time.monotonic()
        with self._take_spare(limits) or _Child.start(limits) as child:
            return _supervise(child.proc, request, collector, limits, started)

    def _take_spare(self, limits: RunLimits) -> _Child | None:
        """The prestarted child, if there is one, it still waits and it has these limits."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and (spare.limits != limits or spare.proc.poll() is not None):
            spare.close()  # started for other limits, or gone: never reused
            return None
        return spare

    def close(self) -> None:
        """End the prestarted child if no run used it."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.close()

    def __enter__(self) -> SubprocessRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Child:
    """One child interpreter waiting for its request, in a working folder of its own."""

    def __init__(self, proc: subprocess.Popen[bytes], workdir: tempfile.TemporaryDirectory[str], limits: RunLimits):
        self.proc = proc
        self.workdir = workdir
        self.limits = limits

    @classmethod
    def start(cls, limits: RunLimits) -> _Child:
        """Start the bootstrap under ``limits``: a minimal environment, a new session, rlimits."""
        workdir = tempfile.TemporaryDirectory(prefix="lossgrader-")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOTSTRAP.format(root=_PACKAGE_ROOT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=workdir.name,
                env=child_environment(),
                start_new_session=sys.platform != "win32",
                preexec_fn=_posix_limits(limits) if sys.platform != "win32" else None,
            )
        except BaseException:
            workdir.cleanup()
            raise
        return cls(proc, workdir, limits)

    @classmethod
    def fork(cls, limits: RunLimits) -> _Child | None:
        """This process forked to wait for its request as a new child would (see
        :meth:`SubprocessRunner.prestarted`); None where that cannot be done safely."""
        if not sys.platform.startswith("linux"):  # macOS: its frameworks are not fork-safe
            return None
        if "numpy" not in sys.modules:  # no BLAS threads: a forked process keeps only its own
            for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[name] = "1"
        from grader.grading import harness  # imports NumPy: what the child inherits instead of loading

        if threading.active_count() != 1 or len(os.listdir("/proc/self/task")) != 1:
            return None  # another thread may hold a lock the child would wait on forever
        isolated_path = _isolated_path()
        workdir = tempfile.TemporaryDirectory(prefix="lossgrader-")
        stdin, stdout, stderr = os.pipe(), os.pipe(), os.pipe()
        for stream in (sys.stdout, sys.stderr):  # or the child would write them out again
            if stream is not None:
                stream.flush()
        pid = os.fork()
        if pid == 0:
            _forked_child(harness, limits, workdir.name, isolated_path, (stdin[0], stdout[1], stderr[1]))
        for fd in (stdin[0], stdout[1], stderr[1]):
            os.close(fd)
        proc = _ForkedProcess(pid, open(stdin[1], "wb"), open(stdout[0], "rb"), open(stderr[0], "rb"))  # noqa: SIM115
        return cls(proc, workdir, limits)  # type: ignore[arg-type]

    def close(self) -> None:
        """Kill the child (unless it was already reaped) and remove its folder."""
        if self.proc.returncode is None:
            kill_tree(self.proc)
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if stream is not None:  # never run: no reader thread holds them
                    stream.close()
        self.workdir.cleanup()

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _isolated_path() -> list[str]:
    """``sys.path`` as ``python -I`` would have it, the package root first (as the bootstrap puts it):
    without the script's folder, ``PYTHONPATH`` and the user's site-packages."""
    import site

    dropped = {p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    dropped.update(p for p in (getattr(site, "USER_SITE", None),) if p)
    script_folder = 0 if sys.flags.safe_path else 1  # -P and -I put no such folder first
    return [_PACKAGE_ROOT] + [p for p in sys.path[script_folder:] if p not in dropped]


def _forked_child(harness: Any, limits: RunLimits, workdir: str, path: list[str], fds: tuple[int, int, int]) -> None:
    """The forked child: become what :meth:`_Child.start` makes, then serve; never returns."""
    try:
        os.setsid()
        os.chdir(workdir)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, 1 << 16)  # the parent's descriptors (a new interpreter inherits none)
        os.environ.clear()
        os.environ.update(child_environment())
        sys.path[:] = path
        sys.argv[:] = ["-c"]
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the harness reads the request from it
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        _posix_limits(limits)()
        harness.main()  # ends the process
    except BaseException:  # as a new interpreter would: a traceback, exit status 1
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)


class _ForkedProcess:
    """What the runner uses of a ``subprocess.Popen`` (the streams, ``poll``, ``wait``), for a forked child."""

    def __init__(self, pid: int, stdin: Any, stdout: Any, stderr: Any) -> None:
        self.pid = pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code if the child has ended (reaping it), else None."""
        return self._reap(os.WNOHANG)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end; ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        if timeout is None:
            code = self._reap(0)
            assert code is not None
            return code
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while (code := self.poll()) is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(["(forked child)"], timeout)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return code

    def kill(self) -> None:
        """SIGKILL the child (what ``Popen.kill`` does)."""
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)

    def _reap(self, flags: int) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, flags)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _posix_limits(limits: RunLimits):  # type: ignore[no-untyped-def]
    import resource

    def apply() -> None:
        cpu = max(1, int(limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        if sys.platform.startswith("linux"):  # macOS does not enforce RLIMIT_AS
            memory = limits.memory_mib * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return apply


def _supervise(
    proc: subprocess.Popen[bytes],
    request: bytes,
    collector: OutcomeCollector,
    limits: RunLimits,
    started: float,
) -> RunReport:
    """Feed the request, read results and output, enforce the wall clock."""
    from grader.grading import wire

    corrupt: list[str] = []
    output = bytearray()
    truncated = [False]

    def write_request() -> None:
        try:
            assert proc.stdin is not None
            proc.stdin.write(request)
            proc.stdin.close()
        except OSError:  # the child died before reading everything
            pass

    def read_results() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(65536):
            if corrupt:
                continue  # drain, so the child never blocks on a full pipe
            try:
                collector.feed(chunk)
            except wire.ProtocolError as exc:  # feed turns every other failure into this
                corrupt.append(f"the submission corrupted the result stream ({exc})")

    def read_output() -> None:
        assert proc.stderr is not None
        while chunk := proc.stderr.read1(65536):
            room = limits.output_bytes - len(output)
            if room > 0:
                output.extend(chunk[:room])
            if len(chunk) > room:
                truncated[0] = True

    threads = [threading.Thread(target=f, daemon=True) for f in (write_request, read_results, read_output)]
    for thread in threads:
        thread.start()
    termination = None
    try:
        if not wait_for_exit(proc, limits.wall_seconds):
            termination = f"time limit of {limits.wall_seconds:g} s exceeded"
    finally:
        kill_tree(proc)
    for thread in threads:
        thread.join(timeout=2.0)
    if termination is None:
        termination = describe_exit(proc.returncode)
        if termination == "CPU time limit exceeded":
            termination = f"CPU time limit of {limits.cpu_seconds:g} s exceeded"
    if not corrupt and collector.decoder.pending:
        corrupt.append("the submission corrupted the result stream (it ended in the middle of a frame)")
    if termination is None and not collector.done and not corrupt:
        termination = f"the process exited early (exit code {proc.returncode})"
    outcomes = collector.finish(termination, corrupt[0] if corrupt else None)
    return RunReport(
        outcomes=outcomes,
        load_error=collector.load_error,
        load_error_line=collector.load_error_line,
        skipped=collector.skipped,
        skipped_more=collector.skipped_more,
        output=output.decode("utf-8", errors="replace"),
        output_truncated=truncated[0],
        termination=corrupt[0] if corrupt else termination,
        wall_seconds=time.monotonic() - started,
    )


def wait_for_exit(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait until the child ends (reaping it) or ``timeout`` seconds pass; True if it ended.

    Where Linux gives a descriptor for the process (a pidfd) this wakes the moment the
    child ends: ``Popen.wait(timeout)`` polls with a back-off that doubles up to 50 ms,
    so it notices an exit after about a third more than the run took again (30 ms late
    on a 60 ms run), which is most of a short ``check``.
    """
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None and proc.returncode is None:
        try:
            pidfd = pidfd_open(proc.pid)
        except OSError:  # a kernel without pidfds (before 5.3), or a seccomp filter
            pidfd = None
        if pidfd is not None:
            try:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                ended = bool(poller.poll(max(0.0, timeout) * 1000))
            finally:
                os.close(pidfd)
            if ended:
                proc.wait()
            return ended
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child and, on POSIX, everything in its process group."""
    if proc.poll() is None or sys.platform != "win32":
        try:
            if sys.platform == "win32":
                proc.kill()
            else:
                os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # no such group (yet): a forked child before its setsid()
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        except PermissionError:
            pass
    proc.wait()
