"""Courses: creating and copying them, their labs (with policy), enrolments and who may do what.

A course is named by its ``code`` in URLs and commands. Its labs are chosen from the
service's lab library (``labs``) as :class:`~grader.db.models.CourseLab` rows carrying that
course's due date and policy. People take part through :class:`~grader.db.models.Enrolment`
rows with a role per course: ``student``, ``grader`` (a TA: reads and regrades) or
``instructor`` (also changes policy, roster, extensions). A user whose service-wide role is
``admin`` manages every course without an enrolment.

Every function takes an open session and leaves committing to the caller.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.db.models import COUNTING, COURSE_ROLES, LATE_POLICIES, Course, CourseLab, Enrolment, Lab, User

#: Course codes: what fits in a URL path segment and a shell argument without quoting.
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: The policy columns a course sets per lab (copied when a course is copied to a new term).
POLICY_FIELDS = (
    "due_at",
    "hard_deadline_at",
    "late_policy",
    "late_percent_per_day",
    "max_submissions",
    "min_interval_seconds",
    "counting",
    "unloadable_counts",
)
#: Roles that may read a course's submissions, scores and roster (instructor pages, exports).
STAFF_ROLES = ("grader", "instructor")


class CourseError(ValueError):
    """Bad input about a course (unknown code, duplicate, bad time zone); the message is one line."""


class CourseNotFound(CourseError, LookupError):
    """No such course, or not one the user may see (the same answer, so codes do not leak)."""


# --- courses ---------------------------------------------------------------------------


def check_code(code: str) -> str:
    """``code`` stripped, or :class:`CourseError` when it cannot name a course."""
    code = (code or "").strip()
    if not CODE_RE.match(code):
        raise CourseError(f"{code!r} is not a course code: use letters, digits, '.', '_' or '-' (at most 64)")
    return code


def check_timezone(name: str) -> str:
    """An IANA time zone name, or :class:`CourseError`."""
    name = (name or "").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CourseError(f"unknown time zone {name!r}: use an IANA name like Europe/Paris or UTC") from None
    return name


def create_course(session: Session, code: str, title: str, term: str = "", timezone: str = "UTC") -> Course:
    """A new course (no labs, no enrolments); :class:`CourseError` if the code is taken or invalid."""
    code = check_code(code)
    title = (title or "").strip() or code
    if find_course(session, code) is not None:
        raise CourseError(f"course {code!r} already exists")
    course = Course(code=code, title=title[:200], term=(term or "").strip()[:64], timezone=check_timezone(timezone))
    session.add(course)
    session.flush()
    return course


def find_course(session: Session, code: str) -> Course | None:
    """The course with this code, or None."""
    return session.scalars(select(Course).where(Course.code == code)).one_or_none()


def get_course(session: Session, code: str) -> Course:
    """The course with this code, or :class:`CourseNotFound`."""
    course = find_course(session, code)
    if course is None:
        raise CourseNotFound(f"no course {code!r} (see `lossgrader course list`)")
    return course


def list_courses(session: Session) -> list[Course]:
    """Every course, by code."""
    return list(session.scalars(select(Course).order_by(Course.code)))


def update_course(session: Session, course: Course, **changes: Any) -> dict[str, tuple[Any, Any]]:
    """Change ``title``, ``term`` or ``timezone`` (None: keep); return ``{field: (old, new)}`` for what changed.

    Every value is checked before any is set: on :class:`CourseError` the course is unchanged.
    """
    wanted: dict[str, Any] = {}
    for key, value in changes.items():
        if value is None:
            continue
        if key == "timezone":
            value = check_timezone(value)
        elif key == "title":
            value = value.strip()[:200]  # as create_course stores it
            if not value:
                raise CourseError("a course's title cannot be empty")
        elif key == "term":
            value = value.strip()[:64]
        else:
            raise CourseError(f"a course has no setting {key!r}")
        wanted[key] = value
    changed = {key: (getattr(course, key), value) for key, value in wanted.items() if getattr(course, key) != value}
    for key, (_old, value) in changed.items():
        setattr(course, key, value)
    return changed


def course_zone(course: Course) -> dt.tzinfo:
    """The course's time zone for its pages (UTC if the stored name is unknown here)."""
    try:
        return ZoneInfo(course.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.timezone.utc


def copy_course(session: Session, source: Course, code: str, term: str, title: str | None = None) -> Course:
    """A new course for another term with ``source``'s labs and policies — no enrolments,
    submissions, scores or extensions. Due dates are copied as they are (move them with
    ``lossgrader lab set``)."""
    copy = create_course(session, code, title or source.title, term, source.timezone)
    for row in course_labs(session, source.id):
        session.add(
            CourseLab(
                course_id=copy.id,
                lab_id=row.lab_id,
                position=row.position,
                **{name: getattr(row, name) for name in POLICY_FIELDS},
            )
        )
    session.flush()
    return copy


# --- labs of a course ------------------------------------------------------------------


def add_lab(session: Session, course: Course, lab_id: str, **policy: Any) -> CourseLab:
    """Put a lab of the library into the course (at the end), with ``policy`` fields (see
    :data:`POLICY_FIELDS`); :class:`CourseError` if the lab is unknown or already there."""
    if session.get(Lab, lab_id) is None:
        raise CourseError(f"no lab {lab_id!r} in the library (see `lossgrader lab list`)")
    if session.get(CourseLab, (course.id, lab_id)) is not None:
        raise CourseError(f"course {course.code!r} already has lab {lab_id!r}")
    check_policy(policy)
    last = session.scalar(select(func.max(CourseLab.position)).where(CourseLab.course_id == course.id))
    row = CourseLab(course_id=course.id, lab_id=lab_id, position=(last or 0) + 1, **policy)
    session.add(row)
    session.flush()
    return row


def check_policy(policy: dict[str, Any]) -> None:
    """:class:`CourseError` for an unknown policy field or value."""
    unknown = set(policy) - set(POLICY_FIELDS)
    if unknown:
        raise CourseError(f"unknown lab settings: {', '.join(sorted(unknown))}")
    if policy.get("late_policy") not in (None, *LATE_POLICIES):
        raise CourseError(f"late policy must be one of {', '.join(LATE_POLICIES)}")
    if policy.get("counting") not in (None, *COUNTING):
        raise CourseError(f"counting must be one of {', '.join(COUNTING)}")


def course_lab(session: Session, course_id: int, lab_id: str) -> CourseLab | None:
    """The course's row for a lab (its policy), or None when the course does not run that lab."""
    return session.get(CourseLab, (course_id, lab_id))


def course_labs(session: Session, course_id: int) -> list[CourseLab]:
    """The course's labs in gradebook order (each with ``.lab``: title, max score, version)."""
    query = select(CourseLab).where(CourseLab.course_id == course_id).order_by(CourseLab.position, CourseLab.lab_id)
    return list(session.scalars(query))


def course_lab_ids(session: Session, course_id: int) -> list[str]:
    """The ids of the course's labs, in order."""
    return [row.lab_id for row in course_labs(session, course_id)]


# --- enrolments and permissions --------------------------------------------------------


def enrol(session: Session, course: Course, user: User, role: str = "student", section: str | None = None) -> Enrolment:
    """Enrol ``user`` with ``role`` (updating role and section if already enrolled)."""
    if role not in COURSE_ROLES:
        raise CourseError(f"course role must be one of {', '.join(COURSE_ROLES)}")
    row = session.get(Enrolment, (course.id, user.id))
    if row is None:
        row = Enrolment(course_id=course.id, user_id=user.id, role=role, section=section)
        session.add(row)
    else:
        row.role = role
        if section is not None:
            row.section = section
    session.flush()
    return row


def unenrol(session: Session, course: Course, user: User) -> bool:
    """Remove the enrolment (submissions and scores stay); True if there was one."""
    row = session.get(Enrolment, (course.id, user.id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def enrol_imported(session: Session, course: Course, usernames: list[str], sections: dict[str, str]) -> None:
    """A roster import's students become the course's students, each with the file's section
    (``sections``: username → a non-blank cell; a blank one leaves their section there alone,
    never copies one from another course)."""
    for person in session.scalars(select(User).where(User.username.in_(usernames))):
        enrol(session, course, person, "student", sections.get(person.username))


def enrolment(session: Session, course_id: int, user_id: int) -> Enrolment | None:
    """The user's enrolment in the course, or None."""
    return session.get(Enrolment, (course_id, user_id))


def role_in(session: Session, course: Course | int, user: User) -> str | None:
    """The user's role in the course: their enrolment's, ``instructor`` for an admin, else None."""
    course_id = course if isinstance(course, int) else course.id
    if user.role == "admin":
        return "instructor"
    row = enrolment(session, course_id, user.id)
    return row.role if row is not None else None


def can_view_course(session: Session, course: Course | int, user: User) -> bool:
    """Whether the user sees the course's students, submissions and scores (grader, instructor, admin)."""
    return role_in(session, course, user) in STAFF_ROLES


def can_manage_course(session: Session, course: Course | int, user: User) -> bool:
    """Whether the user changes the course's policy, roster and extensions (instructor, admin)."""
    return role_in(session, course, user) == "instructor"


def user_courses(session: Session, user: User) -> list[tuple[Course, str]]:
    """The courses the user takes part in, with their role (every course for an admin)."""
    if user.role == "admin":
        return [(course, "instructor") for course in list_courses(session)]
    query = (
        select(Course, Enrolment.role)
        .join(Enrolment, Enrolment.course_id == Course.id)
        .where(Enrolment.user_id == user.id)
        .order_by(Course.code)
    )
    return [(course, role) for course, role in session.execute(query)]


def student_ids(session: Session, course_id: int) -> Sequence[int]:
    """The ids of the course's students."""
    query = select(Enrolment.user_id).where(Enrolment.course_id == course_id, Enrolment.role == "student")
    return list(session.scalars(query))


def students_clause(course_id: int) -> Any:
    """A subquery of the course's student ids, for ``User.id.in_(...)`` in list queries."""
    return select(Enrolment.user_id).where(Enrolment.course_id == course_id, Enrolment.role == "student")


def course_for_lab(session: Session, user: User, lab_id: str, *, roles: Sequence[str] = ("student",)) -> Course:
    """The one course where ``user`` has one of ``roles`` and that runs ``lab_id`` — how the
    course-less routes (``/api/v1/labs/<lab_id>/…``) find their course.

    :class:`CourseNotFound` when there is none, or more than one (then the course must be named).
    """
    query = (
        select(Course)
        .join(Enrolment, Enrolment.course_id == Course.id)
        .join(CourseLab, CourseLab.course_id == Course.id)
        .where(Enrolment.user_id == user.id, Enrolment.role.in_(roles), CourseLab.lab_id == lab_id)
        .order_by(Course.code)
    )
    found = list(session.scalars(query))
    if len(found) == 1:
        return found[0]
    if not found:
        raise CourseNotFound(f"no course of yours has lab {lab_id!r}")
    codes = ", ".join(course.code for course in found)
    raise CourseNotFound(f"lab {lab_id!r} is in several of your courses ({codes}): name the course")


def only_course(session: Session) -> Course | None:
    """The course when the service has exactly one (the CLI's default for ``--course``), else None."""
    courses = list(session.scalars(select(Course).limit(2)))
    return courses[0] if len(courses) == 1 else None


def ensure_course(session: Session, code: str, title: str, term: str = "", timezone: str = "UTC") -> Course:
    """The course with this code, created (empty) if missing — for the demo and test set-ups."""
    return find_course(session, code) or create_course(session, code, title, term, timezone)


def add_all_labs(session: Session, course: Course) -> list[str]:
    """Put every lab of the library the course does not run yet into it (library order, no policy);
    return their ids. For the demo course and one-course set-ups."""
    have = set(course_lab_ids(session, course.id))
    added = []
    for lab in session.scalars(select(Lab).order_by(Lab.position, Lab.id)):
        if lab.id not in have:
            add_lab(session, course, lab.id)
            added.append(lab.id)
    return added
