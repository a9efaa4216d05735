"""``lossgrader user password|reset-link``, ``roster import --invitations`` and ``serve``'s way back in,
through grader.cli.run on a temporary SQLite file (mail: a real SMTP server on 127.0.0.1)."""

from __future__ import annotations

import csv
import io
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.cli import run
from grader.config import Config
from grader.db.models import AuditEvent, Course, SignInLink, User
from grader.service.signin import RESET, redeem_link
from grader.service.users import check_password, create_user
from tests.commands.conftest import Stored
from tests.mailserver import smtp_server, text_and_html

ROSTER = "student_id,username,name,email\nS1,ada,Ada Lovelace,ada@example.org\nS2,bob,Bob,\n"


@pytest.fixture
def db(cli_database: Stored, monkeypatch: pytest.MonkeyPatch) -> Stored:
    monkeypatch.setenv("LOSSGRADER_BASE_URL", "https://grader.example.edu")
    for name in ("LOSSGRADER_SMTP_URL", "LOSSGRADER_MAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    session = cli_database
    with session() as s:
        create_user(s, "ivy", "instructor", password="old one", email="ivy@example.org")
    return session


def test_password_from_stdin(db, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("new secret\n"))
    assert run(["user", "password", "ivy", "--stdin"]) == 0
    assert capsys.readouterr().out == "password of ivy changed\n"
    with db() as session:
        assert check_password(session.scalars(select(User)).one(), "new secret")


def test_password_needs_a_terminal_or_stdin(db, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert run(["user", "password", "ivy"]) == 2
    assert capsys.readouterr().err == "error: no terminal to ask for the password: use --stdin\n"
    assert run(["user", "password", "ivy", "--stdin"]) == 2
    assert capsys.readouterr().err == "error: no password on standard input\n"
    assert run(["user", "password", "nobody", "--stdin"]) == 2


def test_reset_link_prints_a_link_that_works_once(db, capsys):
    assert run(["user", "reset-link", "ivy"]) == 0
    captured = capsys.readouterr()
    link = captured.out.strip()
    assert link.startswith("https://grader.example.edu/reset/") and "works once, until" in captured.err
    with db() as session:
        assert session.scalars(select(SignInLink)).one().token_hash not in link
        redeem_link(session, link.rsplit("/", 1)[1], RESET, "from the link")
        assert check_password(session.scalars(select(User)).one(), "from the link")


def test_reset_link_by_mail(db, monkeypatch, capsys):
    assert run(["user", "reset-link", "ivy", "--mail"]) == 2
    assert capsys.readouterr().err == "error: --mail needs LOSSGRADER_SMTP_URL\n"
    with smtp_server() as server:
        monkeypatch.setenv("LOSSGRADER_SMTP_URL", server.url)
        assert run(["user", "reset-link", "ivy", "--mail"]) == 0
        (message,) = server.wait_for(lambda messages: len(messages) == 1)
    captured = capsys.readouterr()
    assert "mailed to ivy@example.org" in captured.err
    assert captured.out.strip() in text_and_html(message)[0]


def test_roster_import_writes_invitations_and_mails_them(db, tmp_path, monkeypatch, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    out = tmp_path / "links.csv"
    with smtp_server() as server:
        monkeypatch.setenv("LOSSGRADER_SMTP_URL", server.url)
        assert run(["roster", "import", str(roster), "--invitations", str(out)]) == 0
        (message,) = server.wait_for(lambda messages: len(messages) == 1)
    captured = capsys.readouterr()
    assert "2 invitations written to" in captured.out and "1 mailed" in captured.out
    assert "bob: bob has no email address" in captured.err
    rows = list(csv.DictReader(out.open(newline="")))
    assert [(r["username"], r["email"], r["name"]) for r in rows] == [
        ("ada", "ada@example.org", "Ada Lovelace"),
        ("bob", "", "Bob"),
    ]
    assert all(r["link"].startswith("https://grader.example.edu/welcome/") for r in rows)
    assert rows[0]["link"] in text_and_html(message)[0]
    # Again, with one more student: only the newcomer is invited; the links sent before still work.
    monkeypatch.delenv("LOSSGRADER_SMTP_URL")
    roster.write_text(ROSTER + "S3,cy,Cy,\n")
    assert run(["roster", "import", str(roster), "--invitations", str(out)]) == 0
    assert "1 invitation written" in capsys.readouterr().out
    assert [r["username"] for r in csv.DictReader(out.open(newline=""))] == ["cy"]


def test_a_bad_problem_in_the_roster_writes_no_invitations(db, tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,email\nS1,not-an-address\n")
    out = tmp_path / "links.csv"
    assert run(["roster", "import", str(roster), "--invitations", str(out)]) == 1
    assert not out.exists()


def test_serve_says_how_to_get_into_the_demo_accounts_again(db, capsys):
    from grader.commands.web import create_demo, say_how_to_get_in

    say_how_to_get_in(Config.from_env())
    assert "`lossgrader user password USER` sets one" in capsys.readouterr().out
    with db() as session:
        create_demo(session)
    say_how_to_get_in(Config.from_env())
    said = capsys.readouterr().out
    assert "`lossgrader demo` gives them new passwords" in said
    assert "`lossgrader user reset-link demo-instructor`" in said


def _link_events(session: Session) -> list[AuditEvent]:
    actions = ("invitation_issue", "reset_link_issue")
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action.in_(actions)).order_by(AuditEvent.id)))


def test_links_issued_from_the_command_line_are_audited_without_them(db, tmp_path, capsys):
    assert run(["course", "create", "dl", "--title", "DL"]) == 0
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    out = tmp_path / "links.csv"
    assert run(["roster", "import", str(roster), "--invitations", str(out)]) == 0
    assert run(["user", "reset-link", "ivy"]) == 0
    links = [r["link"] for r in csv.DictReader(out.open(newline=""))] + [capsys.readouterr().out.strip()]
    with db() as session:
        course_id = session.scalars(select(Course.id)).one()
        ids = {u.username: u.id for u in session.scalars(select(User))}
        events = _link_events(session)
        assert [(e.action, e.actor_label.startswith("cli:"), e.actor_id, e.course_id, e.user_id) for e in events] == [
            ("invitation_issue", True, None, course_id, ids["ada"]),
            ("invitation_issue", True, None, course_id, ids["bob"]),
            ("reset_link_issue", True, None, None, ids["ivy"]),  # ivy takes no course
        ]
        assert [(e.new["kind"], e.new["user"], e.new["mailed"]) for e in events] == [
            ("invitation", "ada", False), ("invitation", "bob", False), ("reset", "ivy", False)
        ]  # fmt: skip
        stored = repr([(e.actor_label, e.old, e.new, e.note) for e in events])
    assert len(links) == 3 and all(link.rsplit("/", 1)[1] not in stored for link in links)
    assert "grader.example.edu" not in stored
