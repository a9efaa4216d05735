"""Signing in and out, role checks, API tokens, and the sign-in rate limit."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("auth", __name__)

from grader.web.auth import onboarding, sso, views  # noqa: E402  (register the routes on bp)


def init_app(app: Flask) -> None:
    """Login manager, the blueprint, and rate limits on sign-in attempts."""
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    from grader.web.auth.accounts import load_account
    from grader.web.extensions import login_manager

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_account)
    login_manager.unauthorized_handler(views.unauthorized)
    app.register_blueprint(bp)
    sso.init_sso(app)
    from grader.db.models import utcnow

    app.jinja_env.globals.update(sso_enabled=sso.sso_enabled, now_utc=utcnow)
    onboarding.start_postman(app)

    # One limiter per app: Flask-Limiter keeps its storage on the extension object.
    limiter = Limiter(
        key_func=get_remote_address,
        storage_uri=app.config.get("RATELIMIT_STORAGE_URI", "memory://"),
        strategy="moving-window",
        headers_enabled=True,
        key_prefix="lossgrader",
        swallow_errors=True,  # Redis down: sign-in still works (counted in memory meanwhile)
        in_memory_fallback_enabled=True,
        enabled=app.config.get("RATELIMIT_ENABLED", True),
    )
    limiter.init_app(app)
    login = app.view_functions["auth.login"]
    failed = views.login_failed
    login = limiter.limit(
        app.config["LOGIN_RATE_LIMIT"], key_func=views.login_key, methods=["POST"], deduct_when=failed
    )(login)
    login = limiter.limit(app.config["LOGIN_IP_RATE_LIMIT"], methods=["POST"], deduct_when=failed)(login)
    app.view_functions["auth.login"] = login
    # "Forgot password" mails a link: few per address (the outbox's limit) and few per client address.
    app.view_functions["auth.forgot"] = limiter.limit("10/hour", methods=["POST"])(app.view_functions["auth.forgot"])
    app.extensions["lossgrader.limiter"] = limiter
