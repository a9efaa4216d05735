"""Chaos: a burst of submissions over HTTP while workers die and freeze, Redis restarts and
PostgreSQL stops for several seconds, in the production mode (PostgreSQL, Redis, two real
``lossgrader worker`` processes, the web app serving real HTTP).

The clients are ``lossgrader submit``'s (:class:`grader.commands.submit.Client`): each POST
carries an ``Idempotency-Key`` and is retried on 503, 429 and lost connections. Asserted:
every submission the clients made exists exactly once and is graded exactly once with the
right score; no answer was a 500; every 503 carried ``Retry-After``; the clients got every
submission in; the web logged each outage once (no tracebacks). The figures are printed
(``pytest -s``) and written to ``$LOSSGRADER_CHAOS_REPORT`` when set; docs/reliability.md
quotes them.

The PostgreSQL and Redis here are private ones (Unix sockets in temporary folders) that the
test may stop; never the shared servers other test sessions use. Bounded: about a minute.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from grader.commands.submit import Client
from grader.config import Config
from grader.db.models import FixtureResult, Submission, User
from grader.db.session import session_scope
from grader.service.users import create_token

from .conftest import CORRECT, FIXTURES, LAB, WRONG
from .test_faults import PrivatePostgres, Worker, private_postgres, redis_server, wait_for, workers  # noqa: F401

pytestmark = pytest.mark.slow

CLIENTS = 6
PAUSE = 1.2  # seconds between one client's submissions
EXPECTED = {"correct": 25.0, "wrong": 1.0}  # lab01-mse: every fixture, or only those whose loss is 0
KILL_AFTER_GRADED = 3  # the first fault waits until the workers are warm


@dataclass
class Sent:
    """One logical submission a client made (whatever retries it took)."""

    key: str
    kind: str
    submission_id: int | None = None
    error: str | None = None


@dataclass
class Answers:
    """Every HTTP answer the clients received: (monotonic time, status, Retry-After)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    rows: list[tuple[float, int, str | None]] = field(default_factory=list)

    def record(self, client: Client, before: int) -> None:
        now = time.monotonic()
        with self.lock:
            self.rows.extend((now, status, retry_after) for status, retry_after in client.answers[before:])


class TimedClient(Client):
    """``lossgrader submit``'s client, with each answer's time recorded."""

    def __init__(self, server: str, token: str, answers: Answers) -> None:
        super().__init__(server, token, timeout=40.0, retry_seconds=75.0)
        self.recorded = answers

    def _once(self, *args: Any) -> Any:
        before = len(self.answers)
        try:
            return super()._once(*args)
        finally:
            self.recorded.record(self, before)


class RedisProcess:
    """The private redis-server on ``path``, which the test restarts (same socket, empty data)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stack: contextlib.ExitStack | None = None

    def start(self) -> None:
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(redis_server(self.path))

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None


@contextlib.contextmanager
def web_server(config: Config) -> Iterator[str]:
    """The web app (production settings) serving HTTP on a free local port, in threads of this process.

    As ``lossgrader serve`` does: labs synced, the reconciler started. The submit rate limit is
    raised above the clients' pace (this test is about faults; a 429 would be retried anyway).
    """
    from werkzeug.serving import make_server

    from grader.service.context import sync_labs
    from grader.web import create_app
    from grader.web.db import close_services, get_services

    app = create_app({"LOSSGRADER": config, "API_SUBMIT_RATE_LIMIT": "600/minute"})
    sync_labs(get_services(app))
    get_services(app).start_background()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="chaos-web", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        close_services(app)


class WebLog(logging.Handler):
    """The web app's warnings and errors."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def source_for(kind: str, key: str) -> bytes:
    """A file of ``kind`` that differs per submission (so a reused key would be caught)."""
    return f"# {key}\n{CORRECT if kind == 'correct' else WRONG}".encode()


def run_client(url: str, token: str, answers: Answers, sent: list[Sent], index: int, stop: threading.Event) -> None:
    """Submit every PAUSE seconds until ``stop``; after each, read the submission once."""
    client = TimedClient(url, token, answers)
    number = 0
    while not stop.is_set():
        kind = "correct" if (index + number) % 3 else "wrong"
        item = Sent(key=f"chaos-{index}-{number}-{uuid.uuid4().hex[:8]}", kind=kind)
        sent.append(item)
        try:
            accepted = client.submit(LAB, "loss.py", source_for(kind, item.key), idempotency_key=item.key)
            item.submission_id = int(accepted["id"])
            client.submission(item.submission_id)
        except Exception as exc:  # recorded: the test fails on it with the reason
            item.error = f"{type(exc).__name__}: {exc}"
        number += 1
        stop.wait(PAUSE)


def graded_count(sessions: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(Submission.status.in_(("graded", "error"))))


def test_chaos_burst_through_worker_kill_freeze_redis_and_postgres_restarts(
    private_postgres: PrivatePostgres,  # noqa: F811
    workers: Callable[[str, str], Worker],  # noqa: F811
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    redis = RedisProcess(tmp_path / "redis.sock")
    broker_url = f"unix://{redis.path}?db=0"
    config = Config(
        database_url=private_postgres.url,
        broker_url=broker_url,
        secret_key="chaos-secret",
        lease_seconds=3,
        reconcile_seconds=1,
        max_grading_attempts=5,
        instance_path=str(tmp_path / "instance"),
    )
    answers = Answers()
    sent: list[Sent] = []
    stop = threading.Event()
    faults: list[str] = []
    web_log = WebLog()
    logging.getLogger("grader.web").addHandler(web_log)
    redis.start()
    try:
        with web_server(config) as url:
            services_sessions = _sessions(private_postgres.url)
            tokens = _students(services_sessions, CLIENTS)
            first = workers(private_postgres.url, broker_url)
            second = workers(private_postgres.url, broker_url)
            threads = [
                threading.Thread(target=run_client, args=(url, token, answers, sent, i, stop), daemon=True)
                for i, token in enumerate(tokens)
            ]
            for thread in threads:
                thread.start()

            wait_for("the workers to grade a few", lambda: graded_count(services_sessions) >= KILL_AFTER_GRADED, 60)
            # 1. a worker killed (SIGKILL), grading or not; a new one takes its place
            with contextlib.suppress(AssertionError):
                wait_for("the first worker to be grading", lambda: _grading(services_sessions, first), 10, 0.05)
            first.kill(signal.SIGKILL)
            faults.append("SIGKILL of a worker")
            third = workers(private_postgres.url, broker_url)
            # 2. a worker frozen for 5 s (SIGSTOP/SIGCONT): its job's lease runs out meanwhile
            os.killpg(second.process.pid, signal.SIGSTOP)
            time.sleep(5)
            os.killpg(second.process.pid, signal.SIGCONT)
            faults.append("SIGSTOP of a worker for 5 s, then SIGCONT")
            # 3. Redis restarted, empty: queued messages are lost (the reconcilers dispatch again)
            redis.stop()
            time.sleep(3)
            redis.start()
            faults.append("Redis stopped for 3 s and restarted empty")
            # 4. PostgreSQL stopped for 6 s
            down = time.monotonic()
            private_postgres.restart(downtime=6.0)
            up = time.monotonic()
            faults.append("PostgreSQL stopped for 6 s")
            time.sleep(2 * PAUSE)  # a few more submissions after the last fault
            stop.set()
            for thread in threads:
                thread.join(120)
            assert not any(thread.is_alive() for thread in threads), "a client is still retrying"
            made = len(sent)

            def all_graded() -> bool:
                return graded_count(services_sessions) >= sum(1 for s in sent if s.submission_id is not None)

            try:
                wait_for("every submission to be graded", all_graded, 60, 0.25)
            except AssertionError:
                raise AssertionError(f"workers:\n{second.tail()}\n{third.tail()}") from None
            all_done = time.monotonic()
            time.sleep(1.5)  # a late redelivery (the frozen worker's job) must not grade anything twice
            figures = _check(services_sessions, sent, answers, web_log, made)
            first_ok_after_up = min((t for t, status, _ in answers.rows if t > up and status < 400), default=None)
            figures.update(
                faults=faults,
                postgres_down_seconds=round(up - down, 1),
                recovered_seconds=round(first_ok_after_up - up, 1) if first_ok_after_up else None,
                all_graded_seconds_after_last_fault=round(all_done - up, 1),
                wall_seconds=round(time.monotonic() - started, 1),
            )
            third.stop()
            second.stop()
    finally:
        stop.set()
        logging.getLogger("grader.web").removeHandler(web_log)
        redis.stop()
    print("\nchaos figures:", json.dumps(figures))
    report = os.environ.get("LOSSGRADER_CHAOS_REPORT")
    if report:
        Path(report).write_text(json.dumps(figures, indent=2) + "\n")


def _sessions(url: str) -> Any:
    from grader.db.session import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(url))


def _students(sessions: Any, count: int) -> list[str]:
    """Students of one course running every lab (synced already), with their API tokens."""
    from grader.service.courses import add_all_labs, enrol, ensure_course

    tokens = []
    with session_scope(sessions) as session:
        course = ensure_course(session, "chaos", "Chaos")
        add_all_labs(session, course)
        for index in range(count):
            user = User(username=f"chaos{index}", role="student", display_name=f"Chaos {index}")
            session.add(user)
            session.flush()
            enrol(session, course, user)
            tokens.append(create_token(session, user))
    return tokens


def _grading(sessions: Any, worker: Worker) -> bool:
    """Whether one of ``worker``'s processes (Dramatiq forks them) is grading a submission."""
    pid = worker.process.pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return False
    with sessions() as session:
        running = session.scalars(select(Submission.worker).where(Submission.status == "running")).all()
    return any(f":{child}:" in (name or "") for name in running for child in children)


def _check(sessions: Any, sent: list[Sent], answers: Answers, web_log: WebLog, made: int) -> dict[str, Any]:
    """The assertions; returns the figures."""
    failed = [s for s in sent if s.error]
    assert not failed, f"clients could not get {len(failed)} submissions in: {failed[:3]}"
    with sessions() as session:
        rows = session.execute(
            select(Submission.id, Submission.idempotency_key, Submission.status, Submission.score)
        ).all()
        counted = select(FixtureResult.submission_id, func.count()).group_by(FixtureResult.submission_id)
        result_sets = {submission_id: count for submission_id, count in session.execute(counted).all()}
    by_key: dict[str | None, list[Any]] = {}
    for row in rows:
        by_key.setdefault(row.idempotency_key, []).append(row)
    lost = [s for s in sent if s.key not in by_key]
    duplicated = sum(len(found) - 1 for found in by_key.values()) + sum(1 for r in rows if r.idempotency_key is None)
    assert not lost, f"{len(lost)} submissions lost: {lost[:3]}"
    assert duplicated == 0, "a retried POST made a second submission"
    assert len(rows) == made
    for item in sent:
        (row,) = by_key[item.key]
        assert row.id == item.submission_id, "the client was told another submission than the one stored"
        assert (row.status, row.score) == ("graded", EXPECTED[item.kind]), (item, row)
        assert result_sets.get(row.id) == FIXTURES, f"submission {row.id} has {result_sets.get(row.id)} results"
    statuses = [status for _, status, _ in answers.rows]
    server_errors = [status for status in statuses if status >= 500 and status != 503]
    assert not server_errors, f"server errors: {server_errors}"
    unavailable = [(status, retry_after) for _, status, retry_after in answers.rows if status == 503]
    assert all(retry_after and 0 < int(retry_after) <= 5 for _, retry_after in unavailable), unavailable[:3]
    assert unavailable, "no client met the PostgreSQL outage: the test did not test it"
    outages = [r for r in web_log.records if "unreachable" in r.getMessage()]
    assert 1 <= len(outages) <= 2, [r.getMessage() for r in web_log.records]  # once per episode (a restart may flap)
    assert not any(r.exc_info for r in web_log.records), "a traceback in the web log"
    return {
        "submissions": made,
        "lost": len(lost),
        "duplicated": duplicated,
        "http_500": len(server_errors),
        "http_503_all_with_retry_after": len(unavailable),
        "http_429": statuses.count(429),
        "requests": len(statuses),
        "outage_log_lines": len(outages),
    }


def test_a_worker_prefetches_one_job_per_grading_slot() -> None:
    """Dramatiq's default is twice the threads, held in memory: a killed worker stranded them."""
    import dramatiq

    from grader.service.dispatch import make_broker

    broker = make_broker("redis://127.0.0.1:1/0")  # never connected to: the worker is not started
    try:
        worker = dramatiq.Worker(broker, worker_threads=3)
        assert worker.queue_prefetch == 6  # Dramatiq's own default, before the boot
        broker.emit_before("worker_boot", worker)
        assert (worker.queue_prefetch, worker.delay_prefetch) == (3, 3)
    finally:
        broker.close()
