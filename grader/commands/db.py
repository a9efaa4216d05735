"""``lossgrader db``: create and migrate the database schema (Alembic, see :mod:`grader.db.migrate`).

The database is ``--url`` or else ``LOSSGRADER_DATABASE_URL`` (default: the SQLite file
under ``instance/``). Success prints one line; a database that cannot be reached or a
URL that cannot be used is one ``error:`` line and exit status 2.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

import click

if importlib.util.find_spec("alembic") is None:  # no server extra: grader.cli leaves this group out
    raise ModuleNotFoundError("No module named 'alembic'", name="alembic")

URL_HELP = "Database URL (default: LOSSGRADER_DATABASE_URL, else instance/lossgrader.db)."


def _safe(url: str) -> str:
    """``url`` without its password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def _resolve(url: str | None) -> str:
    from grader.cli import UserError
    from grader.config import Config

    if url:
        return url
    try:
        return Config.from_env().database_url
    except ValueError as exc:
        raise UserError(str(exc)) from None


@contextmanager
def _one_line_errors(url: str) -> Iterator[None]:
    """Turn database, URL and migration failures into one-line user errors."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

    from grader.cli import UserError
    from grader.db.migrate import MigrationError

    where = _safe(url)
    try:
        yield
    except (MigrationError, CommandError) as exc:
        raise UserError(f"database at {where}: {exc}") from None
    except DBAPIError as exc:
        lines = str(exc.orig or exc).strip().splitlines()
        raise UserError(f"database at {where}: {lines[0] if lines else type(exc.orig).__name__}") from None
    except (ArgumentError, NoSuchModuleError) as exc:
        raise UserError(f"not a usable database URL {where}: {exc}") from None
    except ImportError as exc:  # the URL names a driver that is not installed
        raise UserError(f"database at {where}: driver not installed ({exc})") from None
    except (SQLAlchemyError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"database at {where}: {first}") from None


def _report(url: str, revision: str | None) -> None:
    from grader.db.migrate import head

    target = head()
    if revision is None:
        state = f"is empty (no schema; head is {target})"
    elif revision == target:
        state = f"is at revision {revision} (head)"
    else:
        state = f"is at revision {revision} (head is {target})"
    click.echo(f"database at {_safe(url)} {state}")


url_option = click.option("--url", default=None, metavar="URL", help=URL_HELP)
verbose_option = click.option("-v", "--verbose", is_flag=True, help="Show each migration step as it runs.")


@click.group()
def db() -> None:
    """Create and migrate the database schema."""


@db.command("upgrade")
@url_option
@click.option("--revision", default="head", show_default=True, help="Revision to migrate to.")
@verbose_option
def upgrade_command(url: str | None, revision: str, verbose: bool) -> None:
    """Migrate the database up to a revision (creating it if empty)."""
    from grader.db import migrate

    url = _resolve(url)
    with _one_line_errors(url):
        reached = migrate.upgrade(url, revision, verbose=verbose)
        _report(url, reached)


@db.command("downgrade", context_settings={"ignore_unknown_options": True})  # "-1"
@click.argument("revision")
@url_option
@verbose_option
def downgrade_command(revision: str, url: str | None, verbose: bool) -> None:
    """Migrate the database down to REVISION ("base" removes every table, "-1" undoes one step)."""
    from grader.db import migrate

    url = _resolve(url)
    with _one_line_errors(url):
        reached = migrate.downgrade(url, revision, verbose=verbose)
        _report(url, reached)


@db.command("current")
@url_option
def current_command(url: str | None) -> None:
    """Show the database's revision."""
    from grader.db import migrate

    url = _resolve(url)
    with _one_line_errors(url):
        _report(url, migrate.current(url))


commands = [db]
