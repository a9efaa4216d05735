"""People and API tokens: create users, check passwords, issue and resolve CLI tokens.

Passwords are stored as scrypt hashes (werkzeug). An API token is ``lg_`` followed by
43 random URL-safe characters; the database keeps only its SHA-256 and a short display
prefix, so the plain token is shown exactly once, when it is created.

Nothing here commits: callers own the transaction (``grader.db.session.session_scope``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from grader.db.models import ROLES, ApiToken, User, utcnow

TOKEN_PREFIX = "lg_"
DISPLAY_PREFIX_LENGTH = 10  # "lg_" + 7 characters: enough to tell tokens apart, useless to an attacker
_TOKEN_RE = re.compile(r"^lg_[A-Za-z0-9_-]{20,100}$")

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
ROSTER_FIELDS = {
    "student_number": 64,
    "sis_user_id": 64,
    "sis_login_id": 150,
    "section": 100,
}
MAX_USERNAME = 150
MAX_DISPLAY_NAME = 200
MAX_EMAIL = 320


def username_problem(username: str) -> str | None:
    """Why ``username`` is not acceptable, or None."""
    if not username:
        return "username is empty"
    if len(username) > MAX_USERNAME:
        return f"username is longer than {MAX_USERNAME} characters"
    if not USERNAME_RE.match(username):
        return f"username {username!r} may contain only letters, digits and . _ @ + - (starting with a letter or digit)"
    return None


def email_problem(email: str) -> str | None:
    """Why ``email`` is not an email address, or None."""
    if len(email) > MAX_EMAIL or not EMAIL_RE.match(email):
        return f"email {email!r} is not an email address"
    return None


def find_user(session: Session, name: str) -> User | None:
    """The user with this username, or else this roster student id."""
    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        user = session.scalar(select(User).where(User.student_number == name))
    return user


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str | None = None,
    display_name: str = "",
    email: str | None = None,
    **roster: Any,
) -> User:
    """Add a user; ``roster`` takes student_number, sis_user_id, sis_login_id, section, active.

    Raises ``ValueError`` with a message fit for people on bad or duplicate input.
    """
    username = (username or "").strip()
    problem = username_problem(username)
    if problem:
        raise ValueError(problem)
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    display_name = (display_name or "").strip()
    if len(display_name) > MAX_DISPLAY_NAME:
        raise ValueError(f"name is longer than {MAX_DISPLAY_NAME} characters")
    email = (email or "").strip() or None
    if email is not None and (problem := email_problem(email)):
        raise ValueError(problem)
    if password is not None and password == "":
        raise ValueError("password is empty")
    active = bool(roster.pop("active", True))
    unknown = sorted(set(roster) - set(ROSTER_FIELDS))
    if unknown:
        raise ValueError(f"unknown user field(s): {', '.join(unknown)}")
    fields: dict[str, str | None] = {}
    for key, value in roster.items():
        value = None if value is None else str(value).strip() or None
        if value is not None and len(value) > ROSTER_FIELDS[key]:
            raise ValueError(f"{key} is longer than {ROSTER_FIELDS[key]} characters")
        fields[key] = value
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise ValueError(f"a user named {username!r} already exists")
    number = fields.get("student_number")
    if number is not None and session.scalar(select(User.id).where(User.student_number == number)) is not None:
        raise ValueError(f"student id {number!r} already belongs to another user")
    user = User(
        username=username,
        role=role,
        display_name=display_name,
        email=email,
        password_hash=None if password is None else hash_password(password),
        active=active,
        **fields,
    )
    session.add(user)
    session.flush()
    return user


def hash_password(password: str) -> str:
    """A scrypt hash of ``password``."""
    return generate_password_hash(password, method="scrypt")


def set_password(user: User, password: str) -> None:
    """Replace ``user``'s password."""
    if not password:
        raise ValueError("password is empty")
    user.password_hash = hash_password(password)


def check_password(user: User | None, password: str) -> bool:
    """Whether ``password`` is ``user``'s; False for users without a password or inactive ones."""
    if user is None or not user.password_hash or not user.active or not password:
        return False
    return check_password_hash(user.password_hash, password)


def token_hash(token: str) -> str:
    """The SHA-256 (hex) stored for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, name: str = "cli") -> str:
    """Issue a token for ``user`` and return it; only its hash is stored, so show it now."""
    name = (name or "").strip() or "cli"
    if len(name) > 100:
        raise ValueError("token name is longer than 100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(user=user, name=name, token_hash=token_hash(token), prefix=token[:DISPLAY_PREFIX_LENGTH]),
    )
    session.flush()
    return token


TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)


# Every API request (status polls included) looks its token up: one query, built once,
# read as a plain row (the user's columns and the token's), no ORM objects.
_USERS, _TOKENS = User.__table__, ApiToken.__table__
_TOKEN_AND_USER = (
    select(
        *_USERS.c,
        _TOKENS.c.id.label("token_id"),
        _TOKENS.c.token_hash,
        _TOKENS.c.last_used_at.label("token_last_used_at"),
    )
    .join_from(_TOKENS, _USERS, _USERS.c.id == _TOKENS.c.user_id)
    .where(_TOKENS.c.token_hash == bindparam("digest"), _TOKENS.c.revoked_at.is_(None))
)
_TOKEN_USED = update(_TOKENS).where(_TOKENS.c.id == bindparam("token"))


def user_for_token(session: Session, token: str | None) -> Any:
    """The active user holding ``token`` (not revoked), recording its use; None otherwise.

    The user comes back as a read-only row of the ``users`` columns (``id``,
    ``username``, ``role``...), not a :class:`User`. The lookup is by SHA-256, so
    response time does not depend on how much of a guessed token matches a real one;
    the digest is compared again in constant time.
    """
    if not isinstance(token, str) or not _TOKEN_RE.match(token):
        return None
    digest = token_hash(token)
    found = session.execute(_TOKEN_AND_USER, {"digest": digest}).one_or_none()
    if found is None or not hmac.compare_digest(found.token_hash, digest) or not found.active:
        return None
    now = utcnow()
    # At most one write a minute per token: status polls must not turn every read into a write.
    last_used = found.token_last_used_at
    if last_used is None or now - last_used >= TOKEN_USE_RESOLUTION:
        session.execute(_TOKEN_USED, {"token": found.token_id, "last_used_at": now})
        for stale in [o for o in session.identity_map.values() if isinstance(o, ApiToken) and o.id == found.token_id]:
            session.expire(stale, ["last_used_at"])
    return found


def revoke_token(session: Session, token: str | int | ApiToken) -> bool:
    """Revoke a token given as the plain token, its id or the row; True if it was live."""
    if isinstance(token, ApiToken):
        row: ApiToken | None = token
    elif isinstance(token, int):
        row = session.get(ApiToken, token)
    else:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.flush()
    return True
