"""Is the sandbox really there? Probe each protection, and refuse to run without it.

:func:`check` starts a sandbox and runs a probe submission in it (with the audit hook
off, so that it meets the real walls, not the friendly messages). The probe reports
what it can see and do from the inside (uids, limits, files, fork, sockets, mknod),
while the doctor looks at the same process from the outside (``/proc/<pid>/status``,
``ns/*``, ``uid_map``, ``cgroup``, ``mountinfo``, ``environ``, ``fd``): as root in the
``root`` mode; in the ``userns`` mode as the service's user, which owns the runs' user
namespaces. A second probe runs in other namespaces than the first, and dies when the
fork server is killed under it. Nothing is assumed from configuration.

Which protections are required depends on the mode (:func:`required`): the ``userns``
mode needs a user namespace per run (the root mode switches real uids instead); per-run
cgroups are reported but never required (rlimits cap every run either way).

:func:`require_secure` and :func:`make_runner` turn that into a decision: the sandbox,
or an error with a one-line reason, or, only with the insecure setting
(``LOSSGRADER_INSECURE_SANDBOX=1`` or ``insecure=True``), the unsandboxed
:class:`~grader.grading.runner.SubprocessRunner` with a loud warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass

from grader.grading.runner import Call, RunLimits, Runner, SubprocessRunner, child_environment
from grader.sandbox import cgroup
from grader.sandbox.runner import SandboxRunner, SandboxUnavailable, sandbox_mode

INSECURE_ENV = "LOSSGRADER_INSECURE_SANDBOX"


@dataclass(frozen=True)
class Protection:
    """One mechanism: whether it was seen working, what was seen, what it stops."""

    name: str
    active: bool
    detail: str
    stops: str
    required: bool | None = None  # whether untrusted code may not run without it; None: as required() says

    def __post_init__(self) -> None:
        if self.required is None:
            object.__setattr__(self, "required", self.name in required(sandbox_mode()))


#: name -> what it stops, in report order.
STOPS = {
    "pid namespace": "seeing or signalling other processes; lets one kill end the whole run",
    "network namespace": "any network access, loopback included (PostgreSQL, Redis)",
    "mount namespace": "mounts and /tmp shared with the host or with other runs",
    "ipc namespace": "System V IPC and POSIX message queues shared with the host",
    "uts namespace": "changing the host's name",
    "user namespace": "capabilities or uids that count outside the run; remounting the jail writable (locked)",
    "filesystem view": "reading the project, fixtures, reference code, database files, /proc",
    "read-only root": "writing anything that outlives the run (Python, NumPy, the tree)",
    "private /tmp": "files shared between runs or left behind; filling the disk",
    "rlimits": "exhausting CPU, memory, file size, descriptors, processes; core dumps",
    "cgroup limits": "page cache, /tmp and threads beyond the run's share; more than an equal share of CPU",
    "uid drop": "acting as root or as the grader; touching other runs' processes",
    "no_new_privs": "gaining privileges through set-uid programs or file capabilities",
    "seccomp": "exec, fork, sockets, ptrace, mount, bpf, io_uring, keyrings, raw kernel calls",
    "pdeathsig": "runs outliving the fork server or the grader",
    "pid-1 avoidance": "ignoring SIGXCPU/SIGTERM as a namespace's init does",
    "env scrubbing": "reading secrets from environment variables",
    "descriptor hygiene": "writing to or reading from the grader's files, sockets and pipes",
    "audit hook": "nothing (the walls above do); turns refusals into clear messages",
}
#: Never required: the audit hook only words the refusals; cgroups add to the rlimits, where delegated.
OPTIONAL = frozenset({"audit hook", "cgroup limits"})
#: Required in the root mode (each run switches to a real uid of its own instead of a user namespace).
REQUIRED = frozenset(STOPS) - OPTIONAL - {"user namespace"}


#: What each mode is, for the doctor's report.
MODES = {
    "root": "the grader is root; each run switches to a uid of its own",
    "userns": "the grader is unprivileged; each run gets a user namespace of its own",
}


def required(mode: str) -> frozenset[str]:
    """The protections without which the sandbox refuses untrusted code, in ``mode`` ("root" or "userns")."""
    return REQUIRED if mode == "root" else frozenset(STOPS) - OPTIONAL


_ALLOWED_ENV = frozenset(child_environment())


def _probe_source(forbidden: list[str]) -> str:
    return f"""
import errno, json, os, resource, signal, socket, sys, sysconfig

def _try(action):
    try:
        action()
        return "ok"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    except Exception as exc:
        return type(exc).__name__

def _fork():
    if os.fork() == 0:
        os._exit(0)

def probe():
    signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGUSR1}})
    stdlib = sysconfig.get_paths()["stdlib"]
    site = os.path.join(stdlib, "site-packages")
    limits = {{name: resource.getrlimit(getattr(resource, name)) for name in (
        "RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
        "RLIMIT_CORE")}}
    fds = []
    for fd in range(256):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            pass
    tmp = os.statvfs("/tmp")
    report = dict(
        pid=os.getpid(), resuid=os.getresuid(), resgid=os.getresgid(),
        groups=os.getgroups(), env=sorted(os.environ), hostname=os.uname().nodename,
        root=sorted(os.listdir("/")), site=sorted(os.listdir("/sandbox/site")),
        stdlib_site=sorted(os.listdir(site)) if os.path.isdir(site) else [],
        visible=[p for p in {forbidden!r} if os.path.exists(p)],
        write_root=_try(lambda: open("/probe", "w")),
        write_stdlib=_try(lambda: open(os.__file__, "a")),
        write_tmp=_try(lambda: open("/tmp/probe", "w").write("x")),
        tmp_bytes=tmp.f_blocks * tmp.f_frsize,
        fork=_try(_fork), socket=_try(lambda: socket.socket()),
        unix_socket=_try(lambda: socket.socket(socket.AF_UNIX)),
        mknod=_try(lambda: os.mkfifo("/tmp/fifo")),
        setuid=_try(lambda: os.setuid(0)),
        limits=limits, fds=fds,
    )
    print("PROBE" + json.dumps(report), flush=True)
    signal.sigtimedwait({{signal.SIGUSR1}}, 10.0)  # the doctor looks from outside meanwhile
    return 1
"""


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _status_fields(pid: int) -> dict[str, str]:
    fields = {}
    for line in _read(f"/proc/{pid}/status").splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _ns(pid: int | str, kind: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return "?"


def _children(pid: int) -> list[int]:
    text = _read(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in text.split()]


def _wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def _gone(pid: int) -> bool:
    state = _status_fields(pid).get("State", "")
    return not state or state.startswith(("Z", "X"))


def _unavailable(reason: str, mode: str = "root") -> list[Protection]:
    needed = required(mode)
    return [Protection(name, False, reason, stops, name in needed) for name, stops in STOPS.items()]


def check() -> list[Protection]:
    """Probe every protection on this machine, now, in the mode this user gets. Takes a second or two."""
    if sys.platform != "linux":
        return _unavailable("needs Linux")
    mode = sandbox_mode()
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    forbidden = [
        os.path.join(package_root, "grader"),
        os.path.join(package_root, "reference"),
        os.path.join(package_root, "labs"),
        sys.prefix,
        "/etc/passwd",
        "/etc/shadow",
        "/proc/1",
        "/sys/kernel",
        "/dev/shm",
        "/var/lib",
        "/var/run",
        "/home",
    ]
    try:
        runner = SandboxRunner(slots=1, audit_hook=False)
        runner.start()
    except SandboxUnavailable as exc:
        return _unavailable(str(exc), mode)
    try:
        found, first = _inspect(runner, forbidden)
        found["pdeathsig"], second = _probe_pdeathsig(runner)
        for kind, name in _NAMESPACES:  # a namespace of its own is not enough: per run
            if found.get(name, (False,))[0] and first.get(kind) == second.get(kind):
                found[name] = (False, f"two runs share {first.get(kind)}")
        found["audit hook"] = _probe_audit_hook()
    except Exception as exc:  # a broken sandbox must read as "not protected"
        return _unavailable(f"the probe failed: {type(exc).__name__}: {exc}", mode)
    finally:
        runner.close()
    needed = required(mode)
    return [
        Protection(name, *found.get(name, (False, "not probed")), stops=stops, required=name in needed)
        for name, stops in STOPS.items()
    ]


_NAMESPACES = (
    ("pid", "pid namespace"),
    ("net", "network namespace"),
    ("mnt", "mount namespace"),
    ("ipc", "ipc namespace"),
    ("uts", "uts namespace"),
    ("user", "user namespace"),
)


def _namespaces(pid: int) -> dict[str, str]:
    return {kind: _ns(pid, kind) for kind, _name in _NAMESPACES}


def _inspect(runner: SandboxRunner, forbidden: list[str]) -> tuple[dict[str, tuple[bool, str]], dict[str, str]]:
    """Run the probe; look at it from inside and outside while it waits.

    Returns the verdicts and the probe's namespaces."""
    limits = RunLimits(wall_seconds=15.0, cpu_seconds=3.0, memory_mib=256)
    job = runner._launch(_probe_source(forbidden), ["probe"], [Call("probe", "probe", ())], limits)
    result: dict[str, object] = {}

    def supervise() -> None:
        result["report"], _lost = job.supervise()

    thread = threading.Thread(target=supervise, daemon=True)
    thread.start()
    init = job.init_pid
    student = 0

    def student_ready() -> bool:
        nonlocal student
        kids = _children(init)
        if kids:
            student = kids[0]
            return _status_fields(student).get("Seccomp") == "2"
        return False

    outside: dict[str, object] = {}
    if _wait_for(student_ready, 10.0):
        time.sleep(0.05)  # let it finish the inside part and reach sigtimedwait
        outside = {
            "status": _status_fields(student),
            "init_status": _status_fields(init),
            "ns": {
                k: (_ns(student, k), _ns(init, k), _ns("self", k), _ns(runner.server_pid or 0, k))
                for k, _name in _NAMESPACES
            },
            "mode": runner.mode,
            "uid_map": _read(f"/proc/{student}/uid_map"),
            "cgroup": _cgroup_limits(student, runner.cgroup_path),
            "mountinfo": _read(f"/proc/{student}/mountinfo"),
            "environ": _read(f"/proc/{student}/environ"),
            "fds": sorted(os.listdir(f"/proc/{student}/fd")),
            "fd_targets": [os.readlink(f"/proc/{student}/fd/{fd}") for fd in os.listdir(f"/proc/{student}/fd")],
        }
        with contextlib.suppress(ProcessLookupError):
            os.kill(student, signal.SIGUSR1)
    thread.join(20.0)
    if job.reaped_r >= 0:
        os.close(job.reaped_r)
    report = result.get("report")
    inside: dict = {}
    if report is not None:
        for line in report.output.splitlines():
            if line.startswith("PROBE"):
                inside = json.loads(line[5:])
    return _judge(inside, outside), _namespaces(student) if outside else {}


def _cgroup_limits(pid: int, base: str | None) -> tuple[bool, str]:
    """The caps on ``pid``'s own cgroup, if it has one in the runner's folder ``base``."""
    why = cgroup.why_unavailable(base) if base else cgroup.why_unavailable(os.environ.get(cgroup.ENV))
    if base is None or why:
        return False, f"rlimits only: {why or 'the runner made no cgroup folder'}"
    line = next((x for x in _read(f"/proc/{pid}/cgroup").splitlines() if x.startswith("0::")), "0::")
    relative = line[3:].strip()
    if os.path.basename(os.path.dirname(relative)) != os.path.basename(base):
        return False, f"the run is in cgroup {relative or '?'}, not one of its own under {base}"
    folder = os.path.join(base, os.path.basename(relative))
    values = {name: _read(os.path.join(folder, name)).strip() for name in ("memory.max", "pids.max", "cpu.weight")}
    if values["memory.max"] in ("", "max") or values["pids.max"] in ("", "max"):
        return False, f"{folder}: memory.max {values['memory.max'] or '?'}, pids.max {values['pids.max'] or '?'}"
    weight = f", cpu.weight {values['cpu.weight']}" if values["cpu.weight"] else ""
    memory = int(values["memory.max"]) >> 20
    return True, f"a cgroup per run: memory.max {memory} MiB, pids.max {values['pids.max']}{weight}"


def _judge(inside: dict, outside: dict) -> dict[str, tuple[bool, str]]:
    """Turn raw observations into verdicts with a short detail each."""
    if not inside or not outside:
        reason = "the probe did not report" if not inside else "the probe could not be seen from outside"
        return {name: (False, reason) for name in STOPS}
    found: dict[str, tuple[bool, str]] = {}
    status = outside["status"]
    ns = outside["ns"]
    for kind, name in _NAMESPACES:
        student, _init, host, zygote = ns[kind]
        own = student != host and student != zygote and "?" not in (student, host)
        detail = f"{student} (grader {host})" if own else f"shares {student} with the host or server"
        found[name] = (own, detail + (", fresh per run" if own else ""))
    if found["network namespace"][0] and inside.get("socket") != "EPERM":
        found["network namespace"] = (False, f"socket() gave {inside.get('socket')}")
    if inside.get("hostname") != "sandbox":
        found["uts namespace"] = (False, f"hostname is {inside.get('hostname')!r}")
    userns = outside.get("mode") == "userns"
    if not userns:
        found["user namespace"] = (False, "not used in the root mode: each run has a real uid of its own instead")
    elif found["user namespace"][0]:
        lines = [line.split() for line in outside.get("uid_map", "").splitlines() if line.strip()]
        one = len(lines) == 1 and len(lines[0]) == 3 and lines[0][0] != "0" and lines[0][2] == "1"
        found["user namespace"] = (
            (True, f"{found['user namespace'][1]}; maps uid {lines[0][0]} to the service's {lines[0][1]} only")
            if one
            else (False, f"uid_map {outside.get('uid_map', '').strip()!r}")
        )
    found["cgroup limits"] = tuple(outside.get("cgroup", (False, "not probed")))  # type: ignore[assignment]

    mounts = [line.split() for line in outside["mountinfo"].splitlines()]
    by_point = {m[4]: m for m in mounts if len(m) > 5}
    root = by_point.get("/")
    writable = [p for p, m in by_point.items() if "rw" in m[5].split(",") and p not in ("/tmp", "/dev/null")]
    visible = inside.get("visible", [])
    view_ok = (
        not visible
        and "/proc" not in by_point
        and inside.get("site")
        and set(inside["site"]) <= {"numpy", "numpy.libs", "grader"}
        and not inside.get("stdlib_site")
    )
    found["filesystem view"] = (
        bool(view_ok),
        f"/ holds {', '.join(inside.get('root', []))}; no /proc; site: {', '.join(inside.get('site', []))}"
        if view_ok
        else f"visible: {visible or inside.get('stdlib_site') or sorted(by_point)}",
    )
    ro_ok = (
        root is not None
        and "ro" in root[5].split(",")
        and not writable
        and inside.get("write_root") in ("EROFS", "EACCES")
        and inside.get("write_stdlib") in ("EROFS", "EACCES")
    )
    found["read-only root"] = (
        ro_ok,
        f"{len(by_point)} mounts, all read-only but /tmp and /dev/null"
        if ro_ok
        else f"writable: {writable or inside.get('write_root')}",
    )
    tmp = by_point.get("/tmp")
    tmp_ok = (
        tmp is not None
        and "tmpfs" in " ".join(tmp)
        and inside.get("write_tmp") == "ok"
        and "noexec" in tmp[5]
        and 0 < inside.get("tmp_bytes", 0) <= 64 * 1024 * 1024
    )
    found["private /tmp"] = (
        tmp_ok,
        f"tmpfs of {inside.get('tmp_bytes', 0) // 1024} KiB, noexec, per run"
        if tmp_ok
        else "no private size-limited /tmp",
    )

    inner = inside.get("limits", {})
    cpu = inner.get("RLIMIT_CPU", [-1, -1])
    set_all = all(v[0] != -1 for k, v in inner.items() if k != "RLIMIT_CORE")
    rl_ok = set_all and 0 < cpu[0] < cpu[1] and inner.get("RLIMIT_CORE") == [0, 0]
    found["rlimits"] = (
        rl_ok,
        "cpu {}/{} s, as {} MiB, fsize {} KiB, nofile {}, nproc {}, core 0".format(
            cpu[0],
            cpu[1],
            inner["RLIMIT_AS"][0] >> 20,
            inner["RLIMIT_FSIZE"][0] >> 10,
            inner["RLIMIT_NOFILE"][0],
            inner["RLIMIT_NPROC"][0],
        )
        if rl_ok
        else f"limits: {inner}",
    )

    uids = status.get("Uid", "").split()
    gids = status.get("Gid", "").split()
    caps = status.get("CapEff", "?")
    no_caps = caps.strip("0") == "" and status.get("CapPrm", "").strip("0") == ""
    if userns:
        # Outside its user namespace a run has the service's (unprivileged) uid; inside, one of
        # its own that is not root, and root is not even mapped there. The namespace's creator
        # had every capability in it: the bounding set must be empty too.
        no_caps = no_caps and status.get("CapBnd", "").strip("0") == ""
        inner = inside.get("resuid", [])
        groups = status.get("Groups", "").split()
        uid_ok = (
            uids
            and all(u == uids[0] for u in uids)
            and uids[0] != "0"
            and gids
            and gids[0] != "0"
            and inner
            and len(set(inner)) == 1
            and inner[0] != 0
            and set(groups) <= {gids[0]}
            and no_caps
            and inside.get("setuid") in ("EPERM", "EINVAL")
        )
        detail = (
            f"uid {inner[0] if inner else '?'} in the run's user namespace (the service's {uids[0] if uids else '?'} "
            "outside), no other groups, no capabilities"
        )
        if not uid_ok and groups and not set(groups) <= {gids[0] if gids else ""}:
            detail = f"the service's user has supplementary groups {groups}: run it as a user without any"
        elif not uid_ok:
            detail = f"Uid {uids}, inside {inner}, Groups {groups}, CapEff {caps}, setuid(0) {inside.get('setuid')}"
        found["uid drop"] = (bool(uid_ok), detail)
    else:
        uid_ok = (
            uids
            and all(u == uids[0] for u in uids)
            and uids[0] not in ("0", str(os.getuid()))
            and gids
            and gids[0] != "0"
            and not status.get("Groups")
            and no_caps
            and inside.get("setuid") == "EPERM"
        )
        found["uid drop"] = (
            bool(uid_ok),
            f"uid {uids[0] if uids else '?'}, gid {gids[0] if gids else '?'}, no groups, no capabilities"
            if uid_ok
            else f"Uid {uids}, Gid {gids}, CapEff {caps}",
        )
    found["no_new_privs"] = (status.get("NoNewPrivs") == "1", f"NoNewPrivs: {status.get('NoNewPrivs')}")
    sec_ok = (
        status.get("Seccomp") == "2"
        and inside.get("fork") == "EPERM"
        and inside.get("mknod") == "EPERM"
        and inside.get("unix_socket") == "EPERM"
    )
    found["seccomp"] = (
        sec_ok,
        f"filter mode, {status.get('Seccomp_filters', '?')} filter(s); fork, sockets, mknod refused"
        if sec_ok
        else f"Seccomp: {status.get('Seccomp')}, fork: {inside.get('fork')}, mknod: {inside.get('mknod')}",
    )
    nspid = status.get("NSpid", "").split()
    init_nspid = outside["init_status"].get("NSpid", "").split()
    p1_ok = inside.get("pid") == 2 and nspid[-1:] == ["2"] and init_nspid[-1:] == ["1"]
    found["pid-1 avoidance"] = (p1_ok, f"the code runs as PID {inside.get('pid')}; PID 1 only reaps and reports")
    env = set(inside.get("env", []))
    environ = {item.split("=", 1)[0] for item in outside["environ"].split("\0") if item}
    env_ok = env <= _ALLOWED_ENV and environ <= _ALLOWED_ENV
    found["env scrubbing"] = (
        env_ok,
        f"only {', '.join(sorted(env))}" if env_ok else f"extra: {sorted((env | environ) - _ALLOWED_ENV)}",
    )
    targets = outside["fd_targets"]
    fd_ok = len(targets) <= 4 and all(t.startswith("pipe:") or t == "/dev/null" for t in targets)
    found["descriptor hygiene"] = (
        fd_ok,
        f"{len(targets)} open: stdin /dev/null, output and result pipes" if fd_ok else f"open: {targets}",
    )
    return found


def _probe_pdeathsig(runner: SandboxRunner) -> tuple[tuple[bool, str], dict[str, str]]:
    """Kill the fork server under a sleeping child: the child must die with it.

    Returns the verdict and the namespaces of this second run."""
    limits = RunLimits(wall_seconds=15.0, cpu_seconds=3.0, memory_mib=256)
    source = "import time\ndef f():\n    time.sleep(10)\n"
    job = runner._launch(source, ["f"], [Call("sleep", "f", ())], limits)
    init = job.init_pid
    thread = threading.Thread(target=job.supervise, daemon=True)
    thread.start()
    if not _wait_for(lambda: bool(_children(init)), 5.0):
        return (False, "the probe child did not start"), {}
    student = _children(init)[0]
    namespaces = _namespaces(student)
    zygote = runner.zygote_pid
    if zygote is None:
        return (False, "no fork server"), namespaces
    os.kill(zygote, signal.SIGKILL)
    died = _wait_for(lambda: _gone(init) and _gone(student), 3.0)
    thread.join(10.0)
    if job.reaped_r >= 0:
        os.close(job.reaped_r)
    detail = "killing the fork server killed its running child" if died else "a child outlived the fork server"
    return (died, detail), namespaces


def _probe_audit_hook() -> tuple[bool, str]:
    with SandboxRunner(slots=1) as runner:
        report = runner.run(
            "import socket\ndef f():\n    socket.socket()\n",
            ["f"],
            [Call("socket", "f", ())],
            RunLimits(wall_seconds=10.0, cpu_seconds=2.0, memory_mib=256),
        )
    error = report.outcomes[0].error or ""
    ok = "not allowed in the sandbox: network access" in error
    return ok, "refusals read 'not allowed in the sandbox: …'" if ok else f"socket() gave {error!r}"


def format_report(protections: list[Protection]) -> str:
    """A plain-text table: protection, on/OFF, what was seen, what it stops."""
    rows = [("protection", "", "seen", "stops")]
    # "OFF" where the mode requires it (the grader then refuses), "off" where it does not.
    rows += [(p.name, "on" if p.active else "OFF" if p.required else "off", p.detail, p.stops) for p in protections]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[j]) if j < 3 else cell for j, cell in enumerate(row)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 5)
    missing = [p.name for p in protections if p.required and not p.active]
    lines.append("")
    optional = [p.name for p in protections if not p.required]
    lines.append(f"mode: {sandbox_mode()} ({MODES[sandbox_mode()]}); not required here: {', '.join(optional)}")
    lines.append("secure: yes" if not missing else f"secure: NO (missing: {', '.join(missing)})")
    return "\n".join(lines)


def insecure_allowed() -> bool:
    """Whether ``LOSSGRADER_INSECURE_SANDBOX`` is set to a true value (as in
    :class:`grader.config.Config`: 1, true, yes, on)."""
    return os.environ.get(INSECURE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def require_secure(protections: list[Protection] | None = None, *, insecure: bool | None = None) -> bool:
    """True if every required protection works; raises :class:`SandboxUnavailable`
    with a one-line reason if not, unless the insecure setting is on (``insecure``,
    or by default ``LOSSGRADER_INSECURE_SANDBOX``), in which case it returns False and
    the caller may fall back to an unsandboxed runner."""
    protections = check() if protections is None else protections
    missing = [p for p in protections if p.required and not p.active]
    if not missing:
        return True
    if insecure_allowed() if insecure is None else insecure:
        return False
    first = missing[0]
    more = f" (and {len(missing) - 1} more; run `lossgrader sandbox doctor`)" if len(missing) > 1 else ""
    raise SandboxUnavailable(f"sandbox unavailable: {first.name}: {first.detail}{more}")


def make_runner(slots: int | None = None, *, insecure: bool | None = None) -> Runner:
    """The sandboxed runner if every protection works here; otherwise raise
    :class:`SandboxUnavailable`, or with the insecure setting (``insecure``, or by
    default ``LOSSGRADER_INSECURE_SANDBOX``) return :class:`SubprocessRunner` and warn
    loudly on stderr."""
    if require_secure(insecure=insecure):
        return SandboxRunner(slots)
    print(
        "\n" + "!" * 78 + "\n"
        "WARNING: the insecure sandbox setting is on and the sandbox is not available here.\n"
        "Student code will run UNSANDBOXED, with this process's files, network and\n"
        "privileges. Never do this on a server that holds real data or secrets.\n" + "!" * 78 + "\n",
        file=sys.stderr,
        flush=True,
    )
    return SubprocessRunner()
