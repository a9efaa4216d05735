"""Engines and sessions: SQLite pragmas, concurrent first opens, commit and rollback."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert, select, text

from grader.db.session import json_text, make_engine, make_sessionmaker, session_scope


def _pragma(url: str, name: str) -> object:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"PRAGMA {name}")).scalar()
    finally:
        engine.dispose()


def test_a_sqlite_file_gets_its_folder_wal_mode_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'folder' / 'x.db'}"
    assert _pragma(url, "journal_mode") == "wal"
    assert _pragma(url, "foreign_keys") == 1
    assert (tmp_path / "new" / "folder" / "x.db").is_file()


def test_many_first_opens_of_a_fresh_file_at_once_all_succeed(tmp_path: Path) -> None:
    # Switching to WAL takes an exclusive lock and SQLite refuses at once instead of
    # waiting; processes starting together on a new file used to fail now and then.
    def first_write(url: str) -> str:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            return "ok"
        except Exception as error:
            return str(error)
        finally:
            engine.dispose()

    for round_ in range(60):
        url = f"sqlite:///{tmp_path / f'{round_}.db'}"
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(first_write, [url] * 8))
        assert outcomes == ["ok"] * 8
        assert _pragma(url, "journal_mode") == "wal"


def test_in_memory_databases_are_shared_by_the_engine_s_connections() -> None:
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar() == 1


def test_session_scope_commits_on_success_and_rolls_back_on_error() -> None:
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    sessions = make_sessionmaker(engine)
    with session_scope(sessions) as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
    with pytest.raises(RuntimeError), session_scope(sessions) as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
        raise RuntimeError("boom")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == [1]


def test_json_text_is_plain_json_when_the_value_is_clean() -> None:
    value = {"name": "mse", "got": [0.5, 1.0], "error": None, "passed": True}
    assert json_text(value) == json.dumps(value)


def test_json_text_stores_what_strict_json_and_postgresql_refuse() -> None:
    value = {"got": float("nan"), "bounds": [float("inf"), -1.0], "output": "a\x00b"}
    assert json.loads(json_text(value)) == {"got": "nan", "bounds": ["inf", -1.0], "output": "a\ufffdb"}


def test_json_columns_hold_nan_and_nul_on_every_database(database_url: str) -> None:
    # PostgreSQL's json type refuses "\u0000" and NaN; the engine's serializer cleans them.
    table = Table("json_probe", MetaData(), Column("id", Integer, primary_key=True), Column("detail", JSON))
    engine = make_engine(database_url)
    try:
        table.create(engine)
        with engine.begin() as conn:
            conn.execute(insert(table), [{"id": 1, "detail": {"got": float("nan"), "output": "x\x00"}}])
            assert conn.scalar(select(table.c.detail)) == {"got": "nan", "output": "x\ufffd"}
    finally:
        table.drop(engine, checkfirst=True)
        engine.dispose()
