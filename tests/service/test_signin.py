"""One-time sign-in links: single use, expiry, hashed storage, replacement; invitations after a roster import."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.config import TestConfig
from grader.db.models import Base, SignInLink, User
from grader.db.session import make_engine, make_sessionmaker
from grader.service.onboarding import invite, write_links_csv
from grader.service.roster import import_roster
from grader.service.signin import INVITATION, RESET, LinkError, find_link, issue_link, redeem_link
from grader.service.users import check_password, create_user

T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.timezone.utc)
CONFIG = TestConfig(base_url="https://grader.example.edu/", invitation_days=3, reset_link_hours=2)


@pytest.fixture
def session() -> Iterator[Session]:
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    with make_sessionmaker(engine)() as opened:
        yield opened
    engine.dispose()


@pytest.fixture
def ada(session: Session) -> User:
    return create_user(session, "ada", "student", display_name="Ada Lovelace", email="ada@example.org")


def test_only_the_hash_of_the_token_is_stored(session, ada):
    issued = issue_link(session, ada, INVITATION, CONFIG, now=T0)
    assert issued.url == f"https://grader.example.edu/welcome/{issued.token}"
    assert len(issued.token) >= 40
    row = session.scalars(select(SignInLink)).one()
    assert row.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    stored = " ".join(str(getattr(row, c.key)) for c in SignInLink.__table__.columns)
    assert issued.token not in stored
    assert row.expires_at == T0 + dt.timedelta(days=3)


def test_a_link_sets_the_password_once(session, ada):
    issued = issue_link(session, ada, INVITATION, CONFIG, now=T0)
    user = redeem_link(session, issued.token, INVITATION, "a new passphrase", now=T0 + dt.timedelta(hours=1))
    assert user is ada and check_password(ada, "a new passphrase")
    with pytest.raises(LinkError, match="used already"):
        redeem_link(session, issued.token, INVITATION, "another one", now=T0 + dt.timedelta(hours=2))
    assert check_password(ada, "a new passphrase")


def test_a_link_expires(session, ada):
    issued = issue_link(session, ada, RESET, CONFIG, now=T0)
    assert find_link(session, issued.token, RESET, now=T0 + dt.timedelta(hours=1, minutes=59))
    with pytest.raises(LinkError, match="expired"):
        redeem_link(session, issued.token, RESET, "too late", now=T0 + dt.timedelta(hours=2))
    assert ada.password_hash is None


def test_a_new_link_replaces_the_old_one(session, ada):
    old = issue_link(session, ada, RESET, CONFIG, now=T0)
    new = issue_link(session, ada, RESET, CONFIG, now=T0 + dt.timedelta(minutes=5))
    with pytest.raises(LinkError, match="replaced"):
        find_link(session, old.token, RESET, now=T0 + dt.timedelta(minutes=6))
    redeem_link(session, new.token, RESET, "fresh", now=T0 + dt.timedelta(minutes=6))


def test_using_one_link_spends_the_others(session, ada):
    invitation = issue_link(session, ada, INVITATION, CONFIG, now=T0)
    reset = issue_link(session, ada, RESET, CONFIG, now=T0)
    redeem_link(session, reset.token, RESET, "via reset", now=T0)
    with pytest.raises(LinkError):
        redeem_link(session, invitation.token, INVITATION, "via invitation", now=T0)


@pytest.mark.parametrize("token", [None, "", "short", "x" * 43, "a/b" * 20])
def test_bad_or_unknown_tokens_are_refused(session, ada, token):
    issue_link(session, ada, INVITATION, CONFIG, now=T0)
    with pytest.raises(LinkError, match="not valid"):
        find_link(session, token, INVITATION, now=T0)


def test_a_link_works_only_for_its_purpose(session, ada):
    issued = issue_link(session, ada, INVITATION, CONFIG, now=T0)
    with pytest.raises(LinkError, match="not valid"):
        find_link(session, issued.token, RESET, now=T0)


def test_an_empty_password_is_refused_and_the_link_stays_usable(session, ada):
    issued = issue_link(session, ada, INVITATION, CONFIG, now=T0)
    with pytest.raises(ValueError, match="password is empty"):
        redeem_link(session, issued.token, INVITATION, "", now=T0)
    assert find_link(session, issued.token, INVITATION, now=T0)


def test_inactive_users_get_no_link_and_cannot_use_one(session, ada):
    issued = issue_link(session, ada, INVITATION, CONFIG, now=T0)
    ada.active = False
    with pytest.raises(LinkError, match="not active"):
        find_link(session, issued.token, INVITATION, now=T0)
    with pytest.raises(ValueError, match="inactive"):
        issue_link(session, ada, INVITATION, CONFIG, now=T0)


def test_roster_import_invites_new_students_and_writes_the_csv(session):
    create_user(session, "grace", "student", password="has one", student_number="S2", email="g@example.org")
    roster = "student_id,username,name,email\nS1,ada,Ada Lovelace,ada@example.org\nS2,grace,Grace Hopper,\nS3,,=cmd,\n"
    report = import_roster(session, roster.encode())
    assert report.ok and report.usernames == ["ada", "grace", "S3"]
    links = invite(session, CONFIG, report.usernames, created_by="test")
    assert [sent.username for sent in links] == ["ada", "S3"]  # grace can sign in already
    assert not any(sent.mailed for sent in links)  # no SMTP: the links are for the file
    sink = io.StringIO()
    assert write_links_csv(links, sink) == 2
    lines = sink.getvalue().splitlines()
    assert lines[0] == "username,email,name,link"
    assert lines[1] == f"ada,ada@example.org,Ada Lovelace,{links[0].link.url}"
    assert lines[2].startswith("S3,,'=cmd,https://grader.example.edu/welcome/")  # no formula for spreadsheets


def test_invitations_are_not_issued_twice_by_a_second_import_of_accepted_students(session):
    report = import_roster(session, b"student_id,username\nS1,ada\n")
    (first,) = invite(session, CONFIG, report.usernames)
    redeem_link(session, first.link.token, INVITATION, "chosen")
    assert (
        invite(session, dataclasses.replace(CONFIG), import_roster(session, b"student_id,username\nS1,ada\n").usernames)
        == []
    )
