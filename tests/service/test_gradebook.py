"""The gradebook, pass rates and CSV exports (grader.service.gradebook), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import Base, Course, FixtureResult, Lab, Score, Submission, User
from grader.db.session import make_engine, make_sessionmaker
from grader.service.gradebook import export_canvas, export_long, gradebook, pass_rates

WHEN = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
COURSE = 1  # every row is in one course: these tests use the course-less gradebook


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    """Labs b-lab (position 0) and a-lab (1); students ann, ben, cat; an inactive one; an instructor."""
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    with make_sessionmaker(engine)() as s:
        s.add(Course(id=COURSE, code="c1", title="One"))
        s.add_all(
            [
                Lab(id="a-lab", title="Alpha", version="v1", max_score=10, position=1),
                Lab(id="b-lab", title="Beta", version="v1", max_score=30, position=0),
            ]
        )
        people = {
            "ann": User(
                username="ann",
                display_name="Ann Lee",
                student_number="S1",
                section="A",
                sis_user_id="SIS1",
                sis_login_id="ann@uni",
            ),
            "ben": User(username="ben", display_name="Ben Ode", student_number="S2", section="B"),
            "cat": User(username="cat", display_name="Cat Ng", student_number="S3", section="A"),
            "dan": User(username="dan", display_name="Dan Gone", student_number="S4", active=False),
            "ivy": User(username="ivy", display_name="Ivy Prof", role="instructor"),
        }
        s.add_all(people.values())
        s.flush()
        ann, ben = people["ann"].id, people["ben"].id
        s.add_all(
            [
                Score(
                    course_id=COURSE,
                    user_id=ann,
                    lab_id="b-lab",
                    raw=25,
                    penalty=5,
                    final=20,
                    max_score=30,
                    attempts=2,
                    submitted_at=WHEN,
                ),
                Score(
                    course_id=COURSE,
                    user_id=ann,
                    lab_id="a-lab",
                    raw=7.5,
                    final=7.5,
                    max_score=10,
                    attempts=1,
                    submitted_at=WHEN,
                ),
                Score(
                    course_id=COURSE,
                    user_id=ben,
                    lab_id="a-lab",
                    raw=10,
                    final=10,
                    max_score=10,
                    attempts=1,
                    submitted_at=WHEN,
                ),
                Score(
                    course_id=COURSE, user_id=people["dan"].id, lab_id="a-lab", raw=1, final=1, max_score=10, attempts=1
                ),
            ]
        )
        yield s
    engine.dispose()


def test_rows_are_active_students_sorted_by_name(session: Session) -> None:
    assert [row.username for row in gradebook(session)] == ["ann", "ben", "cat"]


def test_columns_follow_lab_position(session: Session) -> None:
    assert [lab.id for lab in gradebook(session).labs] == ["b-lab", "a-lab"]


def test_cells_hold_scores_and_none_where_missing(session: Session) -> None:
    ann, ben, cat = gradebook(session)
    assert (ann.final("b-lab"), ann.final("a-lab"), ben.final("b-lab"), cat.cells) == (20, 7.5, None, {})
    assert ann.cells["b-lab"].penalty == 5 and ann.total == 27.5


def test_cell_time_is_aware_utc(session: Session) -> None:
    assert gradebook(session)[0].cells["b-lab"].submitted_at == WHEN


def test_filter_by_section(session: Session) -> None:
    assert [row.username for row in gradebook(session, section="A")] == ["ann", "cat"]


def test_search_ignores_case_and_matches_student_id(session: Session) -> None:
    assert [row.username for row in gradebook(session, search="LEE")] == ["ann"]
    assert [row.username for row in gradebook(session, search="s2")] == ["ben"]


def test_sort_by_lab_descending_puts_missing_last(session: Session) -> None:
    assert [row.username for row in gradebook(session, sort="-a-lab")] == ["ben", "ann", "cat"]


def test_only_selected_labs(session: Session) -> None:
    book = gradebook(session, labs=["a-lab"])
    assert [lab.id for lab in book.labs] == ["a-lab"] and "b-lab" not in book[0].cells


def test_unknown_lab_or_sort_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="no such lab: zzz"):
        gradebook(session, labs=["zzz"])
    with pytest.raises(ValueError, match="cannot sort by 'shoe size'"):
        gradebook(session, sort="shoe size")


def _graded(session: Session, user: User, attempt: int, passes: dict[str, bool]) -> Submission:
    sub = Submission(
        course_id=COURSE, user_id=user.id, lab_id="a-lab", attempt=attempt, source="", source_sha256="", seed=1
    )
    session.add(sub)
    session.flush()
    for position, (name, passed) in enumerate(passes.items()):
        session.add(
            FixtureResult(
                submission_id=sub.id,
                lab_id="a-lab",
                position=position,
                name=name,
                function="mse",
                category="basic",
                visibility="public" if position == 0 else "hidden",
                passed=passed,
                stage="value",
                score=1.0 if passed else 0.0,
                max_score=1.0,
                feedback="",
            )
        )
    return sub


def test_pass_rates_count_only_counted_submissions_in_fixture_order(session: Session) -> None:
    ann = session.query(User).filter_by(username="ann").one()
    ben = session.query(User).filter_by(username="ben").one()
    _graded(session, ann, 1, {"zeta": False, "alpha": False})  # superseded: not counted
    counted = {ann.id: _graded(session, ann, 2, {"zeta": True, "alpha": True}).id}
    counted[ben.id] = _graded(session, ben, 1, {"zeta": True, "alpha": False}).id
    for score in session.query(Score).filter_by(lab_id="a-lab"):
        score.submission_id = counted.get(score.user_id)
    session.flush()
    assert pass_rates(session, "a-lab") == [
        ("zeta", "basic", "public", 2, 2, 1.0),
        ("alpha", "basic", "hidden", 1, 2, 0.5),
    ]


def test_pass_rates_of_lab_without_submissions(session: Session) -> None:
    assert pass_rates(session, "b-lab") == []


def test_canvas_export(session: Session) -> None:
    buffer = io.StringIO()
    assert export_canvas(session, buffer) == 3
    assert list(csv.reader(io.StringIO(buffer.getvalue()))) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Beta (b-lab)", "Alpha (a-lab)"],
        ["Points Possible", "", "", "", "", "30", "10"],
        ["Ann Lee", "", "SIS1", "ann@uni", "A", "20", "7.5"],
        ["Ben Ode", "", "S2", "", "B", "", "10"],
        ["Cat Ng", "", "S3", "", "A", "", ""],
    ]


def test_export_neutralises_spreadsheet_formulas(session: Session) -> None:
    session.query(User).filter_by(username="cat").one().display_name = "=HYPERLINK(1)"
    session.flush()
    buffer = io.StringIO()
    export_canvas(session, buffer)
    assert "'=HYPERLINK(1)" in buffer.getvalue()


def test_long_export(session: Session) -> None:
    buffer = io.StringIO()
    assert export_long(session, buffer) == 6
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert rows[0] == {
        "student_id": "S1",
        "username": "ann",
        "name": "Ann Lee",
        "section": "A",
        "lab_id": "b-lab",
        "lab_title": "Beta",
        "raw": "25",
        "penalty": "5",
        "final": "20",
        "max_score": "30",
        "attempts": "2",
        "submitted_at": "2025-03-01T12:00:00Z",
    }
    assert (rows[-1]["username"], rows[-1]["lab_id"], rows[-1]["final"], rows[-1]["attempts"]) == (
        "cat",
        "a-lab",
        "",
        "0",
    )


# --- files that cannot be loaded never become the counted score (issue 13) ------------------

SYNTAX_ERROR = "def mean_squared_error(y, t)\n    return 0\n"
RAISES_ON_LOAD = "import no_such_module_here\n\ndef mean_squared_error(y, t):\n    return 0.0\n"
NO_FUNCTION = "def mse(y, t):\n    return 0.0\n"
LOADS_BUT_WRONG = "def mean_squared_error(y, t):\n    raise ValueError('not yet')\n"


def _submit_and_grade(services: Any, user: int, source: str, minutes: int) -> int:
    from grader.service.submissions import grade_submission, submit
    from tests.service.conftest import LAB, T0

    submission = submit(services, user, LAB, source, "mse.py", now=T0 + dt.timedelta(minutes=minutes))
    grade_submission(services, submission.id, worker="test")
    return submission.id


def _counted(services: Any, user: int) -> tuple[int | None, float] | None:
    from tests.service.conftest import LAB

    with services.sessions() as s:
        cell = s.scalars(select(Score).where(Score.user_id == user, Score.lab_id == LAB)).one_or_none()
        return None if cell is None else (cell.submission_id, cell.final)


def test_unloadable_files_use_no_attempt_and_never_replace_the_counted_score(services: Any) -> None:
    from grader.service.submissions import SubmissionRefused, submit
    from tests.service.conftest import CORRECT, LAB, T0, add_user, set_policy

    user = add_user(services)
    set_policy(services, max_submissions=2, counting="last")
    good = _submit_and_grade(services, user, CORRECT, 0)
    for minutes, broken in enumerate((SYNTAX_ERROR, RAISES_ON_LOAD, NO_FUNCTION), start=1):
        _submit_and_grade(services, user, broken, minutes)
        assert _counted(services, user) == (good, 25.0)  # last counts, but not a file that did not load
    with services.sessions() as s:
        assert [row.final("lab01-mse") for row in gradebook(s) if row.user_id == user] == [25.0]
    # Three broken files used none of the two attempts; a file that loads uses the second.
    wrong = _submit_and_grade(services, user, LOADS_BUT_WRONG, 10)
    assert _counted(services, user) == (wrong, 0.0)
    with pytest.raises(SubmissionRefused, match="used all 2 submissions"):
        submit(services, user, LAB, CORRECT, now=T0 + dt.timedelta(hours=1))


def test_a_lab_can_count_unloadable_files(services: Any) -> None:
    from grader.service.submissions import SubmissionRefused, recompute_scores, submit
    from tests.service.conftest import CORRECT, LAB, T0, add_user, set_policy

    user = add_user(services)
    set_policy(services, max_submissions=2, counting="last")
    _submit_and_grade(services, user, CORRECT, 0)
    broken = _submit_and_grade(services, user, SYNTAX_ERROR, 1)
    set_policy(services, unloadable_counts=True)
    assert recompute_scores(services, LAB) == 1
    assert _counted(services, user) == (broken, 0.0)
    with pytest.raises(SubmissionRefused, match="used all 2 submissions"):
        submit(services, user, LAB, CORRECT, now=T0 + dt.timedelta(hours=1))


def test_only_unloadable_files_leave_no_score(services: Any) -> None:
    from tests.service.conftest import add_user

    user = add_user(services)
    _submit_and_grade(services, user, SYNTAX_ERROR, 0)
    assert _counted(services, user) is None
    with services.sessions() as s:
        assert [row.cells for row in gradebook(s) if row.user_id == user] == [{}]  # "no score yet", not 0


def test_the_sql_rule_agrees_with_is_unloadable(services: Any) -> None:
    from grader.service.policies import is_unloadable
    from grader.service.submissions import unloadable_clause
    from tests.service.conftest import CORRECT, add_user

    user = add_user(services)
    sources = (CORRECT, SYNTAX_ERROR, RAISES_ON_LOAD, NO_FUNCTION, LOADS_BUT_WRONG)
    ids = [_submit_and_grade(services, user, source, minutes) for minutes, source in enumerate(sources)]
    with services.sessions() as s:
        flagged = dict(s.execute(select(Submission.id, unloadable_clause()).where(Submission.id.in_(ids))).all())
        for sid in ids:
            row = s.get(Submission, sid)
            stages = list(s.scalars(select(FixtureResult.stage).where(FixtureResult.submission_id == sid)))
            assert bool(flagged[sid]) == is_unloadable(row.score, row.submission_error, stages), row.source
    assert [bool(flagged[i]) for i in ids] == [False, True, True, True, False]
