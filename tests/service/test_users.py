"""Users, passwords and API tokens (grader.service.users), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import ApiToken, Base
from grader.db.session import make_engine, make_sessionmaker
from grader.service.users import check_password, create_token, create_user, revoke_token, user_for_token


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    with make_sessionmaker(engine)() as s:
        yield s
    engine.dispose()


def test_password_is_stored_as_scrypt_hash(session: Session) -> None:
    user = create_user(session, "alice", "instructor", password="correct horse")
    assert user.password_hash.startswith("scrypt:")
    assert "correct horse" not in user.password_hash


def test_check_password(session: Session) -> None:
    user = create_user(session, "alice", "student", password="correct horse")
    assert check_password(user, "correct horse")
    assert not check_password(user, "wrong horse")


def test_user_without_password_cannot_log_in(session: Session) -> None:
    assert not check_password(create_user(session, "bob", "student"), "")


def test_duplicate_username_refused_ignoring_case(session: Session) -> None:
    create_user(session, "alice", "student")
    with pytest.raises(ValueError, match="a user named 'Alice' already exists"):
        create_user(session, "Alice", "student")


def test_unknown_role_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="role 'teacher' is not one of student, instructor, admin"):
        create_user(session, "alice", "teacher")


def test_duplicate_student_number_refused(session: Session) -> None:
    create_user(session, "alice", "student", student_number="S1")
    with pytest.raises(ValueError, match="student id 'S1' already belongs"):
        create_user(session, "bob", "student", student_number="S1")


def test_bad_email_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="email 'x@' is not an email address"):
        create_user(session, "alice", "student", email="x@")


def test_roster_fields_stored(session: Session) -> None:
    user = create_user(session, "alice", "student", student_number="S1", section="A", sis_login_id="alice@uni")
    assert (user.student_number, user.section, user.sis_login_id) == ("S1", "A", "alice@uni")


def test_token_stores_only_hash_and_prefix(session: Session) -> None:
    token = create_token(session, create_user(session, "alice", "student"))
    row = session.scalars(select(ApiToken)).one()
    assert token.startswith("lg_") and len(token) > 40
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(row.prefix) and len(row.prefix) < 12


def test_user_for_token_finds_user_and_records_use(session: Session) -> None:
    alice = create_user(session, "alice", "student")
    token = create_token(session, alice)
    found = user_for_token(session, token)
    assert (found.id, found.username, found.role, found.active) == (alice.id, "alice", "student", True)
    assert alice.tokens[0].last_used_at is not None  # the ORM copy held here is current too


def test_user_for_token_ignores_unknown_and_malformed(session: Session) -> None:
    create_token(session, create_user(session, "alice", "student"))
    assert user_for_token(session, "lg_" + "x" * 43) is None
    assert user_for_token(session, "not a token") is None
    assert user_for_token(session, None) is None


def test_revoked_token_is_ignored(session: Session) -> None:
    token = create_token(session, create_user(session, "alice", "student"))
    assert revoke_token(session, token)
    assert user_for_token(session, token) is None
    assert not revoke_token(session, token)


def test_token_of_inactive_user_is_ignored(session: Session) -> None:
    alice = create_user(session, "alice", "student", active=False)
    assert user_for_token(session, create_token(session, alice)) is None
