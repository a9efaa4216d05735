"""``lossgrader user add|token|list`` through grader.cli.run, on a temporary SQLite file."""

from __future__ import annotations

import io
import sys

import pytest
from sqlalchemy import select

from grader.cli import run
from grader.db.models import ApiToken, User
from grader.service.users import check_password, user_for_token
from tests.commands.conftest import Stored


@pytest.fixture
def stored(cli_database: Stored) -> Stored:
    """The CLI's database (a SQLite file); call it for a committed session."""
    return cli_database


def test_add_user_with_password_from_stdin(stored: Stored, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse\n"))
    assert run(["user", "add", "ivy", "--role", "instructor", "--password-stdin", "--name", "Ivy Prof"]) == 0
    assert "added instructor ivy" in capsys.readouterr().out
    with stored() as session:
        ivy = session.scalars(select(User)).one()
        assert (ivy.role, ivy.display_name) == ("instructor", "Ivy Prof")
        assert check_password(ivy, "correct horse")


def test_duplicate_user_is_one_line_error(stored: Stored, capsys) -> None:
    run(["user", "add", "ivy", "--role", "admin"])
    capsys.readouterr()
    assert run(["user", "add", "ivy", "--role", "admin"]) == 2
    assert capsys.readouterr().err == "error: a user named 'ivy' already exists\n"


def test_bad_role_is_one_line_error(stored: Stored, capsys) -> None:
    assert run(["user", "add", "ivy", "--role", "boss"]) == 2
    assert capsys.readouterr().err.startswith("error: --role: 'boss' is not one of")


def test_both_password_options_refused(stored: Stored, capsys) -> None:
    assert run(["user", "add", "ivy", "--role", "admin", "--password", "x", "--password-stdin"]) == 2
    assert capsys.readouterr().err == "error: give --password or --password-stdin, not both\n"


def test_token_is_printed_once_and_works(stored: Stored, capsys) -> None:
    run(["user", "add", "ivy", "--role", "instructor"])
    capsys.readouterr()
    assert run(["user", "token", "ivy", "--name", "laptop"]) == 0
    token = capsys.readouterr().out.strip()
    with stored() as session:
        assert user_for_token(session, token).username == "ivy"
        row = session.scalars(select(ApiToken)).one()
        assert (row.name, token in (row.token_hash, row.prefix)) == ("laptop", False)


def test_token_for_unknown_user(stored: Stored, capsys) -> None:
    assert run(["user", "token", "nobody"]) == 2
    assert capsys.readouterr().err == "error: no user 'nobody' (give a username or a student id)\n"


def test_list_users(stored: Stored, capsys) -> None:
    run(["user", "add", "ivy", "--role", "instructor"])
    run(["user", "add", "ann", "--role", "student", "--student-id", "S1"])
    capsys.readouterr()
    assert run(["user", "list"]) == 0
    listing = capsys.readouterr().out
    assert "ivy" in listing and "instructor" in listing and "S1" in listing


def test_unreachable_database_is_one_line_error(monkeypatch, capsys) -> None:
    monkeypatch.setenv("LOSSGRADER_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert run(["user", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: database postgresql+psycopg://nobody@127.0.0.1:1/none") and err.count("\n") == 1
