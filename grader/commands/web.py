"""``lossgrader serve`` (the web service under gunicorn) and ``lossgrader demo`` (a demo course).

``serve`` brings the database to the current schema, syncs the labs, creates a demo
course when the database has no users yet, and runs gunicorn programmatically: the
app factory runs in each gunicorn worker, and each worker starts the service's
background work (in embedded mode, without a broker: the grading threads and the
reconciler; with a broker, the reconciler, while ``lossgrader worker`` grades).
"""

from __future__ import annotations

import datetime as dt
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.cli import UserError, err, out
from grader.config import Config
from grader.db.models import AuditEvent, User, utcnow

DEMO_INSTRUCTOR = "demo-instructor"
DEMO_STUDENTS = ("demo-student1", "demo-student2", "demo-student3")
DEMO_SECTION = "demo"
DEMO_COURSE = "demo"  # the demo course's code: /courses/demo/…
DEMO_DUE_DAYS = (7, 14, 21)  # the first three labs, in course order; later labs every 7 days more
#: gunicorn's limits, above the app's own (grader.web.limits), so the app answers what it refuses in JSON:
#: the longest request line gunicorn allows (its maximum), and header line.
GUNICORN_REQUEST_LINE = 8190
GUNICORN_HEADER_FIELD = 16384


@dataclass
class DemoAccount:
    """A demo user and the password just given to them."""

    username: str
    role: str
    password: str
    created: bool


def _config() -> Config:
    try:
        return Config.from_env()
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _open(config: Config) -> Any:
    """Open the services (migrating the schema); database problems become one-line errors."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    from grader.service.context import open_services

    try:
        return open_services(config)
    except (DBAPIError, ArgumentError, NoSuchModuleError) as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise UserError(f"cannot open the database: {detail[0] if detail else type(exc).__name__}") from None


def _password() -> str:
    return secrets.token_urlsafe(12)


def _due(days: int, now: dt.datetime) -> dt.datetime:
    """23:59 UTC, ``days`` days from ``now``."""
    day = (now + dt.timedelta(days=days)).date()
    return dt.datetime.combine(day, dt.time(23, 59), tzinfo=dt.timezone.utc)


def create_demo(session: Session, now: dt.datetime | None = None, timezone: str = "UTC") -> list[DemoAccount]:
    """Create (or reset) the demo course (code ``demo``, every lab of the library): an instructor,
    three students in one section, due dates.

    Existing demo users get new passwords; the course's labs get due dates 7, 14 and 21 days
    from now (a hard deadline three days after, 10 % off per late day). Returns the accounts
    and their passwords, which are not stored anywhere in plain text.
    """
    from grader.service.courses import add_all_labs, course_labs, enrol, ensure_course
    from grader.service.users import create_user, find_user, set_password

    now = now or utcnow()
    accounts = []
    people = [(DEMO_INSTRUCTOR, "instructor", "Demo Instructor", None)]
    people += [(name, "student", f"Demo Student {i}", f"DEMO{i:03d}") for i, name in enumerate(DEMO_STUDENTS, 1)]
    course = ensure_course(session, DEMO_COURSE, "Demo course", "demo", timezone)
    add_all_labs(session, course)
    for username, role, display_name, number in people:
        password = _password()
        user = find_user(session, username)
        if user is None:
            roster = {"student_number": number, "section": DEMO_SECTION} if role == "student" else {}
            user = create_user(session, username, role, password=password, display_name=display_name, **roster)
            accounts.append(DemoAccount(username, role, password, True))
        else:
            set_password(user, password)
            user.active = True
            accounts.append(DemoAccount(username, user.role, password, False))
        enrol(session, course, user, role, DEMO_SECTION if role == "student" else None)
    for index, lab in enumerate(course_labs(session, course.id)):
        days = DEMO_DUE_DAYS[index] if index < len(DEMO_DUE_DAYS) else DEMO_DUE_DAYS[-1] + 7 * (index - 2)
        old = {"due_at": _iso(lab.due_at), "hard_deadline_at": _iso(lab.hard_deadline_at)}
        lab.due_at = _due(days, now)
        lab.hard_deadline_at = lab.due_at + dt.timedelta(days=3)
        lab.late_policy = "percent_per_day"
        lab.late_percent_per_day = 10.0
        session.add(
            AuditEvent(
                actor_label="cli:demo",
                action="lab.policy",
                course_id=course.id,
                lab_id=lab.id,
                old=old,
                new={"due_at": _iso(lab.due_at), "hard_deadline_at": _iso(lab.hard_deadline_at)},
                note="demo course",
            )
        )
    session.flush()
    return accounts


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def print_accounts(accounts: list[DemoAccount]) -> None:
    """The demo accounts and passwords, shown once."""
    table = Table(title="demo accounts (passwords are shown only now)")
    for column in ("username", "role", "password"):
        table.add_column(column)
    for account in accounts:
        table.add_row(escape(account.username), account.role, escape(account.password))
    out.print(table)


def prepare(config: Config, *, demo_if_empty: bool = True) -> list[DemoAccount]:
    """Migrate, sync labs, and create the demo course if there are no users; returns new demo accounts."""
    from grader.service.context import run_transaction, sync_labs

    services = _open(config)
    try:
        synced = sync_labs(services)
        if not synced:
            err.print("[yellow]warning:[/yellow] no labs found (LOSSGRADER_LABS)")

        def work(session: Session) -> list[DemoAccount]:
            if not demo_if_empty or session.scalar(select(func.count(User.id))):
                return []
            return create_demo(session, timezone=config.timezone)

        return run_transaction(services.sessions, work)
    finally:
        services.close()


def say_how_to_get_in(config: Config) -> None:
    """On a database with users already: how to get into the demo accounts (or any) again."""
    from grader.db.session import make_engine, make_sessionmaker

    engine = make_engine(config.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            names = session.scalars(select(User.username).where(User.username == DEMO_INSTRUCTOR)).all()
    finally:
        engine.dispose()
    if names:
        out.print(
            "Demo accounts exist (their passwords were shown when they were made). To get in again: "
            "`lossgrader demo` gives them new passwords, `lossgrader user password demo-instructor` sets one, "
            "`lossgrader user reset-link demo-instructor` prints a one-time link.",
            soft_wrap=True,
        )
    else:
        out.print(
            "Forgotten a password? `lossgrader user password USER` sets one; "
            "`lossgrader user reset-link USER` prints a one-time link to choose one.",
            soft_wrap=True,
        )


def check_grading(config: Config) -> None:
    """Refuse to serve when nothing could be graded here (no sandbox, and insecure grading not allowed)."""
    if config.broker_url:
        return  # grading happens in `lossgrader worker` processes
    from grader.service.runners import GraderUnavailable, check_grading_possible

    try:
        check_grading_possible(config)
    except GraderUnavailable as exc:
        raise UserError(str(exc)) from None


def _shared_rate_limits(config: Config) -> bool:
    from grader.web.settings import WebSettings

    return WebSettings.from_env().flask_config(config.broker_url)["RATELIMIT_STORAGE_URI"] != "memory://"


def json_parse_errors() -> None:
    """Make gunicorn answer the requests it cannot parse (a request line over its maximum,
    malformed headers) with a JSON error like the app's, not an HTML page."""
    import json

    from gunicorn import util

    def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
        body = json.dumps({"error": reason.lower(), "message": mesg, "status": status_int}).encode()
        head = (
            f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        util.write_nonblock(sock, head.encode("latin1") + body)

    util.write_error = write_error


def make_gunicorn(app_factory: Callable[[], Any], options: dict[str, Any]) -> Any:
    """A gunicorn application that calls ``app_factory`` in each worker (no preloading)."""
    from gunicorn.app.base import BaseApplication

    class LossgraderServer(BaseApplication):  # type: ignore[misc]
        """gunicorn, configured in code."""

        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            json_parse_errors()  # in the worker process, which answers the requests
            return app_factory()

    return LossgraderServer()


def worker_app() -> Any:
    """The app of one gunicorn worker, with the service's background work started."""
    from grader.web import create_app
    from grader.web.db import get_services

    app = create_app()
    get_services(app).start_background()
    return app


def _worker_exit(_server: Any, worker: Any) -> None:
    """Stop the worker's grading threads and reconciler, and close its database connections."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        from grader.web.db import close_services

        close_services(app)


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """gunicorn settings for the service."""

    def when_ready(_server: Any) -> None:
        shown = f"[{host}]" if ":" in host else host
        out.print(f"[green]lossgrader is running at http://{shown}:{port}/[/green] (Ctrl+C to stop)")

    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 60,
        "graceful_timeout": 30,
        "keepalive": 5,
        "limit_request_line": GUNICORN_REQUEST_LINE,
        "limit_request_field_size": GUNICORN_HEADER_FIELD,
        "preload_app": False,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "lossgrader",
        "control_socket_disable": True,
        "when_ready": when_ready,
        "worker_exit": _worker_exit,
    }


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True, help="Threads per worker.")
@click.option("--no-demo", is_flag=True, help="Do not create the demo course in an empty database.")
def serve(host: str, port: int, workers: int, threads: int, no_demo: bool) -> None:
    """Run the web service (database schema, labs and a demo course are set up first)."""
    config = _config()
    from grader.sandbox.startup import prepare_service

    prepare_service("serve")  # warns loudly as root; per-run cgroups where delegated
    from grader.service.mail import check_settings
    from grader.web.auth.sso import check_sso_settings

    try:
        check_settings(config)  # a wrong LOSSGRADER_SMTP_URL stops here, not at the first invitation
        check_sso_settings(config)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from grader.web.security import load_secret_key

    if not config.secret_key:
        load_secret_key(config.instance_path)  # created once here, read by every worker
    accounts = prepare(config, demo_if_empty=not no_demo)
    if accounts:
        out.print("The database was empty: created a demo course.")
        print_accounts(accounts)
    else:
        say_how_to_get_in(config)
    check_grading(config)
    if workers > 1 and not _shared_rate_limits(config):
        err.print(
            "[yellow]warning:[/yellow] sign-in rate limits are counted per worker process; set "
            "LOSSGRADER_RATELIMIT_STORAGE_URL (or LOSSGRADER_BROKER_URL) to a Redis URL to share them."
        )
    mode = f"grading by workers on {config.broker_url.split('@')[-1]}" if config.broker_url else "embedded grading"
    out.print(f"lossgrader: {mode}; {workers} web worker(s) × {threads} threads")
    server = make_gunicorn(worker_app, gunicorn_options(host, port, workers, threads))
    server.run()
    sys.exit(0)


@click.command()
def demo() -> None:
    """(Re)create the demo course: demo-instructor, demo-student1..3 (new passwords), due dates."""
    from grader.service.context import run_transaction, sync_labs

    config = _config()
    services = _open(config)
    try:
        sync_labs(services)
        accounts = run_transaction(services.sessions, create_demo)
    finally:
        services.close()
    print_accounts(accounts)
    out.print("Sign in with these at the web service (lossgrader serve).")


commands = [serve, demo]
