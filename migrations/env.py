"""Alembic environment: the models' metadata, one locked transaction per run.

The database URL is, in order: ``alembic -x url=…``, ``sqlalchemy.url`` from the Alembic
configuration (``grader.db.migrate.alembic_config`` sets it), then
``LOSSGRADER_DATABASE_URL`` / the default of :class:`grader.config.Config`.
``grader.db.migrate`` hands over an open connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.types import TypeDecorator

from grader.db.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    """The URL to migrate (see the module docstring)."""
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from grader.config import Config

    return Config.from_env().database_url


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render the project's column types (e.g. ``UTCDateTime``) as the plain type they wrap.

    Migrations then never import ``grader``, and stay valid whatever the models become.
    """
    if type_ == "type" and isinstance(obj, TypeDecorator) and type(obj).__module__.startswith("grader."):
        return f"sa.{obj.impl!r}"
    return False


def _options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        "render_as_batch": dialect_name == "sqlite",  # SQLite alters tables by copying them
        # SQLite's DDL is transactional too; grader.db.migrate runs it all in one BEGIN IMMEDIATE.
        "transactional_ddl": True if dialect_name == "sqlite" else None,
        "render_item": render_item,
    }


def run_migrations_offline() -> None:
    """``alembic upgrade --sql``: print the SQL instead of running it."""
    url = database_url()
    from sqlalchemy.engine import make_url

    context.configure(
        url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **_options(make_url(url).get_backend_name())
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the given connection, or open one holding the migration lock."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from grader.db.migrate import migration_connection

    with migration_connection(database_url()) as connection:
        _run(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
