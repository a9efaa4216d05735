"""Configuration from environment variables, with a config class for tests.

Every setting is one ``LOSSGRADER_*`` variable (documented in the README's table).
The embedded default needs nothing: a SQLite file under ``instance/`` and grading
workers inside the service process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_INSTANCE = Path("instance")


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``UTC``, ``Europe/Paris``); ValueError with a one-line message if unknown."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"LOSSGRADER_TIMEZONE: unknown time zone {name!r}; use an IANA name such as UTC or Europe/Paris"
        ) from None


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Config:
    """Service settings. ``from_env()`` reads ``LOSSGRADER_<NAME>`` for each field."""

    database_url: str = field(default_factory=lambda: f"sqlite:///{(DEFAULT_INSTANCE / 'lossgrader.db').resolve()}")
    broker_url: str | None = None  # redis://… → Dramatiq workers; None → in-process workers
    secret_key: str | None = None
    labs: str | None = None  # folder of labs (default: the shipped ones)
    workers: int = 2  # in-process grading threads (embedded mode)
    lease_seconds: int = 120  # a running submission whose lease expired is re-dispatched
    max_grading_attempts: int = 3  # grader errors retried this many times, then "error"
    reconcile_seconds: int = 15  # how often the reconciler looks for stuck submissions
    insecure_sandbox: bool = False  # grade without the sandbox (development only)
    timezone: str = "UTC"  # the course's time zone (IANA name): every date shown and entered on the web pages
    # Getting students in (grader.service.signin, grader.service.mail, grader.web.auth.sso)
    base_url: str | None = None  # the service's address as students reach it, for links in mails and exports
    invitation_days: int = 14  # an invitation link works this long, once
    reset_link_hours: int = 24  # a password-reset link works this long, once
    smtp_url: str | None = None  # smtp://user:pass@host:587?starttls=1 or smtps://…; None: links are shown instead
    mail_from: str = "lossgrader <lossgrader@localhost>"  # the sender of invitations and reset mails
    mail_per_address_per_hour: int = 5  # mails to one address in an hour; more are refused
    oidc_issuer: str | None = None  # single sign-on with this OpenID Connect provider (with the two below)
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid email profile"
    instance_path: str = str(DEFAULT_INSTANCE.resolve())
    testing: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Config:
        """Settings from ``LOSSGRADER_*`` variables, then ``overrides``."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"LOSSGRADER_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            if kind.startswith("int"):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ValueError(f"LOSSGRADER_{f.name.upper()} must be an integer, got {raw!r}") from None
            elif kind.startswith("bool"):
                values[f.name] = _bool(raw)
            else:
                values[f.name] = raw
        values.update(overrides)
        if "timezone" in values:
            time_zone(values["timezone"])  # a typo stops the service with one line, not at the first page
            values["timezone"] = values["timezone"].strip()
        return cls(**values)

    @property
    def zone(self) -> ZoneInfo:
        """The course's time zone."""
        return time_zone(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")


@dataclass
class TestConfig(Config):
    """For tests: a throwaway database and synchronous, deterministic settings."""

    __test__ = False

    database_url: str = "sqlite://"
    secret_key: str | None = "test-secret"
    workers: int = 1
    lease_seconds: int = 5
    testing: bool = True
