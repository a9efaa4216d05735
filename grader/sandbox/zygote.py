"""The sandbox's fork server ("zygote"): a warm, jailed interpreter that forks one
isolated child per submission.

Started by :class:`grader.sandbox.runner.SandboxRunner` as a separate program
(``python -I -S -B zygote.py <fd>``, clean environment), never as a fork of the
grader, so its memory, which every child inherits, holds no expected values,
reference code or secrets. It creates namespaces, mounts and switches uids, so it is
root: real root when the grader is (the ``root`` mode), else root of a user namespace of
its own that maps only the service's uid (the ``userns`` mode, :func:`_enter_own_namespaces`:
it forks once to become PID 1 of a PID namespace that namespace owns). It never runs
student code itself.

Start-up, once:

1. read its configuration from the control socket: paths to bind, the seccomp
   filter as raw BPF (compiled by the grader, see :mod:`grader.sandbox.policy`),
   the uids it may use;
2. enter a private mount namespace and build the jail: a tmpfs root holding read-only
   bind mounts of the standard library (its ``site-packages`` masked), the system
   library directory, numpy and the four grader modules the harness needs
   (under ``/sandbox/site``), a minimal ``/dev`` and an empty ``/tmp``; then
   ``pivot_root`` into it and detach the host's filesystem;
3. import numpy and the harness *from the jail*, warm them up, and ``gc.freeze()``
   so that children share the pages.

Children come in pairs, made ahead of time ("spares") so that forking and isolating
(~6 ms here) is off the critical path::

    zygote (root, host PID ns; userns mode: root of its own user ns, PID 1 of its own PID ns)
      └─ init   PID 1 of a new PID ns; (userns mode: a new user ns mapping only its uid);
         │      new mount/net/IPC/UTS ns; fresh /tmp tmpfs; drops to a uid of its own
         │      (userns mode: and every capability); reaps; exits the way the student did
         └─ student   PID 2: waits for one job; then rlimits, no_new_privs,
                      seccomp, audit hook, harness.serve

A job (a control message with the request and pipe descriptors) goes to a spare,
which has run nothing of any submission before; each spare serves one job. The
zygote answers with a pidfd for init: killing init kills the whole PID namespace,
which is how the grader enforces the wall clock. When it reaps init it writes init's
exit status and CPU time to the job's "reaped" pipe and closes it, and only then gives
the uid back to its pool: a uid never has two runs, or a run and a spare.

This file must depend on nothing but the standard library at import time; numpy and
the harness are imported during start-up, from inside the jail.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import mmap
import os
import platform
import resource
import select
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass

# --- Linux constants (uapi; stable across architectures unless noted) ------------
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

#: pivot_root has no glibc wrapper.
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41}

#: Where the non-stdlib packages appear inside the jail.
SITE = "/sandbox/site"
#: Exit code of a child whose sandbox set-up failed (the status pipe says why).
SETUP_FAILED = 125

#: Modules imported once here so children find them in memory, not on disk. Kept
#: lean on purpose: fork time grows with every mapped extension module (numpy.random
#: alone maps a dozen and doubles it), and every run pays it twice. Anything else
#: imports from the jail on demand, in a few milliseconds.
DEFAULT_PRELOAD = ("numpy", "grader.grading.harness")

# ---------------------------------------------------------------------------------
# System calls
# ---------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p,) * 3 + (ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
_libc.unshare.argtypes = (ctypes.c_int,)
_libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_libc.sethostname.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
_libc.prctl.argtypes = (ctypes.c_int,) + (ctypes.c_ulong,) * 4
_libc.syscall.restype = ctypes.c_long
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = (ctypes.c_size_t,)
_libc.free.argtypes = (ctypes.c_void_p,)
_libc.sbrk.restype = ctypes.c_void_p
_libc.sbrk.argtypes = (ctypes.c_ssize_t,)
_libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(path: str | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    """mount(2)."""
    _check(
        _libc.mount(_b(source), _b(target), _b(fstype), flags, data.encode() or None),
        f"mount {target}",
    )


def bind_readonly(source: str, target: str, *, device: bool = False, writable: bool = False) -> None:
    """Bind ``source`` at ``target``, then remount it read-only, nosuid and nodev
    (a device node keeps dev but gets noexec; ``/dev/null`` stays ``writable``).

    The flags of a bind mount can only be changed by a second, remounting call.
    """
    mount(source, target, None, MS_BIND)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (MS_NOEXEC if device else MS_NODEV)
    # In a user namespace the source's own nosuid/nodev/noexec are locked: keep them.
    flags |= os.statvfs(target).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if not writable:
        flags |= MS_RDONLY
    mount(None, target, None, flags)


def unshare(flags: int) -> None:
    """unshare(2)."""
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    """setns(2)."""
    _check(_libc.setns(fd, nstype), "setns")


def enter_user_namespace(inside: int, proc_fd: int | None = None) -> None:
    """unshare(CLONE_NEWUSER) and map ``inside`` (uid and gid) to our own uid and gid.

    One id mapped to one's own is all an unprivileged process may map; setgroups is
    denied first, as the kernel requires for that. ``proc_fd``: a descriptor of /proc,
    for a process that no longer sees it (the jail has none).
    """
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", f"{inside} {uid} 1"), ("gid_map", f"{inside} {gid} 1")):
        fd = (
            os.open(f"self/{name}", os.O_WRONLY | os.O_CLOEXEC, dir_fd=proc_fd)
            if proc_fd is not None
            else (os.open(f"/proc/self/{name}", os.O_WRONLY | os.O_CLOEXEC))
        )
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32))


def drop_capabilities() -> None:
    """Give up every capability: bounding, ambient, effective, permitted, inheritable.

    Needed in a user namespace, whose creator gets every capability in it, and where a
    change to a uid of one's own, already the only one mapped, is not a change from
    root that would clear them.
    """
    for cap in range(64):  # the bounding set first: dropping it needs CAP_SETPCAP
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() == 22:  # EINVAL: past the last capability
                break
            _check(-1, "dropping the capability bounding set")
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing ambient capabilities")
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def prctl(option: int, arg: int = 0) -> None:
    """prctl(2) with one argument."""
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl({option})")


def pivot_root(new_root: str) -> None:
    """Make ``new_root`` the root and detach the old one (the ``pivot_root . .`` idiom)."""
    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unsupported architecture {platform.machine()}")
    os.chdir(new_root)
    _check(_libc.syscall(number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


# ---------------------------------------------------------------------------------
# Seccomp: the policy is grader.sandbox.policy, compiled by the grader to raw BPF
# (so this process never loads libseccomp); here it is only loaded.
# ---------------------------------------------------------------------------------

#: The student always runs as PID 2 in its own PID namespace (the filter built by
#: grader.sandbox.policy relies on it to allow signals to itself only).
STUDENT_PID = 2


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


class SeccompProgram:
    """A BPF program held in memory, loadable with one prctl in a child."""

    def __init__(self, bpf: bytes) -> None:
        if not bpf or len(bpf) % 8:
            raise ValueError("malformed seccomp program")
        self.size = len(bpf) // 8
        self._buffer = ctypes.create_string_buffer(bpf, len(bpf))
        self._prog = _SockFprog(self.size, ctypes.addressof(self._buffer))

    def load(self) -> None:
        """Apply the filter to the calling thread (no_new_privs must be set)."""
        _check(
            _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(self._prog), 0, 0),
            "seccomp",
        )


# ---------------------------------------------------------------------------------
# The audit hook: clear messages only; the namespaces and seccomp are the wall.
# ---------------------------------------------------------------------------------

_PROCESS_EVENTS = frozenset(
    {
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "subprocess.Popen",
        "pty.spawn",
        "os.startfile",
    }
)
_WRITE_EVENTS = frozenset(
    {
        "os.mkdir",
        "os.rmdir",
        "os.remove",
        "os.rename",
        "os.chmod",
        "os.chown",
        "os.link",
        "os.symlink",
        "os.truncate",
        "os.utime",
        "os.setxattr",
        "os.removexattr",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.copymode",
        "shutil.copystat",
        "shutil.copytree",
        "shutil.move",
        "shutil.chown",
    }
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _resolve(  # type: ignore[no-untyped-def]
    path,
    _isinstance=isinstance,
    _str=str,
    _bytes=bytes,
    _fsdecode=os.fsdecode,
    _normpath=os.path.normpath,
    _join=os.path.join,
    _getcwd=os.getcwd,
):
    """Absolute form of a path argument, or None if it is not a path (a descriptor)."""
    if _isinstance(path, _bytes):
        path = _fsdecode(path)
    if not _isinstance(path, _str):
        return None
    return _normpath(_join(_getcwd(), path))


def _within(path, roots, _any=any):  # type: ignore[no-untyped-def]
    """Whether ``path`` is one of ``roots`` or inside one."""
    return _any(path == r or path.startswith(r + "/") for r in roots)


def make_audit_hook(read_roots: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """Return the hook. It only words refusals; the namespaces and seccomp refuse.

    Its state lives in positional defaults: immutable tuples, bound builtins (so a
    monkey-patched ``builtins`` does not change its logic), and replacing them raises
    an ``object.__setattr__`` event, which it refuses.
    """

    def sandbox_audit_hook(
        event,
        args,
        _prefix="not allowed in the sandbox: ",
        _error=PermissionError,
        _isinstance=isinstance,
        _int=int,
        _str=str,
        _any=any,
        _callable=callable,
        _getpid=os.getpid,
        _resolve=_resolve,
        _within=_within,
        _process=_PROCESS_EVENTS,
        _writes=_WRITE_EVENTS,
        _write_flags=_WRITE_FLAGS,
        _roots=read_roots,
        _writable=("/tmp", "/dev/null"),
    ):
        if event == "open":
            path = _resolve(args[0])
            if path is None:
                return
            flags = args[2] if _isinstance(args[2], _int) else 0
            mode = args[1] if _isinstance(args[1], _str) else ""
            writing = flags & _write_flags or _any(c in mode for c in "wax+")
            if writing and not _within(path, _writable):
                raise _error(_prefix + "writing files outside /tmp")
            if not _within(path, _roots):
                raise _error(_prefix + "reading files outside the sandbox")
        elif event.startswith("socket."):
            raise _error(_prefix + "network access")
        elif event in _process:
            raise _error(_prefix + "starting processes")
        elif event.startswith("ctypes."):
            raise _error(_prefix + "ctypes")
        elif event in ("os.kill", "os.killpg"):
            if args[0] != _getpid() or event == "os.killpg":
                raise _error(_prefix + "signalling other processes")
        elif event in _writes:
            for arg in args:
                path = _resolve(arg)
                if path is not None and not _within(path, _writable):
                    raise _error(_prefix + "writing files outside /tmp")
        elif (
            event == "object.__setattr__"
            and args[1] in ("__code__", "__defaults__", "__kwdefaults__")
            and _callable(args[0])
        ):
            raise _error(_prefix + "replacing the code of a function")

    return sandbox_audit_hook


# ---------------------------------------------------------------------------------
# Start-up
# ---------------------------------------------------------------------------------


def _mapped_libraries() -> list[str]:
    """Shared objects this process has mapped (from its own /proc/self/maps)."""
    found = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and ".so" in parts[5] and parts[5].startswith("/"):
                path = parts[5].strip()
                if path not in found:
                    found.append(path)
    return found


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _mkdirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _touch(path: str) -> None:
    _mkdirs(os.path.dirname(path))
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o444))


_SYSTEM_LIB_PREFIXES = ("/lib", "/lib32", "/lib64", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/local/lib")


def _jail_mountpoint(sources: list[str]) -> str:
    """An existing directory to mount the jail's tmpfs on, in our private mount
    namespace: any will do, as long as it hides none of the bind sources."""
    for candidate in ("/run", "/var/tmp", "/tmp", "/srv", "/opt", "/media", "/mnt", "/home"):
        usable = os.path.isdir(candidate) and not os.path.islink(candidate)
        if usable and not any(_under(s, candidate) for s in sources):
            return candidate
    raise OSError("no directory to build the sandbox root on")


class RunCgroups:
    """A cgroup v2 per run, under a folder the service may write (delegated: systemd's
    ``Delegate=yes``), with the controllers it enables there: ``memory.max`` and
    ``pids.max`` set for each job, ``cpu.weight`` for each run. The rlimits stay as
    well; this caps what they cannot (page cache and /tmp, threads of the whole run).

    Opened before the jail hides the host (a descriptor of the folder); ``run-<uid>``
    folders are made for spares, limited when the job comes, removed when reaped.
    """

    def __init__(self, path: str, cpu_weight: int) -> None:
        self.path = path
        self.cpu_weight = cpu_weight
        self.fd = -1
        self.controllers: frozenset[str] = frozenset()
        self._stale: set[int] = set()  # runs whose folder could not be removed yet

    @classmethod
    def from_config(cls, config: dict | None) -> RunCgroups | None:
        if not config:
            return None
        return cls(str(config["path"]), int(config.get("cpu_weight", 100)))

    def open(self) -> None:
        self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.controllers = frozenset(self._read("cgroup.subtree_control").split())

    def _read(self, name: str) -> str:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.fd)
        try:
            return os.read(fd, 4096).decode()
        finally:
            os.close(fd)

    def _write(self, name: str, value: str) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CLOEXEC, dir_fd=self.fd)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)

    def make(self, uid: int) -> int:
        """The run's folder, made; returns its ``cgroup.procs`` opened for writing (init moves itself)."""
        name = f"run-{uid}"
        try:
            os.mkdir(name, 0o755, dir_fd=self.fd)
        except FileExistsError:  # left by a run not yet fully gone: it is empty by now
            os.rmdir(name, dir_fd=self.fd)
            os.mkdir(name, 0o755, dir_fd=self.fd)
        self._stale.discard(uid)
        if "cpu" in self.controllers:
            self._write(f"{name}/cpu.weight", str(self.cpu_weight))
        return os.open(f"{name}/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC, dir_fd=self.fd)

    #: Pages a run may be charged for beyond what it allocates: the spare's warm-up heap and
    #: its copies of the server's pages (copy-on-write), which RLIMIT_AS does not count.
    SLACK_BYTES = 64 << 20

    def limit(self, uid: int, limits: dict, tmp_bytes: int) -> None:
        """The job's caps: its memory (with its /tmp, which is charged too, and :attr:`SLACK_BYTES`),
        init + student + threads."""
        name = f"run-{uid}"
        if "memory" in self.controllers:
            memory = int(limits["memory_mib"]) * 1024 * 1024 + tmp_bytes + self.SLACK_BYTES
            self._write(f"{name}/memory.max", str(memory))
            with contextlib.suppress(FileNotFoundError):  # no swap accounting on this kernel
                self._write(f"{name}/memory.swap.max", "0")
        if "pids" in self.controllers:
            self._write(f"{name}/pids.max", str(1 + int(limits["processes"])))

    def out_of_memory(self, uid: int) -> bool:
        """Whether the kernel killed something of the run for its memory.max."""
        if "memory" not in self.controllers:
            return False
        try:
            events = self._read(f"run-{uid}/memory.events")
        except OSError:
            return False
        return any(line.split()[:1] == ["oom_kill"] and line.split()[1] != "0" for line in events.splitlines())

    def remove(self, uid: int) -> None:
        """Remove the run's folder (and any left from before that is empty now)."""
        self._stale.add(uid)
        for stale in list(self._stale):
            try:
                os.rmdir(f"run-{stale}", dir_fd=self.fd)
            except FileNotFoundError:
                pass
            except OSError:  # still populated for a moment: next time
                continue
            self._stale.discard(stale)


@dataclass
class _Spare:
    """A child made ahead of time: isolated, unprivileged, its student waiting for a job."""

    pid: int  # init's, in our PID namespace
    pidfd: int
    uid: int
    job_sock: socket.socket  # the student reads its job from the other end
    init_sock: socket.socket  # init writes why its set-up failed, if it did
    warm: bool = False  # told to warm up (``prefault = "idle"``)


@dataclass
class _Run:
    """A spare that got a job and is running."""

    uid: int
    reaped_w: int  # gets init's exit record, then closes: the run is gone
    init_sock: socket.socket


class Zygote:
    """The fork server; see the module docstring."""

    def __init__(self, control: socket.socket, config: dict) -> None:
        self.control = control
        self.config = config
        self.program: SeccompProgram | None = None
        self.read_roots: tuple[str, ...] = ()
        self.pidns_fd = -1
        self.statm_fd = -1
        self.loadavg_fd = -1
        self.lifeline_r = self.lifeline_w = -1
        self.wake_r = -1
        self.harness = None
        self.streams: tuple = ()
        first, count = config["uids"]
        if first < 1000 or first + count >= 2**31:
            raise ValueError(f"refusing uids {first}..{first + count - 1}")
        self.free_uids: deque[int] = deque(range(first, first + count))
        self.spare_target = int(config.get("spares", 1))
        self.last_job = 0.0  # time.monotonic() of the last job handed over
        self.tmp_bytes = int(config.get("tmp_bytes", 8 << 20))
        self.prefault = str(config.get("prefault", "idle"))  # never, idle or always (checked by the runner)
        self.idle_since = time.monotonic()  # when the last run ended (or we started)
        self.spares: deque[_Spare] = deque()
        self.runs: dict[int, _Run] = {}
        self.dying: dict[int, int] = {}  # retired spares: pid -> uid
        self.spare_failures = 0
        self.spare_error = ""
        # Unprivileged mode: the server is root only in a user namespace of its own, and
        # each run gets one more, nested (see _init). /proc stays reachable through proc_fd.
        self.userns = bool(config.get("userns"))
        self.proc_fd = -1
        self.cgroups = RunCgroups.from_config(config.get("cgroup"))

    # -- start-up ------------------------------------------------------------------

    def prepare(self) -> None:
        """Everything that happens once; raises with a readable message on failure."""
        if os.geteuid() != 0:
            raise PermissionError("the sandbox server must run as root (or root of its own user namespace)")
        cfg = self.config
        stdlib = [p for p in sys.path if os.path.isdir(p)]
        roots = []
        for path in stdlib:
            if not any(_under(path, r) for r in roots):
                roots.append(path)

        self.program = SeccompProgram(bytes.fromhex(cfg["seccomp_bpf"]))
        libraries = [lib for lib in _mapped_libraries() if not any(_under(lib, r) for r in roots)]
        self.pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.statm_fd = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        # "loadavg": a file in /proc/loadavg's format, for tests that must not depend on the machine's load.
        self.loadavg_fd = os.open(cfg.get("loadavg", "/proc/loadavg"), os.O_RDONLY | os.O_CLOEXEC)
        self.lifeline_r, self.lifeline_w = os.pipe()
        if self.userns:
            self.proc_fd = os.open("/proc", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        if self.cgroups is not None:
            self.cgroups.open()

        self._build_jail(roots, libraries)

        sys.path[:] = [*stdlib, SITE]
        sys.dont_write_bytecode = True
        for name in cfg.get("preload", DEFAULT_PRELOAD):
            __import__(name)
        from grader.grading import harness

        self.harness = harness
        # Children point descriptors 1 and 2 at their output pipe; the streams are
        # made here once, line-buffered so that output survives a kill.
        self.streams = (sys.stdout, sys.stderr)
        for stream in self.streams:
            stream.reconfigure(line_buffering=True, errors="backslashreplace")
        self.read_roots = (*roots, SITE, "/tmp", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
        _keep_heap()
        self._warm_up()
        settle_heap()

    def _build_jail(self, stdlib_roots: list[str], libraries: list[str]) -> None:
        cfg = self.config
        site_dirs: dict[str, str] = cfg["site"]  # name in the jail's site -> host dir
        files: dict[str, str] = cfg["files"]  # path under the jail's site -> host file
        binds: list[tuple[str, str, bool]] = []  # (host source, jail path, is_dir)
        for root in stdlib_roots:
            binds.append((root, root, True))
        lib_dirs: list[str] = []
        for lib in libraries:
            directory = os.path.dirname(lib)
            if any(_under(directory, p) for p in _SYSTEM_LIB_PREFIXES):
                if directory not in lib_dirs:
                    lib_dirs.append(directory)
            elif not any(_under(lib, d) for d in site_dirs.values()):
                binds.append((lib, lib, False))
        binds.extend((d, d, True) for d in lib_dirs)
        for name, source in site_dirs.items():
            binds.append((source, f"{SITE}/{name}", True))
        for name, source in files.items():
            binds.append((source, f"{SITE}/{name}", False))
        if os.path.isfile("/etc/ld.so.cache"):
            binds.append(("/etc/ld.so.cache", "/etc/ld.so.cache", False))

        unshare(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we do propagates out
        jail = _jail_mountpoint([b[0] for b in binds])
        mount("tmpfs", jail, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")

        for source, target, is_dir in binds:
            path = jail + target
            if is_dir:
                _mkdirs(path)
            else:
                _touch(path)
            bind_readonly(source, path)
        for root in stdlib_roots:  # a base interpreter's own site-packages
            hidden = os.path.join(root, "site-packages")
            if os.path.isdir(hidden):
                mount(
                    "tmpfs", jail + hidden, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=4"
                )
        _mkdirs(jail + "/dev")
        for node in ("null", "zero", "urandom", "random"):
            _touch(f"{jail}/dev/{node}")
            bind_readonly(f"/dev/{node}", f"{jail}/dev/{node}", device=True, writable=node == "null")
        _mkdirs(jail + "/tmp")
        os.chmod(jail + "/tmp", 0o755)
        mount(None, jail, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        pivot_root(jail)

    def _warm_up(self) -> None:
        """Run the harness on a made-up request: in the zygote so that children
        inherit compiled code and caches; in each spare, before it has a job, so that
        the pages a run writes are copied (copy-on-write) ahead of time instead of
        during the run (a few hundred faults, ~4 ms here)."""
        import io

        import numpy as np

        harness = self.harness
        source = (
            "import numpy as np\n"
            "def f(x, y):\n    print(end='')\n    return float(np.mean((np.asarray(x) - y) ** 2))\n"
            "def g(x):\n    return [a * 2 for a in x]\n"
            "def h(x):\n    raise ValueError('x')\n"
        )
        x = np.linspace(0.0, 1.0, 8)
        calls = [("f", [x, x]), ("f", [[1.0, 2.0], 1.0]), ("g", [x]), ("h", [x]), ("missing", [])]
        request = harness.encode_request(source, ["f", "g", "h"], calls)
        harness.serve(harness.decode_request(request), io.BytesIO())
        sys.modules.pop("submission", None)

    # -- serving -------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Answer jobs until the grader closes the socket; keep spares ready between.

        One thread, one loop: jobs first; spares are made only when nothing waits;
        SIGCHLD arrives through the wake-up pipe, and reaping happens here, never in
        a handler, so no child can be reaped before its pidfd is open.
        """
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            timeout = None
            want_spare = self._want_spare()
            if want_spare:
                # Jobs often come two at once (two grading threads; a hidden part run
                # apart): wait a moment for the next before forking a spare, which
                # would hold it up for a millisecond or two.
                timeout = max(0.0, self.last_job + SPARE_PAUSE - time.monotonic())
            elif self._cold_spares():
                timeout = max(0.0, self.idle_since + WARM_WHEN_IDLE - time.monotonic())
            ready, _, _ = select.select([self.control, self.wake_r], [], [], timeout)
            if not ready:
                if want_spare:
                    self._add_spare()
                else:
                    self._warm_spares()
                continue
            if self.wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self.wake_r, 512):
                        pass
                self._reap()
            if self.control in ready:
                try:
                    msg, fds, flags, _addr = socket.recv_fds(self.control, 1 << 16, 8)
                except ConnectionError:
                    break
                if not msg:
                    break  # the grader is gone: our children die by PDEATHSIG
                self._handle(msg, fds, flags)

    def _handle(self, msg: bytes, fds: list[int], flags: int) -> None:
        """Give one job to a spare and answer with init's pidfd.

        The grader gets its answer first and the spare its job just after: the grader
        starts supervising while the spare wakes up, instead of after (a spare that
        wakes takes a CPU, and with two the answer would wait for it).
        """
        try:
            if flags & socket.MSG_CTRUNC or len(fds) not in (6, 8):
                raise ValueError("a job needs 6 descriptors, or 8 for a run in turn")
            job = json.loads(msg)
            job["vm_bytes"] = self._vm_bytes()  # the child adds what its warm-up took
            data = json.dumps(job).encode()
            for _attempt in range(3):
                spare = self._take_spare()
                if not _readable(spare.pidfd):
                    break
                self._retire(spare)  # it died meanwhile
            else:
                raise RuntimeError(f"no sandbox child could be prepared: {self.spare_error}")
            if self.cgroups is not None:
                self.cgroups.limit(spare.uid, job["limits"], self.tmp_bytes)
            self.last_job = time.monotonic()
            self.runs[spare.pid] = _Run(spare.uid, fds[-1], spare.init_sock)
            fds[-1] = -1
            try:
                socket.send_fds(self.control, [json.dumps({"ok": True, "pid": spare.pid}).encode()], [spare.pidfd])
            finally:
                os.close(spare.pidfd)
            try:
                socket.send_fds(spare.job_sock, [data], fds[:-1])
            except OSError as exc:  # died since: the run ends at once, with this reason
                _report_setup_failure(fds[4], "server", exc, exit_after=False)
                os.kill(spare.pid, signal.SIGKILL)
            spare.job_sock.close()
        except Exception as exc:
            with contextlib.suppress(OSError):
                self.control.send(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}).encode())
        finally:
            for fd in fds:
                if fd >= 0:
                    os.close(fd)

    def _want_spare(self) -> bool:
        if not (len(self.spares) < self.spare_target and self.free_uids and self.spare_failures < 3):
            return False
        # While runs are going, refill only below a pair of spares: making one takes a
        # CPU that the runs would otherwise have (on two cores, a few ms per submission).
        return not self.runs or len(self.spares) < SPARES_WHILE_BUSY

    def _cold_spares(self) -> list[_Spare]:
        """Spares to warm up now: only with ``prefault = "idle"``, and only while no run goes."""
        if self.prefault != "idle" or self.runs:
            return []
        return [spare for spare in self.spares if not spare.warm]

    def _warm_spares(self) -> None:
        """Tell the waiting spares to warm up: the pool has been idle for a while, so the
        work takes no CPU from a run, and the next job starts with its pages in place."""
        if time.monotonic() < self.idle_since + WARM_WHEN_IDLE:
            return
        if self._cpus_wanted():  # idle pool, busy machine (a web worker, say): look again later
            self.idle_since = time.monotonic()
            return
        for spare in self._cold_spares():  # none while a run goes
            spare.warm = True
            with contextlib.suppress(OSError):  # a dead spare is found when it is taken
                spare.job_sock.send(WARM_UP, socket.MSG_DONTWAIT)

    def _cpus_wanted(self) -> bool:
        """Whether, right now, other work wants every CPU we may use (the count of
        runnable tasks in ``/proc/loadavg``, less this process): a warm-up then takes
        its ~2 ms of CPU per spare from that work instead of from idle time."""
        try:
            runnable = int(os.pread(self.loadavg_fd, 128, 0).split()[3].split(b"/")[0])
        except (OSError, ValueError, IndexError):
            return False
        return runnable - 1 >= len(os.sched_getaffinity(0))

    def _add_spare(self) -> None:
        uid = self.free_uids.popleft()
        try:
            self.spares.append(self._fork_spare(uid))
        except Exception as exc:
            self.free_uids.append(uid)
            self.spare_failures += 1
            self.spare_error = f"{type(exc).__name__}: {exc}"

    def _take_spare(self) -> _Spare:
        """A ready spare, or one made now (waiting for a uid to come free if need be)."""
        if self.spares:
            return self.spares.popleft()
        deadline = time.monotonic() + 5.0
        while not self.free_uids:
            if time.monotonic() > deadline:
                raise RuntimeError("no free sandbox uid: runs are not being reaped")
            time.sleep(0.001)
            self._reap()
        return self._fork_spare(self.free_uids.popleft())

    def _retire(self, spare: _Spare) -> None:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(spare.pidfd, signal.SIGKILL)
        os.close(spare.pidfd)
        spare.job_sock.close()
        spare.init_sock.close()
        self.dying[spare.pid] = spare.uid

    def _reap(self) -> None:
        """Reap the children that ended; give their uids back; tell the grader."""
        for pid in [s.pid for s in self.spares] + list(self.runs) + list(self.dying):
            try:
                done, status, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                done, status, usage = pid, None, None
            if not done:
                continue
            if pid in self.runs:
                run = self.runs.pop(pid)
                if not self.runs:
                    self.idle_since = time.monotonic()
                error = _setup_error(run.init_sock)
                record: dict = {"status": status, "setup_error": error}
                if usage is not None:  # init's, with the student's (which it reaped)
                    record["cpu"] = usage.ru_utime + usage.ru_stime
                if status is not None and not error:
                    self.spare_failures = 0
                if self.cgroups is not None and self.cgroups.out_of_memory(run.uid):
                    record["oom"] = True
                with contextlib.suppress(OSError):
                    os.write(run.reaped_w, json.dumps(record).encode())
                os.close(run.reaped_w)
                run.init_sock.close()
                uid = run.uid
            elif pid in self.dying:
                uid = self.dying.pop(pid)
            else:
                spare = next(s for s in self.spares if s.pid == pid)
                self.spares.remove(spare)
                self.spare_failures += 1
                self.spare_error = _setup_error(spare.init_sock) or f"it ended with status {status}"
                os.close(spare.pidfd)
                spare.job_sock.close()
                spare.init_sock.close()
                uid = spare.uid
            if self.cgroups is not None:
                self.cgroups.remove(uid)
            self.free_uids.append(uid)  # at the back: reused as late as possible

    def _sockets(self, *extra: socket.socket) -> list[socket.socket]:
        """Every socket object this process holds."""
        found = [self.control, *extra]
        for spare in self.spares:
            found += [spare.job_sock, spare.init_sock]
        found += [run.init_sock for run in self.runs.values()]
        return found

    def _vm_bytes(self) -> int:
        """Our address-space size: children start with it, RLIMIT_AS adds the limit."""
        return int(os.pread(self.statm_fd, 64, 0).split()[0]) * os.sysconf("SC_PAGE_SIZE")

    def _fork_spare(self, uid: int) -> _Spare:
        """Make one spare: init as PID 1 of a new PID namespace, running as ``uid``."""
        job_ours, job_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        init_ours, init_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cgroup_fd = self.cgroups.make(uid) if self.cgroups is not None else -1
        pid = -1
        try:
            unshare(CLONE_NEWPID)  # our next child is PID 1 of a new namespace
            try:
                pid = os.fork()
            finally:
                if pid != 0:  # back to our own namespace for later children
                    setns(self.pidns_fd, CLONE_NEWPID)
            if pid == 0:
                # The socket objects we inherit must not close descriptor numbers
                # that get reused here, should they ever be finalized: forget them.
                for inherited in self._sockets(job_ours, init_ours):
                    inherited.detach()
                self._init(uid, job_theirs.detach(), init_theirs.detach(), cgroup_fd)  # never returns
            # Race-free: only this loop reaps, and only children it knows of.
            pidfd = os.pidfd_open(pid)
        except BaseException:
            job_ours.close()
            init_ours.close()
            if self.cgroups is not None and pid <= 0:
                self.cgroups.remove(uid)
            raise
        finally:
            job_theirs.close()
            init_theirs.close()
            if cgroup_fd >= 0:
                os.close(cgroup_fd)
        return _Spare(pid, pidfd, uid, job_ours, init_ours)

    # -- inside the new PID namespace ---------------------------------------------

    def _init(self, uid: int, job_fd: int, error_fd: int, cgroup_fd: int = -1) -> None:
        """PID 1: isolate, drop privileges, fork the student, exit the way it did.

        Exit code: the student's (0-127, larger ones read as 127), 128 + n if it was
        killed by signal n, or SETUP_FAILED with the reason written to ``error_fd``.
        """
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            _keep_only([job_fd, error_fd, self.lifeline_r, self.proc_fd, cgroup_fd])
            null = os.open("/dev/null", os.O_RDWR)
            for target in (0, 1, 2):
                os.dup2(null, target)
            os.close(null)
            os.setsid()
            if cgroup_fd >= 0:  # into the run's own cgroup, before the student exists
                os.write(cgroup_fd, b"0")
                os.close(cgroup_fd)
            if self.userns:
                # A user namespace per run: the uid (and RLIMIT_NPROC's count) is the run's
                # own, and every mount below is locked as it is (read-only stays read-only).
                enter_user_namespace(uid, self.proc_fd)
                os.close(self.proc_fd)
            unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
            _check(_libc.sethostname(b"sandbox", 7), "sethostname")
            mount(
                "tmpfs",
                "/tmp",
                "tmpfs",
                MS_NOSUID | MS_NODEV | MS_NOEXEC,
                f"size={self.tmp_bytes},nr_inodes=256,mode=0700,uid={uid},gid={uid}",
            )
            if not self.userns:  # a user namespace has no groups to drop (setgroups is denied)
                os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)  # as root: drops every capability
            if self.userns:  # already this uid: nothing was dropped
                drop_capabilities()
            # Cleared by the uid change, so set now; then check the parent did not
            # die before it was set (the lifeline pipe would read end-of-file).
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            prctl(PR_SET_NO_NEW_PRIVS, 1)
            if not self.userns:
                # As root, nobody but root may look inside. Unprivileged, the run has the
                # service's kernel uid anyway, and only the service (the doctor) could look.
                prctl(PR_SET_DUMPABLE, 0)
            if _readable(self.lifeline_r):
                os._exit(SETUP_FAILED)
            os.close(self.lifeline_r)
            student = os.fork()
            if student == 0:
                os.close(error_fd)
                self._student(job_fd)  # never returns
            os.close(job_fd)
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                os.write(error_fd, f"init: {type(exc).__name__}: {exc}".encode()[:2000])
            os._exit(SETUP_FAILED)
        code = SETUP_FAILED
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            if pid == student:
                exit_code = os.waitstatus_to_exitcode(status)  # -n if killed by signal n
                code = 128 - exit_code if exit_code < 0 else min(exit_code, 127)
        os._exit(code)

    def _warm_up_student(self, job_fd: int) -> None:
        """Trusted code only, before any job: copy-on-write and heap faults happen now.

        Stops early when the job arrives (it would wait for us).
        """
        self._warm_up()
        if _readable(job_fd):
            return
        _prefault_heap()
        make_audit_hook(self.read_roots)

    def _student(self, job_fd: int) -> None:
        """PID 2: wait for a job, then last limits and filters, then the harness.

        Never returns. Until the job arrives it has run nothing but this code.
        """
        status_w = -1
        try:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getpid() != STUDENT_PID:
                raise RuntimeError(f"expected PID {STUDENT_PID}, got {os.getpid()}")
            heap_start = _libc.sbrk(0)
            _reserve_huge_heap()
            if self.prefault == "always":
                self._warm_up_student(job_fd)
            channel = socket.socket(fileno=job_fd)
            msg, fds, _flags, _addr = socket.recv_fds(channel, 1 << 16, 8)
            if msg == WARM_UP and not fds:  # the pool is idle: warm up while we wait
                self._warm_up_student(job_fd)
                msg, fds, _flags, _addr = socket.recv_fds(channel, 1 << 16, 8)
            channel.close()
            if not msg or len(fds) not in (5, 7):
                os._exit(0)  # retired, or the server is gone
            request_fd, calls_fd, result_w, output_w, status_w = fds[:5]
            # A run in turn: the second request comes on then_r, once we say on waiting_w that we wait.
            then_r, waiting_w = fds[5:] if len(fds) == 7 else (-1, -1)
            job = json.loads(msg)
            limits = job["limits"]
            os.dup2(output_w, 1)
            os.dup2(output_w, 2)
            os.close(output_w)
            data = os.pread(request_fd, os.fstat(request_fd).st_size, 0)
            os.close(request_fd)
            # Mapped, not copied: sealed, so nobody can change it (the arrays are views of it).
            calls = _map_readonly(calls_fd)
            os.close(calls_fd)
            harness = self.harness
            # Parsed here, never in the zygote: whatever the zygote touches, every
            # later child inherits (freed heap included), and one student's source
            # must never be readable by another.
            request = harness.decode_request(data, calls)
            del data
            os.chdir("/tmp")
            if "numpy.random" in sys.modules:  # CPython reseeds `random` itself
                sys.modules["numpy.random"].seed()
            # The allowance is the same whatever the spare did: what its heap grew by
            # (the reserve, the warm-up) comes on top of the server's size.
            _set_limits(limits, job["vm_bytes"] + (_libc.sbrk(0) - heap_start), parts=2 if then_r >= 0 else 1)
            prctl(PR_SET_NO_NEW_PRIVS, 1)
            self.program.load()
            if job.get("audit", True):
                sys.addaudithook(make_audit_hook(self.read_roots))
            os.write(status_w, b"R\0")
            os.close(status_w)
        except BaseException as exc:
            if status_w >= 0:
                _report_setup_failure(status_w, "student", exc)
            os._exit(SETUP_FAILED)
        code = 0
        # Buffered: its flush() (the harness flushes per event) writes everything even
        # when a signal interrupts a large write to the pipe.
        out = os.fdopen(result_w, "wb")

        def flush():  # type: ignore[no-untyped-def]
            """Our streams, whatever the submission did to sys.stdout."""
            for stream in self.streams:
                with contextlib.suppress(BaseException):
                    stream.flush()

        def then():  # type: ignore[no-untyped-def]
            """Wait for the second request (the output was flushed before "done").

            "Waiting" lets the grader tell a result stream that lost its "done" (the
            submission wrote into it) from a run still going, without the wall clock.
            """
            with contextlib.suppress(OSError):
                os.write(waiting_w, b"w")
                os.close(waiting_w)
            data = _read_to_end(then_r)
            return harness.decode_request(data) if data else None

        try:
            harness.serve(request, out, then if then_r >= 0 else None, flush)
        except BaseException:
            code = 1
        # Output first, then the end of the result stream: once the grader has read
        # "done" and end-of-file it has all the output too, and need not wait for the
        # exit.
        flush()
        with contextlib.suppress(BaseException):
            out.close()
        os._exit(code)


#: Seconds after a job before spares are refilled (see ``serve_forever``).
SPARE_PAUSE = 0.003
#: Spares kept even while runs are going: one for each of two jobs that come at once (see ``_want_spare``).
SPARES_WHILE_BUSY = 2
#: Seconds without any run before waiting spares warm up (``prefault = "idle"``).
WARM_WHEN_IDLE = 0.01
#: The message that tells a waiting spare to warm up.
WARM_UP = b"warm"
#: Heap each spare touches ahead of its job (see :func:`_keep_heap`).
PREFAULT_HEAP_BYTES = 16 << 20
#: Heap each child sets aside for huge pages (see :func:`_reserve_huge_heap`); the
#: warm-up's heap fits in it.
HEAP_RESERVE_BYTES = PREFAULT_HEAP_BYTES + (2 << 20)
_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt() parameters


def _keep_heap() -> None:
    """Serve arrays below 32 MiB from the heap and keep freed heap: by default glibc
    maps each large block afresh and unmaps it when freed, so every temporary array
    of a fixture costs a page fault per 4 KiB, several times slower than the math."""
    _libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
    _libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)


def settle_heap() -> None:
    """After warming up, before forking: what children inherit is fixed from here on."""
    # Children share these pages copy-on-write; collection would touch them all.
    gc.collect()
    gc.freeze()
    # Hand back the heap that start-up freed: every fork would copy its page
    # table entries and every exit unmap them (_keep_heap stops glibc doing it).
    _libc.malloc_trim(0)


def _reserve_huge_heap() -> None:
    """Let the run's arrays land on 2 MiB pages: fresh heap otherwise costs a page
    fault per 4 KiB (some 600 for lab03's hidden fixtures, 3 to 4 us each in a VM).

    Best effort, and free until used: the heap grows by the reserve, untouched, and is
    marked for huge pages from the first 2 MiB boundary on. The bit below it is left
    out (allocated, never used): a block the fork server ever touched cannot become
    a huge page. Freed again, the reserve is the top of the heap, kept
    (:func:`_keep_heap`), where the run's larger arrays come from.
    """
    block = _libc.malloc(HEAP_RESERVE_BYTES)
    if not block:
        return
    _libc.free(block)
    gap = -block % _HUGE_PAGE
    if gap > 4096:
        _libc.malloc(gap - 64)  # up to just below the boundary; never freed
    block = _libc.malloc(HEAP_RESERVE_BYTES)
    if not block:
        return
    start = -(-block // _HUGE_PAGE) * _HUGE_PAGE
    _libc.madvise(start, (block + HEAP_RESERVE_BYTES - start) & ~4095, _MADV_HUGEPAGE)
    _libc.free(block)


def _prefault_heap() -> None:
    """Touch heap now, while the spare waits, so that the job's arrays find it ready."""
    import numpy as np

    np.ones(PREFAULT_HEAP_BYTES // 8)


def _map_readonly(fd: int) -> memoryview:
    """A read-only view of a whole file, mapped (never unmapped: the process is short-lived).

    Through libc, not the mmap module, which keeps a duplicate of the descriptor open.
    """
    size = os.fstat(fd).st_size
    if not size:
        return memoryview(b"")
    address = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED | mmap.MAP_POPULATE, fd, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap failed")
    return memoryview((ctypes.c_char * size).from_address(address)).cast("B").toreadonly()


def _setup_error(sock: socket.socket) -> str:
    """What init wrote before failing, if anything (never blocks)."""
    try:
        return sock.recv(4096, socket.MSG_DONTWAIT).decode("utf-8", "replace")
    except OSError:
        return ""


def _read_to_end(fd: int) -> bytes:
    """Everything written to a pipe until its writer closes it."""
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def _keep_only(keep: list[int]) -> None:
    """Close every descriptor above 2 except ``keep``."""
    low = 3
    for fd in sorted(set(keep)):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 1 << 20)


def _report_setup_failure(status_w: int, who: str, exc: BaseException, *, exit_after: bool = True) -> None:
    try:
        message = f"{who}: {type(exc).__name__}: {exc}".replace("\0", " ")
        with contextlib.suppress(OSError):
            os.write(status_w, b"E" + message.encode()[:2000] + b"\0")
    finally:
        if exit_after:
            os._exit(SETUP_FAILED)


def _set_limits(limits: dict, vm_bytes: int, parts: int = 1) -> None:
    """The run's limits; a run in ``parts`` gets the CPU time of each (the harness
    raises the soft limit for the next part), never more than that in all."""
    cpu = max(1, int(-(-float(limits["cpu_seconds"]) // 1)))
    memory = vm_bytes + int(limits["memory_mib"]) * 1024 * 1024
    table = [
        (resource.RLIMIT_CPU, cpu, parts * cpu + 1),  # SIGXCPU at soft, SIGKILL at hard
        (resource.RLIMIT_AS, memory, memory),
        (resource.RLIMIT_FSIZE, int(limits["file_bytes"]), int(limits["file_bytes"])),
        (resource.RLIMIT_NOFILE, int(limits["open_files"]), int(limits["open_files"])),
        # Per uid: init + the student + (processes - 1) threads.
        (resource.RLIMIT_NPROC, 1 + int(limits["processes"]), 1 + int(limits["processes"])),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_MEMLOCK, 0, 0),
        (resource.RLIMIT_MSGQUEUE, 0, 0),
        (resource.RLIMIT_RTPRIO, 0, 0),
        (resource.RLIMIT_NICE, 0, 0),
        (resource.RLIMIT_SIGPENDING, 64, 64),
    ]
    for which, soft, hard in table:
        resource.setrlimit(which, (soft, hard))


def _enter_own_namespaces(control: socket.socket) -> None:
    """Unprivileged mode: become root of a user namespace of our own, and PID 1 of a PID
    namespace it owns (so that we may enter it again after making each run's, which
    the host's PID namespace would not allow). This process forks: the parent only
    waits and exits the way the server did; the server dies with it (PDEATHSIG), and
    every run with the server."""
    enter_user_namespace(0)
    unshare(CLONE_NEWPID)
    lifeline_r, lifeline_w = os.pipe()
    pid = os.fork()
    if pid:
        control.close()
        os.close(lifeline_r)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    os.close(lifeline_w)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if _readable(lifeline_r):  # the parent died before PDEATHSIG was set
        os._exit(1)
    os.close(lifeline_r)


def main() -> None:
    """Entry point: ``zygote.py <control fd>``; configuration arrives on the socket."""
    control = socket.socket(fileno=int(sys.argv[1]))
    sys.argv[:] = ["lossgrader-sandbox"]
    if hasattr(sys, "orig_argv"):
        sys.orig_argv = ["lossgrader-sandbox"]
    try:
        config = json.loads(control.recv(1 << 20))
        if config.get("userns"):
            _enter_own_namespaces(control)
        server = Zygote(control, config)
        server.prepare()
        ready = {"ready": True, "pid": os.getpid(), "filter_instructions": server.program.size}
    except BaseException as exc:
        control.send(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}).encode())
        raise SystemExit(1) from None
    control.send(json.dumps(ready).encode())
    server.serve_forever()


if __name__ == "__main__":
    main()
