"""Import a course roster from CSV: every row checked first, then all of it or none of it.

The first non-blank line is the header. Column names are case-insensitive; spaces and
hyphens count as underscores. Recognised columns (and their aliases):

===============  ==================================================================
``student_id``   required; also ``student_number``, ``student_no``, ``studentid``,
                 ``student_num``, ``matriculation_number``, ``matric``
``username``     default: the student id; also ``user``, ``user_name``, ``login``
``name``         also ``display_name``, ``full_name``, ``student_name``, ``student``
``email``        also ``e_mail``, ``email_address``, ``mail``
``sis_user_id``  also ``sis_id``
``sis_login_id`` also ``login_id``
``section``      also ``group``, ``sections``
===============  ==================================================================

Other columns are ignored (and named in the report). Blank lines and surrounding
whitespace are ignored; a UTF-8 byte-order mark is fine; files in other encodings are
refused with one line saying so.

Rows are matched to existing users by student id (then by username, for a student
added by hand without one): they are updated, or created as students. A blank cell
leaves the stored value alone, so importing a roster never erases data; students
missing from the file are not touched. Problems are reported per row ("row 7: ...",
counting lines of the file with the header as row 1); if there is any, nothing is
imported.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import AuditEvent, User
from grader.service.users import (
    MAX_DISPLAY_NAME,
    ROSTER_FIELDS,
    email_problem,
    username_problem,
)

ALIASES: dict[str, tuple[str, ...]] = {
    "student_id": (
        "student_id",
        "student_number",
        "student_no",
        "studentid",
        "student_num",
        "matriculation_number",
        "matric",
    ),
    "username": ("username", "user", "user_name", "login"),
    "name": ("name", "display_name", "full_name", "student_name", "student"),
    "email": ("email", "e_mail", "email_address", "mail"),
    "sis_user_id": ("sis_user_id", "sis_id"),
    "sis_login_id": ("sis_login_id", "login_id"),
    "section": ("section", "group", "sections"),
}
_COLUMN_FOR = {alias: column for column, aliases in ALIASES.items() for alias in aliases}
# roster column -> User attribute
_ATTRIBUTE = {
    "student_id": "student_number",
    "username": "username",
    "name": "display_name",
    "email": "email",
    "sis_user_id": "sis_user_id",
    "sis_login_id": "sis_login_id",
    "section": "section",
}
_LIMITS = {
    "student_id": ROSTER_FIELDS["student_number"],
    "name": MAX_DISPLAY_NAME,
    "sis_user_id": ROSTER_FIELDS["sis_user_id"],
    "sis_login_id": ROSTER_FIELDS["sis_login_id"],
    "section": ROSTER_FIELDS["section"],
}
MAX_ERRORS_SHOWN = 50


class RosterError(ValueError):
    """The file as a whole cannot be read as a roster (encoding, header, no rows)."""


@dataclass
class ImportReport:
    """What an import did, or the per-row problems that stopped it."""

    source: str = "<text>"
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    usernames: list[str] = field(default_factory=list)  # every student of the file, as stored (in file order)
    # username -> the file's section (non-blank cells only): their section in the course it is imported into
    sections: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the roster was imported."""
        return not self.errors

    def summary(self) -> str:
        """One line for people."""
        if self.errors:
            n = len(self.errors)
            return f"{self.source}: nothing imported: {n} problem{'s' if n != 1 else ''}"
        return (
            f"{self.source}: {self.rows} student{'s' if self.rows != 1 else ''}: "
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        )


@dataclass
class _Row:
    line: int
    values: dict[str, str]  # roster column -> stripped value ("" when blank)


def _read_text(path_or_text: str | Path | bytes) -> tuple[str, str]:
    """The roster's text and a name for it; Path/str without newline → file, else text."""
    if isinstance(path_or_text, bytes):
        return _decode(path_or_text, "<bytes>"), "<bytes>"
    if isinstance(path_or_text, str) and ("\n" in path_or_text or "\r" in path_or_text):
        return path_or_text.removeprefix("\ufeff"), "<text>"
    path = Path(path_or_text)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RosterError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _decode(data, path.name), path.name


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RosterError(f"{name} is UTF-16 text: save it as CSV UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RosterError(
            f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}): save it as CSV UTF-8"
        ) from None


def _normalise_header(cell: str) -> str:
    return "_".join(cell.strip().lower().replace("-", " ").replace("_", " ").split())


def _parse(text: str, report: ImportReport) -> tuple[list[str], list[_Row]]:
    """Header columns (roster names, None for ignored) and the non-blank rows."""
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        records: list[tuple[int, list[str]]] = []
        line = 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise RosterError(f"{report.source}: not valid CSV near line {reader.line_num}: {exc}") from None
    if not records:
        raise RosterError(f"{report.source} is empty: expected a header line with a student_id column")
    header_line, header = records[0]
    columns: list[str | None] = []
    seen: dict[str, str] = {}
    for raw in header:
        name = _normalise_header(raw)
        column = _COLUMN_FOR.get(name)
        if column is None:
            if raw.strip():
                report.ignored_columns.append(raw.strip())
            columns.append(None)
            continue
        if column in seen:
            raise RosterError(
                f"{report.source}: columns {seen[column]!r} and {raw.strip()!r} both give the {column} "
                f"(line {header_line})"
            )
        seen[column] = raw.strip()
        columns.append(column)
    if "student_id" not in seen:
        found = ", ".join(c.strip() for c in header if c.strip()) or "nothing"
        raise RosterError(f"{report.source}: the header has no student_id column (found: {found})")
    rows = []
    for line, cells in records[1:]:
        extra = [c for c in cells[len(columns) :] if c.strip()]
        if extra:
            report.errors.append(f"row {line}: {len(cells)} cells but the header has {len(columns)} columns")
            continue
        values = {col: (cells[i].strip() if i < len(cells) else "") for i, col in enumerate(columns) if col}
        rows.append(_Row(line, values))
    if not rows and not report.errors:
        raise RosterError(f"{report.source} has a header but no students")
    return [c for c in columns if c], rows


def _check_row(row: _Row, report: ImportReport) -> None:
    v = row.values
    where = f"row {row.line}"
    if not v.get("student_id"):
        report.errors.append(f"{where}: student_id is empty")
    for column, limit in _LIMITS.items():
        if len(v.get(column, "")) > limit:
            report.errors.append(f"{where}: {column} is longer than {limit} characters")
    username = v.get("username") or v.get("student_id", "")
    if username and (problem := username_problem(username)):
        source = "username" if v.get("username") else "student_id (used as the username)"
        report.errors.append(f"{where}: {source}: {problem}")
    if v.get("email") and (problem := email_problem(v["email"])):
        report.errors.append(f"{where}: {problem}")


def _repeats(rows: list[_Row], key: Any, label: str, report: ImportReport) -> set[str]:
    """Report values of ``key`` (compared ignoring case) on more than one row; return them."""
    where: dict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        value = key(row)
        if value:
            where[value.casefold()].append(row)
    repeated = set()
    for found in where.values():
        if len(found) > 1:
            lines = [row.line for row in found]
            times = "twice" if len(lines) == 2 else f"{len(lines)} times"
            listed = ", ".join(map(str, lines[:-1])) + f" and {lines[-1]}"
            value = key(found[0])
            repeated.add(value)
            report.errors.append(f"row {lines[-1]}: {label} {value} appears {times} (rows {listed})")
    return repeated


def _username(row: _Row) -> str:
    return row.values.get("username") or row.values.get("student_id", "")


def _row_number(message: str) -> int:
    try:
        return int(message.split(":", 1)[0].removeprefix("row "))
    except ValueError:
        return 0


def import_roster(session: Session, path_or_text: str | Path | bytes, actor: str = "cli") -> ImportReport:
    """Check every row of the roster, then create/update its students in the session's transaction.

    Returns a report; when ``report.errors`` is not empty nothing was changed. Raises
    :class:`RosterError` when the file as a whole is unusable. The caller commits.
    """
    text, source = _read_text(path_or_text)
    report = ImportReport(source=source)
    columns, rows = _parse(text, report)
    report.rows = len(rows)
    for row in rows:
        _check_row(row, report)
    numbers = _repeats(rows, lambda r: r.values.get("student_id"), "student_id", report)
    # A username that is a repeated student id (no username column) is the same problem: report it once.
    _repeats(
        rows,
        lambda r: "" if not r.values.get("username") and _username(r) in numbers else _username(r),
        "username",
        report,
    )
    if report.errors:
        report.errors.sort(key=_row_number)
        return report

    users = session.scalars(select(User)).all()
    by_number = {u.student_number: u for u in users if u.student_number}
    by_username = {u.username.lower(): u for u in users}
    plan: list[tuple[_Row, User | None]] = []
    for row in rows:
        number = row.values["student_id"]
        username = row.values.get("username") or None
        user = by_number.get(number)
        if user is None:
            candidate = by_username.get((username or number).lower())
            if candidate is not None:
                if candidate.role != "student":
                    report.errors.append(
                        f"row {row.line}: username {candidate.username} belongs to an {candidate.role}, not a student"
                    )
                    continue
                if candidate.student_number:
                    report.errors.append(
                        f"row {row.line}: username {candidate.username} already belongs to student "
                        f"{candidate.student_number}"
                    )
                    continue
                user = candidate  # added by hand; now linked to the roster
        elif username and username.lower() != user.username.lower():
            other = by_username.get(username.lower())
            if other is not None and other is not user:
                report.errors.append(f"row {row.line}: username {username} is already used by another user")
                continue
        plan.append((row, user))
    if report.errors:
        return report

    old_values: dict[str, dict[str, Any]] = {}
    new_values: dict[str, dict[str, Any]] = {}
    for row, user in plan:
        values = {_ATTRIBUTE[c]: row.values[c] for c in columns if row.values.get(c)}
        number = row.values["student_id"]
        username = values.get("username") or (number if user is None else user.username)
        report.usernames.append(username)
        if row.values.get("section"):
            report.sections[username] = row.values["section"]
        if user is None:
            values.setdefault("username", number)
            session.add(User(role="student", active=True, **values))
            report.created += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(user, k) != v}
        if not user.active:
            changed["active"] = True
        if not changed:
            report.unchanged += 1
            continue
        old_values[number] = {k: getattr(user, k) for k in changed}
        new_values[number] = changed
        for key, value in changed.items():
            setattr(user, key, value)
        report.updated += 1
    session.add(
        AuditEvent(
            actor_label=actor,
            action="roster_import",
            old={"students": old_values},
            new={
                "students": new_values,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
            },
            note=f"roster {source}: {report.rows} rows",
        )
    )
    session.flush()
    return report
