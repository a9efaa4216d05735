"""The grader side of the sandbox: :class:`SandboxRunner`.

Same interface and :class:`~grader.grading.runner.RunReport` semantics as
:class:`~grader.grading.runner.SubprocessRunner`, but every submission runs in a child
of a warm, jailed fork server (:mod:`grader.sandbox.zygote`) instead of a fresh
interpreter: isolated by namespaces, a read-only minimal filesystem, an unprivileged
uid of its own, rlimits and seccomp, and started in about a millisecond because the
server keeps isolated children ready.

Per run, the grader makes the pipes itself and hands the child's ends to the server
(SCM_RIGHTS over a SOCK_SEQPACKET socketpair), so it reads the child directly:

- request: two memfds, the header (source, functions) and the calls with their
  inputs; the calls' memfd is sealed against writing, and for a set of fixed
  fixtures (the hidden ones, say) it is made once and shared by every run, which
  maps it instead of copying it;
- result: the harness's event stream, fed incrementally to an ``OutcomeCollector``;
- output: stdout and stderr together, capped;
- status: ``R`` once the sandbox is set up, before any student code runs, or ``E``
  and why set-up failed; closed by then, so the student cannot write to it;
- reaped: the server writes init's exit status (the student's, see
  :meth:`Zygote._init`) and CPU time, then closes it, when it has reaped init, i.e.
  when nothing of the run is left.

The server answers with a pidfd for init: SIGKILL to it kills the whole PID
namespace, which is how the wall clock is enforced, with no PID-reuse race.

A run normally ends as soon as the harness has said "done" and closed the result
stream (the child flushes its output first); the namespace is then killed without
waiting for the two exits. Otherwise the exit record decides the reason.

Two modes, chosen by who runs the grader (:func:`sandbox_mode`):

- ``root``: the server is real root; each run's init switches to a uid of its own
  (a block of uids per runner, from :data:`UID_FIRST`);
- ``userns`` (any other user; how a deployment runs, see docs/deployment.md): the
  server is root only inside a user namespace of its own, which maps nothing but the
  service's uid, and each run gets one more user namespace, nested, where it runs as
  a uid of its own without any capability; its mounts are locked read-only there.
  Everything else (namespaces, jail, rlimits, no_new_privs, seccomp) is the same.

Either way, where a delegated cgroup v2 folder is given (:mod:`grader.sandbox.cgroup`),
each run also gets a cgroup of its own with memory, pids and CPU-weight caps.

Importing this module is harmless on any OS; running needs Linux, and root or
unprivileged user namespaces.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from grader.grading import harness, wire
from grader.grading.runner import (
    Call,
    OutcomeCollector,
    RunLimits,
    RunReport,
    child_environment,
    describe_exit,
)
from grader.sandbox import cgroup

ZYGOTE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zygote.py")

#: Sensible limits for lab submissions.
DEFAULT_LIMITS = RunLimits(wall_seconds=5.0, cpu_seconds=2.0, memory_mib=512)
#: Where uid blocks are looked for: each runner claims a block of its own (a lock
#: file per block), so that several grader processes on one host never share a uid.
UID_FIRST = 60000
UID_LAST = 65000  # below nobody (65534)
#: In a user namespace per run, uids are the run's own: every runner may use the same.
USERNS_UID_FIRST = 1000

_SPAWN_TIMEOUT = 10.0  # seconds for the server to answer one job
_KILL_GRACE = 5.0  # seconds for the pipes to close after the namespace was killed
_RECORD_LIMIT = 64 * 1024
_READ_CHUNK = 1 << 20
_F_SETPIPE_SZ = 1031
_SETUP_FAILED = 125  # zygote.SETUP_FAILED
_MEMORY_HINTS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")


class SandboxUnavailable(RuntimeError):
    """The secure sandbox cannot run on this machine (the message says why)."""


class SandboxError(RuntimeError):
    """The sandbox itself failed, for a reason that is not the submission's."""


class _ZygoteLost(Exception):
    """The fork server died or stopped answering; a new one may do better."""


def sandbox_mode() -> str:
    """``"root"`` when this process is root, else ``"userns"`` (see the module docstring)."""
    return "root" if os.geteuid() == 0 else "userns"


_USERNS_HINT = (
    " (unprivileged user namespaces are needed: check the sysctls user.max_user_namespaces and "
    "kernel.apparmor_restrict_unprivileged_userns, and that the service's unit does not set RestrictNamespaces=)"
)


def _pidfd_pid(pidfd: int) -> int:
    """The pid a pidfd refers to, as this process sees it (its ``Pid:`` in fdinfo)."""
    with open(f"/proc/self/fdinfo/{pidfd}") as info:
        for line in info:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    raise SandboxError("no Pid in a pidfd's fdinfo")


class _Zygote:
    """One fork-server process and its control socket."""

    def __init__(self, config: dict[str, Any], *, python: str, timeout: float, debug: bool) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [python, "-I", "-S", "-B", ZYGOTE_PATH, str(child.fileno())],
                pass_fds=(child.fileno(),),
                env=child_environment(),
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None if debug else subprocess.DEVNULL,
                start_new_session=True,  # the terminal's Ctrl-C is the grader's business
            )
        finally:
            child.close()
        self.sock = parent
        self.lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _Zygote._shutdown, self.proc, parent)
        try:
            parent.settimeout(timeout)
            parent.send(json.dumps(config).encode())
            reply = parent.recv(1 << 16)
        except OSError as exc:
            self.close()
            raise SandboxUnavailable(f"the sandbox server did not start: {exc}") from None
        message = _json_object(reply)
        if not message.get("ready"):
            self.close()
            error = message.get("error") or "it exited during start-up"
            hint = _USERNS_HINT if config.get("userns") and ("unshare" in error or "uid_map" in error) else ""
            raise SandboxUnavailable(f"the sandbox server did not start: {error}{hint}")
        self.pid = self.proc.pid
        self.userns = bool(config.get("userns"))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, job: dict[str, Any], fds: list[int]) -> tuple[int, int]:
        """Start one run; returns (init's pid, a pidfd for it)."""
        with self.lock:
            try:
                self.sock.settimeout(_SPAWN_TIMEOUT)
                socket.send_fds(self.sock, [json.dumps(job).encode()], fds)
                msg, received, flags, _ = socket.recv_fds(self.sock, 1 << 16, 4)
            except OSError as exc:  # timeouts included
                raise _ZygoteLost(f"the sandbox server stopped answering ({exc})") from None
        if not msg or flags & getattr(socket, "MSG_CTRUNC", 0):
            for fd in received:
                os.close(fd)
            raise _ZygoteLost("the sandbox server stopped")
        reply = _json_object(msg)
        if not reply.get("ok") or len(received) != 1:
            for fd in received:
                os.close(fd)
            raise SandboxError(f"the sandbox could not start a child: {reply.get('error')}")
        os.set_inheritable(received[0], False)
        if self.userns:  # the server's pid is in its own PID namespace; ours from the pidfd
            try:
                return _pidfd_pid(received[0]), received[0]
            except BaseException:
                os.close(received[0])
                raise
        return int(reply["pid"]), received[0]

    def close(self) -> None:
        """Stop the server: it exits when its socket closes; its children follow."""
        self._finalizer()

    @staticmethod
    def _shutdown(proc: subprocess.Popen[bytes], sock: socket.socket) -> None:
        sock.close()
        try:
            proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Stop it now."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.close()


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def zygote_config() -> dict[str, Any]:
    """What the server binds into its jail (numpy and the harness, nothing else) and
    the seccomp filter it loads into every child."""
    import numpy

    try:
        from grader.sandbox import policy

        bpf = policy.compile_filter()
    except (ImportError, RuntimeError, OSError) as exc:  # pyseccomp or libseccomp missing
        raise SandboxUnavailable(f"seccomp is unavailable ({exc}); pip install 'lossgrader[server]'") from None
    numpy_dir = os.path.dirname(os.path.abspath(numpy.__file__))
    site = {"numpy": numpy_dir}
    if os.path.isdir(numpy_dir + ".libs"):  # wheels keep OpenBLAS there
        site["numpy.libs"] = numpy_dir + ".libs"
    grading_dir = os.path.dirname(os.path.abspath(harness.__file__))
    package_dir = os.path.dirname(grading_dir)
    files = {
        "grader/__init__.py": os.path.join(package_dir, "__init__.py"),
        "grader/grading/__init__.py": os.path.join(grading_dir, "__init__.py"),
        "grader/grading/harness.py": os.path.join(grading_dir, "harness.py"),
        "grader/grading/wire.py": os.path.join(grading_dir, "wire.py"),
    }
    return {"site": site, "files": files, "seccomp_bpf": bpf.hex()}


class _UidBlock:
    """Uids this runner alone uses, held by flocks on one lock file per 64 uids.

    Two runners (two grader processes, say) must never share a uid: a uid's
    processes count together for RLIMIT_NPROC, and isolation should not depend on
    it. The locks go away with the process, however it ends.
    """

    SIZE = 64

    def __init__(self, count: int, first: int | None = None) -> None:
        import fcntl

        self.count = count
        self._fds: list[int] = []
        if first is not None:  # chosen by the caller, who keeps it unique
            self.first = first
            return
        directory = (
            "/run/lossgrader" if os.access("/run", os.W_OK) else os.path.join(tempfile.gettempdir(), "lossgrader")
        )
        os.makedirs(directory, mode=0o700, exist_ok=True)
        blocks = -(-count // self.SIZE)
        for start in range(UID_FIRST, UID_LAST - blocks * self.SIZE + 1, self.SIZE):
            for block in range(start, start + blocks * self.SIZE, self.SIZE):
                fd = os.open(os.path.join(directory, f"uids-{block}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    break
                self._fds.append(fd)
            else:
                self.first = start
                return
            self.release()
        raise SandboxUnavailable(f"no free block of {count} sandbox uids between {UID_FIRST} and {UID_LAST}")

    def release(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []


def sealed_memfd(data: bytes, name: str) -> int:
    """A memfd holding ``data`` that nobody can change any more (F_SEAL_*)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        seals = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
    except BaseException:
        os.close(fd)
        raise
    return fd


class _CallBlobs:
    """Sealed memfds of encoded call sets, one per set of fixed fixtures (LRU).

    Keyed by the identity of the Call objects (held here, so that no id is reused
    while its entry lives); calls of randomised fixtures are new for every
    submission and get a memfd of their own, closed after their run.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, ...], tuple[list[Call], int]] = {}

    def open(self, calls: list[Call]) -> int:
        """A memfd of the calls' frames, for the caller to close."""
        if not calls or not all(c.fixed for c in calls):
            return sealed_memfd(b"".join(c.encoded for c in calls), "lossgrader-calls")
        key = tuple(map(id, calls))
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is None:
                entry = (list(calls), sealed_memfd(b"".join(c.encoded for c in calls), "lossgrader-fixtures"))
            self._entries[key] = entry  # most recent last
            while len(self._entries) > self.size:
                _, fd = self._entries.pop(next(iter(self._entries)))
                os.close(fd)  # a run still using it holds its own copy of the descriptor
            return os.dup(entry[1])

    def close(self) -> None:
        with self._lock:
            for _, fd in self._entries.values():
                os.close(fd)
            self._entries.clear()


@dataclass
class _Then:
    """The second part of a run in turn: its request, sent once the first part is sealed."""

    calls: list[Call]
    chunks: list[bytes]  # the request's frames, written in order
    collector: OutcomeCollector = field(init=False)
    report: RunReport | None = None  # set when the run ends after the first part was sealed

    def __post_init__(self) -> None:
        self.collector = OutcomeCollector(self.calls)


class _Job:
    """One run: started on construction, then :meth:`supervise`.

    With ``then``, a run *in turn*: once the child has reported every call of the
    request ("done"), its output so far is read and sealed (later output is read and
    dropped), the first part's report is fixed, and only then does the second
    request go to the child, through a pipe of its own; the wall clock starts again
    for it. The child cannot get at that request earlier: it is nowhere in the
    sandbox until the grader writes it. So a submission's hidden fixtures can run in
    the child that ran its shown ones without anything of their inputs reaching what
    the student sees.
    """

    def __init__(
        self,
        zygote: _Zygote,
        header: bytes,
        calls_fd: int,
        calls: list[Call],
        limits: RunLimits,
        audit: bool,
        then: _Then | None = None,
    ) -> None:
        self.limits = limits
        self.collector = OutcomeCollector(calls)
        self.then = then
        self.started = time.monotonic()
        self.pidfd = -1
        self.then_w = self.waiting_r = -1
        self.sealed = False  # the first part of a run in turn was sealed
        ours: list[int] = []
        theirs: list[int] = []
        try:
            theirs.append(sealed_memfd(header, "lossgrader-request"))
            theirs.append(os.dup(calls_fd))
            # Pipes: result, output, status; for a run in turn the second request (the
            # child reads it) and "waiting" (the child says it waits for that request);
            # last, reaped (for the server). We read all but the second request.
            reading = [True, True, True, *((False, True) if then is not None else ()), True]
            for we_read in reading:
                r, w = os.pipe()
                ours.append(r if we_read else w)
                theirs.append(w if we_read else r)
            with contextlib.suppress(OSError):
                _set_pipe_size(ours[0], _READ_CHUNK)
            job = {"limits": limits.to_dict(), "audit": audit}
            self.init_pid, self.pidfd = zygote.spawn(job, theirs)
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        if then is not None:
            self.then_w, self.waiting_r = ours.pop(3), ours.pop(3)
            os.set_blocking(self.then_w, False)
            with contextlib.suppress(OSError):
                _set_pipe_size(self.then_w, _READ_CHUNK)
        self.result_r, self.output_r, self.status_r, self.reaped_r = ours

    def kill(self) -> None:
        """SIGKILL init: the kernel then kills everything in its PID namespace."""
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def supervise(self) -> tuple[RunReport, bool]:
        """Read everything until the run is over; returns (report, sandbox lost).

        The report is the first part's, for a run in turn; the second part's is then
        ``then.report``, or None when the run ended before the first part was sealed.
        On return every descriptor is closed but ``reaped_r``, which the caller keeps
        (or closes) to know when the run has fully disappeared.
        """
        limits = self.limits
        output = bytearray()
        truncated = False
        status_data = bytearray()
        record_data = bytearray()
        corrupt: str | None = None
        timed_out = finished = stuck = False
        deadline = self.started + limits.wall_seconds
        give_up: float | None = None
        collector = self.collector  # the part being run
        sealed: RunReport | None = None  # the first part's report, once sealed
        unsent: list[memoryview] = []
        names = {self.result_r: "result", self.output_r: "output", self.status_r: "status", self.reaped_r: "reaped"}
        if self.waiting_r >= 0:
            names[self.waiting_r] = "waiting"
        sel = selectors.DefaultSelector()
        for fd in names:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)

        def stop(reason: str) -> None:
            nonlocal corrupt, give_up
            corrupt = f"the submission corrupted the result stream ({reason})"
            self.kill()  # nothing more it says can count
            give_up = time.monotonic() + _KILL_GRACE

        def take(data: bytes) -> None:
            """Result bytes: to the part being run; at the end of the first part, the seal."""
            nonlocal collector, sealed, unsent, deadline, output, truncated
            if corrupt is not None:
                return
            try:
                collector.feed(data)
            except wire.ProtocolError as exc:
                stop(str(exc))
                return
            if self.then is None or sealed is not None or not collector.done or collector.load_error is not None:
                return
            if collector.decoder.pending:  # bytes after "done": not the harness's
                stop("it wrote after the end")
                return
            # The first part is over: seal what it wrote, then send the rest.
            truncated |= _drain(self.output_r, output, limits.output_bytes)
            sealed = self._report(collector, None, output, truncated, None)
            output, truncated = bytearray(), False
            collector = self.then.collector
            unsent = [memoryview(chunk) for chunk in self.then.chunks]
            sel.register(self.then_w, selectors.EVENT_WRITE)
            deadline = time.monotonic() + limits.wall_seconds

        try:
            while sel.get_map() and not finished:
                now = time.monotonic()
                if give_up is None and now >= deadline:
                    timed_out = corrupt is None
                    self.kill()
                    give_up = now + _KILL_GRACE
                if give_up is not None and now >= give_up:
                    stuck = True
                    break
                for key, _events in sel.select((give_up or deadline) - now):
                    fd = key.fd
                    if fd == self.then_w:
                        if not self._send(unsent):
                            sel.unregister(fd)
                            os.close(self.then_w)
                            self.then_w = -1
                        continue
                    try:
                        data = os.read(fd, _READ_CHUNK)
                    except BlockingIOError:  # drained meanwhile (the seal, "waiting")
                        continue
                    kind = names[fd]
                    if kind == "waiting":
                        sel.unregister(fd)
                        if data and sealed is None:
                            # The child waits for the second request: its result stream
                            # must have ended the first part (it wrote "done" before this).
                            while corrupt is None and (chunk := _read_ready(self.result_r)):
                                take(chunk)
                            if corrupt is None and sealed is None and not collector.done:
                                pending = collector.decoder.pending
                                stop("it ended in the middle of a frame" if pending else "it did not say done")
                        continue
                    if not data:
                        sel.unregister(fd)
                        last_part = sealed is not None or self.then is None or collector.load_error is not None
                        if kind == "result" and collector.done and corrupt is None and last_part:
                            # The child flushed its output before closing the result
                            # stream: take what is in the pipe and stop here, without
                            # waiting for two exits. Nothing it does now can count.
                            truncated |= _drain(self.output_r, output, limits.output_bytes)
                            finished = True
                            break
                    elif kind == "result":
                        take(data)
                    elif kind == "output":
                        # After the seal, output is kept only for the memory hints of
                        # the second part's termination: students never see it.
                        room = limits.output_bytes - len(output)
                        output.extend(data[: max(room, 0)])
                        truncated |= len(data) > room
                    elif kind == "status":
                        status_data.extend(data[: _RECORD_LIMIT - len(status_data)])
                    else:
                        record_data.extend(data[: _RECORD_LIMIT - len(record_data)])
        finally:
            # Whatever happened here (even an exception in this thread), the run ends
            # now: a no-op if it already has.
            self.kill()
            sel.close()
            for fd in (self.result_r, self.output_r, self.status_r, self.pidfd):
                os.close(fd)
            self._close_then()
        if not finished:
            os.close(self.reaped_r)  # read to the end already, or given up on
            self.reaped_r = -1
        text = output.decode("utf-8", errors="replace")
        status = bytes(status_data)
        record = _json_object(bytes(record_data))
        setup_error = record.get("setup_error") or _setup_error(status)
        if setup_error and not timed_out and sealed is None:
            raise SandboxError(f"the sandbox could not be set up: {setup_error}")
        lost = stuck
        if corrupt is None and collector.decoder.pending and not timed_out:
            corrupt = "the submission corrupted the result stream (it ended in the middle of a frame)"
        if not (finished or timed_out or corrupt):
            # No record: the server died (its children with it). No "R": the child
            # died before running anything. Neither is the submission's doing.
            lost = lost or not isinstance(record.get("status"), int) or not status.startswith(b"R")
        termination = None
        if not finished:
            termination = self._termination(collector, record, text, timed_out, corrupt, lost)
        report = self._report(collector, corrupt or termination, text, truncated, corrupt)
        if sealed is None:
            return report, lost
        assert self.then is not None
        self.sealed = True
        if not lost:  # lost: the caller runs the second part again, apart
            # Its output stays here; its termination only ever reaches students as
            # the grader's own wording (compare.not_run_summary).
            report.output, report.output_truncated = "", False
            report.skipped, report.skipped_more = [], 0  # the file loaded once, in the first part
            self.then.report = report
        return sealed, lost

    def _report(
        self,
        collector: OutcomeCollector,
        termination: str | None,
        output: bytearray | str,
        truncated: bool,
        corrupt: str | None,
    ) -> RunReport:
        limits = self.limits
        outcomes = collector.finish(termination if not corrupt else None, corrupt)
        load_error = collector.load_error
        memory = f"memory limit of {limits.memory_mib} MiB exceeded"
        for outcome in outcomes:
            if outcome.status == "raised" and (outcome.error or "").startswith("MemoryError"):
                outcome.error = f"{memory} ({outcome.error})"
        if load_error and load_error.startswith("MemoryError"):
            load_error = f"{memory} ({load_error})"
        text = output if isinstance(output, str) else output.decode("utf-8", errors="replace")
        return RunReport(
            outcomes=outcomes,
            load_error=load_error,
            load_error_line=collector.load_error_line,
            skipped=collector.skipped,
            skipped_more=collector.skipped_more,
            output=text,
            output_truncated=truncated,
            termination=termination,
            wall_seconds=time.monotonic() - self.started,
        )

    def _send(self, unsent: list[memoryview]) -> bool:
        """Write what the pipe takes of the second request; False once all is written (or the child is gone)."""
        try:
            while unsent:
                written = os.write(self.then_w, unsent[0])
                unsent[0] = unsent[0][written:]
                if not unsent[0]:
                    unsent.pop(0)
        except BlockingIOError:
            return True
        except OSError:  # the child is gone: its end shows up on the other pipes
            unsent.clear()
        return False

    def _close_then(self) -> None:
        """Close what is left of a run in turn's own pipes."""
        if self.then_w >= 0:
            os.close(self.then_w)
            self.then_w = -1
        if self.waiting_r >= 0:
            os.close(self.waiting_r)
            self.waiting_r = -1

    def _termination(
        self,
        collector: OutcomeCollector,
        record: dict[str, Any],
        output: str,
        timed_out: bool,
        corrupt: str | None,
        lost: bool,
    ) -> str | None:
        limits = self.limits
        if timed_out:
            return f"time limit of {limits.wall_seconds:g} s exceeded"
        if corrupt:
            return None
        if lost:
            return "the sandbox stopped unexpectedly"
        # init exits the way the student did: its code, or 128 + the signal; if init
        # itself was killed (not by us: the OOM killer, say), so was everything.
        code = os.waitstatus_to_exitcode(record["status"])
        memory = f"memory limit of {limits.memory_mib} MiB exceeded"
        out_of_memory = bool(record.get("oom")) or any(hint in output for hint in _MEMORY_HINTS)
        if code >= 128 or code < 0:
            signum = code - 128 if code >= 128 else -code
            cpu = record.get("cpu") if isinstance(record.get("cpu"), (int, float)) else 0.0
            if signum == signal.SIGXCPU or (signum == signal.SIGKILL and cpu >= max(1, -(-limits.cpu_seconds // 1))):
                return f"CPU time limit of {limits.cpu_seconds:g} s exceeded"
            if signum == signal.SIGSYS:
                return "not allowed in the sandbox: a forbidden system call"
            if out_of_memory:
                return memory
            return describe_exit(-signum)
        if collector.done:
            return None
        if out_of_memory:
            return memory
        return f"the process exited early (exit code {code})"


def _setup_error(status: bytes) -> str | None:
    """The reason set-up failed, from an ``E`` record on the status pipe."""
    for chunk in status.split(b"\0"):
        if chunk.startswith(b"E"):
            return chunk[1:].decode("utf-8", "replace")[:500]
    return None


def _read_ready(fd: int) -> bytes:
    """What a pipe holds now (b"" if nothing), without blocking."""
    if not select.select([fd], [], [], 0)[0]:
        return b""
    return os.read(fd, _READ_CHUNK)


def _drain(fd: int, output: bytearray, cap: int) -> bool:
    """Read what is already in a pipe, without blocking; whether it was truncated."""
    truncated = False
    while select.select([fd], [], [], 0)[0]:
        data = os.read(fd, _READ_CHUNK)
        if not data:
            break
        room = cap - len(output)
        output.extend(data[: max(room, 0)])
        truncated |= len(data) > room
    return truncated


def _set_pipe_size(fd: int, size: int) -> None:
    """Grow a pipe's buffer (fewer wake-ups for large result arrays)."""
    import fcntl

    fcntl.fcntl(fd, _F_SETPIPE_SZ, size)


class SandboxRunner:
    """Runs submissions in the sandbox; thread-safe, at most ``slots`` at a time.

    The fork server starts on first use (or :meth:`start`) and is restarted
    transparently if it dies. Use :meth:`close` or a ``with`` block to stop it; it
    also stops by itself when this process exits (its socket closes). With
    ``LOSSGRADER_SANDBOX_DEBUG=1`` the server's own errors go to this process's stderr.

    :meth:`run` raises :class:`SandboxUnavailable` if the server cannot start here and
    :class:`SandboxError` if the sandbox fails for a reason that is not the
    submission's (retry later); whatever the submission does ends as a report.
    """

    def __init__(
        self,
        slots: int | None = None,
        *,
        spares: int | None = None,
        tmp_bytes: int = 8 << 20,
        prefault: str | bool = "idle",
        uid_base: int | None = None,
        python: str | None = None,
        audit_hook: bool = True,
        start_timeout: float = 30.0,
    ) -> None:
        """
        slots: runs at a time (default: the number of CPUs).
        spares: isolated children kept ready (default: ``min(2 * slots, 4)``: two
            jobs that come at once find two, and two more are made while no run is
            going; 0 makes each run fork its own, about 6 ms slower).
        tmp_bytes: size of each run's private /tmp (files are also capped by
            ``RunLimits.file_bytes``).
        prefault: when spares run the harness on a made-up request and touch heap, so
            that copy-on-write and page faults happen before the job instead of during
            it: ``"idle"`` (default) once no run has gone for 10 ms and other work
            does not want every CPU, so that the work never takes a CPU from a run
            or from the web worker; ``"always"`` as soon as a spare is made
            (slower under steady load on two cores); ``"never"``.
        uid_base: first of this runner's uids; by default a free block from 60000 is
            claimed with a lock file, so that runners never share uids.
        audit_hook: False drops the friendly messages (the walls stay); for probing
            the real protections, not for grading.
        """
        self.slots = slots or os.cpu_count() or 1
        self.spares = min(2 * self.slots, 4) if spares is None else spares
        self.tmp_bytes = tmp_bytes
        if isinstance(prefault, bool):  # the older spelling
            prefault = "always" if prefault else "never"
        self.prefault = prefault
        if self.prefault not in ("never", "idle", "always"):
            raise ValueError(f"prefault must be 'never', 'idle' or 'always', not {prefault!r}")
        # Every run, spare and not-yet-reaped run has a uid of its own.
        self.uid_count = 2 * self.slots + self.spares + 8
        self._uid_base = uid_base
        self._uids: _UidBlock | None = None
        #: ``"root"`` or ``"userns"``: see :func:`sandbox_mode`.
        self.mode = sandbox_mode()
        self._cgroup: str | None = None  # this runner's cgroup folder, when runs get cgroups
        self.python = python or sys.executable
        self.audit_hook = audit_hook
        self.start_timeout = start_timeout
        self._free = self.slots
        self._slots = threading.Condition()
        self._pending: list[int] = []  # reaped pipes of runs that ended early
        self._lock = threading.Lock()
        self._zygote: _Zygote | None = None
        self._config: dict[str, Any] | None = None
        self._closed = False
        self._debug = os.environ.get("LOSSGRADER_SANDBOX_DEBUG") == "1"
        self._blobs = _CallBlobs()

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start the fork server now (otherwise on the first run)."""
        self._ensure_zygote()

    def close(self) -> None:
        """Stop the fork server; runs still in progress end as failed."""
        self.settle()
        with self._lock:
            self._closed = True
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()
        self._blobs.close()
        if self._uids is not None:
            self._uids.release()
        if self._cgroup is not None:
            cgroup.remove_runner_cgroup(self._cgroup)

    def __enter__(self) -> SandboxRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def zygote_pid(self) -> int | None:
        """PID of the current fork server's process, if one is running (killing it ends every run)."""
        zygote = self._zygote
        return zygote.pid if zygote is not None and zygote.alive() else None

    @property
    def server_pid(self) -> int | None:
        """PID of the process that forks the runs: the zygote itself as root; in the
        ``userns`` mode its only child (PID 1 of the server's own PID namespace)."""
        pid = self.zygote_pid
        if pid is None or self.mode == "root":
            return pid
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as children:
                found = children.read().split()
        except OSError:
            return None
        return int(found[0]) if found else None

    @property
    def cgroup_path(self) -> str | None:
        """The cgroup folder under which this runner's runs get theirs (None: rlimits only)."""
        return self._cgroup

    @property
    def uids(self) -> range:
        """The uids this runner's children run as (once started; inside their user
        namespaces in the ``userns`` mode)."""
        first = self._uids.first if self._uids is not None else (self._uid_base or UID_FIRST)
        return range(first, first + self.uid_count)

    def settle(self, timeout: float = _KILL_GRACE) -> None:
        """Wait until every finished run has fully disappeared (tests, shutdown)."""
        with self._slots:
            pending, self._pending = self._pending, []
        end = time.monotonic() + timeout
        for fd in pending:
            with contextlib.suppress(OSError):
                select.select([fd], [], [], max(0.0, end - time.monotonic()))
            os.close(fd)

    def _ensure_zygote(self) -> _Zygote:
        with self._lock:
            if self._closed:
                raise RuntimeError("the SandboxRunner is closed")
            zygote = self._zygote
            if zygote is not None and zygote.alive():
                return zygote
            if zygote is not None:
                zygote.close()
                self._zygote = None
            if sys.platform != "linux":
                raise SandboxUnavailable("the sandbox needs Linux")
            if self._config is None:
                userns = self.mode == "userns"
                first = (self._uid_base or USERNS_UID_FIRST) if userns else self._uid_base
                self._uids = _UidBlock(self.uid_count, first)
                self._cgroup = cgroup.runner_cgroup()
                self._config = {
                    **zygote_config(),
                    "uids": [self._uids.first, self.uid_count],
                    "spares": self.spares,
                    "tmp_bytes": self.tmp_bytes,
                    "prefault": self.prefault,
                    "userns": userns,
                    "cgroup": {"path": self._cgroup, "cpu_weight": cgroup.CPU_WEIGHT} if self._cgroup else None,
                }
            self._zygote = _Zygote(self._config, python=self.python, timeout=self.start_timeout, debug=self._debug)
            return self._zygote

    def _discard(self, zygote: _Zygote) -> None:
        with self._lock:
            if self._zygote is zygote:
                self._zygote = None
        zygote.kill()

    # -- slots ---------------------------------------------------------------------

    def _acquire(self) -> None:
        with self._slots:
            while not self._free:
                self._slots.wait()
            self._free -= 1
            # Forget the runs that have fully gone since (their reaped pipe says so).
            if self._pending:
                gone = set(select.select(self._pending, [], [], 0)[0])
                for fd in gone:
                    os.close(fd)
                self._pending = [fd for fd in self._pending if fd not in gone]

    def _release(self, reaped: int) -> None:
        with self._slots:
            if reaped >= 0:
                self._pending.append(reaped)
            self._free += 1
            self._slots.notify()

    # -- running -------------------------------------------------------------------

    def run(self, source: str, functions: list[str], calls: list[Call], limits: RunLimits) -> RunReport:
        """Run ``calls`` against ``source`` in the sandbox within ``limits``."""
        report, _ = self._run(source, functions, calls, limits, None)
        return report

    def run_in_turn(
        self, source: str, functions: list[str], first: list[Call], then: list[Call], limits: RunLimits
    ) -> tuple[RunReport, RunReport | None]:
        """Run ``first``, then ``then``, in one child; a report for each part.

        The second part's request reaches the child only after everything the first
        part wrote has been sealed (see :class:`_Job`), so its inputs can never show in
        the first report's output or values. Each part has the limits' wall and CPU
        time; memory is shared. The second report is None when the first part did not
        end cleanly (a crash, a limit, a load error): run ``then`` apart, in a fresh
        child, as it would have been.
        """
        header = harness.encode_header("", functions, len(then), cpu_seconds=limits.cpu_seconds)
        second = _Then(then, [header, *(call.encoded for call in then)])
        report, second = self._run(source, functions, first, limits, second)
        return report, second.report if second is not None else None

    def _run(
        self, source: str, functions: list[str], calls: list[Call], limits: RunLimits, then: _Then | None
    ) -> tuple[RunReport, _Then | None]:
        header = harness.encode_header(
            source, functions, len(calls), **({"forgiving": True} if limits.forgiving_load else {})
        )
        calls_fd = self._blobs.open(calls)
        self._acquire()
        reaped = -1
        try:
            for attempt in (1, 2):
                zygote = self._ensure_zygote()
                try:
                    job = _Job(zygote, header, calls_fd, calls, limits, self.audit_hook, then)
                except _ZygoteLost:
                    self._discard(zygote)
                    if attempt == 2:
                        raise SandboxError("the sandbox server keeps failing") from None
                    continue
                report, lost = job.supervise()
                reaped = job.reaped_r
                if lost:
                    # The server died under the run: its death ended every namespace
                    # it made. A fresh one, and one more try (of what was not sealed).
                    self._discard(zygote)
                    if reaped >= 0:
                        os.close(reaped)
                        reaped = -1
                    if attempt == 1 and not job.sealed:
                        then = _Then(then.calls, then.chunks) if then is not None else None
                        continue
                return report, then
            raise AssertionError("unreachable")
        finally:
            os.close(calls_fd)
            self._release(reaped)

    def _launch(self, source: str, functions: list[str], calls: list[Call], limits: RunLimits) -> _Job:
        """Start one run without supervising it (for :mod:`grader.sandbox.doctor`):
        outside the slots; the caller must call ``supervise()``."""
        header = harness.encode_header(source, functions, len(calls))
        calls_fd = self._blobs.open(calls)
        try:
            return _Job(self._ensure_zygote(), header, calls_fd, calls, limits, self.audit_hook)
        finally:
            os.close(calls_fd)
