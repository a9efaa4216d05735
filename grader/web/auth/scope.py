"""Whose sign-in an instructor may manage: the students of the courses they teach (admins: everyone)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import Course, Enrolment, User


def _taught(account: Any) -> Any:
    """The ids of the courses where ``account`` is an instructor."""
    return select(Enrolment.course_id).where(Enrolment.user_id == account.id, Enrolment.role == "instructor")


def may_manage(account: Any, user: User) -> bool:
    """Whether ``account`` may resend invitations and issue reset links for ``user``."""
    if account.is_admin:
        return True
    from grader.web.db import get_db

    query = select(Enrolment.user_id).where(
        Enrolment.user_id == user.id, Enrolment.role == "student", Enrolment.course_id.in_(_taught(account))
    )
    return get_db().scalar(query.limit(1)) is not None


def manageable_students(session: Session, account: Any, course: Course | None = None) -> list[User]:
    """The students ``account`` manages (of ``course`` only, when given), by name."""
    query = select(User).where(User.role == "student").order_by(User.display_name, User.username)
    if course is not None or not account.is_admin:
        enrolled = select(Enrolment.user_id).where(Enrolment.role == "student")
        if course is not None:
            enrolled = enrolled.where(Enrolment.course_id == course.id)
        if not account.is_admin:
            enrolled = enrolled.where(Enrolment.course_id.in_(_taught(account)))
        query = query.where(User.id.in_(enrolled))
    return list(session.scalars(query))
