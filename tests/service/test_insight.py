"""Misconceptions per lab (grader.service.insight) on a seeded course whose mistakes are known,
on SQLite and PostgreSQL: counts, shares, feedback effectiveness, the trend, fixture stats;
the ``submission_causes`` rows written on grading, replaced on regrade, backfilled by the migration."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, text, update

from grader.db import migrate
from grader.db.models import Submission, SubmissionCause
from grader.db.session import make_engine
from grader.service.context import Services
from grader.service.insight import cause_rows, fixture_stats, insight_key, misconceptions
from grader.service.submissions import grade_submission, regrade_submission, submit

from .conftest import CORRECT, LAB, T0, WRONG, add_user, set_policy

NO_HALF = WRONG  # mistake:mse_no_half on 24 of the 25 fixtures
MEAN = CORRECT.replace("0.5 * float(np.sum(", "float(np.mean(")  # mistake:mse_mean on 23
BROKEN = "def mean_squared_error(y, t):\n    return (\n"  # does not load: the cause "load"
RAISES = CORRECT.replace("    y = np.asarray", "    1 / 0\n    y = np.asarray")  # ZeroDivisionError, line 5
RAISES_LATER = CORRECT.replace("    return", "    1 / 0\n    return")  # the same error on line 7

NO_HALF_KEY, MEAN_KEY = "mistake:mse_no_half", "mistake:mse_mean"
EXCEPTION_KEY, LOAD_KEY = "exception:mean_squared_error:ZeroDivisionError", "load"
MINUTE = dt.timedelta(minutes=1)

#: Each student's attempts: (minutes after T0, source). The lab counts the last attempt
#: (a file that does not load never counts).
COURSE: dict[str, list[tuple[int, str]]] = {
    "s1": [(0, NO_HALF), (10, CORRECT)],  # fixed it at once, 600 s later
    "s2": [(0, NO_HALF), (5, NO_HALF), (65, CORRECT)],  # not at the next attempt
    "s3": [(0, NO_HALF)],  # no next attempt: not judged
    "s4": [(0, MEAN), (1, BROKEN), (30, CORRECT)],  # the next loadable attempt fixed it, 1800 s later
    "s5": [(0, CORRECT)],
    "s6": [(0, NO_HALF), (20, MEAN)],  # fixed the ½ (1200 s) but counted with the mean
    "s7": [(0, NO_HALF)],
    "s8": [(0, RAISES), (5, RAISES_LATER)],  # one exception, on two lines
}


@pytest.fixture
def course(services: Services) -> dict[str, Any]:
    """The graded course: usernames → user ids, and (username, attempt) → submission id."""
    set_policy(services, max_submissions=None, min_interval_seconds=None, due_at=None, counting="last")
    users: dict[str, int] = {}
    attempts: dict[tuple[str, int], int] = {}
    for username, tries in COURSE.items():
        users[username] = add_user(services, username, display_name=f"Student {username}")
        for number, (minutes, source) in enumerate(tries, start=1):
            found = submit(services, users[username], LAB, source, "mse.py", now=T0 + minutes * MINUTE)
            grade_submission(services, found.id, worker="test")
            attempts[username, number] = found.id
    return {"users": users, "attempts": attempts}


def _by_key(found: Any) -> dict[str, Any]:
    return {cause.key: cause for cause in found.causes}


def test_counted_submissions_give_each_cause_with_its_students_and_share(services: Services, course: Any) -> None:
    with services.sessions() as session:
        found = misconceptions(session, LAB)
    assert (found.scope, found.students) == ("counted", 8)
    assert [(c.key, c.students) for c in found.causes] == [(NO_HALF_KEY, 2), (EXCEPTION_KEY, 1), (MEAN_KEY, 1)]
    causes = _by_key(found)
    assert causes[NO_HALF_KEY].share == pytest.approx(2 / 8)
    assert (causes[NO_HALF_KEY].kind, causes[NO_HALF_KEY].mistake) == ("mistake", "mse_no_half")
    assert causes[NO_HALF_KEY].message.startswith("Your value matches Σ(y−t)² without the ½")
    assert len(causes[NO_HALF_KEY].fixtures) == 24 and len(causes[MEAN_KEY].fixtures) == 23
    # its students, linked to the attempt that is counted
    links = [(a.username, a.attempt, a.submission_id) for a in causes[NO_HALF_KEY].attempts]
    attempts = course["attempts"]
    assert links == [("s3", 1, attempts["s3", 1]), ("s7", 1, attempts["s7", 1])]
    assert [(a.username, a.attempt) for a in causes[MEAN_KEY].attempts] == [("s6", 2)]


def test_an_exception_on_different_lines_is_one_cause_said_without_a_line(services: Services, course: Any) -> None:
    with services.sessions() as session:
        cause = _by_key(misconceptions(session, LAB, scope="all"))[EXCEPTION_KEY]
    assert (cause.kind, cause.mistake, cause.students) == ("exception", None, 1)
    assert cause.message == "`mean_squared_error` raised `ZeroDivisionError`."
    assert (cause.fixed_next_attempt.students, cause.fixed_next_attempt.fixed) == (1, 0)


def test_feedback_effectiveness_counts_each_student_once_at_the_next_attempt(services: Services, course: Any) -> None:
    with services.sessions() as session:
        causes = _by_key(misconceptions(session, LAB))
    no_half = causes[NO_HALF_KEY].fixed_next_attempt
    # s1 (600 s) and s6 (1200 s) fixed it at their next attempt, s2 did not; s3 and s7 had none
    assert (no_half.students, no_half.fixed) == (3, 2)
    assert no_half.share == pytest.approx(2 / 3)
    assert no_half.median_seconds == pytest.approx(900.0)
    mean = causes[MEAN_KEY].fixed_next_attempt  # s4: the next attempt that loaded, 30 min later
    assert (mean.students, mean.fixed, mean.median_seconds) == (1, 1, pytest.approx(1800.0))
    assert mean.to_dict() == {"students": 1, "fixed": 1, "share": 1.0, "median_seconds": pytest.approx(1800.0)}


def test_all_attempts_count_every_student_who_ever_showed_a_cause(services: Services, course: Any) -> None:
    with services.sessions() as session:
        found = misconceptions(session, LAB, scope="all")
    assert found.students == 8
    assert [(c.key, c.students) for c in found.causes] == [
        (NO_HALF_KEY, 5),
        (MEAN_KEY, 2),
        (EXCEPTION_KEY, 1),
        (LOAD_KEY, 1),
    ]
    load = _by_key(found)[LOAD_KEY]
    assert load.kind == "load" and len(load.fixtures) == 25
    assert (load.fixed_next_attempt.students, load.fixed_next_attempt.fixed) == (1, 1)
    assert load.fixed_next_attempt.median_seconds == pytest.approx(29 * 60.0)
    # a student is linked to the latest attempt that shows it
    assert [(a.username, a.attempt) for a in _by_key(found)[NO_HALF_KEY].attempts] == [
        ("s1", 1),
        ("s2", 2),
        ("s3", 1),
        ("s6", 1),
        ("s7", 1),
    ]


def test_the_trend_gives_students_and_cause_counts_per_attempt_number(services: Services, course: Any) -> None:
    with services.sessions() as session:
        found = misconceptions(session, LAB)
    assert found.trend_keys == [NO_HALF_KEY, MEAN_KEY, EXCEPTION_KEY, LOAD_KEY]  # most students at any attempt
    points = {p.attempt: p for p in found.trend}
    assert sorted(points) == [1, 2, 3]
    assert (points[1].students, points[2].students, points[3].students) == (8, 5, 2)
    assert points[1].counts == {NO_HALF_KEY: 5, MEAN_KEY: 1, EXCEPTION_KEY: 1}
    assert points[2].counts == {NO_HALF_KEY: 1, MEAN_KEY: 1, EXCEPTION_KEY: 1, LOAD_KEY: 1}
    assert points[3].counts == {}
    assert points[1].share(NO_HALF_KEY) == pytest.approx(5 / 8)


def test_fixture_stats_give_pass_counts_and_the_commonest_cause(services: Services, course: Any) -> None:
    with services.sessions() as session:
        stats = fixture_stats(session, LAB)
        causes = _by_key(misconceptions(session, LAB))
    assert stats.students == 8 and len(stats.fixtures) == 25
    assert all(f.total == 8 for f in stats.fixtures)
    # s3 and s7 (no ½: 24 fixtures), s6 (mean: 23) and s8 (exception: all 25) fail; the others pass
    no_half, mean = set(causes[NO_HALF_KEY].fixtures), set(causes[MEAN_KEY].fixtures)
    assert len(no_half) == 24 and mean < no_half
    for fixture in stats.fixtures:
        failing = ["s8", *(["s3", "s7"] if fixture.name in no_half else []), *(["s6"] if fixture.name in mean else [])]
        assert fixture.failed == len(failing)
        assert [a.username for a in fixture.failing] == sorted(failing)
        assert fixture.top_cause is not None
        if fixture.name in no_half:
            assert (fixture.top_cause.key, fixture.top_cause.students) == (NO_HALF_KEY, 2)
        else:
            assert (fixture.top_cause.key, fixture.top_cause.students) == (EXCEPTION_KEY, 1)
    assert [f.failed for f in stats.fixtures].count(4) == 23
    everyone = next(f for f in stats.fixtures if f.failed == 4)
    assert everyone.to_dict()["pass_rate"] == pytest.approx(0.5)
    assert [a.attempt for a in everyone.failing] == [1, 2, 1, 2]  # the counted attempts


def test_links_can_be_limited(services: Services, course: Any) -> None:
    with services.sessions() as session:
        cause = _by_key(misconceptions(session, LAB, scope="all", links=2))[NO_HALF_KEY]
    assert cause.students == 5 and [a.username for a in cause.attempts] == ["s1", "s2"]


def test_unknown_lab_and_scope_are_refused(services: Services) -> None:
    with services.sessions() as session:
        with pytest.raises(LookupError):
            misconceptions(session, "no-such-lab")
        with pytest.raises(LookupError):
            fixture_stats(session, "no-such-lab")
        with pytest.raises(ValueError, match="scope"):
            misconceptions(session, LAB, scope="some")


def test_an_empty_lab_has_no_causes(services: Services) -> None:
    with services.sessions() as session:
        found = misconceptions(session, LAB)
        stats = fixture_stats(session, LAB)
    assert (found.students, found.causes, found.trend) == (0, [], [])
    assert stats.fixtures == [] and stats.students == 0


# --- the rows ----------------------------------------------------------------------------------


def _cause_rows(services: Services, submission_id: int) -> list[tuple[str, str]]:
    with services.sessions() as session:
        return sorted(
            session.execute(
                select(SubmissionCause.key, SubmissionCause.kind).where(SubmissionCause.submission_id == submission_id)
            ).all()
        )


def test_grading_stores_one_row_per_cause(services: Services, course: Any) -> None:
    attempts = course["attempts"]
    assert _cause_rows(services, attempts["s3", 1]) == [(NO_HALF_KEY, "mistake")]
    assert _cause_rows(services, attempts["s1", 2]) == [("", "none")]  # nothing wrong: the row that says so
    with services.sessions() as session:
        row = session.get(SubmissionCause, (attempts["s3", 1], NO_HALF_KEY))
        assert row is not None
        assert (row.lab_id, row.user_id, row.attempt, row.mistake) == (LAB, course["users"]["s3"], 1, "mse_no_half")
        assert row.submitted_at == T0
        assert row.points_lost == pytest.approx(24.0) and len(row.fixtures) == 24


def test_regrading_replaces_the_rows(services: Services, course: Any) -> None:
    sid = course["attempts"]["s3", 1]
    with services.sessions.begin() as session:
        session.execute(update(Submission).where(Submission.id == sid).values(source=MEAN))
    regrade_submission(services, sid, actor="test")
    assert _cause_rows(services, sid) == [(MEAN_KEY, "mistake")]


def test_cause_rows_merge_an_exception_on_two_lines_and_stand_in_for_no_cause() -> None:
    causes = [
        {"key": "exception:f:ValueError:3", "kind": "exception", "fixtures": ["a", "b"], "points_lost": 2.0},
        {"key": "exception:f:ValueError:9", "kind": "exception", "fixtures": ["b", "c"], "points_lost": 1.0},
        {"key": "mistake:m", "kind": "mistake", "mistake": "m", "fixtures": ["d"], "points_lost": 1.0},
    ]
    rows = cause_rows(7, causes)
    assert [(r["b_submission"], r["b_key"], r["b_fixtures"], r["b_points_lost"]) for r in rows] == [
        (7, "exception:f:ValueError", ["a", "b", "c"], 3.0),
        (7, "mistake:m", ["d"], 1.0),
    ]
    assert [(r["b_key"], r["b_kind"], r["b_fixtures"]) for r in cause_rows(8, [])] == [("", "none", [])]
    assert insight_key("exception:f:ValueError", "exception") == "exception:f:ValueError"
    assert insight_key("pattern:f:factor-2", "pattern") == "pattern:f:factor-2"


def test_the_migration_backfills_the_rows_from_stored_causes(database_url: str) -> None:
    migrate.upgrade(database_url, "3f7a9c1e5b20")
    engine = make_engine(database_url)
    stored = (
        '[{"key": "mistake:mse_no_half", "kind": "mistake", "mistake": "mse_no_half", "message": "m", '
        '"fixtures": ["a", "b"], "points_lost": 2.0, "code": null}, {"key": "exception:f:IndexError:4", '
        '"kind": "exception", "mistake": null, "message": "e", "fixtures": ["c"], "points_lost": 1.0, "code": null}]'
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, username, display_name, role, active, created_at) "
                    "VALUES (1, 'u', '', 'student', true, '2025-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO labs (id, title, version, max_score, position, late_policy, "
                    "late_percent_per_day, counting, unloadable_counts, created_at, updated_at) VALUES "
                    "('l', 'L', 'v', 3, 0, 'none', 0, 'last', false, '2025-01-01', '2025-01-01')"
                )
            )
            # graded with causes, graded before causes were recorded, not graded, graded with nothing wrong
            for sid, status, causes in (
                (1, "graded", stored),
                (2, "graded", None),
                (3, "queued", None),
                (4, "graded", "[]"),
            ):
                conn.execute(
                    text(
                        "INSERT INTO submissions (id, user_id, lab_id, attempt, filename, source, source_sha256, "
                        "submitted_at, status, seed, grading_attempts, causes) VALUES (:id, 1, 'l', :id, 'f.py', "
                        "'', '', '2025-01-01', :status, 1, 0, :causes)"
                    ),
                    {"id": sid, "status": status, "causes": causes},
                )
    finally:
        engine.dispose()
    assert migrate.upgrade(database_url) == migrate.head()
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT submission_id, key, lab_id, user_id, attempt, kind, mistake, points_lost "
                    "FROM submission_causes ORDER BY submission_id, key"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        (1, "exception:f:IndexError", "l", 1, 1, "exception", None, 1.0),
        (1, "mistake:mse_no_half", "l", 1, 1, "mistake", "mse_no_half", 2.0),
        (4, "", "l", 1, 4, "none", None, 0.0),
    ]
