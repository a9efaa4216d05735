"""Instructor pages (role instructor or admin): dashboard, gradebook, students, regrades, policy, roster, exports."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort
from flask_login import current_user

bp = Blueprint("instructor", __name__, url_prefix="/instructor")


@bp.before_request
def instructors_only() -> Any:
    """Anonymous visitors are sent to sign in; signed-in users need the instructor role (or admin)."""
    from grader.web.extensions import login_manager

    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.has_role("instructor"):
        abort(403)
    return None


from grader.web.instructor import insight_views, views  # noqa: E402,F401  (register the routes on bp)
