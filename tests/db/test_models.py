"""The models on SQLite and PostgreSQL (schema made by the migrations, as in production)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from grader.db import migrate
from grader.db.models import (
    ApiToken,
    AuditEvent,
    Course,
    CourseLab,
    Enrolment,
    Extension,
    FixtureResult,
    Lab,
    Score,
    Submission,
    User,
)
from grader.db.session import make_engine, make_sessionmaker

UTC = dt.timezone.utc
WHEN = dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))  # 2025-03-02 04:30 UTC
NESTED = {"inputs": [[1.0, 2.5], {"shape": [2, 3]}], "verdict": {"ok": False, "why": "NaN ≠ 0.5", "tol": None}}


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def user(name: str = "ada", **kw: Any) -> User:
    return User(username=name, **kw)


def lab(lab_id: str = "lab01-mse") -> Lab:
    return Lab(id=lab_id, title="Mean squared error", version="v1")


def course(code: str = "dl101") -> Course:
    return Course(code=code, title="Deep learning", term="2025 spring", timezone="Europe/Paris")


def submission(who: User, which: Lab, attempt: int = 1, where: Course | None = None) -> Submission:
    return Submission(
        course=where or course(),
        user=who,
        lab=which,
        attempt=attempt,
        source="def mse(): ...",
        source_sha256="0" * 64,
        seed=7,
    )


def result(position: int = 0, **kw: Any) -> FixtureResult:
    values: dict[str, Any] = {
        "lab_id": "lab01-mse",
        "position": position,
        "name": f"fixture-{position}",
        "function": "mse",
        "category": "basic",
        "visibility": "public",
        "passed": True,
        "stage": "compare",
        "score": 1.0,
        "max_score": 1.0,
        "feedback": "ok",
    }
    return FixtureResult(**{**values, **kw})


def test_every_model_round_trips(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        ada, ivy, mse, dl = user(student_number="s1", section="A"), user("ivy", role="instructor"), lab(), course()
        sub = submission(ada, mse, where=dl)
        sub.results = [result(0), result(1, passed=False, detail=NESTED)]
        s.add_all([ada, ivy, mse, sub])
        s.flush()
        ada.tokens.append(ApiToken(token_hash="h" * 64, prefix="lg_abc"))
        c = dl.id
        s.add_all(
            [
                CourseLab(course_id=c, lab_id=mse.id, due_at=WHEN, late_policy="percent_per_day", counting="best"),
                Enrolment(course_id=c, user_id=ada.id, role="student", section="B"),
                Enrolment(course_id=c, user_id=ivy.id, role="instructor"),
                Score(
                    course_id=c, user_id=ada.id, lab_id=mse.id, submission_id=sub.id, raw=3.5, final=3.0, penalty=0.5
                ),
                Extension(course_id=c, user_id=ada.id, lab_id=mse.id, due_at=WHEN, reason="ill", granted_by_id=ivy.id),
                AuditEvent(
                    actor_id=ivy.id, course_id=c, action="regrade", lab_id=mse.id, old={"score": 1}, new={"score": 2}
                ),
            ]
        )
    with sessions() as s:
        ada = s.scalars(select(User).where(User.username == "ada")).one()
        assert (ada.student_number, ada.section, ada.role, ada.active) == ("s1", "A", "student", True)
        assert [t.prefix for t in ada.tokens] == ["lg_abc"]
        stored = s.scalars(select(Submission)).one()
        assert (stored.user.username, stored.lab.title, stored.status, stored.seed) == (
            "ada",
            "Mean squared error",
            "queued",
            7,
        )
        assert [(r.position, r.passed, r.detail) for r in stored.results] == [(0, True, {}), (1, False, NESTED)]
        score = s.scalars(select(Score)).one()
        assert (score.raw, score.penalty, score.final, score.submission_id) == (3.5, 0.5, 3.0, stored.id)
        assert s.scalars(select(Extension)).one().due_at == WHEN
        event = s.scalars(select(AuditEvent)).one()
        assert (event.action, event.old, event.new, event.actor_label) == (
            "regrade",
            {"score": 1},
            {"score": 2},
            "system",
        )


def test_datetimes_come_back_aware_in_utc(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        s.add(Lab(id="lab01-mse", title="t", version="v", due_at=WHEN))
    with sessions() as s:
        due = s.get(Lab, "lab01-mse").due_at
        created = s.get(Lab, "lab01-mse").created_at
    assert due == WHEN and due.tzinfo == UTC and due.hour == 4
    assert created.tzinfo == UTC


def test_naive_datetimes_are_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        s.add(Lab(id="lab01-mse", title="t", version="v", due_at=dt.datetime(2025, 3, 1, 12, 0)))
        with pytest.raises(StatementError, match="naive datetime"):
            s.flush()


def _duplicate_username(s: Session) -> None:
    s.add_all([user("ada"), user("ada")])


def _duplicate_attempt(s: Session) -> None:
    ada, mse, dl = user(), lab(), course()
    s.add_all([submission(ada, mse, 1, dl), submission(ada, mse, 1, dl)])


def _duplicate_score(s: Session) -> None:
    ada, mse, dl = user(), lab(), course()
    s.add_all([ada, mse, dl])
    s.flush()
    cell = {"course_id": dl.id, "user_id": ada.id, "lab_id": mse.id}
    s.add_all([Score(**cell), Score(**cell)])


def _duplicate_extension(s: Session) -> None:
    ada, mse, dl = user(), lab(), course()
    s.add_all([ada, mse, dl])
    s.flush()
    cell = {"course_id": dl.id, "user_id": ada.id, "lab_id": mse.id}
    s.add_all([Extension(**cell, due_at=WHEN), Extension(**cell, due_at=WHEN)])


def _duplicate_course_code(s: Session) -> None:
    s.add_all([course("dl101"), course("dl101")])


def _duplicate_enrolment(s: Session) -> None:
    ada, dl = user(), course()
    s.add_all([ada, dl])
    s.flush()
    s.add_all([Enrolment(course_id=dl.id, user_id=ada.id), Enrolment(course_id=dl.id, user_id=ada.id, role="grader")])


def test_one_student_has_a_cell_and_an_attempt_1_in_each_course(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        ada, mse, one, two = user(), lab(), course("one"), course("two")
        s.add_all([submission(ada, mse, 1, one), submission(ada, mse, 1, two)])
        s.flush()
        s.add_all([Score(course_id=c.id, user_id=ada.id, lab_id=mse.id) for c in (one, two)])
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Score)) == 2


@pytest.mark.parametrize(
    "make_duplicate",
    [
        _duplicate_username,
        _duplicate_attempt,
        _duplicate_score,
        _duplicate_extension,
        _duplicate_course_code,
        _duplicate_enrolment,
    ],
)
def test_unique_constraints(sessions: sessionmaker[Session], make_duplicate: Callable[[Session], None]) -> None:
    with sessions() as s:
        make_duplicate(s)
        with pytest.raises(IntegrityError):
            s.flush()


@pytest.mark.parametrize("how", ["orm", "sql"])
def test_deleting_a_submission_deletes_its_fixture_results(sessions: sessionmaker[Session], how: str) -> None:
    with sessions.begin() as s:
        sub = submission(user(), lab())
        sub.results = [result(0), result(1)]
        s.add(sub)
    with sessions.begin() as s:
        if how == "orm":
            s.delete(s.get(Submission, sub.id))
        else:  # ON DELETE CASCADE in the database (on SQLite: foreign keys are on)
            s.execute(delete(Submission).where(Submission.id == sub.id))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(FixtureResult)) == 0


def test_json_columns_round_trip_nested_data(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        s.add(AuditEvent(action="import", old=NESTED, new={"rows": [NESTED, NESTED]}))
    with sessions() as s:
        event = s.scalars(select(AuditEvent)).one()
    assert (event.old, event.new) == (NESTED, {"rows": [NESTED, NESTED]})
