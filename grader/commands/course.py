"""Course operations: roster import, regrading, grade export, lab policy and extensions.

Every change to stored policy is recorded as an :class:`~grader.db.models.AuditEvent`
with old → new values, and scores are recomputed afterwards (when the submissions
service is installed). Bad input is one ``error: ...`` line with exit status 2.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.cli import UserError, err, out
from grader.cli import lab as lab_group
from grader.db.models import COUNTING, LATE_POLICIES, AuditEvent, Course, CourseLab, Extension, Lab, User
from grader.grading.result import fmt_points
from grader.service.gradebook import export_canvas, export_long
from grader.service.roster import RosterError, import_roster
from grader.service.users import find_user

from .courses import course_option, resolve_course
from .users import Choice, Db, OneLineErrors, actor_label, open_db, optional

CLEAR = "none"  # the value that clears an optional setting


class Timestamp(OneLineErrors, click.ParamType):
    """An ISO 8601 time with a timezone (``Z`` or ``+01:00``), or ``none``."""

    name = "ISO8601"

    def __init__(self, clearable: bool = False) -> None:
        self.clearable = clearable

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse ``value`` into an aware UTC datetime (or :data:`CLEAR`)."""
        if isinstance(value, dt.datetime):
            return value
        text = str(value).strip()
        if self.clearable and text.lower() == CLEAR:
            return CLEAR
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"  # Python 3.10 does not read "Z"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is not an ISO 8601 time, e.g. 2025-03-01T23:59:00+01:00", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{text!r} has no timezone: add Z (UTC) or an offset like +01:00", param, ctx)
        return parsed.astimezone(dt.timezone.utc)


class Count(OneLineErrors, click.ParamType):
    """A whole number ≥ ``minimum``, or ``none``."""

    name = "N|none"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse ``value``."""
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.lower() == CLEAR:
            return CLEAR
        try:
            number = int(text)
        except ValueError:
            self.fail(f"{text!r} is not a whole number (or 'none')", param, ctx)
        if number < self.minimum:
            self.fail(f"{number} is less than {self.minimum}", param, ctx)
        return number


class Percent(OneLineErrors, click.ParamType):
    """A number from 0 to 100."""

    name = "PERCENT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse ``value``."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not 0 <= number <= 100:
            self.fail(f"{value} is not between 0 and 100", param, ctx)
        return number


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _sync_labs_if_missing(db: Db, lab_id: str) -> None:
    """Bring the lab definitions into the database when ``lab_id`` is not there yet (a fresh course)."""
    with db.session() as session:
        if session.get(Lab, lab_id) is not None:
            return
    sync_labs = optional("grader.service.context", "sync_labs")
    if sync_labs is not None and db.services is not None:
        sync_labs(db.services)


@contextmanager
def _session_for_lab(lab_id: str) -> Iterator[Session]:
    """A committing session on the configured database, lab definitions synced if ``lab_id`` is new."""
    with open_db() as db:
        _sync_labs_if_missing(db, lab_id)
        with db.session() as session:
            yield session


def _lab(session: Session, lab_id: str) -> Lab:
    found = session.get(Lab, lab_id)
    if found is None:
        known = ", ".join(session.scalars(select(Lab.id).order_by(Lab.position, Lab.id))) or "none yet"
        raise UserError(f"no lab {lab_id!r} in the database (labs: {known})")
    return found


def _course_lab(session: Session, course: Course, lab_id: str) -> CourseLab:
    """The course's row for the lab (its policy), or :class:`UserError` saying how to add it."""
    _lab(session, lab_id)
    found = session.get(CourseLab, (course.id, lab_id))
    if found is None:
        raise UserError(f"course {course.code} has no lab {lab_id!r}: lossgrader course add-lab {course.code} {lab_id}")
    return found


def _student(session: Session, name: str) -> User:
    person = find_user(session, name)
    if person is None:
        raise UserError(f"no student {name!r} (give a username or a student id)")
    if person.role != "student":
        raise UserError(f"{person.username} is an {person.role}, not a student")
    return person


def _recompute(session: Session, lab_id: str, user_id: int | None = None, course_id: int | None = None) -> int | None:
    """Recompute the lab's scores (one student's, when given; in one course, when given) in this
    transaction; None without the service."""
    recompute = optional("grader.service.submissions", "recompute_scores")
    if recompute is None:
        return None
    changed = recompute(session, lab_id, user_id=user_id, course_id=course_id)
    return changed if isinstance(changed, int) else None


def _report_recompute(changed: int | None) -> None:
    if changed is None:
        err.print(
            "[yellow]note:[/yellow] scores not recomputed: the submissions service is not installed", soft_wrap=True
        )
    else:
        out.print(f"recomputed scores: {changed} changed", soft_wrap=True)


# --- roster ---------------------------------------------------------------------------


@click.group()
def roster() -> None:
    """The course roster."""


@roster.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--invitations",
    "invitations",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="OUT.csv",
    help="Invite the file's students who cannot sign in yet: one-time links written to OUT.csv "
    "(username,email,name,link), and mailed when LOSSGRADER_SMTP_URL is set.",
)
@course_option
def roster_import(file: Path, invitations: Path | None, course_code: str | None = None) -> None:
    """Import students from a CSV roster (student_id, username, name, email, sis_user_id, sis_login_id, section).

    Every row is checked first; if any row has a problem, each is listed and nothing is
    imported (exit status 1).
    """
    links: list[Any] = []
    enrolled_in: str | None = None
    with open_db() as db, db.session() as session:
        try:
            report = import_roster(session, file, actor=actor_label())
        except RosterError as exc:
            raise UserError(str(exc)) from None
        if not report.ok:
            session.rollback()
        else:
            enrolled_in = _enrol_imported(session, course_code, report.usernames, report.sections)
        if report.ok and invitations is not None:
            course = session.scalar(select(Course).where(Course.code == enrolled_in)) if enrolled_in else None
            links = _invite(db, session, report.usernames, invitations, course)
    if not report.ok:
        for problem in report.errors:
            err.print(f"[red]error:[/red] {escape(problem)}", soft_wrap=True)
        err.print(f"[red]error:[/red] {escape(report.summary())}", soft_wrap=True)
        sys.exit(1)
    line = report.summary()
    if report.ignored_columns:
        line += f" (ignored columns: {', '.join(report.ignored_columns)})"
    if enrolled_in:
        line += f"; enrolled in {enrolled_in}"
    out.print(escape(line), soft_wrap=True)
    if invitations is not None:
        _report_invitations(db, links, invitations)


def _enrol_imported(session: Session, code: str | None, usernames: list[str], sections: dict[str, str]) -> str | None:
    """Enrol the roster's students in the course (``--course``, else the only one) as students with
    the file's section (a blank cell leaves their section there alone); None when the service has
    no course yet (then they are only users)."""
    from grader.service.courses import enrol_imported, only_course

    if code is None and only_course(session) is None and not session.scalar(select(Course.id).limit(1)):
        err.print("[yellow]note:[/yellow] no course yet: the students are not enrolled anywhere "
                  "(lossgrader course create, then roster import --course CODE)", soft_wrap=True)  # fmt: skip
        return None
    course = resolve_course(session, code)
    enrol_imported(session, course, usernames, sections)
    return course.code


def _invite(db: Db, session: Session, usernames: list[str], path: Path, course: Course | None = None) -> list[Any]:
    """Issue the invitations and write their CSV (before the import commits: no link is lost)."""
    from grader.service.onboarding import invite, write_links_csv

    links = invite(
        session,
        db.config,
        usernames,
        created_by=actor_label(),
        course_title=course.title if course else None,
        course_id=course.id if course else None,
    )
    session.flush()
    _write_atomically(path, lambda handle: write_links_csv(links, handle))
    return links


def _report_invitations(db: Db, links: list[Any], path: Path) -> None:
    """Say what became of the invitations; send the queued mails now (the service retries failures)."""
    from grader.service.mail import deliver_due

    mailed = sum(1 for sent in links if sent.mailed)
    line = f"{len(links)} invitation{'s' if len(links) != 1 else ''} written to {path}"
    if mailed:
        with open_db() as again:
            delivered, failed = deliver_due(again.sessions, again.config)
        line += f"; {delivered} mailed" + (f", {failed} to retry (the service keeps trying)" if failed else "")
    out.print(escape(line), soft_wrap=True)
    for sent in links:
        if sent.problem:
            err.print(f"[yellow]warning:[/yellow] {escape(sent.username)}: {escape(sent.problem)}", soft_wrap=True)
    if not db.config.base_url:
        err.print("[yellow]warning:[/yellow] the links use http://127.0.0.1:8000: set LOSSGRADER_BASE_URL to the "
                  "address students use", soft_wrap=True)  # fmt: skip


# --- regrade --------------------------------------------------------------------------


def _field(change: Any, *names: str) -> Any:
    for name in names:
        if hasattr(change, name):
            return getattr(change, name)
    return None


def _points(value: Any) -> str:
    return "—" if value is None else fmt_points(float(value))


def _describe(change: Any) -> str:
    """``ann attempt 2 (submission 41): 5 → 7.5/10`` (with the status when it changed)."""
    who = _field(change, "username") or f"user {_field(change, 'user_id')}"
    head = f"{who} attempt {_field(change, 'attempt')} (submission {_field(change, 'submission_id')})"
    maximum = _field(change, "max_score")
    scores = f"{_points(_field(change, 'old_score'))} → {_points(_field(change, 'new_score'))}"
    if maximum is not None:
        scores += f"/{_points(maximum)}"
    old_status, new_status = _field(change, "old_status"), _field(change, "new_status")
    if old_status != new_status:
        scores += f" ({old_status} → {new_status})"
    return f"{head}: {scores}"


def _optional_errors(*where: tuple[str, str]) -> tuple[type[BaseException], ...]:
    """Exception classes from modules that may not be installed."""
    found = (optional(module, name) for module, name in where)
    return tuple(cls for cls in found if isinstance(cls, type) and issubclass(cls, BaseException))


def _changed(change: Any) -> bool:
    flag = _field(change, "changed")
    if isinstance(flag, bool):
        return flag
    return _field(change, "old_score") != _field(change, "new_score")


@click.command("regrade")
@click.option("--lab", "lab_id", required=True, help="Lab id.")
@click.option("--student", default=None, help="Only this student (username or student id).")
@click.option("--course", "course_code", default=None, metavar="CODE", help="Only this course (default: every course).")
def regrade_command(lab_id: str, student: str | None, course_code: str | None = None) -> None:
    """Regrade a lab's submissions with its current definition; prints old → new scores."""
    regrade = optional("grader.service.submissions", "regrade")
    if regrade is None:
        raise UserError("regrading needs the submissions service (grader.service.submissions), not installed")
    with open_db() as db:
        _sync_labs_if_missing(db, lab_id)
        with db.session() as session:
            _lab(session, lab_id)
            username = _student(session, student).username if student else None
            scope = {"course_id": _course_lab(session, resolve_course(session, course_code), lab_id).course_id}
            scope = scope if course_code is not None else {}
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task(escape(f"regrading {lab_id}"), total=None)

            def progress(done: int, total: int | None = None, *_: Any, **__: Any) -> None:
                bar.update(task, completed=done, total=total)

            try:
                changes = list(
                    regrade(
                        db.services or db, lab_id, student=username, actor=actor_label(), progress=progress, **scope
                    )
                )
            except (LookupError, ValueError, *_optional_errors(("grader.service.runners", "GraderUnavailable"))) as exc:
                raise UserError(str(exc)) from None
    failed = [c for c in changes if _field(c, "error")]
    changed = [c for c in changes if _changed(c) and not _field(c, "error")]
    for change in changed:
        out.print(escape(_describe(change)), soft_wrap=True)
    for change in failed:
        who = _describe(change).split(":", 1)[0]
        err.print(
            f"[red]error:[/red] {escape(who)}: not regraded, old result kept: {escape(change.error)}", soft_wrap=True
        )
    noun = "submission" if len(changes) == 1 else "submissions"
    who = f" for {username}" if username else ""
    summary = f"regraded {len(changes) - len(failed)} of {len(changes)} {noun} of {lab_id}{who}: {len(changed)} changed"
    if failed:
        summary += f", {len(failed)} failed"
    out.print(escape(summary), soft_wrap=True)
    if failed:
        sys.exit(1)


# --- export ---------------------------------------------------------------------------


@click.group()
def export() -> None:
    """Export data."""


def _write_atomically(path: Path, write: Callable[[IO[str]], Any]) -> Any:
    """Write through a temporary file in the same folder, then rename: never a half-written file."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(f"no such folder: {folder}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise UserError(f"cannot write in {folder}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            result = write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return result


@export.command("grades")
@click.option(
    "--format", "fmt", type=Choice(("canvas", "long")), default="canvas", show_default=True, help="CSV layout."
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default: stdout)."
)
@course_option
def export_grades(fmt: str, output: Path | None, course_code: str | None = None) -> None:
    """Export a course's final scores as CSV: Canvas gradebook import, or one row per student and lab."""
    writer = export_canvas if fmt == "canvas" else export_long
    with open_db() as db, db.session() as session:
        course_id = resolve_course(session, course_code).id
        if output is None:
            writer(session, sys.stdout, course_id=course_id)
            sys.stdout.flush()
            return
        count = _write_atomically(output, lambda handle: writer(session, handle, course_id=course_id))
    noun = "students" if fmt == "canvas" else "rows"
    err.print(f"wrote {count} {noun} to {escape(str(output))}", soft_wrap=True)


# --- lab policy -----------------------------------------------------------------------


@lab_group.command("set")
@click.argument("lab_id")
@click.option("--due", type=Timestamp(clearable=True), default=None, help="Due date, ISO 8601 with timezone, or none.")
@click.option("--hard-deadline", type=Timestamp(clearable=True), default=None, help="No submissions after; or none.")
@click.option("--late-policy", type=Choice(LATE_POLICIES), default=None, help="How late work is scored.")
@click.option("--percent-per-day", type=Percent(), default=None, help="Percent taken off per day late.")
@click.option("--max-submissions", type=Count(1), default=None, help="Attempts allowed, or none.")
@click.option("--min-interval", type=Count(0), default=None, help="Seconds between attempts, or none.")
@click.option("--counting", type=Choice(COUNTING), default=None, help="Which attempt counts.")
@click.option(
    "--unloadable-counts",
    type=Choice(("yes", "no")),
    default=None,
    help="Whether a file that cannot be loaded uses an attempt and can be the counted score (default no).",
)
@course_option
def lab_set(lab_id: str, course_code: str | None = None, **options: Any) -> None:
    """Change a lab's due date and policies in a course; records old → new and recomputes scores."""
    attributes = {
        "due": "due_at",
        "hard_deadline": "hard_deadline_at",
        "late_policy": "late_policy",
        "percent_per_day": "late_percent_per_day",
        "max_submissions": "max_submissions",
        "min_interval": "min_interval_seconds",
        "counting": "counting",
        "unloadable_counts": "unloadable_counts",
    }
    if options["unloadable_counts"] is not None:
        options["unloadable_counts"] = options["unloadable_counts"] == "yes"
    wanted = {attributes[k]: (None if v == CLEAR else v) for k, v in options.items() if v is not None}
    if not wanted:
        raise UserError("nothing to set: give at least one option (see lossgrader lab set -h)")
    with _session_for_lab(lab_id) as session:
        course = resolve_course(session, course_code)
        found = _course_lab(session, course, lab_id)
        after = {key: wanted.get(key, getattr(found, key)) for key in attributes.values()}
        if after["due_at"] and after["hard_deadline_at"] and after["hard_deadline_at"] < after["due_at"]:
            raise UserError("the hard deadline is before the due date")
        if after["late_policy"] == "percent_per_day" and not after["late_percent_per_day"]:
            raise UserError("--late-policy percent_per_day needs --percent-per-day above 0")
        changed = {key: value for key, value in wanted.items() if getattr(found, key) != value}
        if not changed:
            out.print(f"{escape(lab_id)}: nothing changed", soft_wrap=True)
            return
        old = {key: _iso(getattr(found, key)) for key in changed}
        for key, value in changed.items():
            setattr(found, key, value)
        new = {key: _iso(value) for key, value in changed.items()}
        event = AuditEvent(actor_label=actor_label(), action="lab_policy", lab_id=lab_id, old=old, new=new)
        event.course_id = course.id
        session.add(event)
        session.flush()
        recomputed = _recompute(session, lab_id, course_id=course.id)  # same transaction: policy and scores agree
    for key in changed:
        out.print(escape(f"{lab_id}: {key}: {old[key]} → {new[key]}"), soft_wrap=True)
    _report_recompute(recomputed)


# --- extensions -----------------------------------------------------------------------


@click.group()
def extension() -> None:
    """Per-student due dates."""


@extension.command("grant")
@click.argument("student")
@click.argument("lab_id")
@click.option("--until", type=Timestamp(), required=True, help="The student's due date, ISO 8601 with timezone.")
@click.option("--reason", default="", help="Why (kept in the audit trail).")
@course_option
def extension_grant(student: str, lab_id: str, until: dt.datetime, reason: str, course_code: str | None = None) -> None:
    """Give STUDENT until --until for LAB in a course (replacing an earlier extension); recomputes their score."""
    from grader.service.courses import role_in

    with _session_for_lab(lab_id) as session:
        course = resolve_course(session, course_code)
        found = _course_lab(session, course, lab_id)
        person = _student(session, student)
        if role_in(session, course, person) != "student":
            raise UserError(f"{person.username} is not a student of {course.code}")
        mine = (Extension.course_id == course.id, Extension.user_id == person.id, Extension.lab_id == lab_id)
        existing = session.scalar(select(Extension).where(*mine))
        old = None if existing is None else {"due_at": _iso(existing.due_at), "reason": existing.reason}
        if existing is None:
            session.add(Extension(course_id=course.id, user_id=person.id, lab_id=lab_id, due_at=until, reason=reason))
        else:
            existing.due_at = until
            existing.reason = reason
        session.add(
            AuditEvent(
                actor_label=actor_label(),
                action="extension_grant",
                course_id=course.id,
                lab_id=lab_id,
                user_id=person.id,
                old=old,
                new={"due_at": _iso(until), "reason": reason},
                note=reason,
            )
        )
        session.flush()
        recomputed = _recompute(session, lab_id, person.id, course.id)
        username, due = person.username, found.due_at
    before = f" (was {old['due_at']})" if old else ""
    out.print(escape(f"{username}: {lab_id} due {until.isoformat()}{before}"), soft_wrap=True)
    if due is not None and until <= due:
        err.print(f"[yellow]note:[/yellow] that is not later than the lab's due date {due.isoformat()}", soft_wrap=True)
    _report_recompute(recomputed)


commands = [roster, regrade_command, export, extension, lab_group]
