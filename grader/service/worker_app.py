"""The Dramatiq application of ``lossgrader worker``: broker, ``grade`` actor, reconciler.

Dramatiq imports this module in each worker process (``dramatiq
grader.service.worker_app``); the configuration comes from ``LOSSGRADER_*``
variables. Services are opened lazily, in the process that uses them (never before
a fork). :func:`reconcile_forever` runs as Dramatiq's fork function.
"""

from __future__ import annotations

import logging
import threading

import dramatiq

from grader.config import Config
from grader.service.context import Services, open_services
from grader.service.dispatch import DramatiqDispatcher, Reconciler, declare_grade_actor, make_broker, worker_name

log = logging.getLogger(__name__)

config = Config.from_env()
if not config.broker_url:
    raise ImportError("LOSSGRADER_BROKER_URL is not set: there is no broker for the workers")
broker = make_broker(config.broker_url)
dramatiq.set_broker(broker)
grade = declare_grade_actor(broker)

_services: Services | None = None
_lock = threading.Lock()


def services() -> Services:
    """This process's services (opened on first use; the schema is the web process's job)."""
    global _services
    with _lock:
        if _services is None:
            _services = open_services(config, migrate=False, dispatcher=DramatiqDispatcher(broker=broker))
        return _services


def handle(submission_id: int) -> None:
    """Grade one submission (the body of the ``grade`` actor)."""
    from grader.service.submissions import grade_submission

    grade_submission(services(), submission_id, worker=worker_name())


def reconcile_forever() -> int:
    """Run the reconciler until the process is told to stop (SIGTERM from Dramatiq)."""
    opened = open_services(config, migrate=False, dispatcher=DramatiqDispatcher(broker=broker))
    reconciler = Reconciler(opened)
    log.info("reconciler: every %g s", reconciler.interval)
    try:
        reconciler.run_forever()
    finally:
        opened.close()
    return 0
