"""What a class gets wrong, and whether the feedback fixes it: per lab, from ``submission_causes``.

Every graded result's causes are stored as rows (:data:`INSERT_CAUSES`, written with the
fixture results; a result with none has one row with the key ``""``), so a lab's
misconceptions are a few aggregate queries on one narrow, indexed table, never a regrade
nor a parse of every result's JSON:

* :func:`misconceptions` — each cause with the number and share of students whose counted
  submission shows it (``scope="all"``: any graded attempt), the fixtures it trips, the
  students, and how many of those who showed it at an attempt no longer did at their next
  one; plus how many students show the commonest causes at each attempt number;
* :func:`fixture_stats` — per fixture, how many counted submissions pass it, its most
  common cause and the students who fail it.

"The next attempt" is the student's next graded attempt that could be loaded: a file that
did not load says nothing about a mistake (the ``load`` cause itself is judged by the next
graded attempt of any kind). Results stored before causes were recorded have no rows and
are left out until they are regraded.
"""

from __future__ import annotations

import csv
import functools
import heapq
import json
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Float,
    Integer,
    String,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from grader.db.models import FixtureResult, Lab, Score, Submission, SubmissionCause, User
from grader.service.gradebook import _utc

SCOPES = ("counted", "all")
#: Causes followed over the attempt numbers (the commonest ones).
TREND_CAUSES = 5
#: Attempt numbers followed at most.
TREND_ATTEMPTS = 30
LOAD_KEY = "load"
NO_CAUSE = ""  # the key of the row that stands for a result with nothing wrong
MAX_KEY = 255
_EXCEPTION_LINE = re.compile(r"^(exception:[^:]*:[^:]*):-?\d+$")


# --- storing ---------------------------------------------------------------------------------


def insight_key(key: str, kind: str) -> str:
    """The key a cause is counted under: its own, except that an exception's line is dropped
    (students raising ``IndexError`` in one function make one misconception, whatever their line)."""
    if kind == "exception":
        key = _EXCEPTION_LINE.sub(r"\1", key)
    return key[:MAX_KEY]


def cause_rows(submission_id: int, causes: Iterable[Any]) -> list[dict[str, Any]]:
    """Parameters of :data:`INSERT_CAUSES` for a result's causes (``Cause`` objects or their
    dicts): one per insight key (an exception on two lines is one), or the no-cause row."""
    rows: dict[str, dict[str, Any]] = {}
    for cause in causes:
        data = cause if isinstance(cause, dict) else cause.to_dict()
        kind = str(data["kind"])
        key = insight_key(str(data["key"]), kind)
        lost = float(data.get("points_lost") or 0.0)
        fixtures = [str(name) for name in data.get("fixtures") or []]
        row = rows.get(key)
        if row is None:
            rows[key] = {
                "b_submission": submission_id,
                "b_key": key,
                "b_kind": kind[:20],
                "b_mistake": data.get("mistake"),
                "b_points_lost": lost,
                "b_fixtures": fixtures,
            }
        else:
            row["b_points_lost"] += lost
            row["b_fixtures"] = row["b_fixtures"] + [name for name in fixtures if name not in row["b_fixtures"]]
    if not rows:
        return [
            {
                "b_submission": submission_id,
                "b_key": NO_CAUSE,
                "b_kind": "none",
                "b_mistake": None,
                "b_points_lost": 0.0,
                "b_fixtures": [],
            }
        ]
    return list(rows.values())


_C = SubmissionCause.__table__.c
_S = Submission.__table__.c
DELETE_CAUSES = delete(SubmissionCause.__table__).where(_C.submission_id == bindparam("b_submission"))
#: Run with :func:`cause_rows` (an executemany): the student, lab, attempt and time come from
#: the submission's row in the same statement.
INSERT_CAUSES = insert(SubmissionCause.__table__).from_select(
    [
        "submission_id",
        "course_id",
        "lab_id",
        "user_id",
        "attempt",
        "submitted_at",
        "key",
        "kind",
        "mistake",
        "points_lost",
        "fixtures",
    ],
    select(
        _S.id,
        _S.course_id,
        _S.lab_id,
        _S.user_id,
        _S.attempt,
        _S.submitted_at,
        bindparam("b_key", type_=String()),
        bindparam("b_kind", type_=String()),
        bindparam("b_mistake", type_=String()),
        bindparam("b_points_lost", type_=Float()),
        bindparam("b_fixtures", type_=JSON()),
    ).where(_S.id == bindparam("b_submission")),
)


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentAttempt:
    """A student and the attempt that shows something (a link to it)."""

    user_id: int
    username: str
    name: str
    submission_id: int
    attempt: int


@dataclass
class NextAttempt:
    """Feedback effectiveness of one cause: of the ``students`` who showed it at an attempt
    followed by another (their first such attempt), ``fixed`` no longer showed it at the next."""

    students: int = 0
    fixed: int = 0
    median_seconds: float | None = None  # between the two attempts, for those who fixed it

    @property
    def share(self) -> float | None:
        """``fixed / students``; None when no student had a next attempt."""
        return self.fixed / self.students if self.students else None

    def to_dict(self) -> dict[str, Any]:
        """As the API gives it."""
        return {
            "students": self.students,
            "fixed": self.fixed,
            "share": self.share,
            "median_seconds": self.median_seconds,
        }


@dataclass
class CauseSummary:
    """One cause across the class."""

    key: str
    kind: str
    mistake: str | None
    message: str
    students: int
    share: float
    fixtures: list[str]
    fixed_next_attempt: NextAttempt
    attempts: list[StudentAttempt] = field(default_factory=list)  # one per student, by name

    def to_dict(self) -> dict[str, Any]:
        """As the API gives it (without the students)."""
        return {
            "key": self.key,
            "kind": self.kind,
            "mistake": self.mistake,
            "message": self.message,
            "students": self.students,
            "share": self.share,
            "fixtures": self.fixtures,
            "fixed_next_attempt": self.fixed_next_attempt.to_dict(),
        }


@dataclass
class TrendPoint:
    """One attempt number: the students with a graded attempt of that number, and how many
    of them show each followed cause there."""

    attempt: int
    students: int
    counts: dict[str, int]

    def share(self, key: str) -> float:
        """The share of this attempt's students showing ``key``."""
        return self.counts.get(key, 0) / self.students if self.students else 0.0


@dataclass
class Misconceptions:
    """A lab's causes across the class, commonest first."""

    lab_id: str
    lab_title: str
    scope: str
    students: int  # with a counted submission (``counted``) or a graded attempt (``all``)
    causes: list[CauseSummary]
    trend_keys: list[str]  # the causes followed over the attempts: most students at any attempt first
    trend: list[TrendPoint]

    def to_dict(self) -> dict[str, Any]:
        """As the API gives it."""
        return {
            "lab": self.lab_id,
            "title": self.lab_title,
            "scope": self.scope,
            "students": self.students,
            "causes": [cause.to_dict() for cause in self.causes],
            "by_attempt": [
                {
                    "attempt": p.attempt,
                    "students": p.students,
                    "causes": {k: p.counts.get(k, 0) for k in self.trend_keys},
                }
                for p in self.trend
            ],
        }


@dataclass
class TopCause:
    """The commonest cause of failing one fixture."""

    key: str
    kind: str
    mistake: str | None
    message: str
    students: int

    def to_dict(self) -> dict[str, Any]:
        """As the API gives it."""
        return {
            "key": self.key,
            "kind": self.kind,
            "mistake": self.mistake,
            "message": self.message,
            "students": self.students,
        }


@dataclass
class FixtureStat:
    """One fixture over the counted submissions."""

    name: str
    category: str
    visibility: str
    passed: int
    total: int
    top_cause: TopCause | None
    failing: list[StudentAttempt] = field(default_factory=list)  # by name (those whose failure has a cause)

    @property
    def failed(self) -> int:
        """Counted submissions that fail it."""
        return self.total - self.passed

    @property
    def rate(self) -> float:
        """The share that passes."""
        return self.passed / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        """As the API gives it."""
        return {
            "name": self.name,
            "category": self.category,
            "visibility": self.visibility,
            "passed": self.passed,
            "failed": self.failed,
            "total": self.total,
            "pass_rate": self.rate,
            "top_cause": self.top_cause.to_dict() if self.top_cause else None,
        }


@dataclass
class FixtureStats:
    """A lab's fixtures, in the lab's order."""

    lab_id: str
    lab_title: str
    students: int
    fixtures: list[FixtureStat]

    def to_dict(self) -> dict[str, Any]:
        """As the API gives it."""
        return {
            "lab": self.lab_id,
            "title": self.lab_title,
            "students": self.students,
            "fixtures": [f.to_dict() for f in self.fixtures],
        }


# --- queries ---------------------------------------------------------------------------------------

_LAB = bindparam("b_lab")
_COURSE = bindparam("b_course")


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _among(column: Any, postgres: bool) -> Any:
    """``column`` is one of the ids ``b_ids``: ``= ANY(array)`` on PostgreSQL (a single parameter,
    where thousands of bound values cost more to compile than to run), an expanded IN on SQLite."""
    if postgres:
        return column == any_(bindparam("b_ids", type_=ARRAY(Integer)))
    return column.in_(bindparam("b_ids", expanding=True))


@functools.cache
def _lab_rows(postgres: bool, in_course: bool = False) -> Any:
    """Every graded attempt of the lab (in the course ``b_course``, if ``in_course``) with its
    causes, per student in order: one scan of a covering index (times as seconds since the
    epoch on PostgreSQL, stored text on SQLite: cheap)."""
    at = func.date_part("epoch", _C.submitted_at) if postgres else type_coerce(_C.submitted_at, NullType())
    query = select(_C.user_id, _C.attempt, _C.key, at, _C.submission_id).where(_C.lab_id == _LAB)
    if in_course:
        query = query.where(_C.course_id == _COURSE)
    return query.order_by(_C.user_id, _C.attempt)


@functools.cache
def _fixtures_of_attempts(postgres: bool) -> Any:
    return select(_C.submission_id, _C.key, cast(_C.fixtures, Text)).where(_among(_C.submission_id, postgres))


@functools.cache
def _causes_of(postgres: bool) -> Any:
    return select(_S.id, _S.causes).where(_among(_S.id, postgres))


@functools.cache
def _names_of(postgres: bool) -> Any:
    return select(User.id, User.username, User.display_name).where(_among(User.id, postgres))


#: The counted submission's rows of each student (the no-cause row included), with their fixtures.
_COUNTED_ROWS = (
    select(_C.key, _C.user_id, _C.submission_id, _C.attempt, cast(_C.fixtures, Text))
    .join(Score, Score.submission_id == _C.submission_id)
    .where(Score.lab_id == _LAB)
)
_COUNTED_ROWS_IN_COURSE = _COUNTED_ROWS.where(Score.course_id == _COURSE)
_FIXTURES_OF = (
    select(FixtureResult.name, FixtureResult.category, FixtureResult.visibility)
    .where(FixtureResult.submission_id == bindparam("b_submission"))
    .order_by(FixtureResult.position)
)


def _lab(session: Session, lab_id: str) -> Lab:
    lab = session.get(Lab, lab_id)
    if lab is None:
        raise LookupError(f"no lab {lab_id!r}")
    return lab


#: A graded attempt: (submission id, attempt number, time as fetched, its cause keys).
_Attempt = tuple[int, int, Any, "set[str] | frozenset[str]"]
_NOTHING: frozenset[str] = frozenset()


class _LabAttempts:
    """Every graded attempt of a lab (that has its causes recorded), per student in order,
    summed up in one pass: who ever showed each cause, the causes per attempt number, and
    feedback effectiveness (see :class:`NextAttempt`)."""

    def __init__(self, session: Session, lab_id: str, course_id: int | None = None) -> None:
        query = _lab_rows(_postgres(session), course_id is not None)
        rows = session.connection().execute(query, {"b_lab": lab_id, "b_course": course_id}).all()
        self.by_user: dict[int, list[_Attempt]] = {}
        current = None
        keys: set[str] = set()
        for uid, number, key, at, sid in rows:  # in order of student, attempt (and key: "" first)
            if sid != current:
                current = sid
                keys = set() if key else _NOTHING  # type: ignore[assignment]  # most attempts have one row
                self.by_user.setdefault(uid, []).append((sid, number, at, keys))
            if key:
                if keys is _NOTHING:
                    keys = set()
                    attempts = self.by_user[uid]
                    attempts[-1] = (sid, number, at, keys)
                keys.add(key)
        self.ever: Counter[str] = Counter()  # students who showed it at any attempt
        self.per_number: dict[int, Counter[str]] = defaultdict(Counter)  # causes at each attempt number
        self.students_at: Counter[int] = Counter()  # students with an attempt of each number
        students: Counter[str] = Counter()
        waits: dict[str, list[float]] = defaultdict(list)
        for attempts in self.by_user.values():
            shown: set[str] = set()
            judged: set[str] = set()
            loadable_after: _Attempt | None = None  # the next attempt that could be loaded, walking back
            following: list[_Attempt | None] = [None] * len(attempts)
            for index in range(len(attempts) - 1, -1, -1):
                following[index] = loadable_after
                if LOAD_KEY not in attempts[index][3]:
                    loadable_after = attempts[index]
            for index, (_, number, at, found) in enumerate(attempts):
                if number <= TREND_ATTEMPTS:
                    self.students_at[number] += 1
                    if found:
                        self.per_number[number].update(found)
                if not found:
                    continue
                shown |= found
                for key in found - judged:
                    if key == LOAD_KEY:
                        after = attempts[index + 1] if index + 1 < len(attempts) else None
                    else:
                        after = following[index]
                    if after is None:
                        continue  # nothing after it to judge by: a later attempt showing it may be
                    judged.add(key)
                    students[key] += 1
                    if key not in after[3]:
                        waits[key].append((_utc(after[2]) - _utc(at)).total_seconds())  # type: ignore[operator]
            self.ever.update(shown)
        self.fixes = {
            key: NextAttempt(count, len(waits[key]), statistics.median(waits[key]) if waits[key] else None)
            for key, count in students.items()
        }

    def trend(self, keys: Sequence[str]) -> list[TrendPoint]:
        """Per attempt number (up to :data:`TREND_ATTEMPTS`): students, and how many show each key."""
        return [
            TrendPoint(n, self.students_at[n], {k: self.per_number[n][k] for k in keys if self.per_number[n][k]})
            for n in sorted(self.students_at)
        ]

    def latest_showing(self) -> dict[str, dict[int, tuple[int, int]]]:
        """Per key: each student who ever showed it, and their latest attempt that does."""
        found: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
        for uid, attempts in self.by_user.items():
            for sid, number, _, keys in attempts:  # in order: a later one replaces
                for key in keys:
                    found[key][uid] = (sid, number)
        return found


def _cause_meta(session: Session, representative: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Kind, catalogue id and message of each key, from one stored result that shows it."""
    meta: dict[str, dict[str, Any]] = {}
    if not representative:
        return meta
    ids = sorted(set(representative.values()))
    stored = dict(session.connection().execute(_causes_of(_postgres(session)), {"b_ids": ids}).all())
    for key, sid in representative.items():
        for cause in stored.get(sid) or []:
            if insight_key(str(cause.get("key")), str(cause.get("kind"))) != key:
                continue
            message = str(cause.get("message") or "")
            if cause.get("key") != key:  # an exception on several lines: said without any one student's line
                function, error = key.split(":")[1:3]
                message = f"`{function}` raised `{error}`."
            meta[key] = {"kind": cause.get("kind"), "mistake": cause.get("mistake"), "message": message}
            break
        else:  # the stored JSON no longer has it (edited by hand): the key says what it is
            meta[key] = {"kind": key.split(":", 1)[0], "mistake": None, "message": f"`{key}`"}
    return meta


def student_names(session: Session, user_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """``{user_id: (username, display name or username)}``."""
    wanted = sorted(set(user_ids))
    names: dict[int, tuple[str, str]] = {}
    query = _names_of(_postgres(session))
    for start in range(0, len(wanted), 5000):  # well under SQLite's bound-parameter limit
        for uid, username, display in session.connection().execute(query, {"b_ids": wanted[start : start + 5000]}):
            names[uid] = (username, display or username)
    return names


def _fixtures_shown(session: Session, picks: dict[str, dict[int, tuple[int, int]]]) -> dict[str, set[str]]:
    """Per key, the fixtures it trips in the picked attempts (``{student: (submission, attempt)}``)."""
    wanted = {(sid, key) for key, chosen in picks.items() for sid, _ in chosen.values()}
    ids = sorted({sid for sid, _ in wanted})
    fixtures: dict[str, set[str]] = defaultdict(set)
    query = _fixtures_of_attempts(_postgres(session))
    for start in range(0, len(ids), 5000):  # well under SQLite's bound-parameter limit
        rows = session.connection().execute(query, {"b_ids": ids[start : start + 5000]}).all()
        for sid, key, names in rows:
            if (sid, key) in wanted:
                fixtures[key].update(json.loads(names))
    return fixtures


class _Names:
    """Students' names, and their order by name (computed once for every list of links)."""

    def __init__(self, session: Session, user_ids: Iterable[int]) -> None:
        self.names = student_names(session, user_ids)
        ordered = sorted(self.names, key=lambda uid: (self.names[uid][1].casefold(), uid))
        self.rank = {uid: place for place, uid in enumerate(ordered)}

    def links(self, chosen: dict[int, tuple[int, int]], limit: int | None) -> list[StudentAttempt]:
        """``{user: (submission, attempt)}`` as links to those attempts, by name, ``limit`` at most."""
        if limit == 0:
            return []
        last = len(self.rank)
        key = lambda uid: (self.rank.get(uid, last), uid)  # noqa: E731 - a sort key
        picked = sorted(chosen, key=key) if limit is None else heapq.nsmallest(limit, chosen, key=key)
        return [StudentAttempt(uid, *self.names.get(uid, (str(uid), str(uid))), *chosen[uid]) for uid in picked]


class CountedRows:
    """The counted submissions' rows of a lab, read once for :func:`misconceptions` and
    :func:`fixture_stats` (pass ``counted=`` to both when a page shows both); of one course if ``course_id``."""

    def __init__(self, session: Session, lab_id: str, course_id: int | None = None) -> None:
        users: set[int] = set()
        self.by_key: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)  # key → {student: (submission, attempt)}
        self.fixtures: dict[str, set[str]] = defaultdict(set)  # key → the fixtures it explains
        self.failing: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)  # fixture → {student: ...}
        self.by_fixture: dict[str, Counter[str]] = defaultdict(Counter)  # fixture → causes
        self.representative: dict[str, int] = {}  # key → a submission showing it
        self.latest: int | None = None  # a counted submission, for the lab's fixture list
        for key, uid, sid, attempt, names in (
            session.connection()
            .execute(
                _COUNTED_ROWS if course_id is None else _COUNTED_ROWS_IN_COURSE,
                {"b_lab": lab_id, "b_course": course_id},
            )
            .all()
        ):
            users.add(uid)
            self.latest = max(sid, self.latest or 0)
            if key == NO_CAUSE:
                continue
            self.by_key[key][uid] = (sid, attempt)
            self.representative[key] = sid
            for name in json.loads(names):
                self.fixtures[key].add(name)
                self.failing[name][uid] = (sid, attempt)
                self.by_fixture[name][key] += 1
        self.students = len(users)


def _fixture_list(session: Session, submission_id: int | None) -> list[tuple[str, str, str]]:
    """The lab's fixtures (name, category, visibility) in order, as one graded attempt stored them."""
    if submission_id is None:
        return []
    return [tuple(row) for row in session.connection().execute(_FIXTURES_OF, {"b_submission": submission_id})]


def misconceptions(
    session: Session,
    lab_id: str,
    scope: str = "counted",
    links: int | None = 20,
    counted: CountedRows | None = None,
    course_id: int | None = None,
) -> Misconceptions:
    """The lab's causes, commonest first: students and share in ``scope`` (``counted``
    submissions, or ``all`` graded attempts), the fixtures it trips (in the counted
    submissions, or in each student's latest attempt that shows it), feedback
    effectiveness, up to ``links`` students' attempts each (None: all; linked: the counted
    or the latest attempt showing it), and counts per attempt number. ``course_id``: that
    course's submissions only (None: every course's).
    LookupError for an unknown lab, ValueError for an unknown scope."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    lab = _lab(session, lab_id)
    attempts = _LabAttempts(session, lab_id, course_id)
    if scope == "counted":
        rows = counted or CountedRows(session, lab_id, course_id)
        students, by_key, fixtures, representative = rows.students, rows.by_key, rows.fixtures, rows.representative
        latest = rows.latest
    else:
        students = len(attempts.by_user)
        by_key = attempts.latest_showing()
        representative = {key: max(sid for sid, _ in chosen.values()) for key, chosen in by_key.items()}
        fixtures = _fixtures_shown(session, by_key)
        latest = max(representative.values(), default=None)
    order = sorted(by_key, key=lambda key: (-len(by_key[key]), key))
    fixes = attempts.fixes
    meta = _cause_meta(session, representative)
    names = _Names(session, {uid for chosen in by_key.values() for uid in chosen} if links != 0 else ())
    place = {name: i for i, (name, _, _) in enumerate(_fixture_list(session, latest))}
    causes = [
        CauseSummary(
            key=key,
            kind=meta[key]["kind"],
            mistake=meta[key]["mistake"],
            message=meta[key]["message"],
            students=len(by_key[key]),
            share=len(by_key[key]) / students if students else 0.0,
            fixtures=sorted(fixtures.get(key, ()), key=lambda name: (place.get(name, 1 << 30), name)),
            fixed_next_attempt=fixes.get(key, NextAttempt()),
            attempts=names.links(by_key[key], links),
        )
        for key in order
    ]
    # followed over the attempts: the causes most students ever showed (those fixed early too)
    ever = attempts.ever
    trend_keys = sorted(ever, key=lambda key: (-ever[key], key))[:TREND_CAUSES]
    return Misconceptions(lab.id, lab.title, scope, students, causes, trend_keys, attempts.trend(trend_keys))


def fixture_stats(
    session: Session,
    lab_id: str,
    links: int | None = 20,
    counted: CountedRows | None = None,
    course_id: int | None = None,
) -> FixtureStats:
    """Per fixture of the lab (its order): how many of the counted submissions pass it, the
    commonest cause of failing it (and how many students), and up to ``links`` failing
    students (None: all).

    Every failed fixture of a result belongs to exactly one of its causes, so the counts come
    from the causes' rows; the fixture list is that of a counted submission's results.
    """
    lab = _lab(session, lab_id)
    rows = counted or CountedRows(session, lab_id, course_id)
    listed = _fixture_list(session, rows.latest)
    known = {name for name, _, _ in listed}
    listed += [(name, "", "") for name in sorted(rows.failing) if name not in known]  # from another lab version
    tops = {name: keys.most_common(1)[0] for name, keys in rows.by_fixture.items()}
    meta = _cause_meta(session, {key: rows.representative[key] for key, _ in tops.values()})
    names = _Names(session, {uid for chosen in rows.failing.values() for uid in chosen} if links != 0 else ())
    stats = []
    for name, category, visibility in listed:
        top = None
        if name in tops:
            key, count = tops[name]
            top = TopCause(key, meta[key]["kind"], meta[key]["mistake"], meta[key]["message"], count)
        failing = rows.failing.get(name, {})
        passed = rows.students - len(failing)
        stats.append(FixtureStat(name, category, visibility, passed, rows.students, top, names.links(failing, links)))
    return FixtureStats(lab.id, lab.title, rows.students, stats)


# --- CSV ---------------------------------------------------------------------------------------

MISCONCEPTIONS_HEADER = [
    "lab",
    "scope",
    "key",
    "kind",
    "mistake",
    "students",
    "of_students",
    "share",
    "fixtures",
    "next_attempt_students",
    "fixed_next_attempt",
    "median_minutes_to_fix",
    "message",
    "usernames",
]
FIXTURES_HEADER = [
    "lab",
    "fixture",
    "category",
    "visibility",
    "passed",
    "failed",
    "total",
    "pass_rate",
    "top_cause_key",
    "top_cause_kind",
    "top_cause_mistake",
    "top_cause_students",
    "top_cause_message",
    "failing_usernames",
]


def _text_cell(value: str | None) -> str:
    """Text as a spreadsheet shows it, never as a formula (a message may quote a student's text)."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _number(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}".rstrip("0").rstrip(".")


def write_misconceptions_csv(found: Misconceptions, out: IO[str]) -> int:
    """One row per cause (from :func:`misconceptions` with ``links=None``); returns the rows written."""
    writer = csv.writer(out)
    writer.writerow(MISCONCEPTIONS_HEADER)
    for cause in found.causes:
        fixed = cause.fixed_next_attempt
        minutes = None if fixed.median_seconds is None else fixed.median_seconds / 60
        writer.writerow(
            [
                found.lab_id,
                found.scope,
                cause.key,
                cause.kind,
                cause.mistake or "",
                cause.students,
                found.students,
                _number(cause.share),
                " ".join(cause.fixtures),
                fixed.students,
                fixed.fixed,
                _number(minutes, 1),
                _text_cell(cause.message),
                _text_cell(" ".join(a.username for a in cause.attempts)),
            ]
        )
    return len(found.causes)


def write_fixtures_csv(stats: FixtureStats, out: IO[str]) -> int:
    """One row per fixture (from :func:`fixture_stats` with ``links=None``); returns the rows written."""
    writer = csv.writer(out)
    writer.writerow(FIXTURES_HEADER)
    for fixture in stats.fixtures:
        top = fixture.top_cause
        writer.writerow(
            [
                stats.lab_id,
                fixture.name,
                fixture.category,
                fixture.visibility,
                fixture.passed,
                fixture.failed,
                fixture.total,
                _number(fixture.rate),
                top.key if top else "",
                top.kind if top else "",
                (top.mistake or "") if top else "",
                top.students if top else "",
                _text_cell(top.message if top else ""),
                _text_cell(" ".join(a.username for a in fixture.failing)),
            ]
        )
    return len(stats.fixtures)
