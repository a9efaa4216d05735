"""Settings of the web front end only, read from ``LOSSGRADER_*`` environment variables.

The service's own settings (database, broker, secret key, workers...) live in
:class:`grader.config.Config`; these only change how the web process behaves.

=====================================  =========================================================
``LOSSGRADER_COOKIE_SECURE``           ``1``: cookies only over HTTPS, and send HSTS (default off)
``LOSSGRADER_BEHIND_PROXY``            ``1`` (or a number of proxies): trust ``X-Forwarded-*``
``LOSSGRADER_RATELIMIT_STORAGE_URL``   where rate limits are counted (default: the Redis broker
                                       when there is one, else memory of each process)
``LOSSGRADER_LOGIN_RATE_LIMIT``        failed sign-ins per IP and username (default ``5/minute``)
``LOSSGRADER_MAX_UPLOAD_KB``           largest request body, in KB (default 300)
``LOSSGRADER_SESSION_HOURS``           how long a sign-in lasts (default 12)
=====================================  =========================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TRUE = ("1", "true", "yes", "on")


def _bool(raw: str | None) -> bool:
    return (raw or "").strip().lower() in TRUE


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _proxies(raw: str | None) -> int:
    raw = (raw or "").strip().lower()
    if not raw or raw in ("0", "false", "no", "off"):
        return 0
    if raw in TRUE:
        return 1
    try:
        return max(0, int(raw))
    except ValueError:
        raise ValueError(f"LOSSGRADER_BEHIND_PROXY must be 1/true or a number of proxies, got {raw!r}") from None


@dataclass(frozen=True)
class WebSettings:
    """Web-only settings; ``from_env()`` reads them."""

    cookie_secure: bool = False
    behind_proxy: int = 0  # number of trusted proxies in front of the app
    ratelimit_storage_url: str | None = None
    login_rate_limit: str = "5/minute"
    max_upload_kb: int = 4160  # a notebook with its stored outputs (4 MiB, see grader.grading.notebook) and the form
    session_hours: int = 12

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        """Settings from the environment (``environ`` for tests)."""
        env = os.environ if environ is None else environ
        return cls(
            cookie_secure=_bool(env.get("LOSSGRADER_COOKIE_SECURE")),
            behind_proxy=_proxies(env.get("LOSSGRADER_BEHIND_PROXY")),
            ratelimit_storage_url=(env.get("LOSSGRADER_RATELIMIT_STORAGE_URL") or "").strip() or None,
            login_rate_limit=(env.get("LOSSGRADER_LOGIN_RATE_LIMIT") or "").strip() or cls.login_rate_limit,
            max_upload_kb=_int(env, "LOSSGRADER_MAX_UPLOAD_KB", cls.max_upload_kb, minimum=1),
            session_hours=_int(env, "LOSSGRADER_SESSION_HOURS", cls.session_hours, minimum=1),
        )

    def flask_config(self, broker_url: str | None) -> dict[str, Any]:
        """The Flask (and extension) config keys these settings stand for."""
        import datetime as dt

        storage = self.ratelimit_storage_url
        if storage is None and broker_url and broker_url.startswith(("redis://", "rediss://", "unix://")):
            # the limits library names a Redis on a Unix socket redis+unix:// (redis-py: unix://)
            storage = "redis+" + broker_url if broker_url.startswith("unix://") else broker_url
        return {
            "SESSION_COOKIE_SECURE": self.cookie_secure,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_NAME": "lossgrader_session",
            "REMEMBER_COOKIE_SECURE": self.cookie_secure,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "PERMANENT_SESSION_LIFETIME": dt.timedelta(hours=self.session_hours),
            "PREFERRED_URL_SCHEME": "https" if self.cookie_secure else "http",
            "MAX_CONTENT_LENGTH": self.max_upload_kb * 1024,
            # Form fields other than files (pasted code: at most 256 KB) are held in memory.
            "MAX_FORM_MEMORY_SIZE": min(self.max_upload_kb, 300) * 1024,
            "RATELIMIT_STORAGE_URI": storage or "memory://",
            "LOGIN_RATE_LIMIT": self.login_rate_limit,
            "HSTS": self.cookie_secure,
            "BEHIND_PROXY": self.behind_proxy,
        }
