"""The service's shared objects: configuration, database, dispatcher and runner.

``open_services()`` is what every entry point (web process, ``lossgrader worker``,
CLI commands) calls first; ``services.close()`` releases everything. Nothing starts
in the background until :meth:`Services.start_background` (the service process calls
it; CLI commands do not).

:func:`run_transaction` is the one way the service writes: a short transaction,
retried while the database is briefly unreachable (a PostgreSQL restart) or busy
(SQLite's single writer).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError
from sqlalchemy.orm import Session, sessionmaker

from grader.config import Config
from grader.db.models import Lab
from grader.db.session import make_engine, make_sessionmaker, session_scope
from grader.grading.lab import LabError, available_labs, find_lab
from grader.grading.runner import Runner

if TYPE_CHECKING:
    from grader.service.dispatch import Dispatcher, Reconciler

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How long a write keeps retrying while the database is unreachable.
DEFAULT_RETRY_SECONDS = 30.0


@dataclass
class Services:
    """Everything the submission lifecycle needs, for one process."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher
    runner_factory: Callable[[], Runner]
    reconciler: Reconciler | None = None
    _runner: Runner | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def runner(self) -> Runner:
        """The grading runner, created on first use (raises ``GraderUnavailable`` without a sandbox)."""
        with self._lock:
            if self._runner is None:
                self._runner = self.runner_factory()
            return self._runner

    def start_background(self) -> None:
        """Start the reconciler (and, through it, re-dispatch what a previous process left queued)."""
        from grader.service.dispatch import InProcessDispatcher, Reconciler

        with self._lock:
            if self.reconciler is None:
                self.reconciler = Reconciler(self)
                # The in-process queue of a previous process died with it: re-dispatch every queued row.
                self.reconciler.start(all_queued_first=isinstance(self.dispatcher, InProcessDispatcher))

    def close(self) -> None:
        """Stop background threads, release the runner and the database connections."""
        if self.reconciler is not None:
            self.reconciler.stop()
            self.reconciler = None
        close = getattr(self.dispatcher, "close", None)
        if callable(close):
            close()
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None and callable(getattr(runner, "close", None)):
            runner.close()  # type: ignore[attr-defined]
        self.engine.dispose()


def open_services(
    config: Config | None = None,
    *,
    migrate: bool = True,
    dispatcher: Dispatcher | None = None,
    runner_factory: Callable[[], Runner] | None = None,
) -> Services:
    """Open the database (bringing its schema to head if ``migrate``) and build the dispatcher.

    The dispatcher is Dramatiq's when ``config.broker_url`` is set, else in-process
    threads; tests inject their own ``dispatcher`` and ``runner_factory``.
    """
    from grader.service.dispatch import DramatiqDispatcher, InProcessDispatcher
    from grader.service.runners import server_runner

    config = config or Config.from_env()
    engine = make_engine(config.database_url)
    try:
        if migrate:
            from grader.db.migrate import ensure_schema

            ensure_schema(engine)
        factory = runner_factory or (lambda: server_runner(config))
        services = Services(config, engine, make_sessionmaker(engine), dispatcher=None, runner_factory=factory)  # type: ignore[arg-type]
        if dispatcher is None:
            if config.broker_url:
                dispatcher = DramatiqDispatcher(config.broker_url)
            else:
                dispatcher = InProcessDispatcher.for_services(services)
        services.dispatcher = dispatcher
        return services
    except BaseException:
        engine.dispose()
        raise


# --- transactions ----------------------------------------------------------------------


def is_transient(exc: BaseException) -> bool:
    """Whether a database error is worth retrying: lost connection, restart, lock or deadlock."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, InterfaceError):
        return True
    orig = getattr(exc, "orig", None)
    if orig is None:
        return False
    module = type(orig).__module__
    if module.startswith("psycopg"):
        import psycopg

        return isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError))
    if module.startswith("sqlite3"):
        message = str(orig).lower()
        return "locked" in message or "busy" in message
    return False


def run_transaction(
    sessions: sessionmaker[Session],
    work: Callable[[Session], T],
    *,
    retry_seconds: float = DEFAULT_RETRY_SECONDS,
) -> T:
    """Run ``work(session)`` in one transaction and commit; retry it whole on transient errors.

    ``work`` must be safe to run again from the start (it is, when it only reads and
    writes through the session: a failed attempt is rolled back).
    """
    deadline = time.monotonic() + retry_seconds
    delay = 0.05
    while True:
        try:
            with session_scope(sessions) as session:
                return work(session)
        except DBAPIError as exc:
            if not is_transient(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("database unavailable, retrying in %.2f s: %s", delay, str(exc).splitlines()[0])
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


# --- labs ------------------------------------------------------------------------------


def lab_row_values(lab: Any, position: int | None = None) -> dict[str, Any]:
    """The columns of ``labs`` that come from a lab definition (never course policy)."""
    values: dict[str, Any] = {"title": lab.title, "version": lab.version, "max_score": float(lab.max_score)}
    if position is not None:
        values["position"] = position
    return values


def sync_labs(services: Services) -> list[str]:
    """Upsert every available lab definition into ``labs``; return the ids synced.

    Title, version, max score and position come from the definitions; due dates and
    the other policy columns are left as the course set them. A broken lab is logged
    and skipped (``lossgrader lab validate`` explains it).
    """
    definitions = []
    for position, lab_id in enumerate(available_labs(), start=1):
        try:
            definition = find_lab(lab_id)
        except LabError as exc:
            log.error("lab %s not synced: %s", lab_id, exc)
            continue
        if definition.withheld:  # a students' copy: it would grade without hidden fixtures
            log.error("lab %s not synced: hidden fixture files missing: %s", lab_id, ", ".join(definition.withheld))
            continue
        definitions.append((position, definition))

    def work(session: Session) -> list[str]:
        existing = {lab.id: lab for lab in session.scalars(select(Lab).with_for_update())}
        for position, lab in definitions:
            values = lab_row_values(lab, position)
            row = existing.get(lab.id)
            if row is None:
                session.add(Lab(id=lab.id, **values))
            else:
                for key, value in values.items():
                    if getattr(row, key) != value:
                        setattr(row, key, value)
        return [lab.id for _, lab in definitions]

    try:
        return run_transaction(services.sessions, work)
    except IntegrityError:  # another process inserted the same lab at the same moment: now they exist
        return run_transaction(services.sessions, work)
