"""What the submission can see and do: the walls, with and without the friendly hook."""

from __future__ import annotations

import os
import sysconfig

import pytest

from grader.grading.runner import Call
from tests.sandbox.conftest import LIMITS, SANDBOX_MODE, UID_BASE, requires_sandbox

pytestmark = requires_sandbox

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def value(runner, body: str, *, prologue: str = "import os\n"):  # type: ignore[no-untyped-def]
    """Run ``def f(): <body>`` and return its outcome."""
    source = prologue + "def f():\n" + "".join(f"    {line}\n" for line in body.splitlines())
    report = runner.run(source, ["f"], [Call("probe", "f", ())], LIMITS)
    return report.outcomes[0]


def test_the_code_is_not_pid_1_and_init_is_its_parent(runner) -> None:
    outcome = value(runner, "return [os.getpid(), os.getppid()]")
    assert outcome.value.tolist() == [2.0, 1.0]


def test_the_code_runs_as_an_unprivileged_slot_uid(runner) -> None:
    outcome = value(runner, "return [*os.getresuid(), *os.getresgid(), *os.getgroups()]")
    ids = outcome.value.tolist()
    assert ids[:6] == [ids[0]] * 6 and ids[0] in runner.uids and ids[0] != 0
    if SANDBOX_MODE == "root":  # a real uid of its own, no groups
        assert ids[6:] == [] and ids[0] != os.getuid()
    else:  # its own uid in its user namespace; the service's gid (as a group, at most) is its own gid there
        assert set(ids[6:]) <= {ids[0]}


def test_no_environment_variable_of_the_grader_leaks(monkeypatch) -> None:
    from grader.sandbox import SandboxRunner

    monkeypatch.setenv("LOSSGRADER_SECRET_KEY", "hunter2-do-not-leak")
    monkeypatch.setenv("DATABASE_URL", "postgresql://grader:hunter2@127.0.0.1/grades")
    source = (
        "import os, sys\n"
        "def f():\n"
        "    seen = ' '.join(f'{k}={v}' for k, v in os.environ.items())\n"
        "    seen += ' '.join(sys.argv + getattr(sys, 'orig_argv', []))\n"
        "    leaked = ['hunter2' in seen, 'LOSSGRADER_SECRET_KEY' in seen, os.path.exists('/proc')]\n"
        "    return [float(x) for x in leaked]\n"
    )
    with SandboxRunner(slots=1, uid_base=UID_BASE + 128) as fresh:  # started while the secret is set
        report = fresh.run(source, ["f"], [Call("env", "f", ())], LIMITS)
    assert report.outcomes[0].value.tolist() == [0.0, 0.0, 0.0]


def test_the_project_tree_and_proc_are_not_visible(bare_runner) -> None:
    paths = [
        PROJECT_ROOT,
        os.path.join(PROJECT_ROOT, "reference"),
        os.path.join(PROJECT_ROOT, "labs"),
        os.path.join(PROJECT_ROOT, "grader", "grading", "runner.py"),
        "/proc/self",
        "/proc/1/environ",
        "/etc/passwd",
        "/dev/shm",
        "/var/run",
    ]
    outcome = value(bare_runner, f"return [float(os.path.exists(p)) for p in {paths!r}]")
    assert outcome.value.tolist() == [0.0] * len(paths)


def test_the_root_lists_only_the_jail(bare_runner) -> None:
    source = (
        "import os\ndef f():\n    print(sorted(os.listdir('/')), sorted(os.listdir('/sandbox/site')))\n    return 1.0\n"
    )
    report = bare_runner.run(source, ["f"], [Call("ls", "f", ())], LIMITS)
    # /usr for the system's libraries; the top folder of the standard library (/root for pyenv's).
    stdlib_top = sysconfig.get_paths()["stdlib"].split("/")[1]
    jail = sorted({"dev", "etc", "sandbox", "tmp", "usr", stdlib_top})
    assert report.output.strip() == f"{jail} ['grader', 'numpy', 'numpy.libs']"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=1)", "network access"),
        ("import socket\nsocket.socket(socket.AF_UNIX)", "network access"),
        ("os.fork()", "starting processes"),
        ("import subprocess\nsubprocess.run(['true'])", "starting processes"),
        ("os.system('true')", "starting processes"),
        ("import ctypes\nctypes.CDLL(None).getpid()", "ctypes"),
        ("os.kill(1, 9)", "signalling other processes"),
        ("open(os.__file__, 'a')", "writing files outside /tmp"),
        (f"open({os.path.join(PROJECT_ROOT, 'reference', 'x.py')!r})", "reading files outside the sandbox"),
    ],
    ids=["tcp", "unix", "fork", "subprocess", "system", "ctypes", "kill", "write", "read"],
)
def test_refusals_have_clear_messages(runner, body: str, message: str) -> None:
    outcome = value(runner, body)
    assert outcome.status == "raised"
    if message.startswith("reading") and str(PROJECT_ROOT).startswith("/tmp/"):
        # A checkout under /tmp: the hook lets the read reach the sandbox's own empty /tmp.
        assert outcome.error.startswith("FileNotFoundError"), outcome.error
        return
    assert outcome.error == f"PermissionError: not allowed in the sandbox: {message}"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("import socket\nsocket.socket()", "PermissionError: [Errno 1] Operation not permitted"),
        ("os.fork()", "PermissionError: [Errno 1] Operation not permitted"),
        ("os.setuid(0)", "PermissionError: [Errno 1] Operation not permitted"),
        ("os.mkfifo('/tmp/fifo')", "PermissionError: [Errno 1] Operation not permitted"),
        ("open('/sandbox/x', 'w')", "OSError: [Errno 30] Read-only file system: '/sandbox/x'"),
    ],
    ids=["socket", "fork", "setuid", "mknod", "write-root"],
)
def test_without_the_hook_the_walls_still_refuse(bare_runner, body: str, error: str) -> None:
    outcome = value(bare_runner, body)
    assert outcome.error == error


@pytest.mark.parametrize(
    "call",
    [
        "libc.execve(b'/bin/sh', None, None)",
        "libc.syscall(101, 16, 1, 0, 0)",  # ptrace(PTRACE_ATTACH, 1)
        "libc.unshare(0x10000000)",  # a user namespace
        "libc.syscall(0x40000000 + 39)",  # x32 ABI getpid: another syscall table
    ],
    ids=["execve", "ptrace", "unshare", "x32"],
)
def test_dangerous_system_calls_kill_the_process(bare_runner, call: str) -> None:
    prologue = "import ctypes\nlibc = ctypes.CDLL(None)\n"
    report = bare_runner.run(prologue + f"def f():\n    {call}\n", ["f"], [Call("sys", "f", ())], LIMITS)
    assert report.outcomes[0].error == "not allowed in the sandbox: a forbidden system call on fixture sys"


def test_tmp_is_private_writable_noexec_and_empty_each_run(bare_runner) -> None:
    write = value(
        bare_runner, "open('/tmp/left-behind', 'w').write('x')\nreturn float(os.listdir('/tmp') == ['left-behind'])"
    )
    assert float(write.value) == 1.0
    assert float(value(bare_runner, "return len(os.listdir('/tmp'))").value) == 0.0
    noexec = value(
        bare_runner,
        "import ctypes, glob, shutil, sysconfig\n"
        "small = min(glob.glob(sysconfig.get_paths()['platstdlib'] + '/lib-dynload/*.so'), key=os.path.getsize)\n"
        "ctypes.CDLL(small)\n"  # loads from the read-only stdlib...
        "shutil.copy(small, '/tmp/x.so')\n"
        "ctypes.CDLL('/tmp/x.so')",  # ...but not from /tmp
    )
    assert noexec.error == "OSError: /tmp/x.so: failed to map segment from shared object"


def test_monkey_patching_does_not_reach_the_next_submission(runner) -> None:
    vandal = (
        "import numpy as np, sys\n"
        "from grader.grading import harness, wire\n"
        "np.sum = lambda *a, **k: 0\n"
        "wire.MAX_FRAME_BYTES = 0\n"
        "harness.SUBMISSION_FILENAME = 'elsewhere.py'\n"
        "sys.modules['math'] = None\n"
        "def f():\n"
        "    return 0.0\n"
    )
    breaks_itself = "import builtins\nbuiltins.len = lambda x: -1\ndef f():\n    return 0.0\n"
    assert float(runner.run(vandal, ["f"], [Call("vandal", "f", ())], LIMITS).outcomes[0].value) == 0.0
    broken = runner.run(breaks_itself, ["f"], [Call("broken", "f", ())], LIMITS)
    assert broken.termination == "the process exited early (exit code 1)"
    victim = "import math, numpy as np\ndef f():\n    return [float(np.sum([1, 2])), len([1, 2, 3]), math.sqrt(4)]\n"
    for _ in range(3):  # whichever slot it lands on
        report = runner.run(victim, ["f"], [Call("victim", "f", ())], LIMITS)
        assert report.outcomes[0].value.tolist() == [3.0, 3.0, 2.0]


def test_random_state_differs_between_runs(runner) -> None:
    source = "import random, numpy as np\ndef f():\n    return [random.random(), np.random.random()]\n"
    first, second = (runner.run(source, ["f"], [Call("r", "f", ())], LIMITS).outcomes[0].value for _ in range(2))
    assert first[0] != second[0] and first[1] != second[1]


def test_urandom_and_dev_null_work(runner) -> None:
    outcome = value(
        runner,
        "open('/dev/null', 'w').write('x')\nreturn [len(open('/dev/urandom', 'rb').read(8)), len(os.urandom(4))]",
    )
    assert outcome.value.tolist() == [8.0, 4.0]
