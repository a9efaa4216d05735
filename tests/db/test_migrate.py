"""Migrations (grader.db.migrate) on a SQLite file and on PostgreSQL: head is exactly the models."""

from __future__ import annotations

import ast
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from grader.db import migrate
from grader.db.models import Base
from grader.db.session import make_engine

HEAD = migrate.head()


def schema_diff(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_there_is_one_head() -> None:
    assert HEAD is not None


def test_upgrade_empty_database_gives_exactly_the_models(database_url: str) -> None:
    assert migrate.upgrade(database_url) == HEAD
    assert schema_diff(database_url) == []


def test_downgrade_to_base_leaves_only_the_version_table(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert migrate.downgrade(database_url, "base") is None
    assert tables(database_url) <= {"alembic_version"}


def test_upgrade_twice_is_harmless(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert migrate.upgrade(database_url) == HEAD
    assert schema_diff(database_url) == []


def test_current_is_none_on_an_empty_database(database_url: str) -> None:
    assert migrate.current(database_url) is None


def test_current_is_head_after_upgrade(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == HEAD


def test_ensure_schema_creates_a_missing_sqlite_file_at_head(tmp_path: Path) -> None:
    path = tmp_path / "instance" / "lossgrader.db"
    url = f"sqlite:///{path}"
    assert migrate.ensure_schema(url) == HEAD
    assert path.is_file()
    assert migrate.current(url) == HEAD
    assert schema_diff(url) == []


def test_current_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    assert migrate.current(f"sqlite:///{path}") is None
    assert not path.exists()


def test_concurrent_starts_migrate_once(database_url: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: migrate.ensure_schema(database_url), range(4)))
    assert results == [HEAD] * 4
    assert schema_diff(database_url) == []


def test_ensure_schema_stamps_a_create_all_database_that_matches(database_url: str) -> None:
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    assert migrate.ensure_schema(database_url) == HEAD
    assert migrate.current(database_url) == HEAD


def test_ensure_schema_refuses_an_unknown_revision(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    engine.dispose()
    with pytest.raises(migrate.MigrationError, match="does not know"):
        migrate.ensure_schema(database_url)


def test_ensure_schema_on_an_in_memory_engine_restores_foreign_keys() -> None:
    engine = make_engine("sqlite://")
    assert migrate.ensure_schema(engine) == HEAD
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert "users" in inspect(conn).get_table_names()
    engine.dispose()


def test_alembic_stays_quiet(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    migrate.upgrade(f"sqlite:///{tmp_path / 'quiet.db'}")
    assert [r for r in caplog.records if r.name.startswith("alembic")] == []


def test_sqlite_engine_is_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_migrations_do_not_import_grader() -> None:
    """Frozen scripts: later changes to the models must not change what old migrations do."""
    for script in (migrate.migrations_dir() / "versions").glob("*.py"):
        tree = ast.parse(script.read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] == "grader"}, script.name
