"""The web service: ``create_app()`` builds the Flask app (students, instructors, API).

Configuration comes from :meth:`grader.config.Config.from_env` plus the web-only
settings of :mod:`grader.web.settings`; tests pass a :class:`~grader.config.TestConfig`
or a mapping (``LOSSGRADER``: a Config, ``SERVICES``: ready-made services, and any
Flask setting).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify, redirect, url_for
from flask_login import current_user

from grader.config import Config, TestConfig

#: Blueprint packages written separately; registered when they exist.
OPTIONAL_BLUEPRINTS = ("instructor", "api")


def create_app(test_config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``test_config`` replaces the environment's configuration."""
    overrides: dict[str, Any] = {}
    if isinstance(test_config, Config):
        config = test_config
    elif test_config is not None:
        overrides = dict(test_config)
        config = overrides.pop("LOSSGRADER", None) or TestConfig()
    else:
        config = Config.from_env()
    services = overrides.pop("SERVICES", None)

    app = Flask(__name__, instance_path=config.instance_path, instance_relative_config=True)
    from grader.web import db, errors, filters, limits, security
    from grader.web.extensions import csrf

    limits.init_app(app)  # path converters before any route is added; the size checks before any other hook
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    configure(app, config, overrides)

    db.init_app(app, services)
    security.init_app(app)
    csrf.init_app(app)
    app.before_request(_check_csrf)
    errors.init_app(app)
    filters.init_app(app)

    from grader.web import auth, course_context, polling, student

    polling.init_app(app)  # before auth's rate limiter, whose Retry-After it corrects
    auth.init_app(app)
    app.register_blueprint(student.bp, url_prefix="/courses/<course>")
    app.register_blueprint(student.bp, name="legacy_student")  # course-less paths of one-course services
    register_optional_blueprints(app)
    course_context.init_app(app)

    app.add_url_rule("/", "index", index)
    app.add_url_rule("/healthz", "healthz", healthz)
    app.add_url_rule("/readyz", "readyz", readyz)
    return app


def configure(app: Flask, config: Config, overrides: Mapping[str, Any]) -> None:
    """Flask settings from the service config, the web settings and the overrides."""
    from grader.web.security import load_secret_key
    from grader.web.settings import WebSettings

    app.config.update(WebSettings.from_env().flask_config(config.broker_url))
    app.config.update(
        LOSSGRADER=config,
        TESTING=config.testing,
        LOGIN_IP_RATE_LIMIT="30/minute",  # failed sign-ins from one address, whatever the username
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by _check_csrf, which lets token requests through
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session: a lab page may stay open for hours
        RATELIMIT_HEADERS_ENABLED=True,
    )
    app.config.update(overrides)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config.secret_key or load_secret_key(config.instance_path)


def _check_csrf() -> None:
    """CSRF check on every unsafe request, except those that authenticate with a bearer token."""
    from flask import current_app

    from grader.web.auth.tokens import has_bearer_header
    from grader.web.extensions import csrf

    if not current_app.config.get("WTF_CSRF_ENABLED", True) or has_bearer_header():
        return
    csrf.protect(apply_exemptions=True)


def register_optional_blueprints(app: Flask) -> None:
    """Register ``grader.web.instructor`` and ``grader.web.api`` if they are installed."""
    for name in OPTIONAL_BLUEPRINTS:
        module_name = f"{__name__}.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not written (yet)
            raise
        if getattr(module, "__file__", None) is None:
            continue  # an empty folder (a namespace package), not a blueprint package yet
        if hasattr(module, "init_app"):
            module.init_app(app)
        else:
            app.register_blueprint(module.bp)


def index() -> Any:
    """Signed in: your home page; otherwise the sign-in page."""
    if current_user.is_authenticated:
        from grader.web.auth.views import home_url

        return redirect(home_url(current_user))
    return redirect(url_for("auth.login"))


def healthz() -> Any:
    """Liveness: the process answers (it needs nothing else; see ``/readyz``)."""
    return jsonify(status="ok")


def readyz() -> Any:
    """Readiness: 200 when the database and the broker answer and submissions can be graded,
    else 503 with ``Retry-After`` and what is not ready."""
    from grader.web.health import READY, readiness

    checks = readiness()
    ready = all(check in READY for check in checks.values())
    response = jsonify(status="ready" if ready else "unavailable", checks=checks)
    if not ready:
        from grader.web.errors import UNAVAILABLE_RETRY_SECONDS

        response.status_code = 503
        response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_SECONDS)
    return response
