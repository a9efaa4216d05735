"""Error pages (HTML), and JSON errors under ``/api/``.

While the database (or the broker) cannot be reached, a request that needs it is answered
503 with ``Retry-After`` (never 500), and the outage is logged once per episode: one
warning when it starts, one line when a request gets through again
(:class:`~grader.service.outage.Outage`).
"""

from __future__ import annotations

import contextlib
import logging

from flask import Flask, Response, current_app, g, has_app_context, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from grader.service.outage import Outage, database_unreachable, error_line
from grader.web import db

#: What a client is told to wait (seconds) while the database or broker is unreachable.
UNAVAILABLE_RETRY_SECONDS = 3
OUTAGE_KEY = "lossgrader.outage"

MESSAGES = {
    400: (
        "Bad request",
        "The request could not be understood. If you were sending a form, reload the page and try again.",
    ),
    401: ("Sign-in required", "Please sign in to see this page."),
    403: ("Not allowed", "Your account is not allowed to see this page."),
    404: ("Not found", "There is nothing here. Check the address, or go back to your labs."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    413: (
        "Upload too large",
        "What you sent is too large. A submission must be a single Python file of at most 256 KB.",
    ),
    414: ("Request too long", "The address is too long. Check the link you followed."),
    429: ("Too many requests", "Too many attempts in a short time. Wait a minute, then try again."),
    431: ("Request headers too large", "A header of the request (a cookie or a token) is too long."),
    500: ("Something went wrong", "The server could not finish this request. It has been logged; try again later."),
    503: (
        "Service briefly unavailable",
        "The service cannot reach its database for a moment. Try again in a few seconds: nothing was lost.",
    ),
}

CSRF_MESSAGE = "The form has expired or was sent from another site. Reload the page, then send it again."


def wants_json() -> bool:
    """API requests get JSON errors; everything else gets a page."""
    return request.path == "/api" or request.path.startswith("/api/")


def error_response(code: int, description: str | None = None, *, bare: bool = False) -> Response:
    """A page (or JSON under /api/) for the HTTP error ``code``; ``bare`` pages skip the navigation."""
    title, message = MESSAGES.get(code, ("Error", "The request could not be completed."))
    if wants_json():
        response = jsonify(error=title.lower(), message=description or message, status=code)
        if code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="lossgrader"'
    else:
        if bare and "_login_user" not in g and hasattr(current_app, "login_manager"):
            # Flask-Login's template context would load the user from the database: this page goes without.
            g._login_user = current_app.login_manager.anonymous_user()
        page = render_template(
            "errors/error.html", code=code, title=title, message=message, detail=description, bare=bare
        )
        response = make_response(page)
    response.status_code = code
    return response


def handle_http_exception(exc: HTTPException) -> Response | HTTPException:
    """Every HTTP error: our page, or JSON under /api/. Redirects pass through."""
    code = exc.code or 500
    if code < 400:
        return exc
    if code == 500:
        return handle_server_error(exc)
    # Descriptions given by our own aborts are meant for people; werkzeug's defaults are not.
    custom = bool(exc.description) and exc.description != type(exc).description
    response = error_response(code, exc.description if custom else None)
    for name, value in exc.get_headers():
        if name.lower() in ("retry-after", "allow", "www-authenticate"):
            response.headers[name] = value
    return response


def handle_server_error(exc: Exception) -> Response:
    """500: roll the session back, log, and show a page that needs nothing from the database."""
    db.rollback()
    original = getattr(exc, "original_exception", None) or exc
    current_app.logger.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
    return error_response(500, bare=True)  # bare: no navigation, which would load the user again


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database or the broker cannot be reached now (not a bug)."""
    if database_unreachable(exc):
        return True
    try:
        import redis
    except ImportError:  # pragma: no cover - the server extra installs it
        return False
    return isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError))


def unavailable_response() -> Response:
    """503 with ``Retry-After``: a page without navigation, or JSON under /api/."""
    response = error_response(503, bare=True)  # bare: the navigation would load the user from the database
    response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_SECONDS)
    g.unavailable = True  # _outage_over puts it back if the rate limiter writes its own (its window's reset)
    return response


def handle_unavailable(exc: Exception) -> Response:
    """A database or broker error: 503 if it is an outage (logged once per episode), else a 500."""
    if not is_unavailable(exc):
        raise exc  # a bug: the 500 handler logs it (tests see it propagate)
    with contextlib.suppress(Exception):  # the connection is gone: rolling back may fail too
        db.rollback()
    current_app.extensions[OUTAGE_KEY].begin(error_line(exc) or type(exc).__name__)
    return unavailable_response()


def _outage_over(response: Response) -> Response:
    """A request that used the database and did not fail closes the outage episode.

    Runs after every other after-request function (registered first), so a 503's Retry-After
    is ours, not the rate limiter's (a minute away, which clients would wait)."""
    if response.status_code == 503 and g.get("unavailable"):
        response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_SECONDS)
    outage = current_app.extensions[OUTAGE_KEY]
    if outage.since is not None and "db" in g and response.status_code < 500:
        outage.end()
    return response


class _RetryWarnings(logging.Filter):
    """During a request, the service's "database unavailable, retrying" warnings join the
    request's outage episode (one line for all), instead of one line per retry per request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not has_app_context() or not str(record.msg).startswith("database unavailable"):
            return True
        outage = current_app.extensions.get(OUTAGE_KEY)
        if outage is None:
            return True
        outage.begin(record.getMessage()[:200], count=False)  # logs the episode's one line if it starts one
        return False


def handle_recursion(exc: RecursionError) -> Response:
    """Input nested deeper than the parser can follow is the client's problem: 400."""
    return error_response(400, "The request is nested too deeply.")


def handle_csrf_error(exc: CSRFError) -> Response:
    """A form without a valid CSRF token: 400, with a way out."""
    return error_response(400, CSRF_MESSAGE)


def init_app(app: Flask) -> None:
    """Register the handlers (unhandled exceptions reach the 500 handler unless testing propagates them)."""
    app.extensions[OUTAGE_KEY] = Outage(
        app.logger,
        "database or broker unreachable (%s): answering 503 until it is back",
        lambda seconds, refused: f"database reachable again after {seconds:.1f} s ({refused} requests answered 503)",
    )
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(InternalServerError, handle_server_error)
    app.register_error_handler(DBAPIError, handle_unavailable)
    app.register_error_handler(PoolTimeout, handle_unavailable)
    app.register_error_handler(RecursionError, handle_recursion)
    with contextlib.suppress(ImportError):
        import redis

        app.register_error_handler(redis.exceptions.ConnectionError, handle_unavailable)
        app.register_error_handler(redis.exceptions.TimeoutError, handle_unavailable)
    app.after_request(_outage_over)
    retries = logging.getLogger("grader.service.context")
    if not any(isinstance(f, _RetryWarnings) for f in retries.filters):
        retries.addFilter(_RetryWarnings())
