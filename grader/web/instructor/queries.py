"""What the instructor pages read and change. Aggregates run in the database, a query or two per chart.

Policy and extension changes follow ``grader/commands/course.py``: one transaction
with an :class:`AuditEvent` (old → new) and the scores recomputed in it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from grader.db.models import AuditEvent, Enrolment, Extension, Lab, Score, Submission, User
from grader.service.gradebook import _fetched_time, _utc


@dataclass
class LabSummary:
    """One line of the dashboard's labs table."""

    lab: Lab
    scored: int
    mean: float | None
    submissions: int


@dataclass
class GradingState:
    """Whether grading keeps up, and what it could not grade (grader errors, not students')."""

    queued: int
    running: int
    graded_last_minute: int
    error_count: int
    errors: list[Any]  # the latest: id, user_id, username, display_name, lab_id, attempt, submitted_at, error


#: Grader errors listed on the dashboard (the count covers all of them).
ERRORS_SHOWN = 20


def grading_state(session: Session, now: dt.datetime) -> GradingState:
    """Queue, recent rate and grader errors: a statement of counts, the errors' ids (all
    on indexes) and, if there are any, the latest errors' details."""

    def count(*where: Any) -> Any:
        return select(func.count()).select_from(Submission).where(*where).scalar_subquery()

    queued, running, recent = _rows(
        session,
        select(
            count(Submission.status == "queued"),
            count(Submission.status == "running"),
            count(Submission.graded_at >= now - dt.timedelta(minutes=1)),
        ),
    ).one()
    # The ids alone come from the (status, …) index; asked for the latest 20 directly,
    # SQLite's planner scans the whole table in id order (it takes status = 'error'
    # to be as common as 'graded').
    latest = sorted(_rows(session, select(Submission.id).where(Submission.status == "error")).scalars(), reverse=True)
    if not latest:
        return GradingState(int(queued), int(running), int(recent), 0, [])
    errors = _rows(
        session,
        select(
            Submission.id,
            Submission.user_id,
            User.username,
            User.display_name,
            Submission.lab_id,
            Submission.attempt,
            Submission.submitted_at,
            Submission.error,
        )
        .join(User, User.id == Submission.user_id)
        .where(Submission.id.in_(latest[:ERRORS_SHOWN]))
        .order_by(Submission.id.desc()),
    ).all()
    return GradingState(int(queued), int(running), int(recent), len(latest), list(errors))


def _rows(session: Session, query: Any) -> Any:
    return session.connection().execute(query)


def _in_course(query: Any, column: Any, course_id: int | None) -> Any:
    """``query`` limited to one course's rows (``column``: their course_id); all of them for None."""
    return query if course_id is None else query.where(column == course_id)


def _students(course_id: int | None) -> Any:
    """The clause "is a student (of the course)" on ``User``."""
    if course_id is None:
        return User.role == "student"
    enrolled = select(Enrolment.user_id).where(Enrolment.course_id == course_id, Enrolment.role == "student")
    return User.id.in_(enrolled)


def lab_summaries(session: Session, labs: list[Any], course_id: int | None = None) -> list[LabSummary]:
    """Per lab (of the course): students with a score, mean final score, submissions (two grouped queries)."""
    by_lab = select(Score.lab_id, func.count(), func.avg(Score.final)).group_by(Score.lab_id)
    scores = {
        lab_id: (count, mean) for lab_id, count, mean in _rows(session, _in_course(by_lab, Score.course_id, course_id))
    }
    # lab_id alone: answered from the (lab_id, submitted_at) index; with the course, (course_id, lab_id, …)
    counted = select(Submission.lab_id, func.count()).group_by(Submission.lab_id)
    totals = dict(_rows(session, _in_course(counted, Submission.course_id, course_id)).all())
    summaries = []
    for lab in labs:
        count, mean = scores.get(lab.id, (0, None))
        summaries.append(
            LabSummary(
                lab,
                int(count),
                round(float(mean), 2) if mean is not None else None,  # 14.16, not 14.1643
                int(totals.get(lab.id, 0)),
            )
        )
    return summaries


def score_fractions(session: Session, lab_id: str, course_id: int | None = None) -> list[float]:
    """Each scored student's final score as a fraction of the maximum."""
    query = select(Score.final, Score.max_score).where(Score.lab_id == lab_id, Score.submission_id.is_not(None))
    query = _in_course(query, Score.course_id, course_id)
    return [(final or 0.0) / top if top else 0.0 for final, top in _rows(session, query)]


def _bucket(session: Session, origin: dt.datetime, seconds: int) -> Any:
    """The submission's bin number: whole ``seconds`` since ``origin``."""
    first = int(origin.timestamp())
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor((func.date_part("epoch", Submission.submitted_at) - first) / seconds), Integer)
    # ``//``: SQLAlchemy renders ``/`` as true division (``/ (? + 0.0)``), which would group by the second
    return (cast(func.strftime("%s", Submission.submitted_at), Integer) - first) // seconds


@dataclass
class SubmissionSpan:
    """When a lab's first and last submissions were made, and how many there are."""

    first: dt.datetime | None
    last: dt.datetime | None
    count: int


def submission_span(session: Session, lab_id: str, course_id: int | None = None) -> SubmissionSpan:
    """First and last submission times and the count: one query on the (lab_id, submitted_at) index."""
    query = select(func.min(Submission.submitted_at), func.max(Submission.submitted_at), func.count()).where(
        Submission.lab_id == lab_id
    )
    first, last, count = _rows(session, _in_course(query, Submission.course_id, course_id)).one()
    return SubmissionSpan(_utc(first), _utc(last), int(count or 0))


def submission_counts(
    session: Session, lab_id: str, origin: dt.datetime, step: dt.timedelta, bins: int, course_id: int | None = None
) -> list[int]:
    """Submissions per bin of ``step`` from ``origin``, ``bins`` bins (one grouped query)."""
    seconds = int(step.total_seconds())
    bucket = _bucket(session, origin, seconds).label("bucket")
    end = origin + step * bins
    in_window = (Submission.lab_id == lab_id, Submission.submitted_at >= origin, Submission.submitted_at < end)
    counts = [0] * bins
    query = _in_course(select(bucket, func.count()).where(*in_window), Submission.course_id, course_id)
    for number, count in _rows(session, query.group_by(bucket)):
        if 0 <= int(number) < bins:
            counts[int(number)] += int(count)
    return counts


def sections(session: Session, course_id: int | None = None) -> list[str]:
    """The sections of active students (of the course: their sections there), sorted."""
    if course_id is None:
        query = (
            select(User.section)
            .where(User.role == "student", User.active.is_(True), User.section.is_not(None), User.section != "")
            .distinct()
        )
    else:
        query = (
            select(Enrolment.section)
            .join(User, User.id == Enrolment.user_id)
            .where(Enrolment.course_id == course_id, Enrolment.role == "student", User.active.is_(True))
            .where(Enrolment.section.is_not(None), Enrolment.section != "")
            .distinct()
        )
    return sorted(_rows(session, query).scalars(), key=str.casefold)


def last_submission_times(session: Session, user_id: int) -> dict[str, dt.datetime | None]:
    """When the student last submitted to each lab."""
    query = (
        select(Submission.lab_id, _fetched_time(session, func.max(Submission.submitted_at)))
        .where(Submission.user_id == user_id)
        .group_by(Submission.lab_id)
    )
    return {lab_id: _utc(at) for lab_id, at in _rows(session, query)}


# --- changes -------------------------------------------------------------------------------


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def set_lab_policy(session: Session, lab: Any, wanted: dict[str, Any], actor: str) -> dict[str, tuple[Any, Any]]:
    """Apply the changed settings with an AuditEvent and recompute the lab's scores; returns {field: (old, new)}.

    The caller checks the values and commits. Mirrors ``lossgrader lab set``.
    """
    from grader.service.submissions import recompute_scores

    changed = {key: value for key, value in wanted.items() if getattr(lab, key) != value}
    if not changed:
        return {}
    old = {key: _iso(getattr(lab, key)) for key in changed}
    for key, value in changed.items():
        setattr(lab, key, value)
    new = {key: _iso(value) for key, value in changed.items()}
    course_id = getattr(lab, "course_id", None)  # a course's lab (CourseLab)
    event = AuditEvent(actor_label=actor[:200], action="lab_policy", lab_id=lab.id, old=old, new=new)
    event.course_id = course_id
    session.add(event)
    session.flush()
    recompute_scores(session, lab.id, course_id=course_id)
    return {key: (old[key], new[key]) for key in changed}


def grant_extension(
    session: Session, student: User, lab: Any, until: dt.datetime, reason: str, actor: str, actor_id: int | None
) -> dict[str, Any] | None:
    """Give ``student`` until ``until`` for ``lab`` (replacing an earlier one); returns the old extension, if any.

    Records an AuditEvent and recomputes the student's score; the caller commits.
    Mirrors ``lossgrader extension grant``.
    """
    from grader.service.submissions import recompute_scores

    course_id = lab.course_id  # a course's lab (CourseLab)
    mine = (Extension.course_id == course_id, Extension.user_id == student.id, Extension.lab_id == lab.id)
    existing = session.scalar(select(Extension).where(*mine))
    old = None if existing is None else {"due_at": _iso(existing.due_at), "reason": existing.reason}
    if existing is None:
        session.add(
            Extension(
                course_id=course_id,
                user_id=student.id,
                lab_id=lab.id,
                due_at=until,
                reason=reason,
                granted_by_id=actor_id,
            )
        )
    else:
        existing.due_at, existing.reason, existing.granted_by_id = until, reason, actor_id
    session.add(
        AuditEvent(
            actor_id=actor_id,
            actor_label=actor[:200],
            action="extension_grant",
            course_id=course_id,
            lab_id=lab.id,
            user_id=student.id,
            old=old,
            new={"due_at": _iso(until), "reason": reason},
            note=reason,
        )
    )
    session.flush()
    recompute_scores(session, lab.id, user_id=student.id, course_id=course_id)
    return old


def revoke_extension(session: Session, extension: Extension, actor: str, actor_id: int | None) -> None:
    """Remove an extension with an AuditEvent and recompute the student's score; the caller commits."""
    from grader.service.submissions import recompute_scores

    session.add(
        AuditEvent(
            actor_id=actor_id,
            actor_label=actor[:200],
            action="extension_revoke",
            course_id=extension.course_id,
            lab_id=extension.lab_id,
            user_id=extension.user_id,
            old={"due_at": _iso(extension.due_at), "reason": extension.reason},
            new=None,
        )
    )
    lab_id, user_id, course_id = extension.lab_id, extension.user_id, extension.course_id
    session.delete(extension)
    session.flush()
    recompute_scores(session, lab_id, user_id=user_id, course_id=course_id)


def best_scores(session: Session, user_ids: list[int], course_id: int | None = None) -> dict[tuple[int, str], float]:
    """{(user id, lab id): the highest score of any graded attempt} for these students (one grouped query,
    on the (user_id, lab_id, …) index); compared with the counted score in the gradebook."""
    if not user_ids:
        return {}
    query = (
        select(Submission.user_id, Submission.lab_id, func.max(Submission.score))
        .where(Submission.user_id.in_(user_ids), Submission.status == "graded")
        .group_by(Submission.user_id, Submission.lab_id)
    )
    query = _in_course(query, Submission.course_id, course_id)
    return {(user_id, lab_id): float(best) for user_id, lab_id, best in _rows(session, query) if best is not None}


def regradable(session: Session, lab_id: str, course_id: int | None = None) -> tuple[int, int]:
    """(submissions, students) a regrade of the whole lab would run: its graded and errored submissions."""
    query = select(func.count(), func.count(func.distinct(Submission.user_id))).where(
        Submission.lab_id == lab_id, Submission.status.in_(("graded", "error"))
    )
    submissions, students = _rows(session, _in_course(query, Submission.course_id, course_id)).one()
    return int(submissions or 0), int(students or 0)


@dataclass
class Roster:
    """Who is enrolled: the students shown (filtered), and counts of all of them."""

    students: list[Any]  # id, username, display_name, student_number, email, section, active, signed_in
    total: int  # every student account, active or not
    active: int
    by_section: list[tuple[str, int]]  # active students per section ("" for none), by section name


def roster(
    session: Session, search: str | None = None, section: str | None = None, course_id: int | None = None
) -> Roster:
    """Student accounts matching ``search`` (part of the username, name, student id or email) and ``section``,
    by name; counts of every student per section (two queries)."""
    signed_in = or_(User.password_hash.is_not(None), User.sso_subject.is_not(None)).label("signed_in")
    # In a course, a student's section is their enrolment's there (User.section is a roster
    # field shared by all their courses).
    section_column: Any = User.section if course_id is None else Enrolment.section

    def of_students(query: Any) -> Any:
        if course_id is None:
            return query.where(User.role == "student")
        enrolled = and_(Enrolment.user_id == User.id, Enrolment.course_id == course_id, Enrolment.role == "student")
        return query.select_from(User).join(Enrolment, enrolled)

    query = of_students(
        select(
            User.id,
            User.username,
            User.display_name,
            User.student_number,
            User.email,
            section_column.label("section"),
            User.active,
            signed_in,
        )
    )
    if section:
        query = query.where(section_column == section)
    if search:
        term = search.strip().lower()
        columns = (User.username, User.display_name, User.student_number, User.email)
        query = query.where(or_(*(func.lower(col).contains(term, autoescape=True) for col in columns)))
    students = sorted(
        _rows(session, query).all(), key=lambda r: ((r.display_name or r.username).casefold(), r.username.casefold())
    )
    counts = _rows(
        session,
        # by the column itself: PostgreSQL does not see two coalesce(section, :param) as one expression
        of_students(select(section_column, User.active, func.count())).group_by(section_column, User.active),
    ).all()
    by_section: dict[str, int] = {}
    total = active = 0
    for section_name, is_active, count in counts:
        total += count
        if is_active:
            active += count
            by_section[section_name or ""] = by_section.get(section_name or "", 0) + count
    return Roster(
        students, total, active, sorted(by_section.items(), key=lambda item: (not item[0], item[0].casefold()))
    )
