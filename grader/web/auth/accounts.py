"""The signed-in person as Flask-Login sees them, wrapping a :class:`~grader.db.models.User` row."""

from __future__ import annotations

import hashlib
from typing import Any

from flask_login import UserMixin

from grader.db.models import User

#: Role ranks: a user passes a role check for their own role and every role below it.
RANK = {"student": 0, "instructor": 1, "admin": 2}


class Account(UserMixin):
    """A signed-in user. ``get_id`` changes when the password does, which ends other sessions.

    ``user``: a :class:`User`, or a row of the ``users`` columns (API tokens).
    """

    def __init__(self, user: User | Any) -> None:
        self.user = user
        self.id = user.id
        self.username = user.username
        self.display_name = user.display_name or user.username
        self.role = user.role

    @property
    def is_active(self) -> bool:
        """Deactivated users cannot sign in, and their sessions end."""
        return bool(self.user.active)

    def get_id(self) -> str:
        """``<user id>.<fingerprint of the password hash>``."""
        return f"{self.id}.{password_fingerprint(self.user)}"

    def has_role(self, role: str) -> bool:
        """Whether this user may act as ``role`` (instructors pass student checks, admins every check)."""
        return RANK.get(self.role, -1) >= RANK[role]

    @property
    def is_instructor(self) -> bool:
        """Instructor or admin."""
        return self.has_role("instructor")

    @property
    def is_admin(self) -> bool:
        """Admin."""
        return self.role == "admin"


def password_fingerprint(user: User) -> str:
    """A short digest of the password hash (not of the password): changes when the password does."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def load_account(session_id: str) -> Account | None:
    """Flask-Login's user loader: the active user whose id and fingerprint match."""
    from grader.web.db import get_db

    user_id, _, fingerprint = session_id.partition(".")
    if not user_id.isdigit():
        return None
    user = get_db().get(User, int(user_id))
    if user is None or not user.active or fingerprint != password_fingerprint(user):
        return None
    return Account(user)
