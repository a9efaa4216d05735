"""The submission lifecycle on SQLite and PostgreSQL: submit, grade, scores, retries, regrade."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from grader.db.models import AuditEvent, CourseLab, Extension, FixtureResult, Lab, Score, Submission
from grader.service.context import Services, sync_labs
from grader.service.runners import GraderUnavailable
from grader.service.submissions import (
    SubmissionRefused,
    _claim,
    _store_result,
    grade_submission,
    recompute_scores,
    regrade,
    regrade_submission,
    submit,
)

from .conftest import (
    CORRECT,
    FIXTURES,
    LAB,
    T0,
    WRONG,
    FailingRunner,
    InlineRunner,
    RecordingDispatcher,
    ServicesFactory,
    add_user,
    course_id,
    get_submission,
    result_rows,
    set_policy,
)

DAY = dt.timedelta(days=1)


def score_of(services: Services, user_id: int, lab_id: str = LAB) -> Score | None:
    with services.sessions() as session:
        return session.scalars(select(Score).where(Score.user_id == user_id, Score.lab_id == lab_id)).one_or_none()


def submit_and_grade(services: Services, user_id: int, source: str, at: dt.datetime | None = None) -> int:
    submission = submit(services, user_id, LAB, source, "mse.py", now=at)
    grade_submission(services, submission.id, worker="test")
    return submission.id


def test_submit_commits_before_dispatching(make_services: ServicesFactory) -> None:
    seen: list[tuple[str, int]] = []
    holder: dict[str, Services] = {}

    def check_committed(submission_id: int) -> None:
        # a different connection must already see the row: it was committed before dispatch
        with holder["services"].engine.connect() as conn:
            status = conn.execute(select(Submission.status).where(Submission.id == submission_id)).scalar_one()
            seen.append((status, submission_id))

    dispatcher = RecordingDispatcher(on_dispatch=check_committed)
    services = make_services(dispatcher=dispatcher)
    holder["services"] = services
    user = add_user(services)
    submission = submit(services, user, LAB, CORRECT.encode(), "../../etc/mse.py")
    assert dispatcher.ids == [submission.id]
    assert seen == [("queued", submission.id)]
    stored = get_submission(services, submission.id)
    assert stored.status == "queued" and stored.attempt == 1 and stored.score is None
    assert stored.source == CORRECT and stored.filename == "mse.py"
    assert len(stored.source_sha256) == 64 and isinstance(stored.seed, int)
    assert result_rows(services, submission.id) == 0  # nothing graded yet: submit returned at once


def test_grade_stores_results_and_score(services: Services) -> None:
    user = add_user(services)
    submission_id = submit_and_grade(services, user, CORRECT, T0)
    stored = get_submission(services, submission_id)
    assert stored.status == "graded"
    assert (stored.score, stored.max_score) == (25.0, 25.0)
    assert stored.grading_attempts == 1 and stored.worker == "test" and stored.lease_until is None
    assert stored.lab_version and stored.graded_at is not None and stored.error is None
    with services.sessions() as session:
        results = session.scalars(select(FixtureResult).where(FixtureResult.submission_id == submission_id)).all()
        lab_version = session.get(Lab, LAB).version
    assert stored.lab_version == lab_version
    assert len(results) == FIXTURES and all(r.passed for r in results)
    assert [r.position for r in results] == list(range(FIXTURES))
    assert {r.visibility for r in results} == {"public", "hidden", "randomised"}
    assert all(r.feedback == "passed" and r.detail["name"] == r.name for r in results)
    score = score_of(services, user)
    assert score is not None
    assert (score.raw, score.penalty, score.final, score.max_score) == (25.0, 0.0, 25.0, 25.0)
    assert (score.attempts, score.submission_id, score.submitted_at) == (1, submission_id, T0)


def test_failed_fixtures_get_student_safe_feedback(services: Services) -> None:
    user = add_user(services)
    submission_id = submit_and_grade(services, user, WRONG)
    stored = get_submission(services, submission_id)
    assert stored.status == "graded" and stored.score is not None and stored.score < 25
    with services.sessions() as session:
        hidden = session.scalars(
            select(FixtureResult).where(
                FixtureResult.submission_id == submission_id,
                FixtureResult.visibility == "hidden",
                FixtureResult.passed.is_(False),
            )
        ).all()
    assert hidden
    for row in hidden:
        assert row.feedback and row.feedback != row.detail["message"]  # the summary, not the full message
        assert row.detail["expected"] is not None or row.detail["inputs"]  # instructors see everything


def test_grading_twice_keeps_one_result_set(services: Services) -> None:
    user = add_user(services)
    submission_id = submit_and_grade(services, user, CORRECT)
    grade_submission(services, submission_id, worker="again")  # not claimable: a no-op
    assert get_submission(services, submission_id).worker == "test"
    assert result_rows(services, submission_id) == FIXTURES
    with services.sessions() as session:  # force a second grading of the same submission
        session.execute(update(Submission).where(Submission.id == submission_id).values(status="queued"))
        session.commit()
    grade_submission(services, submission_id, worker="again")
    stored = get_submission(services, submission_id)
    assert stored.status == "graded" and stored.grading_attempts == 2 and stored.worker == "again"
    assert result_rows(services, submission_id) == FIXTURES
    regrade(services, LAB)
    assert result_rows(services, submission_id) == FIXTURES


def test_a_result_from_a_lost_claim_is_discarded(services: Services) -> None:
    user = add_user(services)
    submission = submit(services, user, LAB, CORRECT)
    first = _claim(services, submission.id, "slow-worker")
    assert first is not None
    assert _claim(services, submission.id, "other") is None  # the lease is live
    with services.sessions() as session:  # the slow worker's lease runs out
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
        session.execute(update(Submission).where(Submission.id == submission.id).values(lease_until=past))
        session.commit()
    second = _claim(services, submission.id, "other")
    assert second is not None and second.grading_attempts == 2
    from grader.grading.engine import grade

    result = grade(CORRECT, LAB, submission.seed, runner=services.runner())
    assert _store_result(services, first, result) is False
    assert result_rows(services, submission.id) == 0
    assert _store_result(services, second, result) is True
    assert get_submission(services, submission.id).worker == "other"
    assert result_rows(services, submission.id) == FIXTURES


def test_only_one_of_several_workers_claims_a_submission(services: Services) -> None:
    user = add_user(services)
    submission = submit(services, user, LAB, CORRECT)
    barrier = threading.Barrier(4)
    claims: list[object] = []

    def one(name: str) -> None:
        barrier.wait()
        claims.append(_claim(services, submission.id, name))

    threads = [threading.Thread(target=one, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    won = [c for c in claims if c is not None]
    assert len(claims) == 4 and len(won) == 1
    stored = get_submission(services, submission.id)
    assert stored.status == "running" and stored.grading_attempts == 1 and stored.lease_until is not None


def test_counting_last_and_best(services: Services) -> None:
    user = add_user(services)
    good = submit_and_grade(services, user, CORRECT, T0)
    bad = submit_and_grade(services, user, WRONG, T0 + dt.timedelta(minutes=5))
    bad_score = get_submission(services, bad).score
    score = score_of(services, user)
    assert score is not None and score.submission_id == bad and score.final == bad_score and score.attempts == 2

    set_policy(services, counting="best")
    assert recompute_scores(services, LAB) == 1
    score = score_of(services, user)
    assert score is not None and (score.submission_id, score.final) == (good, 25.0)
    assert recompute_scores(services, LAB) == 0  # nothing left to change

    # a tie on the best score goes to the latest attempt
    tie = submit_and_grade(services, user, CORRECT, T0 + dt.timedelta(minutes=10))
    score = score_of(services, user)
    assert score is not None and (score.submission_id, score.attempts) == (tie, 3)


def test_late_penalties_in_the_score(services: Services) -> None:
    alice, bob, carol = add_user(services, "alice"), add_user(services, "bob"), add_user(services, "carol")
    set_policy(services, due_at=T0, late_policy="percent_per_day", late_percent_per_day=10)
    submit_and_grade(services, alice, CORRECT, T0)  # exactly at the due date: on time
    submit_and_grade(services, bob, CORRECT, T0 + DAY + dt.timedelta(seconds=1))  # 2 days late
    submit_and_grade(services, carol, CORRECT, T0 + 30 * DAY)  # capped at 100 %
    on_time, late, very_late = (score_of(services, u) for u in (alice, bob, carol))
    assert on_time is not None and (on_time.late_days, on_time.penalty, on_time.final) == (0, 0.0, 25.0)
    assert late is not None and (late.late_days, late.raw, late.penalty, late.final) == (2, 25.0, 5.0, 20.0)
    assert very_late is not None and (very_late.penalty, very_late.final) == (25.0, 0.0)

    set_policy(services, late_policy="zero_after_deadline")
    assert recompute_scores(services, LAB) == 1  # bob; carol was at 0 already
    late = score_of(services, bob)
    assert late is not None and late.final == 0.0 and late.raw == 25.0

    with services.sessions() as session:  # an extension for bob: on time again
        session.add(Extension(course_id=course_id(services), user_id=bob, lab_id=LAB, due_at=T0 + 2 * DAY))
        session.commit()
    assert recompute_scores(services, LAB, user_id=bob) == 1
    late = score_of(services, bob)
    assert late is not None and (late.late_days, late.final) == (0, 25.0)


def test_a_score_loaded_in_the_callers_session_is_current_after_recompute(services: Services) -> None:
    # The cell is written with a Core UPDATE: an ORM copy the caller holds must not stay stale.
    user = add_user(services)
    set_policy(services, due_at=T0, late_policy="percent_per_day", late_percent_per_day=10)
    submit_and_grade(services, user, CORRECT, T0 + DAY)
    with services.sessions() as session:
        held = session.scalars(select(Score).where(Score.user_id == user)).one()
        assert (held.late_days, held.final) == (1, 22.5)
        session.add(Extension(course_id=course_id(services), user_id=user, lab_id=LAB, due_at=T0 + 2 * DAY))
        assert recompute_scores(session, LAB, user_id=user) == 1
        assert (held.late_days, held.final) == (0, 25.0)
        session.commit()
    assert recompute_scores(services, LAB, user_id=user) == 0  # stored: nothing left to change


def test_best_counts_the_final_score_after_penalty(services: Services) -> None:
    user = add_user(services)
    set_policy(services, due_at=T0, late_policy="zero_after_deadline", counting="best")
    on_time = submit_and_grade(services, user, WRONG, T0 - DAY)
    submit_and_grade(services, user, CORRECT, T0 + DAY)  # full marks, but late: 0
    score = score_of(services, user)
    assert score is not None and score.submission_id == on_time and score.final > 0


def test_policy_refusals(services: Services) -> None:
    user = add_user(services)
    set_policy(services, max_submissions=2, min_interval_seconds=300, hard_deadline_at=T0 + DAY)
    submit(services, user, LAB, CORRECT, now=T0)
    with pytest.raises(SubmissionRefused, match=r"You can submit again at 12:05 UTC \(in 4 min\)"):
        submit(services, user, LAB, CORRECT, now=T0 + dt.timedelta(minutes=1))
    submit(services, user, LAB, CORRECT, now=T0 + dt.timedelta(minutes=5))
    with pytest.raises(SubmissionRefused, match="used all 2 submissions"):
        submit(services, user, LAB, CORRECT, now=T0 + dt.timedelta(hours=1))
    other = add_user(services, "bob")
    with pytest.raises(SubmissionRefused, match="closed at 2025-03-02 12:00 UTC"):
        submit(services, other, LAB, CORRECT, now=T0 + DAY + dt.timedelta(seconds=1))
    with pytest.raises(SubmissionRefused, match="no lab"):
        submit(services, other, "lab99-nope", CORRECT)
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 2  # refusals store nothing


def test_grader_errors_do_not_count_against_the_limit(make_services: ServicesFactory) -> None:
    services = make_services(runner=FailingRunner(), max_grading_attempts=1)
    user = add_user(services)
    set_policy(services, max_submissions=1)
    first = submit(services, user, LAB, CORRECT)
    grade_submission(services, first.id)
    assert get_submission(services, first.id).status == "error"
    second = submit(services, user, LAB, CORRECT)  # the failed one was the grader's fault
    assert second.attempt == 2


def test_unstorable_files_are_refused_and_broken_ones_graded(services: Services) -> None:
    user = add_user(services)
    with pytest.raises(SubmissionRefused, match="NUL bytes"):
        submit(services, user, LAB, b"def f():\x00 pass\n")
    with pytest.raises(SubmissionRefused, match="not UTF-8"):
        submit(services, user, LAB, b"x = '\xff'\n")
    broken = submit_and_grade(services, user, "def mean_squared_error(y, t)\n    return 0\n")
    stored = get_submission(services, broken)
    assert stored.status == "graded" and stored.score == 0 and "syntax error" in (stored.submission_error or "")
    assert result_rows(services, broken) == FIXTURES
    services._runner = InlineRunner(output="nul \x00 here")  # PostgreSQL text cannot hold NUL
    printed = submit_and_grade(services, user, CORRECT)
    assert get_submission(services, printed).output == "nul \ufffd here"


def test_concurrent_submits_get_distinct_attempts(make_services: ServicesFactory) -> None:
    services = make_services()
    user = add_user(services)
    barrier = threading.Barrier(8)
    attempts: list[int] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait()
            attempts.append(submit(services, user, LAB, CORRECT).attempt)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(attempts) == list(range(1, 9))


def test_concurrent_submits_respect_the_limit(make_services: ServicesFactory) -> None:
    services = make_services()
    user = add_user(services)
    set_policy(services, max_submissions=3)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def one() -> None:
        barrier.wait()
        try:
            outcomes.append(f"ok {submit(services, user, LAB, CORRECT).attempt}")
        except SubmissionRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["ok 1", "ok 2", "ok 3", "refused", "refused", "refused"]


def test_runner_failure_is_retried_then_an_error_not_a_zero(make_services: ServicesFactory) -> None:
    dispatcher = RecordingDispatcher()
    runner = FailingRunner()
    services = make_services(dispatcher=dispatcher, runner=runner, max_grading_attempts=3)
    user = add_user(services)
    submission = submit(services, user, LAB, CORRECT)
    for attempt in (1, 2):
        grade_submission(services, submission.id)
        stored = get_submission(services, submission.id)
        assert stored.status == "queued" and stored.grading_attempts == attempt
        assert "sandbox exploded" in (stored.error or "")
        assert dispatcher.ids.count(submission.id) == 1 + attempt  # put back for another try
    grade_submission(services, submission.id)
    stored = get_submission(services, submission.id)
    assert stored.status == "error" and stored.grading_attempts == 3 and stored.score is None
    assert stored.error is not None and stored.error.startswith("grading failed 3 times; last error:")
    assert "sandbox exploded" in stored.error
    runs = runner.runs  # 3 to 6: a grading's two runs start together, and the second may not be cancelled in time
    assert 3 <= runs <= 6
    grade_submission(services, submission.id)  # out of attempts: nothing more happens
    assert runner.runs == runs
    assert result_rows(services, submission.id) == 0
    assert score_of(services, user) is None  # no zero in the gradebook


def test_an_exception_in_grading_is_a_grader_failure(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    import grader.service.submissions as module

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(module, "grade", broken)
    user = add_user(services)
    submission = submit(services, user, LAB, CORRECT)
    grade_submission(services, submission.id)
    stored = get_submission(services, submission.id)
    assert stored.status == "queued" and stored.error == "OSError: disk full"


def test_no_sandbox_leaves_the_submission_untouched(make_services: ServicesFactory) -> None:
    services = make_services()

    def unavailable() -> None:
        raise GraderUnavailable("cannot grade: no sandbox")

    services.runner_factory = unavailable  # type: ignore[assignment]
    user = add_user(services)
    submission = submit(services, user, LAB, CORRECT)
    with pytest.raises(GraderUnavailable):
        grade_submission(services, submission.id)
    stored = get_submission(services, submission.id)
    assert stored.status == "queued" and stored.grading_attempts == 0


def test_regrade_after_a_fixture_fix_records_old_and_new(
    make_services: ServicesFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labs = tmp_path / "labs"
    shutil.copytree(Path(__file__).resolve().parents[2] / "labs" / LAB, labs / LAB)
    public = labs / LAB / "fixtures" / "public.toml"
    good = public.read_text()
    assert good.count("expected = 2.0\n") == 1
    public.write_text(good.replace("expected = 2.0\n", "expected = 3.0\n"))  # a wrong fixture
    monkeypatch.setenv("LOSSGRADER_LABS", str(labs))
    services = make_services()
    alice, bob = add_user(services, "alice"), add_user(services, "bob", student_number="s-42")
    first = submit_and_grade(services, alice, CORRECT)
    second = submit_and_grade(services, bob, CORRECT)
    old_version = get_submission(services, first).lab_version
    assert get_submission(services, first).score == 24.0  # the correct answer failed the broken fixture

    public.write_text(good)  # the fix
    calls: list[tuple[int, int]] = []
    changes = regrade(services, LAB, student="s-42", actor="cli:prof", progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 1), (1, 1)]
    assert [(c.submission_id, c.username, c.old_score, c.new_score, c.changed) for c in changes] == [
        (second, "bob", 24.0, 25.0, True)
    ]
    assert get_submission(services, first).score == 24.0  # only bob was asked for

    changes = regrade(services, LAB, actor="cli:prof")
    assert [(c.submission_id, c.changed) for c in changes] == [(first, True), (second, False)]
    stored = get_submission(services, first)
    assert stored.score == 25.0 and stored.lab_version != old_version
    assert result_rows(services, first) == FIXTURES
    score = score_of(services, alice)
    assert score is not None and score.final == 25.0
    with services.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "regrade").order_by(AuditEvent.id)).all()
        assert session.get(Lab, LAB).version == stored.lab_version
    assert [(e.submission_id, e.user_id, e.actor_label) for e in events] == [
        (second, bob, "cli:prof"),
        (first, alice, "cli:prof"),
    ]
    assert events[1].old["score"] == 24.0 and events[1].new["score"] == 25.0
    with pytest.raises(LookupError, match="no student"):
        regrade(services, LAB, student="nobody")


def test_regrade_turns_grader_errors_into_grades(make_services: ServicesFactory) -> None:
    services = make_services(runner=FailingRunner(), max_grading_attempts=1)
    user = add_user(services)
    submission = submit(services, user, LAB, CORRECT)
    grade_submission(services, submission.id)
    assert get_submission(services, submission.id).status == "error"
    failed = regrade(services, LAB)  # still failing: the old state is kept
    assert failed[0].error and not failed[0].changed
    services._runner = InlineRunner()  # the grader is fixed
    changes = regrade(services, LAB, actor="cli:prof")
    assert [(c.old_status, c.new_status, c.new_score) for c in changes] == [("error", "graded", 25.0)]
    score = score_of(services, user)
    assert score is not None and score.final == 25.0


def test_regrade_submission_regrades_one_and_leaves_queued_ones(make_services: ServicesFactory) -> None:
    services = make_services(runner=FailingRunner(), max_grading_attempts=1)
    user = add_user(services)
    failed = submit(services, user, LAB, CORRECT)
    grade_submission(services, failed.id)
    queued = submit(services, user, LAB, WRONG)
    services._runner = InlineRunner()
    change = regrade_submission(services, failed.id, actor="web:prof")
    assert change is not None and (change.old_status, change.new_status, change.new_score) == ("error", "graded", 25.0)
    assert get_submission(services, failed.id).status == "graded"
    assert regrade_submission(services, queued.id) is None  # its own grading will come
    assert get_submission(services, queued.id).status == "queued"
    with services.sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "regrade")).one()
    assert (event.submission_id, event.actor_label) == (failed.id, "web:prof")
    with pytest.raises(LookupError, match="no submission"):
        regrade_submission(services, 10_000)


def test_sync_labs_leaves_out_a_lab_without_its_hidden_fixtures(
    make_services: ServicesFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labs = tmp_path / "labs"
    for lab_id in ("lab01-mse", "lab02-cross-entropy"):
        shutil.copytree(Path(__file__).resolve().parents[2] / "labs" / lab_id, labs / lab_id)
    (labs / "lab02-cross-entropy" / "fixtures" / "hidden.toml").unlink()  # a students' copy
    monkeypatch.setenv("LOSSGRADER_LABS", str(labs))
    services = make_services()
    assert sync_labs(services) == ["lab01-mse"]


def test_sync_labs_keeps_course_policy(services: Services) -> None:
    set_policy(services, due_at=T0, max_submissions=5)
    with services.sessions() as session:
        session.execute(update(Lab).where(Lab.id == LAB).values(title="old title", version="0"))
        session.commit()
    sync_labs(services)
    with services.sessions() as session:
        lab = session.get(Lab, LAB)
        policy = session.get(CourseLab, (course_id(services), LAB))
        assert lab is not None and policy is not None
        assert policy.due_at == T0 and policy.max_submissions == 5
        assert lab.title.startswith("Lab01") and lab.version != "0" and lab.max_score == 25.0
        assert session.scalars(select(Lab.id).order_by(Lab.position)).first() == LAB
