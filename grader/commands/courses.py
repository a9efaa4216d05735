"""``lossgrader course``: create, edit, list and copy courses, put labs of the library into them, enrol people.

The other course commands (roster import, lab set, extension grant, regrade, export) take
``--course CODE``; without it they use the service's only course, and say so when there
are several. Bad input is one ``error: ...`` line with exit status 2.
"""

from __future__ import annotations

import datetime as dt

import click
from rich.markup import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.cli import UserError, out
from grader.db.models import COURSE_ROLES, AuditEvent, Course, Enrolment
from grader.service import courses as service
from grader.service.users import find_user

from .users import Choice, actor_label, open_db

COURSE_OPTION_HELP = "Course code (default: the only course; see `lossgrader course list`)."


def course_option(function: click.decorators.FC) -> click.decorators.FC:
    """The ``--course CODE`` option shared by the per-course commands."""
    return click.option("--course", "course_code", default=None, metavar="CODE", help=COURSE_OPTION_HELP)(function)


def resolve_course(session: Session, code: str | None) -> Course:
    """The course named ``code``, or the only course when ``code`` is None; :class:`UserError` otherwise."""
    if code is not None:
        try:
            return service.get_course(session, code)
        except service.CourseError as exc:
            raise UserError(str(exc)) from None
    only = service.only_course(session)
    if only is not None:
        return only
    count = session.scalar(select(func.count()).select_from(Course))
    if not count:
        raise UserError("there is no course yet: create one with `lossgrader course create CODE --title ...`")
    raise UserError("there are several courses: name one with --course CODE (see `lossgrader course list`)")


def _audit(
    session: Session,
    course: Course,
    action: str,
    new: dict[str, object],
    note: str = "",
    old: dict[str, object] | None = None,
) -> None:
    session.add(AuditEvent(actor_label=actor_label(), action=action, course_id=course.id, old=old, new=new, note=note))


@click.group()
def course() -> None:
    """Courses: create, edit, list, add labs, copy to a new term, enrol."""


@course.command("create")
@click.argument("code")
@click.option("--title", required=True, help="The course's title, as students see it.")
@click.option("--term", default="", help="The term, e.g. '2027 spring'.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone of its pages and due dates.")
def course_create(code: str, title: str, term: str, timezone: str) -> None:
    """Create course CODE (no labs or students yet: see course add-lab and roster import --course)."""
    with open_db() as db, db.session() as session:
        try:
            created = service.create_course(session, code, title, term, timezone)
        except service.CourseError as exc:
            raise UserError(str(exc)) from None
        _audit(session, created, "course_create", {"code": created.code, "title": created.title, "term": created.term})
        line = f"created course {created.code}: {created.title} ({created.term or 'no term'}, {created.timezone})"
    out.print(escape(line), soft_wrap=True)


@course.command("edit")
@click.argument("code")
@click.option("--title", default=None, help="The new title, as students see it.")
@click.option("--term", default=None, help="The new term, e.g. '2027 spring'.")
@click.option("--timezone", default=None, help="The new IANA time zone of its pages and due dates.")
def course_edit(code: str, title: str | None, term: str | None, timezone: str | None) -> None:
    """Change course CODE's title, term or time zone; prints old → new (stored due dates stay the same instants)."""
    if title is None and term is None and timezone is None:
        raise UserError("nothing to change: give --title, --term or --timezone (see lossgrader course edit -h)")
    with open_db() as db, db.session() as session:
        found = resolve_course(session, code)
        try:
            changed = service.update_course(session, found, title=title, term=term, timezone=timezone)
        except service.CourseError as exc:
            raise UserError(str(exc)) from None
        if changed:
            old = {key: before for key, (before, _after) in changed.items()}
            _audit(session, found, "course_edit", {key: after for key, (_before, after) in changed.items()}, old=old)
        code = found.code
    if not changed:
        out.print(f"{escape(code)}: nothing changed", soft_wrap=True)
    for key, (before, after) in changed.items():
        out.print(escape(f"{code}: {key}: {before!r} → {after!r}"), soft_wrap=True)


@course.command("list")
def course_list() -> None:
    """List the courses: code, term, time zone, labs, students, title."""
    with open_db() as db, db.session() as session:
        rows = []
        for found in service.list_courses(session):
            labs = len(service.course_lab_ids(session, found.id))
            students = len(service.student_ids(session, found.id))
            rows.append(
                f"{found.code}  {found.term or '-'}  {found.timezone}  {labs} labs  {students} students  {found.title}"
            )
    if not rows:
        out.print("no courses yet: lossgrader course create CODE --title ...", soft_wrap=True)
    for row in rows:
        out.print(escape(row), soft_wrap=True)


@course.command("add-lab")
@click.argument("code")
@click.argument("lab_id")
@click.option("--due", default=None, help="Due date, ISO 8601 with timezone (more settings: lossgrader lab set).")
def course_add_lab(code: str, lab_id: str, due: str | None) -> None:
    """Put LAB_ID of the lab library into course CODE (optionally with its due date)."""
    from .course import Timestamp, _sync_labs_if_missing

    due_at = Timestamp().convert(due, None, None) if due is not None else None
    with open_db() as db:
        _sync_labs_if_missing(db, lab_id)
        with db.session() as session:
            found = resolve_course(session, code)
            try:
                service.add_lab(session, found, lab_id, due_at=due_at)
            except service.CourseError as exc:
                raise UserError(str(exc)) from None
            _audit(session, found, "course_add_lab", {"lab_id": lab_id, "due_at": _iso(due_at)})
    out.print(escape(f"{code}: added {lab_id}" + (f", due {due_at.isoformat()}" if due_at else "")), soft_wrap=True)


@course.command("copy")
@click.argument("code")
@click.argument("new_code")
@click.option("--term", required=True, help="The new course's term.")
@click.option("--title", default=None, help="The new course's title (default: the same).")
def course_copy(code: str, new_code: str, term: str, title: str | None) -> None:
    """Copy course CODE to NEW_CODE for another term: labs and policies, no enrolments or submissions."""
    with open_db() as db, db.session() as session:
        source = resolve_course(session, code)
        try:
            copy = service.copy_course(session, source, new_code, term, title)
        except service.CourseError as exc:
            raise UserError(str(exc)) from None
        labs = len(service.course_lab_ids(session, copy.id))
        _audit(session, copy, "course_copy", {"from": source.code, "term": term})
    out.print(escape(f"copied {code} to {new_code} ({term}): {labs} labs; move due dates with lossgrader lab set"))


@course.command("enrol")
@click.argument("code")
@click.argument("user")
@click.option("--role", type=Choice(COURSE_ROLES), default="student", show_default=True, help="Role in the course.")
@click.option("--section", default=None, help="Section in the course.")
def course_enrol(code: str, user: str, role: str, section: str | None) -> None:
    """Enrol USER (username or student id) in course CODE with a role (grader: a TA)."""
    with open_db() as db, db.session() as session:
        found = resolve_course(session, code)
        person = find_user(session, user)
        if person is None:
            raise UserError(f"no user {user!r}")
        before = session.get(Enrolment, (found.id, person.id))
        old_role = before.role if before is not None else None
        service.enrol(session, found, person, role, section)
        _audit(session, found, "enrol", {"user": person.username, "role": role, "was": old_role})
        username = person.username
    out.print(escape(f"{code}: {username} is {'a' if role != 'instructor' else 'an'} {role}"), soft_wrap=True)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


commands = [course]
