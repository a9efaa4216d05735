"""Single sign-on with the institution's OpenID Connect provider (Authlib), when configured.

Settings: ``LOSSGRADER_OIDC_ISSUER`` (its discovery document is
``<issuer>/.well-known/openid-configuration``), ``LOSSGRADER_OIDC_CLIENT_ID``,
``LOSSGRADER_OIDC_CLIENT_SECRET`` and ``LOSSGRADER_OIDC_SCOPES`` (default ``openid email
profile``). The provider redirects back to ``/login/sso/callback``. The authorization code
is exchanged for tokens, and the ID token's signature (the provider's JWKS), issuer,
audience, expiry and nonce are checked by Authlib.

Accounts are never created here: the roster makes them. A person is matched by the
subject stored at their first SSO sign-in, else by email address (case-insensitive,
exactly one active account, and not when the provider says the address is unverified);
the subject is then stored, so a later change of address does not lock them out.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, flash, redirect, render_template, session, url_for
from sqlalchemy import func, select

from grader.db.models import User
from grader.web.auth import bp
from grader.web.db import get_db

CLIENT_KEY = "lossgrader.oidc"
NOT_KNOWN = "Your institution signed you in, but there is no lossgrader account for {who}. Ask your instructor."


def sso_configured(config: Any) -> bool:
    """Whether single sign-on is set up (issuer, client id and secret)."""
    return bool(config.oidc_issuer and config.oidc_client_id and config.oidc_client_secret)


def check_sso_settings(config: Any) -> None:
    """ValueError with one line when single sign-on is half set up."""
    given = [config.oidc_issuer, config.oidc_client_id, config.oidc_client_secret]
    if any(given) and not all(given):
        raise ValueError(
            "single sign-on needs LOSSGRADER_OIDC_ISSUER, LOSSGRADER_OIDC_CLIENT_ID and LOSSGRADER_OIDC_CLIENT_SECRET"
        )
    if config.oidc_issuer and not config.oidc_issuer.startswith(("https://", "http://127.", "http://localhost")):
        raise ValueError(f"LOSSGRADER_OIDC_ISSUER must be an https:// address, got {config.oidc_issuer!r}")


def init_sso(app: Flask) -> None:
    """Register the OpenID Connect client when the settings are there."""
    config = app.config["LOSSGRADER"]
    if not sso_configured(config):
        return
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    issuer = config.oidc_issuer.rstrip("/")
    client = oauth.register(
        "oidc",
        client_id=config.oidc_client_id,
        client_secret=config.oidc_client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": config.oidc_scopes or "openid email profile"},
    )
    app.extensions[CLIENT_KEY] = client


def sso_enabled() -> bool:
    """Whether this app offers single sign-on (for the sign-in page)."""
    return CLIENT_KEY in current_app.extensions


def match_account(claims: dict[str, Any]) -> tuple[User | None, str | None]:
    """The account for the ID token's ``claims`` (storing the subject on it), or (None, why not)."""
    db = get_db()
    subject = str(claims.get("sub") or "")
    if not subject:
        return None, "Your institution did not say who you are. Try again, or sign in with your password."
    user = db.scalar(select(User).where(User.sso_subject == subject))
    email = str(claims.get("email") or "").strip()
    if user is None:
        if not email:
            return None, NOT_KNOWN.format(who="you (your institution gave no email address)")
        if claims.get("email_verified") is False:
            return None, "Your institution has not verified your email address, so it cannot be matched to an account."
        found = db.scalars(select(User).where(func.lower(User.email) == email.lower(), User.active.is_(True))).all()
        if len(found) != 1:
            return None, NOT_KNOWN.format(who=email) if not found else (
                f"Several accounts have the address {email}: ask your instructor to sign you in another way."
            )
        user = found[0]
        if user.sso_subject and user.sso_subject != subject:
            return None, NOT_KNOWN.format(who=email)
        user.sso_subject = subject
    if not user.active:
        return None, "This account is not active. Ask your instructor."
    return user, None


@bp.route("/login/sso")
def sso_login() -> Any:
    """Send the browser to the provider (a link, not a form: ``form-action 'self'`` forbids that redirect)."""
    client = current_app.extensions.get(CLIENT_KEY)
    if client is None:
        return redirect(url_for("auth.login"))
    try:
        return client.authorize_redirect(url_for("auth.sso_callback", _external=True))
    except Exception as exc:  # the provider is unreachable or its discovery document is wrong
        current_app.logger.warning("single sign-on unavailable: %s", exc)
        flash("Single sign-on is unavailable right now. Sign in with your password, or try again later.", "warning")
        return redirect(url_for("auth.login"))


@bp.route("/login/sso/callback")
def sso_callback() -> Any:
    """The provider's answer: exchange the code, check the ID token, sign the person in."""
    from authlib.integrations.base_client.errors import OAuthError

    client = current_app.extensions.get(CLIENT_KEY)
    if client is None:
        return redirect(url_for("auth.login"))
    try:
        token = client.authorize_access_token()
    except OAuthError as exc:
        current_app.logger.info("single sign-on refused: %s", exc)
        return _problem("Single sign-on did not complete. Try again, or sign in with your password.")
    except Exception as exc:  # network or a token that does not verify
        current_app.logger.warning("single sign-on failed: %s", exc)
        return _problem("Single sign-on did not complete. Try again, or sign in with your password.")
    claims = dict(token.get("userinfo") or {})
    user, problem = match_account(claims)
    if user is None:
        get_db().rollback()
        return _problem(problem or NOT_KNOWN.format(who="you"))
    get_db().commit()
    from grader.web.auth.onboarding import sign_in_as
    from grader.web.auth.views import home_url

    sign_in_as(user)
    session["sso"] = True
    current_app.logger.info("sign-in by single sign-on: %s", user.username)
    from flask_login import current_user

    return redirect(home_url(current_user))


def _problem(message: str) -> Any:
    return render_template("auth/link_problem.html", title="Single sign-on", problem=message), 403
