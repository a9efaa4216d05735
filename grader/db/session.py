"""Engines and sessions.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy
timeout, so the web process and its grading threads can write side by side;
PostgreSQL (production) is used through psycopg 3.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from grader.grading.result import json_safe, strict_json


def storable(value: Any) -> Any:
    """Text PostgreSQL accepts (no NUL characters) and JSON without NaN/infinity, recursively."""
    return json_safe(value, nul="\ufffd")


def json_text(value: Any) -> str:
    """The engines' JSON serializer: strict JSON, with NUL characters replaced.

    Strict JSON has no NaN and PostgreSQL's ``json`` refuses ``\\u0000``; a result's
    detail may hold either (a student's output, a value that is not finite), but
    nearly never does, so it is cleaned only then."""
    return strict_json(value, nul="\ufffd")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get their folder created and WAL mode."""
    kwargs.setdefault("json_serializer", json_text)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            # One shared in-memory database for every connection of this engine.
            from sqlalchemy.pool import StaticPool

            kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if database and database != ":memory:":
                _use_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)  # survive a database restart
    return create_engine(url, **kwargs)


def _use_wal(cursor: Any, patience: float = 30.0) -> None:
    """Switch the file to WAL mode, waiting out other connections that are switching it too.

    The switch needs an exclusive lock and SQLite answers "database is locked" at once
    instead of calling the busy handler, so several processes starting on a fresh file
    retry here. Once the file is in WAL mode (it persists) nothing is switched.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
