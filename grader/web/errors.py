"""Error pages (HTML), and JSON errors under ``/api/``."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from grader.web import db

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
    429: ("Too many requests", "Too many attempts in a short time. Wait a minute, then try again."),
    500: ("Something went wrong", "The server could not finish this request. It has been logged; try again later."),
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


def handle_csrf_error(exc: CSRFError) -> Response:
    """A form without a valid CSRF token: 400, with a way out."""
    return error_response(400, CSRF_MESSAGE)


def init_app(app: Flask) -> None:
    """Register the handlers (unhandled exceptions reach the 500 handler unless testing propagates them)."""
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(InternalServerError, handle_server_error)
