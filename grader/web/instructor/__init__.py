"""Instructor pages of a course (its graders and instructors, and admins): dashboard, gradebook, students,
regrades, policy, roster, exports.

Registered under ``/courses/<course>/instructor`` (blueprint ``instructor``) and at ``/instructor``
for a user who is staff of one course only (``legacy_instructor``); every query is of ``g.course``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort
from flask_login import current_user

bp = Blueprint("instructor", __name__, url_prefix="/instructor")


@bp.url_value_preprocessor
def _take_course(endpoint: str | None, values: dict[str, Any] | None) -> None:
    from grader.web.course_context import take_course

    take_course(values)


@bp.before_request
def instructors_only() -> Any:
    """Anonymous visitors are sent to sign in; others need to be staff (grader, instructor) of the
    page's course (403 for a user who is staff of no course at all, 404 for another course)."""
    from grader.service.courses import STAFF_ROLES, user_courses
    from grader.web.course_context import enter_course
    from grader.web.db import get_db
    from grader.web.extensions import login_manager

    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not any(role in STAFF_ROLES for _, role in user_courses(get_db(), current_user.user)):
        abort(403)
    enter_course(STAFF_ROLES)
    return None


def init_app(app: Flask) -> None:
    """Register the pages under each course, and at the course-less paths."""
    app.register_blueprint(bp, url_prefix="/courses/<course>/instructor")
    app.register_blueprint(bp, name="legacy_instructor")


from grader.web.instructor import insight_views, views  # noqa: E402,F401  (register the routes on bp)
