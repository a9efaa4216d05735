"""Which course a request is about (``g.course``), and who may see it.

Course pages live under ``/courses/<course>/…`` (the student and instructor blueprints are
registered there too); the older course-less URLs (``/labs/…``, ``/instructor/…``,
``/api/v1/labs/<lab_id>/…``) keep working for a user with exactly one course that fits:
for a lab, the one course of theirs that runs it. Anything else is a 404, never another
course's data: every query of the course pages is filtered by ``g.course``.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, request
from flask_login import current_user
from sqlalchemy import select

from grader.db.models import Course
from grader.service import courses as service
from grader.web.db import get_db

#: The roles that use the student pages and the instructor pages of a course.
STUDENT_PAGES = ("student",)
STAFF_PAGES = service.STAFF_ROLES


def current_course() -> Course:
    """The course of this request (set by :func:`enter_course`); 404 if there is none."""
    course = g.get("course")
    if course is None:
        abort(404)
    return course


def take_course(values: dict[str, Any] | None) -> None:
    """URL value preprocessor: move the URL's ``course`` into ``g.course_code`` (the views do not take it)."""
    g.course_code = values.pop("course", None) if values else None


def enter_course(roles: tuple[str, ...]) -> Course | None:
    """Set ``g.course`` from the URL's course (:func:`take_course`), or, on a course-less URL,
    from the user's enrolments; 404 when the user has no such role in it (or no single course
    fits). Runs as a blueprint ``before_request``: after sign-in and CSRF checks. Returns None
    for anonymous users (the views send them to sign in)."""
    if not current_user.is_authenticated:
        return None
    code = g.get("course_code")
    values = request.view_args or {}
    db = get_db()
    user = current_user.user
    if code is not None:
        course = service.find_course(db, code)
        if course is not None and service.role_in(db, course, user) not in roles:
            course = None
    elif values.get("submission_id") is not None:  # a course-less submission URL: its course
        course = _submission_course(user, values["submission_id"], roles)
    else:
        course = implicit_course(user, values.get("lab_id"), roles)
        if course is None and values.get("lab_id") is None and request.method == "GET":
            from flask import redirect, url_for

            abort(redirect(url_for("courses")))  # several courses (or none): the user picks one
    if course is None:
        abort(404)
    g.course = course
    return course


def _submission_course(user: Any, submission_id: int, roles: tuple[str, ...]) -> Course | None:
    from grader.db.models import Submission

    db = get_db()
    course_id = (
        db.scalar(select(Submission.course_id).where(Submission.id == submission_id)) if submission_id < 2**63 else None
    )
    if course_id is None or service.role_in(db, course_id, user) not in roles:
        return None
    return db.get(Course, course_id)


def implicit_course(user: Any, lab_id: str | None, roles: tuple[str, ...]) -> Course | None:
    """The one course a course-less URL means for ``user``: for a lab, the one of theirs (with
    one of ``roles``) that runs it; else their only such course. None when none or several."""
    db = get_db()
    if lab_id is not None:
        if user.role == "admin":
            candidates = [c for c in service.list_courses(db) if service.course_lab(db, c.id, lab_id) is not None]
            return candidates[0] if len(candidates) == 1 else None
        try:
            return service.course_for_lab(db, user, lab_id, roles=roles)
        except service.CourseNotFound:
            return None
    mine = [course for course, role in service.user_courses(db, user) if role in roles]
    return mine[0] if len(mine) == 1 else None


def add_course_to_urls(endpoint: str, values: dict[str, Any]) -> None:
    """``url_for`` inside a course page links to the same course (fills ``course``)."""
    course = g.get("course")
    if course is not None and "course" not in values and _wants_course(endpoint):
        values["course"] = course.code


def _wants_course(endpoint: str) -> bool:
    from flask import current_app

    try:
        return any("course" in rule.arguments for rule in current_app.url_map.iter_rules(endpoint))
    except KeyError:
        return False


def in_course_url() -> bool:
    """Whether this request came in on a ``/courses/<course>/…`` URL."""
    return bool(request.view_args is not None and request.blueprint and request.blueprint.startswith("course_"))


def _legacy_url(error: Exception, endpoint: str, values: dict[str, Any]) -> str:
    """A course page's URL asked for outside any course: the course-less path, if there is one."""
    from flask import url_for

    if endpoint.split(".", 1)[0] in ("student", "instructor") and "course" not in values:
        return url_for(f"legacy_{endpoint}", **values)
    raise error


def courses_page() -> Any:
    """``/courses``: the signed-in user's courses with their role, linking to each course's pages."""
    from flask import render_template

    from grader.web.extensions import login_manager

    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return render_template("courses/index.html", courses=service.user_courses(get_db(), current_user.user))


def init_app(app: Any) -> None:
    """Links inside a course stay in it; outside any course they use the course-less paths.
    Templates get ``page_endpoint``."""
    app.add_url_rule("/courses", "courses", courses_page)
    app.url_defaults(add_course_to_urls)
    app.url_build_error_handlers.append(_legacy_url)
    app.context_processor(lambda: {"page_endpoint": page_endpoint()})


def page_endpoint() -> str | None:
    """The request's endpoint as the course pages name it (``student.lab``, also on a course-less URL)."""
    endpoint = request.endpoint
    return endpoint.removeprefix("legacy_") if endpoint else endpoint
