"""A graded result's causes are stored with it (``submissions.causes``), on grading and on regrading."""

from __future__ import annotations

from sqlalchemy import select

from grader.db.models import FixtureResult, Submission
from grader.service.context import Services
from grader.service.submissions import grade_submission, regrade_submission, submit

from .conftest import CORRECT, LAB, WRONG, add_user, get_submission


def _graded(services: Services, source: str) -> int:
    user = add_user(services)
    submission = submit(services, user, LAB, source, "mse.py")
    grade_submission(services, submission.id, worker="test")
    return submission.id


def _failed_names(services: Services, submission_id: int) -> list[str]:
    with services.sessions() as session:
        rows = session.scalars(
            select(FixtureResult).where(FixtureResult.submission_id == submission_id, FixtureResult.passed.is_(False))
        )
        return sorted(row.name for row in rows)


def test_the_causes_of_a_graded_result_are_stored_most_points_lost_first(services: Services) -> None:
    sid = _graded(services, WRONG)
    causes = get_submission(services, sid).causes
    assert causes, "a wrong submission has causes"
    assert sorted(name for cause in causes for name in cause["fixtures"]) == _failed_names(services, sid)
    lost = [cause["points_lost"] for cause in causes]
    assert lost == sorted(lost, reverse=True) and sum(lost) > 0
    for cause in causes:
        assert {"key", "kind", "message", "fixtures", "points_lost", "mistake", "code"} <= set(cause)
        assert cause["message"]


def test_a_result_with_nothing_wrong_stores_no_causes_not_null(services: Services) -> None:
    sid = _graded(services, CORRECT)
    assert get_submission(services, sid).causes == []  # NULL means "stored before causes were recorded"


def test_regrading_stores_the_new_causes(services: Services) -> None:
    sid = _graded(services, WRONG)
    expected = get_submission(services, sid).causes
    with services.sessions.begin() as session:
        session.get(Submission, sid).causes = None
    regrade_submission(services, sid, actor="test")
    assert get_submission(services, sid).causes == expected
