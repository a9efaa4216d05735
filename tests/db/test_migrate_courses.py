"""The courses migration on a database with data, on SQLite and PostgreSQL: the old schema is
built at the revision before it, filled, upgraded; every row is still there, in one course,
with the same scores, and the labs' policies are that course's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, func, select, text

from grader.db import migrate
from grader.db.session import make_engine

COURSES = "a6c0d2f4e813"
PREVIOUS = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision(COURSES).down_revision
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
COUNTED = ("users", "labs", "submissions", "fixture_results", "scores", "extensions", "audit_events")


def _at(engine: Any, value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=None) if engine.dialect.name == "sqlite" else value


def _fill(url: str) -> None:
    """Two labs with policies, three students, an instructor, an admin, and their rows."""
    engine = make_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    when = _at(engine, T0)
    with engine.begin() as conn:
        conn.execute(
            t["users"].insert(),
            [
                {"id": i, "username": name, "display_name": name, "role": role, "section": section,
                 "active": True, "created_at": when}
                for i, name, role, section in (
                    (1, "ann", "student", "A"), (2, "ben", "student", "B"), (3, "cat", "student", None),
                    (4, "ines", "instructor", None), (5, "root", "admin", None),
                )
            ],
        )  # fmt: skip
        common = {"max_score": 10.0, "late_percent_per_day": 0.0, "counting": "last", "unloadable_counts": False,
                  "due_at": None, "hard_deadline_at": None, "max_submissions": None}  # fmt: skip
        conn.execute(
            t["labs"].insert(),
            [
                {**common, "id": "lab01", "title": "MSE", "version": "v1", "position": 1, "late_policy": "none",
                 "due_at": when, "created_at": when, "updated_at": when},
                {**common, "id": "lab02", "title": "CE", "version": "v2", "position": 2,
                 "late_policy": "percent_per_day", "late_percent_per_day": 10.0, "max_submissions": 5,
                 "counting": "best", "unloadable_counts": True, "hard_deadline_at": _at(engine, T0 + dt.timedelta(7)),
                 "created_at": when, "updated_at": when},
            ],
        )  # fmt: skip
        submissions, scores = [], []
        for sid, (user, lab, attempt, score) in enumerate(
            [
                (1, "lab01", 1, 4.0),
                (1, "lab01", 2, 9.5),
                (2, "lab01", 1, 10.0),
                (2, "lab02", 1, 3.25),
                (3, "lab02", 1, 0.0),
            ],
            start=1,
        ):
            submissions.append(
                {"id": sid, "user_id": user, "lab_id": lab, "attempt": attempt, "filename": "s.py", "source": "x=1",
                 "source_sha256": "0" * 64, "submitted_at": when, "status": "graded", "seed": sid, "score": score,
                 "max_score": 10.0, "grading_attempts": 1}
            )  # fmt: skip
        conn.execute(t["submissions"].insert(), submissions)
        conn.execute(
            t["fixture_results"].insert(),
            [
                {"submission_id": s["id"], "lab_id": s["lab_id"], "position": 0, "name": "f", "function": "mse",
                 "category": "basic", "visibility": "public", "passed": True, "stage": "compare", "score": s["score"],
                 "max_score": 10.0, "feedback": "", "detail": {}}
                for s in submissions
            ],
        )  # fmt: skip
        for cell, (user, lab, sid, final) in enumerate(
            [(1, "lab01", 2, 9.5), (2, "lab01", 3, 10.0), (2, "lab02", 4, 2.925), (3, "lab02", 5, 0.0)], start=1
        ):
            scores.append(
                {"id": cell, "user_id": user, "lab_id": lab, "submission_id": sid, "raw": final, "penalty": 0.0,
                 "final": final, "max_score": 10.0, "late_days": 0, "attempts": 1, "updated_at": when}
            )  # fmt: skip
        conn.execute(t["scores"].insert(), scores)
        conn.execute(
            t["extensions"].insert(),
            [
                {
                    "user_id": 3,
                    "lab_id": "lab02",
                    "due_at": when,
                    "reason": "ill",
                    "granted_by_id": 4,
                    "created_at": when,
                }
            ],
        )
        conn.execute(
            t["audit_events"].insert(),
            [{"at": when, "actor_label": "cli:root", "action": "regrade", "lab_id": "lab01", "note": ""}],
        )
    engine.dispose()


def _snapshot(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            counts = {name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar() for name in COUNTED}
            scores = conn.execute(
                text("SELECT user_id, lab_id, submission_id, raw, penalty, final FROM scores ORDER BY id")
            ).all()
            graded = conn.execute(text("SELECT id, score FROM submissions ORDER BY id")).all()
        return {"counts": counts, "scores": [tuple(r) for r in scores], "graded": [tuple(r) for r in graded]}
    finally:
        engine.dispose()


@pytest.fixture
def filled(database_url: str) -> str:
    """A database at the revision before courses, with data in it."""
    migrate.upgrade(database_url, PREVIOUS)
    _fill(database_url)
    return database_url


def test_existing_data_moves_into_one_course_unchanged(filled: str) -> None:
    before = _snapshot(filled)
    migrate.upgrade(filled, COURSES)
    assert _snapshot(filled) == before
    engine = make_engine(filled)
    try:
        with engine.connect() as conn:
            courses = conn.execute(text("SELECT id, code, title, timezone FROM courses")).all()
            assert [tuple(c)[1:] for c in courses] == [("default", "Course", "UTC")]
            course_id = courses[0][0]
            for table in ("submissions", "scores", "extensions", "audit_events"):
                ids = conn.execute(text(f"SELECT DISTINCT course_id FROM {table}")).scalars().all()
                assert ids == [course_id], table
            enrolled = conn.execute(text("SELECT user_id, role, section FROM enrolments ORDER BY user_id")).all()
            assert [tuple(e) for e in enrolled] == [
                (1, "student", "A"), (2, "student", "B"), (3, "student", None), (4, "instructor", None)
            ]  # fmt: skip
            meta = MetaData()
            meta.reflect(conn, only=["course_labs", "labs"])
            policy = [
                c.name
                for c in meta.tables["course_labs"].columns
                if c.name in meta.tables["labs"].columns and not c.name.endswith("ed_at")
            ]
            copied = conn.execute(select(*(meta.tables["course_labs"].c[n] for n in policy)).order_by("lab_id")).all()
            original = conn.execute(select(*(meta.tables["labs"].c[n] for n in policy)).order_by("id")).all()
            assert "due_at" in policy and "unloadable_counts" in policy and "counting" in policy
            assert copied == original
            assert conn.execute(select(func.count()).select_from(meta.tables["course_labs"])).scalar() == 2
    finally:
        engine.dispose()


def test_downgrade_gives_the_rows_back(filled: str) -> None:
    before = _snapshot(filled)
    migrate.upgrade(filled, COURSES)
    migrate.downgrade(filled, PREVIOUS)
    assert _snapshot(filled) == before


def test_an_empty_database_gets_no_course(database_url: str) -> None:
    migrate.upgrade(database_url, COURSES)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM courses")).scalar() == 0
    finally:
        engine.dispose()
