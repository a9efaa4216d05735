"""Fault tests with real processes: a worker killed mid-grade, PostgreSQL restarted, Redis down.

Each is bounded in time. The PostgreSQL and Redis that get stopped are private ones
started here, never the shared servers other tests are using. They listen on Unix
sockets in private folders: a free TCP port can be taken by another process between
choosing it and (re)starting the server on it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import func, select

from grader.config import TestConfig
from grader.db.models import FixtureResult, Score, Submission
from grader.grading.runner import SubprocessRunner
from grader.service.context import Services, open_services, sync_labs
from grader.service.dispatch import DramatiqDispatcher
from grader.service.submissions import submit

from .conftest import CORRECT, FIXTURES, LAB, add_user, get_submission, result_rows

REPO = Path(__file__).resolve().parents[2]

SLOW = "import time\n\ntime.sleep(1.0)  # at load time: the worker is busy for a while\n\n" + CORRECT

pytestmark = pytest.mark.slow


def wait_for(what: str, condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def status(services: Services, submission_id: int) -> str:
    return get_submission(services, submission_id).status


def fail_or_skip(message: str) -> None:
    from tests.conftest import services_required

    if services_required():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# --- processes -------------------------------------------------------------------------


@dataclass
class Worker:
    """A ``lossgrader worker`` in its own process group, logging to a file."""

    process: subprocess.Popen[bytes]
    log: Path
    handle: IO[bytes]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.handle.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill(signal.SIGKILL)  # a graceful stop is not what these tests are about
        else:
            with contextlib.suppress(ProcessLookupError):  # its children, if any, go too
                os.killpg(self.process.pid, signal.SIGKILL)
            self.handle.close()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[str, str], Worker]]:
    """``start(database_url, broker_url)``: start a ``lossgrader worker``; all are stopped at the end."""
    started: list[Worker] = []

    def start(database_url: str, broker_url: str) -> Worker:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOSSGRADER_")}
        env.update(
            LOSSGRADER_DATABASE_URL=database_url,
            LOSSGRADER_BROKER_URL=broker_url,
            LOSSGRADER_LEASE_SECONDS="3",
            LOSSGRADER_RECONCILE_SECONDS="1",
            LOSSGRADER_MAX_GRADING_ATTEMPTS="3",
            LOSSGRADER_WORKERS="1",
            LOSSGRADER_INSECURE_SANDBOX="1",  # only if the sandbox cannot run here
        )
        log = tmp_path / f"worker{len(started) + 1}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "grader", "worker", "--processes", "1", "--threads", "1"],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = Worker(process, log, handle)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@contextlib.contextmanager
def redis_server(path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A private redis-server on the Unix socket ``path`` (no TCP, no persistence), stopped on exit."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        fail_or_skip("redis-server is not installed")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(unix_socket_path=str(path), socket_connect_timeout=1)

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_for("redis-server to start", up, 10, 0.05)
        yield process
    finally:
        client.close()
        process.terminate()
        process.wait(10)


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster that this test may stop and start."""

    url: str
    data: Path
    bindir: Path
    user: str | None

    def ctl(self, *args: str) -> None:
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def restart(self, downtime: float) -> None:
        """Stop (fast: connections are cut), stay down ``downtime`` seconds, start again."""
        self.ctl("-m", "fast", "stop")
        time.sleep(downtime)
        self.ctl("-l", str(self.data.parent / "log"), "start")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    initdb = candidates[0] if candidates else shutil.which("initdb")
    if initdb is None:
        fail_or_skip("PostgreSQL's initdb is not installed")
    bindir = Path(initdb).parent
    user = "postgres" if os.geteuid() == 0 else None  # initdb refuses to run as root
    root = Path(tempfile.mkdtemp(prefix="lossgrader-pg-"))
    root.chmod(0o755)
    if user:
        shutil.chown(root, user)
    port = 5432  # only names the socket file in the private folder: no TCP
    prefix = ["runuser", "-u", user, "--"] if user else []
    data = root / "data"
    try:
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        settings = f"port = {port}\nlisten_addresses = ''\nunix_socket_directories = '{root}'\nfsync = off\n"
        with (data / "postgresql.conf").open("a") as conf:  # every start uses them, not only the first
            conf.write(settings)
        url = f"postgresql+psycopg://postgres@/postgres?host={root}&port={port}"
        cluster = PrivatePostgres(url, data, bindir, user)
        cluster.ctl("-l", str(root / "log"), "start")
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        fail_or_skip(f"cannot start a private PostgreSQL: {exc}")
    try:
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


# --- the tests -------------------------------------------------------------------------


def test_worker_killed_mid_grade_is_graded_exactly_once(
    database_url: str, redis_url: str, workers: Callable[[str, str], Worker]
) -> None:
    config = TestConfig(database_url=database_url, broker_url=redis_url)
    services = open_services(config, dispatcher=DramatiqDispatcher(redis_url))
    try:
        sync_labs(services)
        user = add_user(services)
        first = workers(database_url, redis_url)
        submission = submit(services, user, LAB, SLOW)
        try:
            wait_for("the worker to start grading", lambda: status(services, submission.id) == "running", 60)
        except AssertionError:
            raise AssertionError(f"worker log:\n{first.tail()}") from None
        # Killed as soon as it is grading: its file sleeps 1 s as it loads, so it cannot have finished.
        first.kill(signal.SIGKILL)  # the whole process group, mid-grade
        killed = get_submission(services, submission.id)
        assert killed.status == "running" and killed.grading_attempts == 1
        assert result_rows(services, submission.id) == 0

        second = workers(database_url, redis_url)
        try:
            wait_for("the submission to be graded", lambda: status(services, submission.id) == "graded", 60)
        except AssertionError:
            raise AssertionError(f"worker log:\n{second.tail()}") from None
        time.sleep(1.0)  # a late redelivery must not grade it again
        graded = get_submission(services, submission.id)
        assert graded.status == "graded" and graded.score == 25.0 and graded.grading_attempts == 2
        assert graded.worker != killed.worker
        assert result_rows(services, submission.id) == FIXTURES
        with services.sessions() as session:
            score = session.scalars(select(Score).where(Score.user_id == user)).one()
            assert (score.final, score.attempts, score.submission_id) == (25.0, 1, submission.id)
    finally:
        services.close()


def test_postgres_restart_during_a_burst_loses_nothing(private_postgres: PrivatePostgres) -> None:
    config = TestConfig(
        database_url=private_postgres.url, workers=2, lease_seconds=3, reconcile_seconds=1, max_grading_attempts=5
    )
    services = open_services(config, runner_factory=SubprocessRunner)  # embedded: in-process workers
    total = 24
    accepted: list[int] = []
    windows: list[tuple[float, float]] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    try:
        sync_labs(services)
        users = [add_user(services, f"student{i}") for i in range(4)]
        services.start_background()

        def burst() -> None:
            for index in range(total):
                if stop.is_set():
                    return
                started = time.monotonic()
                try:
                    accepted.append(submit(services, users[index % len(users)], LAB, CORRECT).id)
                except BaseException as exc:
                    errors.append(exc)
                windows.append((started, time.monotonic()))
                time.sleep(0.05)

        thread = threading.Thread(target=burst, daemon=True)
        thread.start()
        wait_for("the burst to get going", lambda: len(accepted) >= 5, 30, 0.01)
        down = time.monotonic()
        private_postgres.restart(downtime=1.5)
        up = time.monotonic()
        thread.join(90)
        assert not errors, errors
        assert len(accepted) == total == len(set(accepted))
        assert any(start < up and end > down for start, end in windows), "no submission overlapped the restart"

        def all_graded() -> bool:
            with services.sessions() as session:
                return session.scalar(select(func.count()).where(Submission.status == "graded")) == total

        wait_for("every submission to be graded", all_graded, 90, 0.25)
        with services.sessions() as session:
            rows = session.execute(select(Submission.id, Submission.status, Submission.score)).all()
            results = session.scalar(select(func.count()).select_from(FixtureResult))
            attempts = session.scalar(select(func.sum(Score.attempts)))
        assert sorted(r.id for r in rows) == sorted(accepted)
        assert {(r.status, r.score) for r in rows} == {("graded", 25.0)}
        assert results == FIXTURES * total  # one result set each
        assert attempts == total
    finally:
        stop.set()
        services.close()


def test_redis_down_submissions_are_kept_and_graded_later(
    database_url: str, workers: Callable[[str, str], Worker], tmp_path: Path
) -> None:
    path = tmp_path / "redis.sock"
    broker_url = f"unix://{path}?db=0"
    config = TestConfig(database_url=database_url, broker_url=broker_url)
    services = open_services(config, dispatcher=DramatiqDispatcher(broker_url))
    try:
        sync_labs(services)
        user = add_user(services)
        with redis_server(path):
            worker = workers(database_url, broker_url)
            warm = submit(services, user, LAB, CORRECT)
            try:
                wait_for("the worker to grade", lambda: status(services, warm.id) == "graded", 60)
            except AssertionError:
                raise AssertionError(f"worker log:\n{worker.tail()}") from None
        # Redis is down now
        kept = []
        for _ in range(3):
            started = time.monotonic()
            kept.append(submit(services, user, LAB, CORRECT).id)
            assert time.monotonic() - started < 5  # accepted at once, not after long retries
        for submission_id in kept:
            stored = get_submission(services, submission_id)
            assert stored.status == "queued" and stored.lease_until is None
        time.sleep(1.5)
        assert {status(services, i) for i in kept} == {"queued"}
        assert worker.process.poll() is None  # the worker survives the outage
        with redis_server(path):  # back: the worker's reconciler dispatches them again
            try:
                wait_for(
                    "the kept submissions to be graded", lambda: all(status(services, i) == "graded" for i in kept), 60
                )
            except AssertionError:
                raise AssertionError(f"worker log:\n{worker.tail()}") from None
        for submission_id in kept:
            assert result_rows(services, submission_id) == FIXTURES
        with services.sessions() as session:
            score = session.scalars(select(Score).where(Score.user_id == user)).one()
            assert score.attempts == 4 and score.final == 25.0
    finally:
        services.close()
