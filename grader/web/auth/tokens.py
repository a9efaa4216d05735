"""API-token authentication (``Authorization: Bearer lg_...``), for the API blueprint.

Token requests never use the session cookie, so they need no CSRF token; a browser
cannot add an ``Authorization`` header to a cross-site request by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, jsonify, request

from grader.web.auth.accounts import Account

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def has_bearer_header() -> bool:
    """Whether the request authenticates with a bearer token (and so not with the cookie)."""
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


def token_account() -> Account | None:
    """The active user owning the request's bearer token, or None (cached for the request)."""
    if "token_account" not in g:
        from grader.service.users import user_for_token
        from grader.web.db import get_db

        token = bearer_token()
        session = get_db()
        user = user_for_token(session, token) if token else None
        if user is not None:
            session.commit()  # records last_used_at
        g.token_account = Account(user) if user is not None else None
    return g.token_account


def _json_error(status: int, error: str, message: str) -> Any:
    response = jsonify(error=error, message=message, status=status)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="lossgrader"'
    return response


def token_required(role: str = "student") -> Callable[[F], F]:
    """API views: 401 JSON without a valid token, 403 JSON without the role; ``g.account`` is the user."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            account = token_account()
            if account is None:
                return _json_error(401, "unauthorized", "a valid API token is required (Authorization: Bearer ...)")
            if not account.has_role(role):
                return _json_error(403, "forbidden", f"this needs the {role} role")
            g.account = account
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
