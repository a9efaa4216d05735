"""The service as an unprivileged user: it grades through the sandbox (its ``userns`` mode) with
full marks, the processes that parse requests hold no capability and no root uid, and the
red-team and sandbox suites pass in that mode as they do as root.

CI runs as root: these tests create a system user (:mod:`tests.sandbox.service_user`), give
it a virtual environment made from /usr/bin/python3 (cached between runs) and a readable copy
of the project, and run the service and the suites as that user.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sandbox import service_user
from tests.sandbox.conftest import SANDBOX_REQUIRED

LAB = "lab01-mse"
CORRECT = service_user.PROJECT_ROOT / "tests" / "implementations" / LAB / "correct_textbook.py"
START_SECONDS = 60.0
GRADE_SECONDS = 60.0


@dataclass
class Service:
    """The service user and what it runs from."""

    user: object  # pwd.struct_passwd
    python: str
    project: Path
    folder: Path  # the service's own writable folder (its database, instance folder)

    def env(self, **extra: str) -> dict[str, str]:
        return service_user.service_environment(
            self.project,
            LOSSGRADER_DATABASE_URL=f"sqlite:///{self.folder / 'serve.db'}",
            LOSSGRADER_INSTANCE_PATH=str(self.folder / "instance"),
            **extra,
        )

    def run(self, *argv: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
        return service_user.run_as(
            self.user,  # type: ignore[arg-type]
            [self.python, *argv],
            env=self.env(**extra),
            cwd=str(self.project),
            capture_output=True,
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    reason = service_user.why_unavailable()
    if reason:
        if SANDBOX_REQUIRED and os.geteuid() == 0:
            pytest.fail(f"the unprivileged set-up must work here (CI): {reason}")
        pytest.skip(f"the unprivileged set-up cannot be made here: {reason}")
    user = service_user.ensure_user()
    venv = service_user.ensure_venv()
    # Not under /tmp, which the sandbox's audit hook treats as the run's own (the red-team
    # suite reads the project's path as a host path).
    top = Path(tempfile.mkdtemp(prefix="lg-", dir="/srv" if os.path.isdir("/srv") else "/var/tmp"))
    try:
        top.chmod(0o755)
        project = service_user.copy_project(top)
        folder = top / "service"
        folder.mkdir()
        os.chown(folder, user.pw_uid, user.pw_gid)
        yield Service(user, str(venv / "bin" / "python"), project, folder)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def _children(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (task/<pid>/children lists the main thread's only)."""
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and _status(int(p)).get("PPid") == str(pid))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _request(url: str, token: str, data: dict | None = None) -> dict:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method="POST" if data is not None else "GET")
    request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_the_service_runs_unprivileged_and_grades_through_the_sandbox_with_full_marks(service: Service) -> None:
    added = service.run("-m", "grader", "user", "add", "student1", "--role", "student")
    assert added.returncode == 0, added.stderr
    for step in (  # the student takes a course that runs the lab (submissions belong to a course)
        ("course", "create", "ci", "--title", "CI course"),
        ("course", "add-lab", "ci", LAB),
        ("course", "enrol", "ci", "student1"),
    ):
        done = service.run("-m", "grader", *step)
        assert done.returncode == 0, done.stderr
    issued = service.run("-m", "grader", "user", "token", "student1")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.split()[-1] if issued.stdout.split() else ""
    assert len(token) >= 20, issued.stdout

    port = _free_port()
    log = service.folder / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [service.python, "-m", "grader", "serve", "--port", str(port), "--no-demo", "--workers", "1"],
            env=service.env(PYTHONUNBUFFERED="1"),
            cwd=str(service.project),
            stdout=sink,
            stderr=subprocess.STDOUT,
            user=service.user.pw_uid,  # type: ignore[attr-defined]
            group=service.user.pw_gid,  # type: ignore[attr-defined]
            extra_groups=[],
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while f"running at {url}/" not in log.read_text(errors="replace"):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        assert "ROOT" not in log.read_text(errors="replace")  # no root warning: it is not root

        submitted = _request(
            f"{url}/api/v1/labs/{LAB}/submissions", token, {"source": CORRECT.read_text(), "filename": "mse.py"}
        )
        deadline = time.monotonic() + GRADE_SECONDS
        result = _request(f"{url}/api/v1/submissions/{submitted['id']}", token)
        while result.get("status") in ("queued", "running"):
            assert time.monotonic() < deadline, result
            time.sleep(0.3)
            result = _request(f"{url}/api/v1/submissions/{submitted['id']}", token)
        assert result["status"] == "graded", result
        assert result["score"] == result["max_score"] > 0, result

        # Who parses the requests: gunicorn's master and its worker, both the service user's,
        # with no capability at all (the bounding set only limits what could be gained).
        # The worker's child is the sandbox's fork server.
        workers = _children(server.pid)
        assert len(workers) == 1, workers
        worker = workers[0]
        for pid in (server.pid, worker):
            status = _status(pid)
            assert status["Uid"].split() == [str(service.user.pw_uid)] * 4, status["Uid"]  # type: ignore[attr-defined]
            assert service.user.pw_uid != 0 and "0" not in status["Gid"].split()  # type: ignore[attr-defined]
            for field in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
                assert int(status[field], 16) == 0, (pid, field, status[field])
        zygotes = _children(worker)
        assert zygotes, "the worker started no sandbox server"
        assert _status(zygotes[0])["Uid"].split()[0] == str(service.user.pw_uid)  # type: ignore[attr-defined]
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_red_team_and_sandbox_suites_pass_as_the_service_user(service: Service) -> None:
    """The whole red-team suite and the sandbox's own tests, in the userns mode."""
    run = service.run(
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--basetemp={service.folder / 'pytest'}",
        "--ignore=tests/sandbox/test_unprivileged.py",
        "tests/redteam",
        "tests/sandbox",
        timeout=900,
        CI="true",
        LOSSGRADER_REDTEAM_REQUIRED="1",
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
