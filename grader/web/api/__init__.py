"""The JSON API at ``/api/v1``: bearer tokens (or the browser's session), JSON in, JSON out.

Errors are always JSON (``{"error": ..., "message": ..., "status": ...}``, the shape of
:func:`grader.web.errors.error_response`), never HTML. The OpenAPI 3.1 description is
``openapi.json`` next to this file, served at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from grader.web.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# The app-wide CSRF check would refuse an anonymous POST before it could be told it needs a token (401);
# the API checks CSRF itself, for requests authenticated by the session cookie (api_login_required).
csrf.exempt(bp)

#: Submissions accepted per minute per token (or per address for cookie requests).
DEFAULT_SUBMIT_RATE_LIMIT = "20/minute"

from grader.web.api import views  # noqa: E402  (registers the routes on bp)


def init_app(app: Flask) -> None:
    """Register the blueprint and rate-limit the submit endpoint with the app's limiter."""
    app.register_blueprint(bp)
    limiter = app.extensions.get("lossgrader.limiter")
    if limiter is None:
        return
    endpoint = "api.create_submission"
    limit = app.config.get("API_SUBMIT_RATE_LIMIT", DEFAULT_SUBMIT_RATE_LIMIT)
    app.view_functions[endpoint] = limiter.limit(limit, key_func=views.rate_limit_key, methods=["POST"])(
        app.view_functions[endpoint]
    )
