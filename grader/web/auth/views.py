"""Sign in (username or student id, and password) and sign out (POST only)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from grader.web.auth import bp
from grader.web.auth.accounts import Account
from grader.web.auth.forms import LoginForm, LogoutForm
from grader.web.db import get_db

WRONG = "Wrong username or password."
_dummy_hash: str | None = None


def _check_unknown(password: str) -> None:
    """Spend the time a real check takes, so response times do not reveal which usernames exist."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_hex(16), method="scrypt")
    check_password_hash(_dummy_hash, password)


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (no scheme, no host), else None."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\r\n\\"):
        return None
    return target


def home_url(account: Any) -> str:
    """Where a user goes after signing in: the instructor pages for instructors (when installed), else the labs."""
    from grader.web.filters import instructor_home

    return (instructor_home() if account.is_instructor else None) or url_for("student.labs")


def login_key() -> str:
    """Rate-limit key for sign-in attempts: the client's address and the username tried."""
    username = (request.form.get("username") or "").strip().lower()[:150]
    return f"{get_remote_address()}|{username}"


def login_failed(_response: Response) -> bool:
    """Only failed attempts count towards the limits."""
    return bool(g.get("login_failed"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in page. A new session is started at sign-in (no session fixation)."""
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        from grader.service.users import check_password, find_user

        db = get_db()
        user = find_user(db, form.username.data.strip())
        if user is None:
            _check_unknown(form.password.data)
        if user is not None and check_password(user, form.password.data):
            target = safe_next(request.args.get("next"))
            session.clear()  # drop everything from before sign-in, the CSRF secret included
            session["sid"] = secrets.token_urlsafe(16)
            session.permanent = True
            login_user(Account(user))
            current_app.logger.info("sign-in: %s", user.username)
            return redirect(target or home_url(current_user))
        g.login_failed = True
        current_app.logger.info("failed sign-in for %r from %s", form.username.data[:150], get_remote_address())
        error = WRONG
    return render_template("auth/login.html", form=form, error=error)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Sign out: POST with a CSRF token only, so a link on another site cannot sign you out."""
    form = LogoutForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.login"))
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def unauthorized() -> Any:
    """Anonymous visitors: pages redirect to sign-in, the API answers 401 JSON."""
    from grader.web.errors import error_response, wants_json

    if wants_json():
        return error_response(401)
    flash("Please sign in to see this page.", "info")
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.login", next=safe_next(target)))
