"""``lossgrader db upgrade|downgrade|current`` through grader.cli.run."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.cli import run
from grader.db import migrate

HEAD = migrate.head()
UNREACHABLE = "postgresql+psycopg://postgres:secret@127.0.0.1:1/nowhere"  # nothing listens on port 1


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'instance' / 'lossgrader.db'}"


def test_upgrade_creates_the_database_at_head(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["db", "upgrade", "--url", url]) == 0
    assert capsys.readouterr().out == f"database at {url} is at revision {HEAD} (head)\n"
    assert migrate.current(url) == HEAD


def test_upgrade_uses_the_configured_database(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOSSGRADER_DATABASE_URL", url)
    assert run(["db", "upgrade"]) == 0
    assert migrate.current(url) == HEAD


def test_current_reports_head(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    migrate.upgrade(url)
    assert run(["db", "current", "--url", url]) == 0
    assert capsys.readouterr().out.endswith(f"is at revision {HEAD} (head)\n")


def test_current_on_an_empty_database(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["db", "current", "--url", url]) == 0
    assert "is empty" in capsys.readouterr().out


def test_downgrade_to_base(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    migrate.upgrade(url)
    assert run(["db", "downgrade", "base", "--url", url]) == 0
    assert "is empty" in capsys.readouterr().out
    assert migrate.current(url) is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["db", "current", "--url", UNREACHABLE], "database at postgresql+psycopg://postgres:***@127.0.0.1:1/nowhere:"),
        (["db", "upgrade", "--url", UNREACHABLE], "database at postgresql+psycopg://postgres:***@127.0.0.1:1/nowhere:"),
        (["db", "current", "--url", "not a url"], "not a usable database URL"),
    ],
)
def test_failures_are_one_error_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert captured.err.startswith("error:") and message in captured.err
    assert "secret" not in captured.err and "Traceback" not in captured.err


def test_unknown_revision_is_one_error_line(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["db", "upgrade", "--url", url, "--revision", "f00dfeed"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "f00dfeed" in err and len(err.splitlines()) == 1
