"""``lossgrader user``: add users, issue API tokens, list people.

The database comes from ``LOSSGRADER_DATABASE_URL`` (see :mod:`grader.config`).
Also home of :func:`open_db`, which the other course commands share.
"""

from __future__ import annotations

import getpass
import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from grader.cli import UserError, err, out
from grader.config import Config
from grader.db.models import ROLES, ApiToken, Base, User
from grader.db.session import make_engine, make_sessionmaker, session_scope
from grader.service.users import create_token, create_user, find_user


def optional(module_name: str, attribute: str) -> Callable[..., Any] | None:
    """``module_name.attribute`` if that module exists (it may not be written yet), else None."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return None
        raise
    return getattr(module, attribute, None)


def actor_label() -> str:
    """``cli:<login name>`` for the audit trail."""
    try:
        name = getpass.getuser()
    except Exception:
        name = "unknown"
    return f"cli:{name}"


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


@dataclass
class Db:
    """An open database: its sessions, and the services object when the service layer is present."""

    sessions: sessionmaker[Session]
    config: Config
    engine: Any = None
    services: Any = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with session_scope(self.sessions) as session:
            yield session


def _close(services: Any) -> None:
    for name in ("close", "dispose", "shutdown"):
        closer = getattr(services, name, None)
        if callable(closer):
            closer()
            return
    engine = getattr(services, "engine", None)
    if engine is not None:
        engine.dispose()


@contextmanager
def open_db() -> Iterator[Db]:
    """The configured database, schema ensured; database failures become one-line user errors."""
    try:
        config = Config.from_env()
    except ValueError as exc:
        raise UserError(str(exc)) from None
    where = _safe_url(config.database_url)
    services = None
    engine = None
    migration_error: Any = optional("grader.db.migrate", "MigrationError") or ()
    try:
        open_services = optional("grader.service.context", "open_services")
        if open_services is not None:
            services = open_services(config)
            db = Db(services.sessions, config, getattr(services, "engine", None), services)
        else:
            engine = make_engine(config.database_url)
            ensure_schema = optional("grader.db.migrate", "ensure_schema")
            if ensure_schema is not None:
                ensure_schema(engine)
            else:
                Base.metadata.create_all(engine)
            db = Db(make_sessionmaker(engine), config, engine)
        yield db
    except migration_error as exc:
        raise UserError(f"database {where}: {exc}") from None
    except (OperationalError, DBAPIError) as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise UserError(f"database {where}: {detail[0] if detail else type(exc).__name__}") from None
    except (ArgumentError, NoSuchModuleError) as exc:
        raise UserError(f"LOSSGRADER_DATABASE_URL {where} is not usable: {exc}") from None
    finally:
        if services is not None:
            _close(services)
        if engine is not None:
            engine.dispose()


class OneLineErrors:
    """Mix into a click type so a bad value is one ``error: --option: ...`` line, exit 2."""

    def fail(self, message: str, param: click.Parameter | None = None, ctx: click.Context | None = None) -> Any:
        """Raise a :class:`UserError` naming the option."""
        name = (param.opts[0] if param.opts else param.name) if param is not None else "value"
        raise UserError(f"{name}: {message}")


class Choice(OneLineErrors, click.Choice):
    """``click.Choice`` with one-line errors."""


def _user(session: Session, name: str) -> User:
    user = find_user(session, name)
    if user is None:
        raise UserError(f"no user {name!r} (give a username or a student id)")
    return user


@click.group()
def user() -> None:
    """Manage users and their API tokens."""


@user.command("add")
@click.argument("username")
@click.option("--role", type=Choice(ROLES), required=True, help="student, instructor or admin.")
@click.option("--password", "password", default=None, help="The password (visible in the shell history).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--email", default=None, help="Email address.")
@click.option("--student-id", default=None, help="Roster student id (students).")
@click.option("--section", default=None, help="Section (students).")
def add_user(
    username: str,
    role: str,
    password: str | None,
    password_stdin: bool,
    display_name: str,
    email: str | None,
    student_id: str | None,
    section: str | None,
) -> None:
    """Add a user. Without a password the user can sign in only with an API token."""
    if password is not None and password_stdin:
        raise UserError("give --password or --password-stdin, not both")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UserError("no password on standard input")
    with open_db() as db, db.session() as session:
        try:
            created = create_user(
                session,
                username,
                role,
                password=password,
                display_name=display_name,
                email=email,
                student_number=student_id,
                section=section,
            )
        except ValueError as exc:
            raise UserError(str(exc)) from None
        label = f"{created.role} {created.username} (id {created.id})"
    out.print(
        f"added {escape(label)}" + ("" if password else "; no password: use `lossgrader user token`"), soft_wrap=True
    )


@user.command("token")
@click.argument("username")
@click.option("--name", "token_name", default="cli", show_default=True, help="A label to tell tokens apart.")
def token(username: str, token_name: str) -> None:
    """Issue an API token for USERNAME and print it (once: only its hash is kept)."""
    with open_db() as db, db.session() as session:
        holder = _user(session, username)
        if not holder.active:
            raise UserError(f"user {holder.username} is inactive")
        try:
            plain = create_token(session, holder, token_name)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    click.echo(plain)
    err.print(
        f"token {escape(token_name)} for {escape(holder.username)}: store it now, it will not be shown again",
        soft_wrap=True,
    )


@user.command("list")
@click.option("--role", type=Choice(ROLES), default=None, help="Only this role.")
def list_users(role: str | None) -> None:
    """List users with their role, roster fields and live tokens."""
    with open_db() as db, db.session() as session:
        live = (
            select(ApiToken.user_id, func.count().label("n"))
            .where(ApiToken.revoked_at.is_(None))
            .group_by(ApiToken.user_id)
            .subquery()
        )
        query = select(User, live.c.n).outerjoin(live, live.c.user_id == User.id).order_by(User.role, User.username)
        if role:
            query = query.where(User.role == role)
        rows = session.execute(query).all()
    if not rows:
        out.print("no users" + (f" with role {role}" if role else ""), soft_wrap=True)
        return
    headers = ("username", "role", "name", "email", "student id", "section", "active", "tokens")
    cells = [
        (
            person.username,
            person.role,
            person.display_name or "",
            person.email or "",
            person.student_number or "",
            person.section or "",
            "yes" if person.active else "no",
            str(tokens or 0),
        )
        for person, tokens in rows
    ]
    if not out.is_terminal:  # piped: tab-separated lines, nothing cut short
        for line in (headers, *cells):
            click.echo("\t".join(value.replace("\t", " ") for value in line))
        return
    table = Table()
    for column in headers:
        table.add_column(column)
    for line in cells:
        table.add_row(*(escape(value) for value in line))
    out.print(table)


commands = [user]


def _read_new_password(from_stdin: bool) -> str:
    """The new password from standard input's first line, or typed twice at a prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UserError("no password on standard input")
        return password
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask for the password: use --stdin")
    first = getpass.getpass("New password: ")
    if not first:
        raise UserError("password is empty")
    if getpass.getpass("Type it again: ") != first:
        raise UserError("the two passwords differ; nothing changed")
    return first


@user.command("password")
@click.argument("username")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from the first line of standard input.")
def password_command(username: str, from_stdin: bool) -> None:
    """Set USERNAME's password (asked twice, or read with --stdin); their other sign-ins end."""
    from grader.service.users import set_password

    new_password = _read_new_password(from_stdin)
    with open_db() as db, db.session() as session:
        holder = _user(session, username)
        try:
            set_password(holder, new_password)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        name = holder.username
    out.print(f"password of {escape(name)} changed", soft_wrap=True)


@user.command("reset-link")
@click.argument("username")
@click.option("--mail", "send", is_flag=True, help="Also mail it to the user (needs LOSSGRADER_SMTP_URL).")
def reset_link_command(username: str, send: bool) -> None:
    """Print a one-time link with which USERNAME chooses a new password.

    The link starts with LOSSGRADER_BASE_URL and works for LOSSGRADER_RESET_LINK_HOURS.
    """
    from grader.service.mail import deliver_due, mail_enabled
    from grader.service.onboarding import reset_link

    with open_db() as db:
        if send and not mail_enabled(db.config):
            raise UserError("--mail needs LOSSGRADER_SMTP_URL")
        with db.session() as session:
            holder = _user(session, username)
            try:
                sent = reset_link(session, db.config, holder, created_by=actor_label(), mail=send)
            except ValueError as exc:
                raise UserError(str(exc)) from None
        if sent.mailed:
            delivered, _failed = deliver_due(db.sessions, db.config)
    click.echo(sent.link.url)
    until = sent.link.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    note = f"works once, until {until}"
    if send:
        note += (
            f"; mailed to {sent.email}" if sent.mailed and delivered else
            f"; not mailed: {sent.problem}" if sent.problem else
            "; the mail could not be sent yet: the service tries again (see its Invitations page)"
        )  # fmt: skip
    if not db.config.base_url:
        note += "; set LOSSGRADER_BASE_URL to the address students use"
    err.print(escape(note), soft_wrap=True)
