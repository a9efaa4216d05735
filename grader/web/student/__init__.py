"""Student pages: labs, handouts, submitting, results, attempt history and diffs."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("student", __name__)

from grader.web.student import views  # noqa: E402,F401  (registers the routes on bp)
