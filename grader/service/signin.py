"""One-time sign-in links: invitations for new students and password resets.

A link is ``<base URL>/welcome/<token>`` (invitations) or ``<base URL>/reset/<token>``
(resets), the token 43 random URL-safe characters. Only its SHA-256 is stored, so a
database dump holds no usable link. A link works once and until it expires; issuing a
new link of the same purpose for a user revokes the earlier ones. Following a link lets
its holder choose a password, which signs them in.

Nothing here commits: callers own the transaction.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from grader.config import Config
from grader.db.models import SignInLink, User, utcnow
from grader.service.users import set_password, token_hash

INVITATION = "invitation"
RESET = "reset"
PATHS = {INVITATION: "welcome", RESET: "reset"}
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{40,100}$")


class LinkError(ValueError):
    """A link that cannot be used (unknown, used, expired, replaced); the message is for people."""


@dataclass(frozen=True)
class IssuedLink:
    """A link just issued: the only time its token is known."""

    user_id: int
    username: str
    purpose: str
    token: str
    url: str
    expires_at: dt.datetime


def lifetime(config: Config, purpose: str) -> dt.timedelta:
    """How long a link of ``purpose`` works (``LOSSGRADER_INVITATION_DAYS``, ``LOSSGRADER_RESET_LINK_HOURS``)."""
    if purpose == INVITATION:
        return dt.timedelta(days=max(1, config.invitation_days))
    return dt.timedelta(hours=max(1, config.reset_link_hours))


def link_url(base_url: str, purpose: str, token: str) -> str:
    """The address of the link with ``token``."""
    return f"{base_url.rstrip('/')}/{PATHS[purpose]}/{token}"


def issue_link(
    session: Session,
    user: User,
    purpose: str,
    config: Config,
    base_url: str | None = None,
    created_by: str = "system",
    now: dt.datetime | None = None,
) -> IssuedLink:
    """A new one-time link for ``user``; earlier unused links of the same purpose stop working."""
    if purpose not in PATHS:
        raise ValueError(f"unknown link purpose {purpose!r}")
    if not user.active:
        raise ValueError(f"user {user.username} is inactive")
    now = now or utcnow()
    session.execute(
        update(SignInLink)
        .where(
            SignInLink.user_id == user.id,
            SignInLink.purpose == purpose,
            SignInLink.used_at.is_(None),
            SignInLink.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = secrets.token_urlsafe(32)
    expires_at = now + lifetime(config, purpose)
    session.add(
        SignInLink(
            user_id=user.id,
            purpose=purpose,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=expires_at,
            created_by=created_by[:200],
        )
    )
    session.flush()
    base = base_url or config.base_url or DEFAULT_BASE_URL
    return IssuedLink(user.id, user.username, purpose, token, link_url(base, purpose, token), expires_at)


def find_link(session: Session, token: str | None, purpose: str, now: dt.datetime | None = None) -> SignInLink:
    """The live link holding ``token``; :class:`LinkError` saying why not otherwise."""
    if not isinstance(token, str) or not _TOKEN_RE.match(token):
        raise LinkError("This link is not valid. Check that you copied all of it.")
    digest = token_hash(token)
    link = session.scalar(select(SignInLink).where(SignInLink.token_hash == digest))
    if link is None or link.purpose != purpose or not hmac.compare_digest(link.token_hash, digest):
        raise LinkError("This link is not valid. Check that you copied all of it.")
    if link.used_at is not None:
        raise LinkError("This link has been used already: it works only once. Sign in with your password.")
    if link.revoked_at is not None:
        raise LinkError("This link was replaced by a newer one. Use the newest link you were sent.")
    if (now or utcnow()) >= link.expires_at:
        raise LinkError("This link has expired. Ask your instructor for a new one.")
    if not link.user.active:
        raise LinkError("This account is not active. Ask your instructor.")
    return link


def redeem_link(
    session: Session, token: str | None, purpose: str, password: str, now: dt.datetime | None = None
) -> User:
    """Set the password of the link's user and use the link up (one UPDATE, so two tabs cannot both use it)."""
    now = now or utcnow()
    link = find_link(session, token, purpose, now)
    set_password(link.user, password)  # ValueError on a password the service refuses
    used = session.execute(
        update(SignInLink)
        .where(SignInLink.id == link.id, SignInLink.used_at.is_(None), SignInLink.revoked_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise LinkError("This link has been used already: it works only once. Sign in with your password.")
    session.refresh(link)
    # Any other live link of this user (an invitation when a reset was used, or the reverse) is spent too.
    session.execute(
        update(SignInLink)
        .where(SignInLink.user_id == link.user_id, SignInLink.used_at.is_(None), SignInLink.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return link.user


def has_signed_in(user: User) -> bool:
    """Whether the user can sign in by themselves (a password or single sign-on)."""
    return bool(user.password_hash or user.sso_subject)


def pending_invitations(session: Session, user_ids: list[int] | None = None) -> dict[int, SignInLink]:
    """The newest invitation of each user who cannot sign in yet (``user_ids``: only these)."""
    query = (
        select(SignInLink)
        .join(User, User.id == SignInLink.user_id)
        .where(SignInLink.purpose == INVITATION, User.password_hash.is_(None), User.sso_subject.is_(None))
        .order_by(SignInLink.user_id, SignInLink.created_at)
    )
    if user_ids is not None:
        query = query.where(SignInLink.user_id.in_(user_ids))
    newest: dict[int, SignInLink] = {}
    for link in session.scalars(query):
        newest[link.user_id] = link
    return newest
