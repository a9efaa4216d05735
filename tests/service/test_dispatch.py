"""Dispatchers, the reconciler, the server runner and ``lossgrader worker``'s refusals."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from grader.config import Config, TestConfig
from grader.db.models import Submission, utcnow
from grader.db.session import make_engine, make_sessionmaker
from grader.grading.runner import SubprocessRunner
from grader.service.context import Services
from grader.service.dispatch import (
    GRADE_QUEUE,
    REDIS_NAMESPACE,
    DispatchError,
    DramatiqDispatcher,
    InProcessDispatcher,
    Reconciler,
)
from grader.service.runners import GraderUnavailable, server_runner
from grader.service.submissions import _claim, submit

from .conftest import (
    CORRECT,
    FIXTURES,
    LAB,
    RecordingDispatcher,
    ServicesFactory,
    add_user,
    get_submission,
    result_rows,
)


def past(seconds: float) -> dt.datetime:
    return utcnow() - dt.timedelta(seconds=seconds)


def set_row(services: Services, submission_id: int, **values: Any) -> None:
    with services.sessions() as session:
        session.execute(update(Submission).where(Submission.id == submission_id).values(**values))
        session.commit()


# --- in-process ------------------------------------------------------------------------


def test_in_process_dispatcher_grades_everything(make_services: ServicesFactory) -> None:
    services = make_services(workers=2)
    dispatcher = InProcessDispatcher.for_services(services)
    services.dispatcher = dispatcher
    users = [add_user(services, f"s{i}") for i in range(3)]
    ids = [submit(services, user, LAB, CORRECT).id for user in users for _ in range(2)]
    assert dispatcher.idle(60)
    for submission_id in ids:
        stored = get_submission(services, submission_id)
        assert stored.status == "graded" and stored.worker and ":grader-" in stored.worker
        assert result_rows(services, submission_id) == FIXTURES


def test_in_process_dispatcher_skips_ids_already_waiting_and_refuses_when_full() -> None:
    release = threading.Event()
    seen: list[int] = []

    def handler(submission_id: int) -> None:
        release.wait(10)
        seen.append(submission_id)

    dispatcher = InProcessDispatcher(handler, workers=1, maxsize=2)
    dispatcher.dispatch(1)  # taken by the worker, which blocks
    deadline = time.monotonic() + 30
    while dispatcher._pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not dispatcher._pending, "the worker never took the first id"
    dispatcher.dispatch(2)
    dispatcher.dispatch(2)  # already waiting: not queued twice
    dispatcher.dispatch(3)
    with pytest.raises(DispatchError, match="full"):
        dispatcher.dispatch(4)
    release.set()
    assert dispatcher.idle(10)
    assert seen == [1, 2, 3]
    dispatcher.close()
    with pytest.raises(DispatchError, match="closed"):
        dispatcher.dispatch(5)


def test_a_failing_handler_does_not_kill_the_worker_thread() -> None:
    seen: list[int] = []

    def handler(submission_id: int) -> None:
        seen.append(submission_id)
        if submission_id == 1:
            raise RuntimeError("database down")

    dispatcher = InProcessDispatcher(handler, workers=1)
    dispatcher.dispatch(1)
    dispatcher.dispatch(2)
    assert dispatcher.idle(10)
    assert seen == [1, 2]
    dispatcher.close()


# --- reconciler ------------------------------------------------------------------------


def test_dispatch_failure_keeps_the_submission_for_the_reconciler(make_services: ServicesFactory) -> None:
    down = RecordingDispatcher(fail=True)
    services = make_services(dispatcher=down)
    user = add_user(services)
    submission = submit(services, user, LAB, CORRECT)  # accepted although the broker is down
    stored = get_submission(services, submission.id)
    assert stored.status == "queued" and stored.lease_until is None

    reconciler = Reconciler(services, interval=1, grace=0.5)
    assert reconciler.sweep(now=utcnow()).undispatched == []  # younger than the grace period
    report = reconciler.sweep(now=utcnow() + dt.timedelta(seconds=1))
    assert report.undispatched == [submission.id] and not report.dispatched
    assert get_submission(services, submission.id).lease_until is None  # released for the next pass

    up = RecordingDispatcher()
    services.dispatcher = up
    report = reconciler.sweep(now=utcnow() + dt.timedelta(seconds=1))
    assert report.dispatched == [submission.id] and up.ids == [submission.id]
    assert get_submission(services, submission.id).lease_until is not None  # dispatch lease taken
    assert reconciler.sweep(now=utcnow() + dt.timedelta(seconds=1)).dispatched == []  # not twice


def test_reconciler_leaves_fresh_and_dispatched_submissions_alone(make_services: ServicesFactory) -> None:
    dispatcher = RecordingDispatcher()
    services = make_services(dispatcher=dispatcher, lease_seconds=60)
    user = add_user(services)
    submission = submit(services, user, LAB, CORRECT)
    reconciler = Reconciler(services, interval=1, grace=0)
    assert reconciler.sweep().dispatched == []  # its dispatch lease runs
    # after a restart of the embedded service, every queued row goes back into the queue
    assert reconciler.sweep(all_queued=True).dispatched == [submission.id]
    # once the dispatch lease is over, it is dispatched again
    assert reconciler.sweep(now=utcnow() + dt.timedelta(seconds=61)).dispatched == [submission.id]
    assert dispatcher.ids == [submission.id] * 3


def test_expired_lease_is_requeued_then_given_up(make_services: ServicesFactory) -> None:
    dispatcher = RecordingDispatcher()
    services = make_services(dispatcher=dispatcher, max_grading_attempts=2, lease_seconds=30)
    user = add_user(services)
    submission = submit(services, user, LAB, CORRECT)
    assert _claim(services, submission.id, "host:1:dead") is not None
    reconciler = Reconciler(services, interval=1, grace=0)
    assert reconciler.sweep().requeued == []  # the lease is live
    set_row(services, submission.id, lease_until=past(1))
    report = reconciler.sweep()
    assert report.requeued == [submission.id] and report.dispatched == [submission.id]
    stored = get_submission(services, submission.id)
    assert stored.status == "queued" and stored.worker is None and stored.grading_attempts == 1

    assert _claim(services, submission.id, "host:2:dead") is not None
    set_row(services, submission.id, lease_until=past(1))
    report = reconciler.sweep()
    assert report.failed == [submission.id] and report.dispatched == []
    stored = get_submission(services, submission.id)
    assert stored.status == "error"
    assert stored.error == "grading failed 2 times; last error: the worker host:2:dead stopped while grading it"


def test_two_reconcilers_dispatch_once(make_services: ServicesFactory) -> None:
    first, second = RecordingDispatcher(), RecordingDispatcher()
    services = make_services(dispatcher=RecordingDispatcher(fail=True))
    other = make_services(dispatcher=second)
    services.dispatcher = first
    user = add_user(services)
    ids = [submit(services, user, LAB, CORRECT).id for _ in range(5)]
    a, b = Reconciler(services, interval=1, grace=0), Reconciler(other, interval=1, grace=0)
    threads = [threading.Thread(target=r.sweep) for r in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(first.ids + second.ids) == ids


def test_background_reconciler_grades_what_a_dead_process_left(make_services: ServicesFactory) -> None:
    services = make_services(workers=1, reconcile_seconds=1)
    user = add_user(services)
    left = submit(services, user, LAB, CORRECT)  # the recording dispatcher "dies" with it
    services.dispatcher = InProcessDispatcher.for_services(services)
    set_row(services, left.id, submitted_at=past(10))
    services.start_background()
    deadline = time.monotonic() + 30
    while get_submission(services, left.id).status != "graded" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert get_submission(services, left.id).status == "graded"


#: A PostgreSQL that is not there: connecting fails at once, as while the server restarts.
UNREACHABLE = "postgresql+psycopg://postgres@/lossgrader?host=/nonexistent-lossgrader-socket-dir&port=5432"


def reconciler_lines(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "grader.service.dispatch" and r.levelno >= level]


def test_a_database_outage_is_logged_once_and_its_end_once(
    make_services: ServicesFactory, caplog: pytest.LogCaptureFixture
) -> None:
    services = make_services(reconcile_seconds=15)
    user = add_user(services)
    left = submit(services, user, LAB, CORRECT)
    set_row(services, left.id, submitted_at=past(10), lease_until=None)
    working, engine = services.sessions, make_engine(UNREACHABLE)
    services.sessions = make_sessionmaker(engine)
    reconciler = Reconciler(services, grace=0)
    caplog.set_level(logging.DEBUG)
    try:
        assert [reconciler.tick() for _ in range(4)] == [None] * 4
    finally:
        services.sessions = working
        engine.dispose()
    lines = reconciler_lines(caplog, logging.INFO)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    (down,) = lines
    assert down.levelno == logging.WARNING and down.exc_info is None
    message = down.getMessage()
    assert message.startswith("reconciler: database unreachable (OperationalError: "), message
    assert message.endswith("); sweeping every 15 s until it answers") and "\n" not in message
    assert not any(r.exc_info for r in caplog.records)  # no traceback, at any level
    assert not [r for r in caplog.records if r.name == "grader.service.context"]  # no retry warnings either

    caplog.clear()
    report = reconciler.tick()
    assert report is not None and report.dispatched == [left.id]  # what the outage held up goes out
    (back,) = reconciler_lines(caplog)
    assert back.levelno == logging.WARNING
    assert re.fullmatch(r"reconciler: database reachable again after \d+ s \(4 sweeps failed\)", back.getMessage())

    caplog.clear()
    assert reconciler.tick() is not None
    assert reconciler_lines(caplog) == []  # nothing to say while all is well


def test_an_unexpected_error_in_a_sweep_is_logged_with_its_traceback_every_time(
    make_services: ServicesFactory, caplog: pytest.LogCaptureFixture
) -> None:
    services = make_services()

    def broken() -> Session:
        raise RuntimeError("a bug in the reconciler")

    working, services.sessions = services.sessions, broken  # type: ignore[assignment]
    reconciler = Reconciler(services, interval=1, grace=0)
    try:
        assert reconciler.tick() is None and reconciler.tick() is None
    finally:
        services.sessions = working
    lines = reconciler_lines(caplog)
    assert len(lines) == 2 and all(r.levelno == logging.ERROR for r in lines)
    assert all(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in lines)
    caplog.clear()
    assert reconciler.tick() is not None
    assert reconciler_lines(caplog) == []  # a bug is not an outage: no "reachable again"


# --- Dramatiq --------------------------------------------------------------------------


def test_dramatiq_dispatcher_enqueues_on_redis(redis_url: str) -> None:
    import redis

    dispatcher = DramatiqDispatcher(redis_url)
    try:
        dispatcher.dispatch(41)
        dispatcher.dispatch(42)
        client = redis.Redis.from_url(redis_url)
        assert client.llen(f"{REDIS_NAMESPACE}:{GRADE_QUEUE}") == 2
        client.close()
        assert dispatcher.actor.actor_name == "grade" and dispatcher.actor.options["max_retries"] <= 5
    finally:
        dispatcher.close()


def test_dramatiq_dispatcher_fails_fast_when_redis_is_down() -> None:
    import socket

    with socket.socket() as sock:  # bound, never listening: connections are refused, and nobody else can take it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        dispatcher = DramatiqDispatcher(f"redis://127.0.0.1:{port}/0")
        started = time.monotonic()
        with pytest.raises(DispatchError, match="could not reach the broker"):
            dispatcher.dispatch(1)
        assert time.monotonic() - started < 5
        dispatcher.close()


def test_submit_with_redis_down_is_accepted(make_services: ServicesFactory) -> None:
    dispatcher = DramatiqDispatcher("redis://127.0.0.1:1/0")
    services = make_services(dispatcher=dispatcher)
    user = add_user(services)
    submission = submit(services, user, LAB, CORRECT)
    assert get_submission(services, submission.id).status == "queued"
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 1


def test_open_services_picks_the_dispatcher(database_url: str, redis_url: str) -> None:
    from grader.service.context import open_services

    embedded = open_services(TestConfig(database_url=database_url))
    try:
        assert isinstance(embedded.dispatcher, InProcessDispatcher)
    finally:
        embedded.close()
    brokered = open_services(TestConfig(database_url=database_url, broker_url=redis_url), migrate=False)
    try:
        assert isinstance(brokered.dispatcher, DramatiqDispatcher)
    finally:
        brokered.close()


# --- runner and worker command ---------------------------------------------------------


class _Unavailable(RuntimeError):
    pass


def _fake_sandbox(monkeypatch: pytest.MonkeyPatch, make_runner: Any) -> None:
    import grader.sandbox

    monkeypatch.setattr(grader.sandbox, "make_runner", make_runner)
    monkeypatch.setattr(grader.sandbox, "SandboxUnavailable", _Unavailable)


def test_server_runner_uses_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    sentinel = object()
    seen: list[Any] = []

    def make_runner(slots: int | None = None, *, insecure: bool | None = None) -> Any:
        seen.append(insecure)
        return sentinel

    _fake_sandbox(monkeypatch, make_runner)
    assert server_runner(Config(insecure_sandbox=True)) is sentinel
    assert seen == [False]  # the sandbox module must not fall back by itself


def test_server_runner_refuses_without_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    def make_runner(slots: int | None = None, *, insecure: bool | None = None) -> Any:
        raise _Unavailable("sandbox unavailable: user namespaces: disabled")

    _fake_sandbox(monkeypatch, make_runner)
    with pytest.raises(GraderUnavailable, match=r"user namespaces: disabled.*LOSSGRADER_INSECURE_SANDBOX"):
        server_runner(Config())
    assert isinstance(server_runner(Config(insecure_sandbox=True)), SubprocessRunner)
    assert isinstance(server_runner(TestConfig()), SubprocessRunner)


def test_server_runner_without_the_sandbox_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "grader.sandbox", None)  # import fails
    with pytest.raises(GraderUnavailable, match="not installed"):
        server_runner(Config())
    assert isinstance(server_runner(TestConfig()), SubprocessRunner)


def test_worker_refuses_without_a_broker(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from grader.cli import run

    monkeypatch.delenv("LOSSGRADER_BROKER_URL", raising=False)
    assert run(["worker"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "LOSSGRADER_BROKER_URL" in lines[0]
