"""The service objects of an app, and one database session per request.

``init_app`` opens one :class:`grader.service.context.Services` per app (engine, session
factory, grading dispatcher); :func:`get_db` gives the request's session, which is
rolled back if the request failed and closed when the app context ends.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

SERVICES_KEY = "lossgrader.services"


def init_app(app: Flask, services: Any = None) -> None:
    """Attach ``services`` (opened from the app's config when None) and the teardown."""
    if services is None:
        from grader.service.context import open_services  # the service layer needs the server extra

        services = open_services(app.config["LOSSGRADER"])
    app.extensions[SERVICES_KEY] = services
    app.teardown_appcontext(close_db)


def get_services(app: Flask | None = None) -> Any:
    """The app's :class:`~grader.service.context.Services`."""
    return (app or current_app).extensions[SERVICES_KEY]


def get_db() -> Session:
    """The database session of this request (opened on first use)."""
    if "db" not in g:
        g.db = get_services().sessions()
    return g.db


def rollback() -> None:
    """Roll back the request's session, if it has one (after an error)."""
    session = g.get("db")
    if session is not None:
        session.rollback()


def close_db(exc: BaseException | None = None) -> None:
    """Roll back on error, then close the request's session."""
    session = g.pop("db", None)
    if session is None:
        return
    try:
        if exc is not None:
            session.rollback()
    finally:
        session.close()


def close_services(app: Flask) -> None:
    """Stop the app's grading workers and dispose of its engine (tests, worker exit)."""
    services = app.extensions.pop(SERVICES_KEY, None)
    if services is None:
        return
    close = getattr(services, "close", None)
    if callable(close):
        close()
    else:
        services.engine.dispose()
