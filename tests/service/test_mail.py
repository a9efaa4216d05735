"""Mail through a real SMTP server (aiosmtpd on 127.0.0.1): delivery, plain text + HTML, rate limits, retries."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grader.config import TestConfig
from grader.db.models import Base, OutboxMail, User
from grader.db.session import make_engine, make_sessionmaker
from grader.service import mail
from grader.service.mail import MAX_ATTEMPTS, MailRefused, SmtpSettings, deliver_due, mail_link, retry_now
from grader.service.onboarding import invite, reset_link
from grader.service.signin import INVITATION, issue_link
from grader.service.users import create_user
from tests.mailserver import smtp_server, text_and_html

# The outbox stamps a new mail with the real clock, so the tests' clock starts after it
# (a fixed date here made the retry tests fail once the real clock passed it).
T0 = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).replace(second=0, microsecond=0)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def sessions(tmp_path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'mail.db'}")
    Base.metadata.create_all(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def _config(url: str, **changes) -> TestConfig:
    return TestConfig(
        smtp_url=url,
        mail_from="Deep Learning 101 <dl101@example.edu>",
        base_url="https://grader.example.edu",
        **changes,
    )


def _student(sessions, username="ada", email="ada@example.org") -> int:
    with sessions() as session:
        user = create_user(session, username, "student", display_name="Ada Lovelace", email=email)
        session.commit()
        return user.id


def _closed_port() -> socket.socket:
    """A socket bound to a port and never listening: connecting to it is refused (the caller closes it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.mark.parametrize(
    "url, expected",
    [
        ("smtp://mail.example.edu", SmtpSettings("mail.example.edu", 25, "none")),
        (
            "smtp://u:p%40ss@mail.example.edu:587?starttls=1",
            SmtpSettings("mail.example.edu", 587, "starttls", "u", "p@ss"),
        ),
        ("smtps://u:p@mail.example.edu", SmtpSettings("mail.example.edu", 465, "tls", "u", "p")),
        ("smtp://mail.example.edu:2525?timeout=5", SmtpSettings("mail.example.edu", 2525, "none", timeout=5.0)),
    ],
)
def test_smtp_urls(url, expected):
    assert SmtpSettings.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example.edu", "smtp://", "smtp://h?tls=1", "smtp://h:99999"])
def test_bad_smtp_urls_are_one_line_errors(url):
    with pytest.raises(ValueError, match="LOSSGRADER_SMTP_URL") as info:
        SmtpSettings.from_url(url)
    assert "\n" not in str(info.value)


def test_an_invitation_arrives_as_plain_text_and_html(sessions):
    user_id = _student(sessions)
    with smtp_server(login=("grader", "s3cret")) as server:
        config = _config(server.url)
        with sessions() as session:
            (sent,) = invite(session, config, ["ada"], course_title="Deep Learning 101")
            session.commit()
        assert sent.mailed
        assert deliver_due(sessions, config) == (1, 0)
        (message,) = server.wait_for(lambda messages: len(messages) == 1)
    assert message["To"] == "ada@example.org"
    assert message["From"] == "Deep Learning 101 <dl101@example.edu>"
    assert message["Subject"] == "Your lossgrader account for Deep Learning 101"
    assert server.envelopes == [("dl101@example.edu", ["ada@example.org"])]
    text, html = text_and_html(message)
    assert sent.link.url in text and "Your username is ada." in text
    assert f'href="{sent.link.url}"' in html and "Choose your password" in html
    with sessions() as session:
        row = session.scalars(select(OutboxMail)).one()
        assert (row.status, row.attempts, row.user_id, row.last_error) == ("sent", 1, user_id, None)
        assert deliver_due(sessions, config) == (0, 0)  # sent once only


def test_a_reset_mail(sessions):
    _student(sessions)
    with smtp_server() as server:
        config = _config(server.url)
        with sessions() as session:
            sent = reset_link(session, config, session.scalars(select(User)).one())
            session.commit()
        deliver_due(sessions, config)
        (message,) = server.wait_for(lambda messages: len(messages) == 1)
    text, html = text_and_html(message)
    assert message["Subject"] == "Reset your lossgrader password"
    assert sent.link.url.startswith("https://grader.example.edu/reset/") and sent.link.url in text
    assert "ignore this mail" in text and "Choose a new password" in html


def test_each_address_gets_a_limited_number_of_mails_an_hour(sessions):
    _student(sessions)
    config = _config("smtp://127.0.0.1:25", mail_per_address_per_hour=3)
    with sessions() as session:
        user = session.scalars(select(User)).one()
        for _ in range(3):
            mail_link(session, config, user, issue_link(session, user, INVITATION, config))
        with pytest.raises(MailRefused, match="3 mails in the last hour"):
            mail_link(session, config, user, issue_link(session, user, INVITATION, config))
        user.email = "ADA@example.org"  # the same mailbox
        with pytest.raises(MailRefused):
            mail_link(session, config, user, issue_link(session, user, INVITATION, config))
        later = T0 + dt.timedelta(days=1)
        assert mail.recent_count(session, "ada@example.org", later) == 0


def test_a_student_without_an_address_gets_the_link_instead(sessions):
    _student(sessions, email=None)
    with sessions() as session:
        (sent,) = invite(session, _config("smtp://127.0.0.1:25"), ["ada"])
    assert not sent.mailed and sent.problem == "ada has no email address" and sent.link.url


def test_failures_are_kept_and_retried_until_sent(sessions):
    _student(sessions)
    clock = [T0]
    with smtp_server() as server:
        server.refuse = 2  # the server is busy twice
        config = _config(server.url)
        with sessions() as session:
            invite(session, config, ["ada"])
            session.commit()
        assert deliver_due(sessions, config, now=lambda: clock[0]) == (0, 1)
        with sessions() as session:
            row = session.scalars(select(OutboxMail)).one()
            assert (row.status, row.attempts) == ("pending", 1)
            assert "451" in row.last_error and "Try again later" in row.last_error
            assert row.next_attempt_at == T0 + dt.timedelta(minutes=1)
        assert deliver_due(sessions, config, now=lambda: clock[0]) == (0, 0)  # not due yet
        clock[0] = T0 + dt.timedelta(minutes=1)
        assert deliver_due(sessions, config, now=lambda: clock[0]) == (0, 1)
        clock[0] = T0 + dt.timedelta(minutes=6)
        assert deliver_due(sessions, config, now=lambda: clock[0]) == (1, 0)
        server.wait_for(lambda messages: len(messages) == 1)
    with sessions() as session:
        row = session.scalars(select(OutboxMail)).one()
        assert (row.status, row.attempts, row.sent_at) == ("sent", 3, clock[0])


def test_an_unreachable_server_is_given_up_after_the_last_attempt_and_can_be_retried(sessions):
    _student(sessions)
    closed = _closed_port()
    try:
        config = _config(f"smtp://127.0.0.1:{closed.getsockname()[1]}?timeout=5")
        with sessions() as session:
            invite(session, config, ["ada"])
            session.commit()
        clock = T0
        for _ in range(MAX_ATTEMPTS):
            assert deliver_due(sessions, config, now=lambda moment=clock: moment) == (0, 1)
            clock += dt.timedelta(days=1)
        assert deliver_due(sessions, config, now=lambda moment=clock: moment) == (0, 0)
        with sessions() as session:
            row = session.scalars(select(OutboxMail)).one()
            assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
            assert row.last_error.startswith("ConnectionRefusedError")
            assert mail.undelivered(session) == [row]
            assert retry_now(session, row.id)
            session.commit()
    finally:
        closed.close()
    with smtp_server() as server:
        assert deliver_due(sessions, dataclasses.replace(config, smtp_url=server.url)) == (1, 0)
        server.wait_for(lambda messages: len(messages) == 1)


def test_without_smtp_nothing_is_queued_or_sent(sessions):
    _student(sessions)
    config = TestConfig()
    with sessions() as session:
        (sent,) = invite(session, config, ["ada"])
        session.commit()
        assert not sent.mailed and session.scalars(select(OutboxMail)).all() == []
    assert deliver_due(sessions, config) == (0, 0)
