"""``/readyz``: whether this web process can serve requests that need the database, broker and sandbox.

Each check answers ``"ok"``, ``"not used"`` (nothing of that kind is configured here), or
one line saying what is wrong; none takes more than a few seconds.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from grader.service.outage import describe_error
from grader.web.db import get_services

OK = "ok"
NOT_USED = "not used"
READY = (OK, NOT_USED)


def database_check(services: Any) -> str:
    """``SELECT 1`` in a session like a request's."""
    from sqlalchemy import text

    try:
        with services.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        return describe_error(exc)
    return OK


def broker_check(services: Any) -> str:
    """PING the Redis broker, when grading goes through one."""
    broker = getattr(services.dispatcher, "broker", None)
    client = getattr(broker, "client", None)
    if client is None:
        return NOT_USED
    try:
        client.ping()
    except Exception as exc:
        return describe_error(exc)
    return OK


def sandbox_check(services: Any) -> str:
    """Whether this process can grade (embedded mode); with a broker, the workers grade."""
    if current_app.config["LOSSGRADER"].broker_url:
        return NOT_USED
    try:
        services.runner()
    except Exception as exc:
        return describe_error(exc)
    return OK


def readiness() -> dict[str, str]:
    """Every check by name: ``database``, ``broker``, ``sandbox``."""
    services = get_services()
    return {"database": database_check(services), "broker": broker_check(services), "sandbox": sandbox_check(services)}
