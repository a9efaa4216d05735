"""Shared fixtures: databases and a Redis of the session's own; the suite's Hypothesis profile.

Database tests run on SQLite always and on PostgreSQL when it is reachable. Where the
services are required (``CI`` is set, or ``LOSSGRADER_REQUIRE_SERVICES=1``), an
unreachable PostgreSQL or Redis fails the run instead of skipping tests.

Hypothesis runs derandomized (the same examples on every run, no example database, no
deadline), so a run never fails by luck; ``pytest --hypothesis-profile=explore`` draws
new examples each run, for looking for bugs rather than guarding against them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None)
# Loaded before any test module builds its settings (they inherit from the profile then);
# --hypothesis-profile, applied later by Hypothesis's plugin, still wins.
settings.load_profile("deterministic")

PG_ADMIN_URL = os.environ.get("LOSSGRADER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LOSSGRADER_TEST_REDIS", "redis://127.0.0.1:6379/15")


def services_required() -> bool:
    """Whether missing PostgreSQL/Redis must fail the run (CI) rather than skip."""
    return bool(os.environ.get("CI")) or os.environ.get("LOSSGRADER_REQUIRE_SERVICES") == "1"


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if services_required():
        pytest.fail(f"{message}; it is required here (CI or LOSSGRADER_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Create a fresh PostgreSQL database for this test session; yield its URL."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:
        _unavailable("PostgreSQL", exc)
    name = f"lossgrader_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL URL whose database is empty at the start of the test."""
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_server)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    yield postgres_server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Redis for this test session alone, when ``redis-server`` is installed.

    A Redis shared with other pytest processes on this host would mix their queues: their
    workers would take each other's messages, and each test's FLUSHDB would empty the
    other's. So a private one runs on a Unix socket (no port to race for) unless
    LOSSGRADER_TEST_REDIS names one (CI's service) or there is no ``redis-server``.
    """
    binary = shutil.which("redis-server")
    if "LOSSGRADER_TEST_REDIS" in os.environ or binary is None:
        yield REDIS_URL
        return
    import redis

    path = tmp_path_factory.mktemp("redis") / "redis.sock"
    command = [binary, "--port", "0", "--unixsocket", str(path), "--unixsocketperm", "700"]
    process = subprocess.Popen(
        [*command, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    client = redis.Redis(unix_socket_path=str(path), socket_connect_timeout=1)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the private redis-server did not start (exit code {process.poll()})", pytrace=False)
                time.sleep(0.05)
        yield f"unix://{path}?db=15"
    finally:
        client.close()
        process.terminate()
        process.wait(10)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A Redis database (number 15) emptied before and after the test."""
    try:
        import redis

        client = redis.Redis.from_url(redis_server, socket_connect_timeout=3)
        client.ping()
    except Exception as exc:
        _unavailable("Redis", exc)
    client.flushdb()
    try:
        yield redis_server
    finally:
        client.flushdb()
        client.close()
