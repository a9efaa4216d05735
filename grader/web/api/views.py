"""API views. Students see only their own submissions (others are 404) and never hidden fixtures' data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import Response, current_app, g, request, url_for
from flask_login import current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import defer

from grader.db.models import Course, CourseLab, Extension, FixtureResult, Lab, Submission
from grader.grading.result import strict_json
from grader.service.outlook import PENDING, outlook
from grader.web.api import bp
from grader.web.db import get_db, get_services
from grader.web.feedback import stored_causes, summary_text
from grader.web.filters import iso
from grader.web.polling import ask_again_in

F = TypeVar("F", bound=Callable[..., Any])

OPENAPI_FILE = Path(__file__).with_name("openapi.json")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
ERRORS = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    413: "upload too large",
    422: "submission refused",
    429: "too many requests",
}
#: What a student sees of a hidden fixture's result; nothing else of it.
HIDDEN_FIELDS = ("name", "category", "visibility", "status", "score", "max_score", "feedback")
#: Further detail of public and randomised fixtures' results.
VISIBLE_DETAIL = ("description", "inputs", "expected", "got", "max_abs_error", "max_rel_error", "seed")
#: What a submission document shows of each fixture result (read as plain rows, not ORM objects).
RESULT_COLUMNS = (
    FixtureResult.name,
    FixtureResult.category,
    FixtureResult.visibility,
    FixtureResult.passed,
    FixtureResult.score,
    FixtureResult.max_score,
    FixtureResult.feedback,
    FixtureResult.function,
    FixtureResult.stage,
    FixtureResult.elapsed,
    FixtureResult.detail,
)
ARRAY_NOTE = 'Arrays are {"array": nested lists, "dtype": ...}: numpy.array(value["array"], dtype=value["dtype"]).'


# --- responses ---------------------------------------------------------------------------


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response (never NaN or Infinity in the body)."""
    body = strict_json(data, ensure_ascii=False)
    return Response(body + "\n", status=status, mimetype="application/json", headers=headers)


def api_error(status: int, message: str) -> Response:
    """``{"error": ..., "message": ..., "status": ...}`` with ``status``."""
    headers = {"WWW-Authenticate": 'Bearer realm="lossgrader"'} if status == 401 else None
    return respond({"error": ERRORS.get(status, "error"), "message": message, "status": status}, status, headers)


# --- authentication ----------------------------------------------------------------------


def api_login_required(view: F) -> F:
    """A bearer token (preferred), else the browser's session; ``g.account`` is the user.

    A request with an ``Authorization: Bearer`` header is judged by its token alone, even
    if it also carries a session cookie (and needs no CSRF token); a cookie request that
    changes something needs the session's CSRF token.
    """

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        from grader.web.auth.tokens import has_bearer_header, token_account

        if has_bearer_header():
            account = token_account()
            if account is None:
                return api_error(401, "The API token is not valid (revoked, mistyped, or its account is inactive).")
        elif current_user.is_authenticated:
            account = current_user
            if request.method not in SAFE_METHODS and current_app.config.get("WTF_CSRF_ENABLED", True):
                from flask_wtf.csrf import CSRFError

                from grader.web.extensions import csrf

                try:
                    csrf.protect()
                except CSRFError:
                    return api_error(400, "A request signed in by cookie needs the CSRF token (X-CSRFToken header).")
        else:
            return api_error(401, "Authentication required: send Authorization: Bearer <token>.")
        g.account = account
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def rate_limit_key() -> str:
    """Submissions are counted per token (hashed), or per address for cookie requests."""
    from flask_limiter.util import get_remote_address

    from grader.web.auth.tokens import bearer_token

    token = bearer_token()
    if token:
        return "api-token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "api-ip:" + get_remote_address()


def _is_instructor(course_id: int | None = None) -> bool:
    """Whether the caller is staff (grader, instructor; or admin) of the course (of any course: None)."""
    from grader.service.courses import STAFF_ROLES, role_in, user_courses

    user = g.account.user
    if course_id is None:
        return any(role in STAFF_ROLES for _, role in user_courses(get_db(), user))
    return role_in(get_db(), course_id, user) in STAFF_ROLES


def _course(code: str | None, lab_id: str | None, roles: tuple[str, ...]) -> Course | Response:
    """The course of a per-course route (``/courses/<course>/…``: the caller needs one of ``roles``
    there), or of a course-less one (the caller's one course with that role that runs ``lab_id``);
    else a 404 response that says as little as possible."""
    from grader.service.courses import course_lab, find_course, role_in
    from grader.web.course_context import implicit_course

    db = get_db()
    if code is not None:
        found = find_course(db, code)
        if found is None or role_in(db, found, g.account.user) not in roles:
            return api_error(404, f"There is no course {code!r} of yours.")
        if lab_id is not None and course_lab(db, found.id, lab_id) is None:
            return api_error(404, f"There is no lab {lab_id!r} in course {code}.")
        return found
    implied = implicit_course(g.account.user, lab_id, roles)
    if implied is None:
        where = f"lab {lab_id!r}" if lab_id else "course"
        return api_error(404, f"There is no {where} in exactly one of your courses: use /api/v1/courses/<course>/….")
    return implied


# --- documents ---------------------------------------------------------------------------


def _time(value: Any) -> str | None:
    return iso(value) or None


def result_document(result: Any, full: bool) -> dict[str, Any]:
    """One fixture's verdict: everything for instructors; for students, hidden fixtures by verdict only."""
    detail = dict(result.detail or {})
    base = {
        "name": result.name,
        "category": result.category,
        "visibility": result.visibility,
        "status": "passed" if result.passed else "failed",
        "score": result.score,
        "max_score": result.max_score,
        "feedback": result.feedback,
    }
    if full:
        return {**base, "function": result.function, "stage": result.stage, "elapsed": result.elapsed, "detail": detail}
    if result.visibility == "hidden":
        return {key: base[key] for key in HIDDEN_FIELDS}
    return {**base, "function": result.function, **{key: detail.get(key) for key in VISIBLE_DETAIL}}


# Status polls run these: built once.
_RESULT_ROWS = (
    select(*RESULT_COLUMNS)
    .where(FixtureResult.submission_id == bindparam("submission"))
    .order_by(FixtureResult.position)
)
_LAB_EXISTS = select(Lab.id).where(Lab.id == bindparam("lab"))
_SUBMISSION = select(Submission).where(Submission.id == bindparam("submission"))
# Polled while grading runs: never load the source, nor (students) what only instructors see.
_SUBMISSION_FOR_INSTRUCTORS = _SUBMISSION.options(defer(Submission.source))
_SUBMISSION_FOR_STUDENTS = _SUBMISSION.options(
    defer(Submission.source), defer(Submission.output), defer(Submission.error)
)


def result_rows(session: Any, submission_id: int) -> list[Any]:
    """The submission's fixture results, in fixture order, as rows of :data:`RESULT_COLUMNS`."""
    return list(session.execute(_RESULT_ROWS, {"submission": submission_id}).all())


def submission_document(submission: Submission, full: bool, results: list[Any]) -> dict[str, Any]:
    """A submission as the API shows it (``full``: the instructor view), with its fixture
    results (:func:`result_rows`), its causes and a summary saying each once."""
    graded = submission.status == "graded"
    document: dict[str, Any] = {
        "id": submission.id,
        "lab": submission.lab_id,
        "status": submission.status,
        "done": submission.status not in PENDING,
        "score": submission.score if graded else None,
        "max_score": submission.max_score if graded else None,
        "attempt": submission.attempt,
        "filename": submission.filename,
        "submitted_at": _time(submission.submitted_at),
        "graded_at": _time(submission.graded_at),
        "seed": submission.seed,
        "submission_error": submission.submission_error if graded else None,
        "url": url_for("api.submission", submission_id=submission.id, _external=True),
        "summary": None,
        "causes": [],
        "notes": list(submission.notes or []) if graded else [],
        "tests": [result_document(r, full) for r in results] if graded else [],
    }
    if graded:  # each cause once, most points lost first (derived for results stored before causes)
        causes = stored_causes(submission, results)
        document.update(summary=summary_text(submission, causes, results), causes=causes)
    if full:
        user = submission.user
        document.update(
            user={
                "id": user.id,
                "username": user.username,
                "name": user.display_name,
                "student_id": user.student_number,
            },
            error=submission.error,
            output=submission.output,
            execution_time=submission.execution_time,
            lab_version=submission.lab_version,
        )
    return document


# --- routes ------------------------------------------------------------------------------


@bp.route("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    return Response(OPENAPI_FILE.read_text(encoding="utf-8"), mimetype="application/json")


@bp.route("/labs")
@bp.route("/courses/<course>/labs")
@api_login_required
def labs(course: str | None = None) -> Response:
    """Every lab of the course (course-less: of the caller's one course) with its deadlines,
    points, functions and fixture counts."""
    from grader.service.courses import COURSE_ROLES
    from grader.web.student.queries import lab_definition

    found = _course(course, None, COURSE_ROLES)
    if isinstance(found, Response):
        return found
    db = get_db()
    mine = (Extension.user_id == g.account.id, Extension.course_id == found.id)
    extensions = {e.lab_id: e.due_at for e in db.scalars(select(Extension).where(*mine))}
    documents = []
    rows = select(CourseLab).where(CourseLab.course_id == found.id).order_by(CourseLab.position, CourseLab.lab_id)
    for lab in db.scalars(rows):
        definition = lab_definition(lab.id, lab.version)
        functions = [{"name": f.name, "signature": f.signature} for f in definition.functions] if definition else []
        counts = {v: len(definition.fixtures_by(v)) if definition else 0 for v in ("public", "hidden", "randomised")}
        documents.append(
            {
                "id": lab.id,
                "course": found.code,
                "title": lab.title,
                "due_at": _time(lab.due_at),
                "hard_deadline_at": _time(lab.hard_deadline_at),
                "extension_due_at": _time(extensions.get(lab.id)),
                "max_score": lab.max_score,
                "max_submissions": lab.max_submissions,
                "functions": functions,
                "fixtures": counts,
            }
        )
    return respond({"labs": documents})


@bp.route("/labs/<lab_id>/public-fixtures")
@bp.route("/courses/<course>/labs/<lab_id>/public-fixtures")
@api_login_required
def public_fixtures(lab_id: str, course: str | None = None) -> Response:
    """The public fixtures of a lab, with inputs and expected values."""
    from grader.web.student.queries import lab_definition
    from grader.web.student.queries import public_fixtures as fixtures_of

    if course is not None:
        from grader.service.courses import COURSE_ROLES

        found = _course(course, lab_id, COURSE_ROLES)
        if isinstance(found, Response):
            return found
    lab = get_db().get(Lab, lab_id)
    definition = lab_definition(lab.id, lab.version) if lab is not None else None
    if lab is None or definition is None:
        return api_error(404, f"There is no lab {lab_id!r}.")
    return respond(
        {
            "lab": lab.id,
            "title": lab.title,
            "version": definition.version,
            "note": ARRAY_NOTE,
            "fixtures": fixtures_of(definition),
        }
    )


def _incoming() -> tuple[bytes | str | None, str, Response | None]:
    """(source, filename, error response) from a multipart upload or a JSON body."""
    from grader.web.student.forms import DEFAULT_FILENAME, clean_filename

    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return None, "", api_error(400, "Send the file in a multipart field named 'file'.")
        return upload.read(), clean_filename(upload.filename), None
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return None, "", api_error(400, 'The body is not a JSON object like {"source": "...", "filename": "..."}.')
        source, filename = data.get("source"), data.get("filename", DEFAULT_FILENAME)
        kind = data.get("format")
        if kind is not None and kind not in ("py", "ipynb"):
            return None, "", api_error(400, "The 'format' must be py or ipynb (a Jupyter notebook).")
        if kind == "ipynb" and isinstance(source, dict):  # the notebook itself, as a JSON object
            source = json.dumps(source, ensure_ascii=False)
        if not isinstance(source, str):  # an empty one is refused like an empty upload (422), by submit
            return None, "", api_error(400, "'source' must be the code of your file, as a string.")
        if filename is None:
            filename = DEFAULT_FILENAME
        if not isinstance(filename, str):
            return None, "", api_error(400, "'filename' must be a string.")
        filename = clean_filename(filename) or DEFAULT_FILENAME
        if kind == "ipynb" and not filename.lower().endswith(".ipynb"):  # stored, and given back, as a notebook
            filename = Path(filename).stem + ".ipynb"
        return source, filename, None
    return None, "", api_error(400, "Send multipart/form-data with a 'file' field, or JSON with 'source'.")


@bp.route("/labs/<lab_id>/submissions", methods=["POST"])
@bp.route("/courses/<course>/labs/<lab_id>/submissions", methods=["POST"])
@api_login_required
def create_submission(lab_id: str, course: str | None = None) -> Response:
    """Queue a submission for grading: 202 with its id and where to poll (a retry with the
    first try's ``Idempotency-Key``: 202 with the first try's submission). Course-less: to
    the caller's one course that runs the lab."""
    from grader.service.courses import COURSE_ROLES
    from grader.service.submissions import SubmissionRefused, accept_submission
    from grader.web.api.idempotency import REPLAYED_HEADER, BadIdempotencyKey, idempotency_key

    if get_db().scalar(_LAB_EXISTS, {"lab": lab_id}) is None:
        return api_error(404, f"There is no lab {lab_id!r}.")
    found = _course(course, lab_id, COURSE_ROLES)
    if isinstance(found, Response):
        return found
    try:
        key = idempotency_key()
    except BadIdempotencyKey as exc:
        return api_error(400, str(exc))
    source, filename, problem = _incoming()
    if problem is not None:
        return problem
    from grader.web.student.forms import SUBMISSION_SUFFIXES

    if not filename.lower().endswith(SUBMISSION_SUFFIXES):
        return api_error(422, "Your file was not accepted: its name must end in .py or .ipynb.")
    try:
        accepted = accept_submission(
            get_services(), g.account.id, lab_id, source or b"", filename, idempotency_key=key, course_id=found.id
        )
    except SubmissionRefused as exc:
        return api_error(422, exc.message)
    submission = accepted.submission
    if not accepted.replayed:
        current_app.logger.info("api submission %s by %s for %s", submission.id, g.account.username, lab_id)
    url = url_for("api.submission", submission_id=submission.id, _external=True)
    _ask_again(submission)
    headers = {"Location": url, **({REPLAYED_HEADER: "true"} if accepted.replayed else {})}
    return respond({"id": submission.id, "status": submission.status, "url": url}, 202, headers)


def _ask_again(submission: Submission) -> None:
    """``Retry-After`` for a submission still being graded: when its result is likely."""
    standing = outlook(get_db(), submission)
    ask_again_in(standing.wait_seconds if standing else None)


@bp.route("/submissions/<int:submission_id>")
@api_login_required
def submission(submission_id: int) -> Response:
    """A submission and its results: your own (students), any of their course's (graders, instructors)."""
    db = get_db()
    course_id = db.scalar(select(Submission.course_id).where(Submission.id == submission_id))
    full = course_id is not None and _is_instructor(course_id)
    query = _SUBMISSION_FOR_INSTRUCTORS if full else _SUBMISSION_FOR_STUDENTS
    found = db.scalar(query, {"submission": submission_id})
    if found is None or (not full and found.user_id != g.account.id):
        return api_error(404, f"There is no submission {submission_id}.")
    results = result_rows(db, found.id) if found.status == "graded" else []
    _ask_again(found)
    return respond(submission_document(found, full, results))


# --- instructors: what the class gets wrong ---------------------------------------------------


def _instructors_only(course_id: int | None = None) -> Response | None:
    """403 unless the caller is staff of the course (or admin)."""
    if _is_instructor(course_id):
        return None
    return api_error(403, "Only instructors can see what the class gets wrong.")


@bp.route("/labs/<lab_id>/misconceptions")
@bp.route("/courses/<course>/labs/<lab_id>/misconceptions")
@api_login_required
def lab_misconceptions(lab_id: str, course: str | None = None) -> Response:
    """Each cause the grader found in the lab, most students first (instructors only):
    the counted submissions, or every graded attempt with ``?scope=all``."""
    from grader.service.courses import COURSE_ROLES
    from grader.service.insight import SCOPES, misconceptions

    if not _is_instructor():
        return _instructors_only()
    found_course = _course(course, lab_id, COURSE_ROLES)
    if isinstance(found_course, Response):
        return found_course
    refused = _instructors_only(found_course.id)
    if refused is not None:
        return refused
    scope = request.args.get("scope", "counted")
    if scope not in SCOPES:
        return api_error(400, f"scope must be one of: {', '.join(SCOPES)}.")
    try:
        found = misconceptions(get_db(), lab_id, scope, links=0, course_id=found_course.id)
    except LookupError:
        return api_error(404, f"There is no lab {lab_id!r}.")
    return respond(found.to_dict())


@bp.route("/labs/<lab_id>/fixtures/stats")
@bp.route("/courses/<course>/labs/<lab_id>/fixtures/stats")
@api_login_required
def lab_fixture_stats(lab_id: str, course: str | None = None) -> Response:
    """Per fixture of the lab: how many counted submissions pass it and its commonest cause (instructors only)."""
    from grader.service.courses import COURSE_ROLES
    from grader.service.insight import fixture_stats

    if not _is_instructor():
        return _instructors_only()
    found_course = _course(course, lab_id, COURSE_ROLES)
    if isinstance(found_course, Response):
        return found_course
    refused = _instructors_only(found_course.id)
    if refused is not None:
        return refused
    try:
        stats = fixture_stats(get_db(), lab_id, links=0, course_id=found_course.id)
    except LookupError:
        return api_error(404, f"There is no lab {lab_id!r}.")
    return respond(stats.to_dict())
