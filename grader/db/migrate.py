"""Schema migrations with Alembic, driven from Python.

The migration scripts live in ``migrations/`` next to the package in a source tree and
in ``grader/_migrations`` in an installed wheel. Every function takes a database URL
(or an existing :class:`~sqlalchemy.Engine`, e.g. one holding an in-memory SQLite
database). Migrations run in one transaction that holds a lock, so several processes
starting at once (web, workers) can all call :func:`ensure_schema`: the first one
migrates, the others wait for it and then find the database at head.

* PostgreSQL: a transaction-level advisory lock (``pg_advisory_xact_lock``); DDL is
  transactional, so a failed migration leaves nothing behind.
* SQLite: ``BEGIN IMMEDIATE`` (waits up to the busy timeout for other writers), with
  foreign keys switched off while tables are rebuilt by batch migrations (otherwise
  dropping a table would cascade-delete rows of its children) and checked before commit.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import make_url

from grader.db.session import make_engine

__all__ = [
    "MigrationError",
    "alembic_config",
    "current",
    "downgrade",
    "ensure_schema",
    "head",
    "migration_connection",
    "migrations_dir",
    "upgrade",
]

PG_LOCK_KEY = 0x6C6F_7373_6772_6164  # "lossgrad": the advisory lock serialising migrations
VERSION_TABLE = "alembic_version"


class MigrationError(Exception):
    """The database cannot be brought to the requested revision (message for people)."""


def migrations_dir() -> Path:
    """The Alembic script folder: ``grader/_migrations`` when installed, else ``<repo>/migrations``."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise MigrationError(f"no migration scripts found (looked in {package / '_migrations'} and {package.parent})")


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic configuration for ``url``, built in code (no ``alembic.ini`` needed)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser interpolation
    return cfg


def head() -> str | None:
    """The newest revision of the migration scripts."""
    return ScriptDirectory(str(migrations_dir())).get_current_head()


def _known(revision: str) -> bool:
    script = ScriptDirectory(str(migrations_dir()))
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises various ResolutionErrors for unknown ids
        return False


def _engine(url: str | Engine) -> tuple[Engine, bool]:
    """The engine for ``url`` and whether we own it (and must dispose of it)."""
    if isinstance(url, Engine):
        return url, False
    kwargs = {}
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        kwargs["connect_args"] = {"connect_timeout": 10}  # an unreachable host fails, not hangs
    return make_engine(url, **kwargs), True


def _url_string(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _sqlite_file_missing(url: str | Engine) -> bool:
    if isinstance(url, Engine):
        return False
    parsed = make_url(url)
    database = parsed.database
    return (
        parsed.get_backend_name() == "sqlite"
        and bool(database)
        and database != ":memory:"
        and not Path(database).exists()
    )


@contextmanager
def migration_connection(url: str | Engine) -> Iterator[Connection]:
    """A connection inside a locked transaction, committed when the block succeeds.

    Used by :func:`upgrade`/:func:`downgrade` and by ``migrations/env.py`` for the
    ``alembic`` command line.
    """
    engine, owned = _engine(url)
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            foreign_keys = False
            if sqlite:
                # PRAGMA foreign_keys is ignored inside a transaction: switch it off first.
                foreign_keys = bool(conn.exec_driver_sql("PRAGMA foreign_keys").scalar())
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            try:
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise MigrationError(f"migration left {len(broken)} broken foreign keys, e.g. {broken[0]}")
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                if sqlite and foreign_keys:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()
    finally:
        if owned:
            engine.dispose()


# Alembic logs each step at INFO; keep that out of the service's logs unless someone set a
# level on the "alembic" logger (alembic.ini does, for the alembic command line).
if logging.getLogger("alembic").level == logging.NOTSET:
    logging.getLogger("alembic").setLevel(logging.WARNING)


@contextmanager
def _alembic_logging(verbose: bool) -> Iterator[None]:
    """If ``verbose``, Alembic's "Running upgrade …" lines on stderr for the duration."""
    if not verbose:
        yield
        return
    logger = logging.getLogger("alembic")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(lambda record: record.getMessage().startswith("Running "))  # the steps, not the chatter
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(previous)
        logger.removeHandler(handler)


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _run(conn: Connection, action: str, revision: str) -> None:
    cfg = alembic_config(_url_string(conn.engine))
    cfg.attributes["connection"] = conn
    if action == "upgrade":
        command.upgrade(cfg, revision)
    elif action == "downgrade":
        command.downgrade(cfg, revision)
    else:
        command.stamp(cfg, revision)


def upgrade(url: str | Engine, revision: str = "head", *, verbose: bool = False) -> str | None:
    """Migrate the database up to ``revision``; return the revision it is at afterwards."""
    with _alembic_logging(verbose), migration_connection(url) as conn:
        _check_known(conn)
        _run(conn, "upgrade", revision)
        return _current(conn)


def downgrade(url: str | Engine, revision: str, *, verbose: bool = False) -> str | None:
    """Migrate the database down to ``revision`` (``base`` drops everything); return the new revision."""
    with _alembic_logging(verbose), migration_connection(url) as conn:
        _check_known(conn)
        _run(conn, "downgrade", revision)
        return _current(conn)


def current(url: str | Engine) -> str | None:
    """The database's revision; None for an empty database (or a SQLite file that does not exist)."""
    if _sqlite_file_missing(url):
        return None
    engine, owned = _engine(url)
    try:
        with engine.connect() as conn:
            return _current(conn)
    finally:
        if owned:
            engine.dispose()


def _check_known(conn: Connection) -> None:
    revision = _current(conn)
    if revision is not None and not _known(revision):
        raise MigrationError(
            f"the database is at revision {revision}, which this version of lossgrader does not know "
            "(was it migrated by a newer version?)"
        )


def ensure_schema(url: str | Engine, *, verbose: bool = False) -> str | None:
    """Bring the database to head, creating the schema if it is empty; cheap when already at head.

    Safe to call on every start and from several processes at once (see the module
    docstring). A database whose tables were made with ``create_all`` and no migration
    history is stamped at head if it matches the models, refused otherwise.
    """
    target = head()
    if current(url) == target:
        return target
    with _alembic_logging(verbose), migration_connection(url) as conn:
        revision = _current(conn)  # again, under the lock: another process may have migrated meanwhile
        if revision == target:
            return target
        _check_known(conn)
        if revision is None and _has_model_tables(conn):
            _adopt(conn)
        else:
            _run(conn, "upgrade", "head")
        return _current(conn)


def _has_model_tables(conn: Connection) -> bool:
    from grader.db.models import Base

    return bool(set(inspect(conn).get_table_names()) & set(Base.metadata.tables))


def _adopt(conn: Connection) -> None:
    """Stamp a ``create_all`` database at head when its schema is exactly the models'."""
    from alembic.autogenerate import compare_metadata

    from grader.db.models import Base

    diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    if diff:
        raise MigrationError(
            "the database has lossgrader tables but no migration history, and they differ from this "
            f"version's models ({len(diff)} differences, e.g. {diff[0]!r}); migrate it by hand or start afresh"
        )
    _run(conn, "stamp", "head")
