"""Student pages: labs, handouts, submitting, results, attempt history and diffs.

Registered twice: under ``/courses/<course>`` (blueprint ``student``) and at the course-less
paths of one-course services (``legacy_student``); each request's course is ``g.course``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

bp = Blueprint("student", __name__)


@bp.url_value_preprocessor
def _take_course(endpoint: str | None, values: dict[str, Any] | None) -> None:
    from grader.web.course_context import take_course

    take_course(values)


@bp.before_request
def _enter_course() -> None:
    from grader.service.courses import COURSE_ROLES
    from grader.web.course_context import enter_course

    enter_course(COURSE_ROLES)


from grader.web.student import views  # noqa: E402,F401  (registers the routes on bp)
