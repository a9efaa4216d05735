"""Getting submissions to a grader: dispatchers, and the reconciler that makes it reliable.

A dispatcher only *hints* that a submission is waiting; the database says what is
true. Whatever a dispatcher loses (a process killed with its in-memory queue, Redis
down, a worker killed mid-grade) the :class:`Reconciler` finds again: submissions
still ``queued`` whose dispatch is overdue, and ``running`` ones whose lease ran out.

* :class:`InProcessDispatcher`: the embedded default, worker threads in this process.
* :class:`DramatiqDispatcher`: a Dramatiq actor ``grade`` on Redis, run by
  ``lossgrader worker``. Redis acknowledges a message only after the actor returns. A
  worker takes one message per free grading slot (:class:`PrefetchPerSlot`), so a worker
  that dies or freezes strands only the submissions it was grading (until their lease ends).

For ``queued`` rows, ``lease_until`` is the dispatch lease: the time after which the
reconciler may dispatch the submission again (NULL: now).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from grader.db.models import Submission, utcnow
from grader.service.outage import Outage, database_unreachable, describe_error

if TYPE_CHECKING:
    from grader.service.context import Services

log = logging.getLogger(__name__)

GRADE_ACTOR = "grade"
GRADE_QUEUE = "grading"
GRADE_TIME_LIMIT_MS = 15 * 60 * 1000  # far above any lab's limits: only a wedged grader hits it
GRADE_MAX_RETRIES = 3  # infrastructure errors only (database down); grader errors are retried by us
REDIS_NAMESPACE = "lossgrader"
SWEEP_BATCH = 500


class Dispatcher(Protocol):
    """Hands a committed submission to a grader; may raise when it cannot."""

    def dispatch(self, submission_id: int) -> None:
        """Ask for ``submission_id`` to be graded (soon, somewhere)."""
        ...


class DispatchError(RuntimeError):
    """The submission could not be handed over (it stays queued for the reconciler)."""


def worker_name(suffix: str = "") -> str:
    """``host:pid:thread`` — who is grading, for instructors and leases."""
    name = f"{socket.gethostname()}:{os.getpid()}:{suffix or threading.current_thread().name}"
    return name[:200]


# --- in-process ------------------------------------------------------------------------


class InProcessDispatcher:
    """``workers`` threads in this process taking ids from a bounded queue.

    Threads start on the first dispatch. An id already waiting is not queued twice.
    On shutdown the queue is dropped: those rows are still ``queued`` in the database.
    """

    def __init__(self, handler: Callable[[int], None], *, workers: int = 2, maxsize: int = 10_000) -> None:
        self.handler = handler
        self.workers = max(1, workers)
        self._queue: queue.Queue[int | None] = queue.Queue(maxsize=maxsize)
        self._pending: set[int] = set()
        self._busy = 0
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False

    @classmethod
    def for_services(cls, services: Services) -> InProcessDispatcher:
        """A dispatcher whose threads call ``grade_submission`` on ``services``."""
        from grader.service.submissions import grade_submission

        def handle(submission_id: int) -> None:
            grade_submission(services, submission_id, worker=worker_name())

        return cls(handle, workers=services.config.workers)

    def dispatch(self, submission_id: int) -> None:
        """Queue ``submission_id``; :class:`DispatchError` if closed or full."""
        with self._cond:
            if self._closed:
                raise DispatchError("the in-process dispatcher is closed")
            if submission_id in self._pending:
                return
            if not self._threads:
                self._start()
            try:
                self._queue.put_nowait(submission_id)
            except queue.Full:
                raise DispatchError(f"the grading queue is full ({self._queue.maxsize})") from None
            self._pending.add(submission_id)

    def _start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"grader-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while True:
            submission_id = self._queue.get()
            if submission_id is None:
                return
            with self._cond:
                self._pending.discard(submission_id)
                self._busy += 1
            try:
                self.handler(submission_id)
            except BaseException:  # the reconciler will find the submission again
                log.exception("grading submission %s failed", submission_id)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or running here; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and self._busy == 0, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the threads after their current grading (waiting at most ``timeout`` s)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
            self._pending.clear()
        while True:  # drop what is waiting: it is still queued in the database
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join(timeout)


# --- Dramatiq --------------------------------------------------------------------------


def prefetch_per_slot() -> Any:
    """A Dramatiq middleware sizing a worker's prefetch to its grading slots (``--threads``).

    Dramatiq's default prefetch is twice the threads: messages taken from Redis that wait in
    the worker's memory for a free thread. If that worker is killed or frozen, they wait for
    Redis to notice (a minute) while other workers are idle. With one message per slot
    (Dramatiq counts the ones being processed), a worker holds only what it is grading.
    """
    import dramatiq

    class PrefetchPerSlot(dramatiq.Middleware):  # type: ignore[misc]
        """Before the worker's consumers start: prefetch = worker threads."""

        def before_worker_boot(self, broker: Any, worker: Any) -> None:
            worker.queue_prefetch = worker.worker_threads
            worker.delay_prefetch = worker.worker_threads

    return PrefetchPerSlot()


def make_broker(url: str) -> Any:
    """A Dramatiq ``RedisBroker`` that fails fast (no long retries) when Redis is down, and
    whose workers take one message per grading slot (:func:`prefetch_per_slot`)."""
    import redis
    from dramatiq.brokers.redis import RedisBroker
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(
        url, socket_connect_timeout=3, socket_timeout=15, retry=Retry(NoBackoff(), 1), health_check_interval=30
    )
    broker = RedisBroker(client=client, namespace=REDIS_NAMESPACE)
    broker.add_middleware(prefetch_per_slot())
    return broker


def _grade_message(submission_id: int) -> None:
    """The actor's body: runs in ``lossgrader worker`` processes."""
    from grader.service.worker_app import handle

    handle(submission_id)


def declare_grade_actor(broker: Any) -> Any:
    """Declare the ``grade`` actor on ``broker`` (once per broker)."""
    import dramatiq

    if GRADE_ACTOR in broker.actors:
        return broker.get_actor(GRADE_ACTOR)
    return dramatiq.actor(
        _grade_message,
        broker=broker,
        actor_name=GRADE_ACTOR,
        queue_name=GRADE_QUEUE,
        max_retries=GRADE_MAX_RETRIES,
        min_backoff=1_000,
        max_backoff=30_000,
        time_limit=GRADE_TIME_LIMIT_MS,
    )


class DramatiqDispatcher:
    """Sends ``grade(submission_id)`` messages to Redis."""

    def __init__(self, broker_url: str | None = None, *, broker: Any = None) -> None:
        if broker is None:
            if not broker_url:
                raise ValueError("DramatiqDispatcher needs a broker URL or a broker")
            broker = make_broker(broker_url)
        self.broker = broker
        self.actor = declare_grade_actor(broker)

    def dispatch(self, submission_id: int) -> None:
        """Enqueue the message; raises (``DispatchError``) when Redis cannot be reached."""
        try:
            self.actor.send(submission_id)
        except Exception as exc:
            raise DispatchError(f"could not reach the broker: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        """Close the broker's connections."""
        self.broker.close()


# --- reconciler ------------------------------------------------------------------------


@dataclass
class SweepReport:
    """What one pass of the reconciler did."""

    requeued: list[int] = field(default_factory=list)  # running past their lease, back to queued
    failed: list[int] = field(default_factory=list)  # out of grading attempts: status error
    dispatched: list[int] = field(default_factory=list)
    undispatched: list[int] = field(default_factory=list)  # the dispatcher refused: tried again next pass


class Reconciler:
    """Finds lost submissions every ``reconcile_seconds`` and dispatches them again.

    Several reconcilers (web process, each ``lossgrader worker``) may run at once: every
    step is a conditional UPDATE, so a submission is re-dispatched by one of them.
    """

    def __init__(self, services: Services, *, interval: float | None = None, grace: float | None = None) -> None:
        self.services = services
        self.interval = float(interval if interval is not None else services.config.reconcile_seconds)
        # a queued submission younger than this is being dispatched by whoever committed it
        self.grace = float(grace if grace is not None else min(5.0, self.interval))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outage = Outage(
            log,
            f"reconciler: database unreachable (%s); sweeping every {self.interval:.0f} s until it answers",
            lambda seconds, failed: (
                f"reconciler: database reachable again after {seconds:.0f} s "
                f"({failed} sweep{'' if failed == 1 else 's'} failed)"
            ),
        )

    def sweep(self, now: dt.datetime | None = None, *, all_queued: bool = False) -> SweepReport:
        """One pass. ``all_queued`` ignores dispatch leases (after a restart of the embedded service)."""
        from grader.service.context import run_transaction
        from grader.service.submissions import exhausted_reason

        services, config = self.services, self.services.config
        now = now or utcnow()
        lease = dt.timedelta(seconds=config.lease_seconds)
        report = SweepReport()

        def expire(session: Session) -> None:
            stuck = session.execute(
                select(
                    Submission.id, Submission.grading_attempts, Submission.status, Submission.error, Submission.worker
                )
                .where(
                    or_(
                        and_(Submission.status == "running", Submission.lease_until < now),
                        and_(Submission.status == "queued", Submission.grading_attempts >= config.max_grading_attempts),
                    )
                )
                .order_by(Submission.id)
                .limit(SWEEP_BATCH)
            ).all()
            for row in stuck:
                same = [Submission.id == row.id, Submission.status == row.status]
                same.append(Submission.grading_attempts == row.grading_attempts)
                if row.status == "running":
                    same.append(Submission.lease_until < now)
                if row.grading_attempts >= config.max_grading_attempts:
                    last = row.error if row.status == "queued" else f"the worker {row.worker} stopped while grading it"
                    values: dict[str, Any] = {"status": "error", "error": exhausted_reason(row.grading_attempts, last)}
                    target = report.failed
                else:  # lease_until NULL: dispatched again below, in this same pass
                    values = {"status": "queued", "worker": None}
                    target = report.requeued
                values["lease_until"] = None
                if session.execute(update(Submission).where(*same).values(**values)).rowcount == 1:
                    target.append(row.id)

        def due(session: Session) -> list[int]:
            overdue = or_(Submission.lease_until.is_(None), Submission.lease_until <= now)
            query = select(Submission.id).where(
                Submission.status == "queued", Submission.submitted_at <= now - dt.timedelta(seconds=self.grace)
            )
            if not all_queued:
                query = query.where(overdue)
            return list(session.scalars(query.order_by(Submission.id).limit(SWEEP_BATCH)))

        def take(session: Session, submission_id: int) -> bool:
            condition = [Submission.id == submission_id, Submission.status == "queued"]
            if not all_queued:
                condition.append(or_(Submission.lease_until.is_(None), Submission.lease_until <= now))
            moved = session.execute(update(Submission).where(*condition).values(lease_until=utcnow() + lease))
            return moved.rowcount == 1

        def release(session: Session, submission_id: int) -> None:
            session.execute(
                update(Submission)
                .where(Submission.id == submission_id, Submission.status == "queued")
                .values(lease_until=None)
            )

        def transaction(work: Callable[[Session], Any]) -> Any:
            # No retries (each one logs a warning): the next sweep is the retry.
            return run_transaction(services.sessions, work, retry_seconds=0)

        transaction(expire)
        for submission_id in transaction(due):
            if not transaction(lambda s, i=submission_id: take(s, i)):
                continue  # another reconciler took it, or it was claimed meanwhile
            try:
                services.dispatcher.dispatch(submission_id)
            except Exception as exc:
                transaction(lambda s, i=submission_id: release(s, i))
                report.undispatched.append(submission_id)
                log.warning("reconciler: cannot dispatch submission %s (%s); will retry", submission_id, exc)
                break  # the dispatcher is down: do not hammer it with the rest
            report.dispatched.append(submission_id)
        if report.requeued or report.failed or report.dispatched:
            log.info(
                "reconciler: %d requeued, %d failed, %d dispatched",
                len(report.requeued),
                len(report.failed),
                len(report.dispatched),
            )
        return report

    def tick(self, *, all_queued: bool = False) -> SweepReport | None:
        """One sweep of :meth:`run_forever`, never raising: its report, or None if it failed.

        A database outage is logged once when it starts (a warning naming the error) and
        once when a sweep gets through again, not with a traceback per sweep; any other
        error is a bug and is logged with its traceback every time.
        """
        try:
            report = self.sweep(all_queued=all_queued)
        except Exception as exc:
            if not database_unreachable(exc):
                log.exception("reconciler: sweep failed; trying again in %.0f s", self.interval)
                return None
            if not self._outage.begin(describe_error(exc)):
                log.debug("reconciler: database still unreachable (%s)", describe_error(exc))
            return None
        self._outage.end()
        return report

    def run_forever(self, *, all_queued_first: bool = False) -> None:
        """Sweep every ``interval`` seconds until :meth:`stop`; errors are logged, never fatal."""
        all_queued = all_queued_first
        while not self._stop.is_set():
            if self.tick(all_queued=all_queued) is not None:
                all_queued = False
            self._stop.wait(self.interval)

    def start(self, *, all_queued_first: bool = False) -> None:
        """Run :meth:`run_forever` in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run_forever, kwargs={"all_queued_first": all_queued_first}, name="reconciler", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (after its current sweep)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
