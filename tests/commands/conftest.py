"""What the command tests share: the CLI's own database, a SQLite file per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from grader.commands.users import open_db

#: Call it for a session of the CLI's database, committed when the block ends.
Stored = Callable[[], AbstractContextManager[Session]]


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stored:
    """The database the commands open (``LOSSGRADER_DATABASE_URL``: a SQLite file of this test), empty."""
    monkeypatch.setenv("LOSSGRADER_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")

    @contextmanager
    def session() -> Iterator[Session]:
        with open_db() as db, db.session() as s:
            yield s

    return session
