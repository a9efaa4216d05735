"""Fixtures for the red-team suite: secrets in the grader's environment, one shared pool.

The suite needs what the sandbox needs (Linux, pyseccomp, root or unprivileged user
namespaces: as root it tests the root mode, as another user the userns mode); on such a machine it
must run, not skip: in CI on Linux, or with ``LOSSGRADER_REDTEAM_REQUIRED=1``, a missing
sandbox fails the run instead of skipping.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sandbox.conftest import SANDBOX_OK, SANDBOX_REQUIRED, UID_BASE

#: This suite's block of uids (tests/sandbox uses UID_BASE + 0 .. + 383).
REDTEAM_UID_BASE = UID_BASE + 384


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SANDBOX_OK:
        return
    if SANDBOX_REQUIRED:
        raise pytest.UsageError(
            "the red-team suite must run here, but the sandbox (Linux, pyseccomp, root or user namespaces) is missing"
        )
    here = Path(__file__).parent
    mark = pytest.mark.skip(reason="the sandbox needs Linux, pyseccomp, and root or unprivileged user namespaces")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here) and "pool" in getattr(item, "fixturenames", ()):
            item.add_marker(mark)


@dataclass(frozen=True)
class Secrets:
    """What must never reach a submission."""

    key: str
    database_url: str
    token: str
    marker: str
    sqlite_path: str
    sqlite_secret: str

    def values(self) -> list[str]:
        password = self.database_url.split("@")[0].rsplit(":", 1)[1]
        return [self.key, self.database_url, self.token, self.sqlite_secret, password]


@pytest.fixture(scope="module")
def grader_secrets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secrets]:
    """Secrets in the grader's environment (before the pool starts) and a grades database."""
    key = "sk-" + secrets.token_hex(16)
    password = secrets.token_hex(12)
    url = f"postgresql://grader:{password}@127.0.0.1:5432/lossgrader"
    token = "tok-" + secrets.token_hex(16)
    folder = tmp_path_factory.mktemp("redteam-db")
    database = folder / "grades.sqlite3"
    sqlite_secret = "answer-" + secrets.token_hex(12)
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE hidden (name TEXT, expected TEXT)")
        db.execute("INSERT INTO hidden VALUES ('softmax-course-slide', ?)", (sqlite_secret,))
    saved = {k: os.environ.get(k) for k in ("LOSSGRADER_SECRET_KEY", "LOSSGRADER_DATABASE_URL", "LOSSGRADER_TOKEN")}
    os.environ.update(LOSSGRADER_SECRET_KEY=key, LOSSGRADER_DATABASE_URL=url, LOSSGRADER_TOKEN=token)
    try:
        yield Secrets(key, url, token, "redteam-" + secrets.token_hex(6), str(database), sqlite_secret)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def pool(grader_secrets: Secrets) -> Iterator:
    """The one pool every attack in a module goes through, started with the secrets set."""
    from grader.sandbox import SandboxRunner

    with SandboxRunner(slots=2, uid_base=REDTEAM_UID_BASE) as shared:
        shared.start()
        yield shared


@pytest.fixture()
def listener() -> Iterator[socket.socket]:
    """A TCP listener on 127.0.0.1 that no submission may reach."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.setblocking(False)
    try:
        yield server
    finally:
        server.close()
