"""The submission lifecycle: submit → queued → running → graded | error, and scores.

* :func:`submit` checks the course policy, commits the submission (with its attempt
  number and seed) and only then dispatches it: a dispatch failure leaves it queued.
* :func:`grade_submission` claims it with a conditional UPDATE and a lease (renewed
  while grading), grades it with no transaction open, then stores the fixture results,
  the submission's verdict and the student's :class:`Score` in one transaction, if it
  still owns the claim. Grading again replaces; it never duplicates.
* A grader failure is never the student's: it is retried up to
  ``max_grading_attempts``, then recorded as ``error`` for instructors.
* :func:`regrade` and :func:`recompute_scores` serve instructors after a fixture fix
  or a policy change.

Lock order (PostgreSQL): the submission row, then the student's ``scores`` row, so
concurrent gradings of one student's submissions serialise on the score cell.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from grader.db.models import (
    AuditEvent,
    CourseLab,
    Enrolment,
    Extension,
    FixtureResult,
    Lab,
    Score,
    Submission,
    User,
    utcnow,
)
from grader.db.session import storable
from grader.grading.engine import grade, new_seed
from grader.grading.lab import Lab as LabDefinition
from grader.grading.lab import LabError, find_lab
from grader.grading.notebook import MAX_NOTEBOOK_BYTES, is_notebook_name
from grader.grading.result import STATUS_ERROR, Result
from grader.grading.runner import Runner
from grader.grading.source import MAX_SOURCE_BYTES, check_source
from grader.service.context import Services, lab_row_values, run_transaction
from grader.service.insight import DELETE_CAUSES, INSERT_CAUSES, cause_rows
from grader.service.policies import (
    Attempt,
    CoursePolicy,
    apply_penalty,
    attempts_used,
    countable,
    counted_attempt,
    submission_refusal,
)

log = logging.getLogger(__name__)

ATTEMPT_NUMBER_RETRIES = 20
#: Grading looks at a lab's files for changes at most this often (seconds).
LAB_RECHECK_SECONDS = 1.0
MAX_TEXT = 100_000  # stored output and messages are cut here


class SubmissionRefused(Exception):
    """The course policy (or the file itself) refuses this submission; ``message`` is for the student."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IdempotencyKeyReused(SubmissionRefused):
    """The Idempotency-Key was already used by this user for a different file or lab."""


@dataclass(frozen=True)
class Accepted:
    """What :func:`accept_submission` did: the submission, and whether an earlier request
    with the same idempotency key had already made it (nothing new was created)."""

    submission: Submission
    replayed: bool = False


@dataclass(frozen=True)
class RegradeChange:
    """One regraded submission: its score and status before and after."""

    submission_id: int
    user_id: int
    username: str
    attempt: int
    old_score: float | None
    new_score: float | None
    max_score: float | None
    old_status: str
    new_status: str
    error: str | None = None  # the regrade itself failed; the old result was kept

    @property
    def changed(self) -> bool:
        """Whether the score or the status changed."""
        return self.old_score != self.new_score or self.old_status != self.new_status


# --- helpers ---------------------------------------------------------------------------


def _begin_write(session: Session) -> None:
    """Start the transaction as a writer now (SQLite: ``BEGIN IMMEDIATE``), so reads that follow are current."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _text(value: str | None, limit: int = MAX_TEXT) -> str | None:
    if value is None:
        return None
    value = storable(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def exhausted_reason(attempts: int, last: str | None) -> str:
    """The error recorded when grading gave up."""
    noun = "time" if attempts == 1 else "times"
    return f"grading failed {attempts} {noun}; last error: {last or 'unknown'}"


def _source_text(source: bytes | str, max_bytes: int = MAX_SOURCE_BYTES) -> tuple[str, str]:
    """The text to store and its SHA-256; refuses files that cannot be stored faithfully."""
    raw = source.encode("utf-8", errors="surrogatepass") if isinstance(source, str) else bytes(source)
    problem = None
    if len(raw) > max_bytes or b"\0" in raw:
        problem = check_source(raw, max_bytes).problem
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            problem = check_source(raw).problem or "the file is not UTF-8 text"
    if not problem and not raw.strip():  # one rule for every way in (upload, pasted code, JSON): nothing to grade
        problem = "the file is empty."
    if problem:
        raise SubmissionRefused(f"Your file was not accepted: {problem}")
    return text, hashlib.sha256(raw).hexdigest()


def _filename(filename: str | None) -> str:
    name = PurePath((filename or "").replace("\\", "/")).name.strip()
    return storable(name)[:255] or "submission.py"


def _insert_ignore(session: Session, model: Any, values: dict[str, Any], keys: list[str]) -> None:
    """INSERT … ON CONFLICT DO NOTHING (PostgreSQL and SQLite)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - only PostgreSQL and SQLite are supported
        try:
            with session.begin_nested():
                session.execute(insert(model).values(**values))
        except IntegrityError:
            pass
        return
    session.execute(dialect_insert(model).values(**values).on_conflict_do_nothing(index_elements=keys))


def _dispatch(services: Services, submission_id: int) -> bool:
    """Hand the submission to the dispatcher; on failure leave it queued for the reconciler."""
    try:
        services.dispatcher.dispatch(submission_id)
        return True
    except Exception as exc:
        log.warning("submission %s stays queued, dispatch failed: %s", submission_id, exc)

    def release(session: Session) -> None:  # the reconciler may try again at once
        session.execute(
            update(Submission)
            .where(Submission.id == submission_id, Submission.status == "queued")
            .values(lease_until=None)
        )

    try:
        run_transaction(services.sessions, release, retry_seconds=2.0)
    except Exception:  # the dispatch lease expires by itself
        log.warning("submission %s: could not clear its dispatch lease", submission_id)
    return False


# --- submit ----------------------------------------------------------------------------


def unloadable_clause(submissions: Any = None) -> Any:
    """SQL for "this graded submission is a file that could not be loaded", as
    :func:`grader.service.policies.is_unloadable` decides it from the same columns:
    no points, and a ``submission_error`` or only ``missing`` fixture stages.
    ``submissions``: the ``submissions`` table or an alias of it (correlated)."""
    table = Submission.__table__ if submissions is None else submissions
    results = FixtureResult.__table__
    mine = results.c.submission_id == table.c.id
    any_result = select(results.c.id).where(mine).exists()
    called = select(results.c.id).where(mine, results.c.stage != "missing").exists()
    return and_(
        table.c.status == "graded",
        func.coalesce(table.c.score, 0.0) <= 0.0,
        or_(table.c.submission_error.is_not(None), and_(any_result, ~called)),
    )


# Built once: every submission runs them.
# FOR UPDATE (PostgreSQL): one student's concurrent submits number their attempts in turn.
_USER_ACTIVE = select(User.active).where(User.id == bindparam("b_user")).with_for_update()
_PREVIOUS_ATTEMPTS = select(
    func.max(Submission.attempt),
    func.max(Submission.submitted_at),
    func.count(Submission.id).filter(Submission.status != "error"),
    func.count(Submission.id).filter(unloadable_clause()),  # taken off unless the lab counts them
    select(Extension.due_at)  # in the same round trip
    .where(
        Extension.course_id == bindparam("b_course"),
        Extension.user_id == bindparam("b_user"),
        Extension.lab_id == bindparam("b_lab"),
    )
    .scalar_subquery(),
).where(
    Submission.course_id == bindparam("b_course"),
    Submission.user_id == bindparam("b_user"),
    Submission.lab_id == bindparam("b_lab"),
)
# The courses where the user is enrolled that run the lab (the course-less routes need exactly one).
_USER_COURSES_WITH_LAB = (
    select(Enrolment.course_id)
    .join(CourseLab, CourseLab.course_id == Enrolment.course_id)
    .where(Enrolment.user_id == bindparam("b_user"), CourseLab.lab_id == bindparam("b_lab"))
    .limit(2)
)
_ENROLLED = select(Enrolment.role).where(
    Enrolment.course_id == bindparam("b_course"), Enrolment.user_id == bindparam("b_user")
)


def submit(
    services: Services,
    user_id: int,
    lab_id: str,
    source: bytes | str,
    filename: str = "submission.py",
    now: dt.datetime | None = None,
    *,
    course_id: int | None = None,
) -> Submission:
    """Accept a submission: policy checks, attempt number, seed; committed, then dispatched.

    ``course_id``: the course it is for (the user must be enrolled and the course run the
    lab); None: the one course of the user's that runs the lab.
    Returns the committed row (``status == "queued"``) without waiting for grading.
    Raises :class:`SubmissionRefused` with a message for the student.
    """
    return accept_submission(services, user_id, lab_id, source, filename, now, course_id=course_id).submission


def _submission_course(session: Session, user_id: int, lab_id: str, course_id: int | None) -> int:
    """The course a submission goes to, or :class:`SubmissionRefused` saying why there is none."""
    if course_id is not None:
        if session.scalar(_ENROLLED, {"b_course": course_id, "b_user": user_id}) is None:
            raise SubmissionRefused("You are not enrolled in this course.")
        return course_id
    found = list(session.scalars(_USER_COURSES_WITH_LAB, {"b_user": user_id, "b_lab": lab_id}))
    if len(found) == 1:
        return found[0]
    if not found:
        raise SubmissionRefused(f"There is no lab {lab_id!r} in your courses.")
    raise SubmissionRefused(f"Lab {lab_id!r} is in several of your courses: submit to one course (--course).")


def _replay(session: Session, user_id: int, lab_id: str, key: str, digest: str) -> Submission | None:
    """The submission this user already made with the idempotency ``key``, if any (the same file and lab only)."""
    found = session.scalars(
        select(Submission).where(Submission.user_id == user_id, Submission.idempotency_key == key)
    ).one_or_none()
    if found is not None and (found.lab_id != lab_id or found.source_sha256 != digest):
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for another file or lab: send a new key with a new submission."
        )
    return found


def accept_submission(
    services: Services,
    user_id: int,
    lab_id: str,
    source: bytes | str,
    filename: str = "submission.py",
    now: dt.datetime | None = None,
    *,
    idempotency_key: str | None = None,
    course_id: int | None = None,
) -> Accepted:
    """:func:`submit`, idempotently when ``idempotency_key`` is given: the user's earlier
    submission with that key (same file and lab) is returned instead of a new one, before
    any policy check; the same key with another file or lab is :class:`IdempotencyKeyReused`."""
    # A notebook is stored as handed in (a download gives it back), stored outputs and all.
    text, digest = _source_text(source, MAX_NOTEBOOK_BYTES if is_notebook_name(filename) else MAX_SOURCE_BYTES)
    name = _filename(filename)
    lease = dt.timedelta(seconds=services.config.lease_seconds)

    def work(session: Session) -> Accepted:
        _begin_write(session)
        at = now or utcnow()
        params: dict[str, Any] = {"b_user": user_id, "b_lab": lab_id}
        if not session.scalar(_USER_ACTIVE, params):
            raise SubmissionRefused("Your account cannot submit (unknown or inactive user).")
        if idempotency_key is not None:  # after the user's row lock: one of two concurrent retries waits here
            earlier = _replay(session, user_id, lab_id, idempotency_key, digest)
            if earlier is not None:
                session.expunge(earlier)
                return Accepted(earlier, replayed=True)
        params["b_course"] = _submission_course(session, user_id, lab_id, course_id)
        lab = session.connection().execute(_LAB_ROW, params).one_or_none()  # the course's policy for it
        if lab is None:
            raise SubmissionRefused(f"There is no lab {lab_id!r} in this course.")
        last_attempt, last_at, submitted, unloadable, extension_due = session.execute(_PREVIOUS_ATTEMPTS, params).one()
        if isinstance(last_at, str):  # SQLite aggregates bypass the column type
            last_at = dt.datetime.fromisoformat(last_at)
        if last_at is not None and last_at.tzinfo is None:
            last_at = last_at.replace(tzinfo=dt.timezone.utc)
        policy = CoursePolicy.from_lab(lab)
        refusal = submission_refusal(
            policy,
            now=at,
            previous=attempts_used(policy, int(submitted or 0), int(unloadable or 0)),
            last_submitted_at=last_at,
            extension_due=extension_due,
        )
        if refusal:
            raise SubmissionRefused(refusal)
        values = dict.fromkeys(_NEW_SUBMISSION_COLUMNS)  # every column set, so the copy returned is complete
        values.update(
            course_id=params["b_course"],
            user_id=user_id,
            lab_id=lab_id,
            attempt=(last_attempt or 0) + 1,
            filename=name,
            source=text,
            source_sha256=digest,
            submitted_at=at,
            status="queued",
            seed=new_seed(),
            grading_attempts=0,
            lease_until=utcnow() + lease,  # dispatch lease: the reconciler leaves it to us until then
            idempotency_key=idempotency_key,
        )
        # A Core INSERT (a third of the ORM flush's cost); the caller gets the row as a
        # detached Submission, as it would after the ORM's commit.
        inserted = session.connection().execute(_INSERT_SUBMISSION, values)
        submission = Submission(id=inserted.inserted_primary_key[0], **values)
        make_transient_to_detached(submission)
        return Accepted(submission)

    for _ in range(ATTEMPT_NUMBER_RETRIES):
        try:
            accepted = run_transaction(services.sessions, work)
            break
        except IntegrityError:  # a concurrent submit took this attempt number (or key): look again
            continue
    else:
        raise RuntimeError(f"could not number the submission after {ATTEMPT_NUMBER_RETRIES} tries")
    if not accepted.replayed:  # a replayed one was dispatched by its first request (or the reconciler)
        _dispatch(services, accepted.submission.id)
    return accepted


# --- grading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    id: int
    course_id: int
    user_id: int
    lab_id: str
    source: str
    seed: int
    grading_attempts: int  # the claim's number: it still owns the row while this matches


def _claim(services: Services, submission_id: int, worker: str) -> _Claim | None:
    config = services.config
    now = utcnow()

    def work(session: Session) -> _Claim | None:
        params = {
            "b_id": submission_id,
            "b_attempts": config.max_grading_attempts,
            "b_now": now,
            "worker": worker[:200],
            "lease_until": now + dt.timedelta(seconds=config.lease_seconds),
        }
        row = session.connection().execute(_CLAIM, params).one_or_none()
        if row is not None:
            return _Claim(*row)
        claimable = or_(
            Submission.status == "queued", and_(Submission.status == "running", Submission.lease_until < now)
        )
        # Not claimable: graded already, owned by a live worker, or out of attempts.
        stuck = session.execute(
            select(Submission.grading_attempts, Submission.status, Submission.error, Submission.worker).where(
                Submission.id == submission_id, Submission.grading_attempts >= config.max_grading_attempts, claimable
            )
        ).one_or_none()
        if stuck is not None:
            last = stuck.error if stuck.status == "queued" else f"the worker {stuck.worker} stopped while grading it"
            session.execute(
                update(Submission)
                .where(Submission.id == submission_id, Submission.grading_attempts == stuck.grading_attempts)
                .where(claimable)
                .values(status="error", lease_until=None, error=exhausted_reason(stuck.grading_attempts, last))
            )
        return None

    return run_transaction(services.sessions, work)


@contextmanager
def _lease_kept(services: Services, claim: _Claim) -> Iterator[None]:
    """Renew the claim's lease every third of ``lease_seconds`` while grading runs."""
    seconds = services.config.lease_seconds
    stop = threading.Event()

    def renew(session: Session) -> None:
        session.execute(
            update(Submission)
            .where(
                Submission.id == claim.id,
                Submission.status == "running",
                Submission.grading_attempts == claim.grading_attempts,
            )
            .values(lease_until=utcnow() + dt.timedelta(seconds=seconds))
        )

    def loop() -> None:
        while not stop.wait(max(0.5, seconds / 3)):
            try:
                run_transaction(services.sessions, renew, retry_seconds=seconds / 3)
            except Exception as exc:  # the lease may expire: then the reconciler requeues it
                log.warning("submission %s: lease not renewed: %s", claim.id, exc)

    thread = threading.Thread(target=loop, name=f"lease-{claim.id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _run_grader(source: str, lab_id: str, seed: int, runner: Runner) -> tuple[Result | None, str | None]:
    """``(result, None)``, or ``(None, reason)`` when the grader (not the student) failed."""
    try:
        result = grade(source, find_lab(lab_id, recheck_seconds=LAB_RECHECK_SECONDS), seed, runner=runner)
    except Exception as exc:
        log.exception("grading failed")
        return None, f"{type(exc).__name__}: {exc}"
    if result.status == STATUS_ERROR:
        return None, result.error or "grading failed"
    return result, None


def _graded_values(result: Result, now: dt.datetime) -> dict[str, Any]:
    return {
        "status": "graded",
        "score": result.score,
        "max_score": result.max_score,
        "lab_version": result.lab_version,
        "graded_at": now,
        "submission_error": _text(result.submission_error),
        "output": _text(result.output),
        "causes": [cause.to_dict() for cause in result.causes],  # [] when nothing failed; NULL: stored before causes
        "notes": result.student_notes() or None,  # a notebook's dropped magics, statements the load skipped
        "execution_time": result.execution_time,
        "error": None,
        "lease_until": None,
    }


def _store_results(
    session: Session, submission_id: int, course_id: int, lab_id: str, user_id: int, result: Result
) -> None:
    """The submission's new result set, and the student's gradebook cell (in its course) recomputed from it."""
    _replace_results(session, submission_id, lab_id, result)
    params = {"b_course": course_id, "b_lab": lab_id}
    lab = session.connection().execute(_LAB_ROW, params).one_or_none()  # the course's policy for it
    if lab is not None:
        _recompute_one(session, lab, user_id)


# Grading stores a verdict, some 25 fixture rows and a gradebook cell per submission
# while students wait: these run as prebuilt Core statements on the session's
# connection, not through the ORM's unit of work (several times its cost here).
_SUBMISSIONS, _RESULTS, _SCORES = Submission.__table__, FixtureResult.__table__, Score.__table__
_INSERT_SUBMISSION = insert(_SUBMISSIONS)
_NEW_SUBMISSION_COLUMNS = [column.key for column in _SUBMISSIONS.columns if not column.primary_key]
_DELETE_RESULTS = delete(_RESULTS).where(_RESULTS.c.submission_id == bindparam("b_submission"))
_INSERT_RESULTS = insert(_RESULTS)
_SCORE_CELL = select(_SCORES).where(
    _SCORES.c.course_id == bindparam("b_course"),
    _SCORES.c.user_id == bindparam("b_user"),
    _SCORES.c.lab_id == bindparam("b_lab"),
)
_SCORE_CELL_LOCKED = _SCORE_CELL.with_for_update()
_UPDATE_SCORE = update(_SCORES).where(_SCORES.c.id == bindparam("b_score"))
_ATTEMPTS = select(
    _SUBMISSIONS.c.id,
    _SUBMISSIONS.c.attempt,
    _SUBMISSIONS.c.submitted_at,
    _SUBMISSIONS.c.status,
    _SUBMISSIONS.c.score,
    _SUBMISSIONS.c.max_score,
    unloadable_clause(_SUBMISSIONS).label("unloadable"),
).where(
    _SUBMISSIONS.c.course_id == bindparam("b_course"),
    _SUBMISSIONS.c.user_id == bindparam("b_user"),
    _SUBMISSIONS.c.lab_id == bindparam("b_lab"),
)
_MARK_GRADED = update(_SUBMISSIONS).where(  # SET: the parameters' columns
    _SUBMISSIONS.c.id == bindparam("b_id"),
    _SUBMISSIONS.c.grading_attempts == bindparam("b_attempts"),
    _SUBMISSIONS.c.status.in_(("running", "queued")),
)
_SUBMISSION_LEASE = _SUBMISSIONS.c.lease_until.type
_CLAIM = (
    update(_SUBMISSIONS)  # SET status and grading_attempts here, worker and lease_until from the parameters
    .where(
        _SUBMISSIONS.c.id == bindparam("b_id"),
        _SUBMISSIONS.c.grading_attempts < bindparam("b_attempts"),
        or_(
            _SUBMISSIONS.c.status == "queued",
            and_(
                _SUBMISSIONS.c.status == "running",
                _SUBMISSIONS.c.lease_until < bindparam("b_now", type_=_SUBMISSION_LEASE),
            ),
        ),
    )
    .values(status="running", grading_attempts=_SUBMISSIONS.c.grading_attempts + 1)
    .returning(
        _SUBMISSIONS.c.id,
        _SUBMISSIONS.c.course_id,
        _SUBMISSIONS.c.user_id,
        _SUBMISSIONS.c.lab_id,
        _SUBMISSIONS.c.source,
        _SUBMISSIONS.c.seed,
        _SUBMISSIONS.c.grading_attempts,
    )
)
_COURSE_LABS, _LABS = CourseLab.__table__, Lab.__table__
# A course's lab: its policy (course_labs) with the library's id and max score.
_LAB_ROW = (
    select(*_COURSE_LABS.c, _LABS.c.id, _LABS.c.max_score)
    .join(_LABS, _LABS.c.id == _COURSE_LABS.c.lab_id)
    .where(_COURSE_LABS.c.course_id == bindparam("b_course"), _COURSE_LABS.c.lab_id == bindparam("b_lab"))
)
_EXTENSION_DUE = select(Extension.__table__.c.due_at).where(
    Extension.__table__.c.course_id == bindparam("b_course"),
    Extension.__table__.c.user_id == bindparam("b_user"),
    Extension.__table__.c.lab_id == bindparam("b_lab"),
)


def _replace_results(session: Session, submission_id: int, lab_id: str, result: Result) -> None:
    """Exactly one current result set: delete the old rows, insert the new ones (fixture
    results, and the causes as rows for the instructors' misconception counts)."""
    connection = session.connection()
    connection.execute(_DELETE_RESULTS, {"b_submission": submission_id})
    connection.execute(DELETE_CAUSES, {"b_submission": submission_id})
    connection.execute(INSERT_CAUSES, cause_rows(submission_id, result.causes))  # a no-cause row when none
    rows = []
    for position, test in enumerate(result.tests):
        detail = test.to_dict()
        rows.append(
            {
                "submission_id": submission_id,
                "lab_id": lab_id,
                "position": position,
                "name": test.name,
                "function": test.function,
                "category": test.category,
                "visibility": test.visibility,
                "passed": test.passed,
                "stage": test.stage,
                "score": test.score,
                "max_score": test.max_score,
                "feedback": _text(detail["feedback"]),
                "detail": detail,  # cleaned by the engine's serializer (json_text)
                "elapsed": test.elapsed,
            }
        )
    if rows:
        connection.execute(_INSERT_RESULTS, rows)  # one executemany for the whole result set


def _record_failure(services: Services, claim: _Claim, reason: str) -> None:
    """Back to queued for another try, or ``error`` when out of attempts; then re-dispatch."""
    config = services.config
    final = claim.grading_attempts >= config.max_grading_attempts
    reason = _text(reason, 2000) or "unknown"
    values: dict[str, Any] = {"worker": None}
    if final:
        values.update(status="error", error=exhausted_reason(claim.grading_attempts, reason), lease_until=None)
    else:
        lease_until = utcnow() + dt.timedelta(seconds=config.lease_seconds)
        values.update(status="queued", error=reason, lease_until=lease_until)

    def work(session: Session) -> bool:
        moved = session.execute(
            update(Submission)
            .where(
                Submission.id == claim.id,
                Submission.status == "running",
                Submission.grading_attempts == claim.grading_attempts,
            )
            .values(**values)
        )
        return moved.rowcount == 1

    if run_transaction(services.sessions, work) and not final:
        log.warning("submission %s: grader failed (try %d), retrying: %s", claim.id, claim.grading_attempts, reason)
        _dispatch(services, claim.id)
    elif final:
        log.error("submission %s: grading gave up after %d tries: %s", claim.id, claim.grading_attempts, reason)


def _store_result(services: Services, claim: _Claim, result: Result) -> bool:
    """One transaction: verdict, fixture results (replaced) and score; False if the claim was lost."""

    def work(session: Session) -> bool:
        params = {"b_id": claim.id, "b_attempts": claim.grading_attempts, **_graded_values(result, utcnow())}
        stored = session.connection().execute(_MARK_GRADED, params)
        if stored.rowcount != 1:
            return False
        _store_results(session, claim.id, claim.course_id, claim.lab_id, claim.user_id, result)
        return True

    if run_transaction(services.sessions, work):
        return True
    log.info("submission %s: result discarded, another worker took it over", claim.id)
    return False


def grade_submission(services: Services, submission_id: int, worker: str = "worker") -> None:
    """Claim, grade and store one submission; a no-op when it is not claimable (graded, or owned)."""
    runner = services.runner()  # GraderUnavailable here leaves the submission queued and untouched
    claim = _claim(services, submission_id, worker)
    if claim is None:
        return
    with _lease_kept(services, claim):
        result, failure = _run_grader(claim.source, claim.lab_id, claim.seed, runner)
    if result is None:
        _record_failure(services, claim, failure or "grading failed")
        return
    _store_result(services, claim, result)


# --- scores ----------------------------------------------------------------------------


_SCORE_FIELDS = ("submission_id", "raw", "penalty", "final", "max_score", "late_days", "attempts", "submitted_at")


def _lock_score(session: Session, course_id: int, lab_id: str, user_id: int) -> Any:
    """The student's gradebook cell as a row, locked (PostgreSQL) until the transaction ends."""
    params = {"b_course": course_id, "b_user": user_id, "b_lab": lab_id}
    return session.connection().execute(_SCORE_CELL_LOCKED, params).one_or_none()


def _recompute_one(session: Session, lab: Any, user_id: int) -> bool:
    """Bring one gradebook cell up to date; True if it changed. ``lab``: a :data:`_LAB_ROW` row
    (the course's policy, the lab's ``id`` and ``max_score``)."""
    session.flush()  # Core statements below: pending ORM changes first
    connection = session.connection()
    params = {"b_course": lab.course_id, "b_user": user_id, "b_lab": lab.id}
    score = _lock_score(session, lab.course_id, lab.id, user_id)
    # Read after the lock: a concurrent grading of this student's other submission has committed.
    policy = CoursePolicy.from_lab(lab)
    rows = connection.execute(_ATTEMPTS, params).all()
    graded = {r.id: r for r in rows if r.status == "graded"}
    if score is None:
        if not any(policy.unloadable_counts or not r.unloadable for r in graded.values()):
            return False  # nothing graded that may count, no cell yet: the gradebook shows "no score"
        cell = {"course_id": lab.course_id, "user_id": user_id, "lab_id": lab.id}
        _insert_ignore(session, Score, cell, ["course_id", "user_id", "lab_id"])
        score = _lock_score(session, lab.course_id, lab.id, user_id)
        assert score is not None
        rows = connection.execute(_ATTEMPTS, params).all()  # the lock may have waited for another grading
        graded = {r.id: r for r in rows if r.status == "graded"}
    extension_due = connection.execute(_EXTENSION_DUE, params).scalar()
    penalised = {i: apply_penalty(policy, r.score or 0.0, r.submitted_at, extension_due) for i, r in graded.items()}
    attempts = [
        Attempt(i, r.attempt, r.submitted_at, penalised[i].final, bool(r.unloadable)) for i, r in graded.items()
    ]
    # A file that could not be loaded never becomes the counted score, unless the lab says so.
    counted = counted_attempt(policy.counting, countable(policy, attempts))
    values: dict[str, Any]
    if counted is None:
        values = dict.fromkeys(("raw", "penalty", "final"), 0.0)
        values.update(submission_id=None, max_score=float(lab.max_score or 0.0), late_days=0, submitted_at=None)
    else:
        row, verdict = graded[counted.submission_id], penalised[counted.submission_id]
        values = {
            "submission_id": row.id,
            "raw": verdict.raw,
            "penalty": verdict.penalty,
            "final": verdict.final,
            "max_score": float(row.max_score if row.max_score is not None else lab.max_score or 0.0),
            "late_days": verdict.late_days,
            "submitted_at": row.submitted_at,
        }
    values["attempts"] = len(rows)
    changes = {key: values[key] for key in _SCORE_FIELDS if getattr(score, key) != values[key]}
    if not changes:
        return False
    connection.execute(_UPDATE_SCORE, {"b_score": score.id, **changes, "updated_at": utcnow()})
    # ORM copies of the cell loaded earlier in this session are stale now.
    for stale in [o for o in session.identity_map.values() if isinstance(o, Score) and o.id == score.id]:
        session.expire(stale)
    return True


def recompute_scores(
    target: Session | Any, lab_id: str, user_id: int | None = None, *, course_id: int | None = None
) -> int:
    """Recompute the lab's gradebook cells (one student's, if ``user_id``; in one course, if
    ``course_id``, else in every course that runs it); return how many changed.

    ``target`` is a session (the caller commits) or anything with ``sessions`` (for
    example :class:`Services`): then it runs in its own transaction. Use it after a
    due date, policy or extension change.
    """

    def work(session: Session) -> int:
        _begin_write(session)
        if session.get(Lab, lab_id) is None:
            raise LookupError(f"no lab {lab_id!r}")
        query = (
            select(*_COURSE_LABS.c, _LABS.c.id, _LABS.c.max_score)
            .join(_LABS, _LABS.c.id == _COURSE_LABS.c.lab_id)
            .where(_COURSE_LABS.c.lab_id == lab_id)
        )
        if course_id is not None:
            query = query.where(_COURSE_LABS.c.course_id == course_id)
        changed = 0
        for lab in session.connection().execute(query).all():
            if user_id is not None:
                users = [user_id]
            else:
                mine = (Submission.lab_id == lab_id, Submission.course_id == lab.course_id)
                with_submissions = select(Submission.user_id).where(*mine)
                with_scores = select(Score.user_id).where(Score.lab_id == lab_id, Score.course_id == lab.course_id)
                users = sorted(set(session.scalars(with_submissions)) | set(session.scalars(with_scores)))
            changed += sum(_recompute_one(session, lab, uid) for uid in users)
        return changed

    if isinstance(target, Session):
        return work(target)
    return run_transaction(target.sessions, work)


# --- regrade ---------------------------------------------------------------------------


def _find_student(session: Session, student: int | str) -> User:
    if isinstance(student, int):
        user = session.get(User, student)
    else:
        user = session.scalars(select(User).where(User.username == student)).one_or_none()
        if user is None:
            user = session.scalars(select(User).where(User.student_number == student)).one_or_none()
    if user is None:
        raise LookupError(f"no student {student!r}")
    return user


def _runner_for(services: Any) -> Runner:
    runner = getattr(services, "runner", None)
    if callable(runner):
        return runner()
    from grader.service.runners import server_runner

    return server_runner(services.config)


def regrade(
    services: Services,
    lab_id: str,
    student: int | str | None = None,
    actor: str = "cli",
    progress: Callable[[int, int], Any] | None = None,
    *,
    course_id: int | None = None,
) -> list[RegradeChange]:
    """Regrade the lab's graded and errored submissions now (in one course if ``course_id``,
    else in every course), with its current definition.

    Each keeps its seed. Every submission whose score or status changes gets an
    :class:`AuditEvent` (``regrade``, old → new, ``actor``); a submission the grader
    fails on keeps its old result (``RegradeChange.error`` says why). Returns one
    :class:`RegradeChange` per submission, in id order; ``progress(done, total)`` is
    called as they finish.
    """
    try:
        definition = find_lab(lab_id)
    except LabError as exc:
        raise LookupError(str(exc)) from None

    def load(session: Session) -> list[Any]:
        lab = session.get(Lab, lab_id)
        if lab is None:
            raise LookupError(f"no lab {lab_id!r} in the database")
        for key, value in lab_row_values(definition).items():
            if getattr(lab, key) != value:
                setattr(lab, key, value)
        query = (
            _regrade_rows()
            .where(Submission.lab_id == lab_id, Submission.status.in_(("graded", "error")))
            .order_by(Submission.id)
        )
        if student is not None:
            query = query.where(Submission.user_id == _find_student(session, student).id)
        if course_id is not None:
            query = query.where(Submission.course_id == course_id)
        return list(session.execute(query).all())

    rows = run_transaction(services.sessions, load)
    runner = _runner_for(services)
    total = len(rows)
    if progress:
        progress(0, total)

    def one(row: Any) -> RegradeChange:
        return _regrade_one(services, definition, row, runner, actor)

    workers = max(1, min(int(getattr(services.config, "workers", 1) or 1), total or 1))
    changes: list[RegradeChange] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="regrade") as pool:
        for change in pool.map(one, rows):
            changes.append(change)
            if progress:
                progress(len(changes), total)
    return changes


def regrade_submission(services: Services, submission_id: int, actor: str = "cli") -> RegradeChange | None:
    """Regrade one submission now, as :func:`regrade` does for each of a lab's.

    None if it is still queued or running (its grading will use the current lab);
    LookupError if there is no such submission.
    """
    with services.sessions() as session:
        row = session.execute(_regrade_rows().where(Submission.id == submission_id)).one_or_none()
    if row is None:
        raise LookupError(f"no submission {submission_id}")
    if row.status not in ("graded", "error"):
        return None
    try:
        definition = find_lab(row.lab_id)
    except LabError as exc:
        raise LookupError(str(exc)) from None
    return _regrade_one(services, definition, row, _runner_for(services), actor)


def _regrade_rows() -> Any:
    """What regrading needs of a submission, joined with its student's username."""
    return (
        select(Submission.id, Submission.user_id, User.username, Submission.attempt, Submission.status)
        .add_columns(Submission.score, Submission.max_score, Submission.lab_version, Submission.seed)
        .add_columns(Submission.source, Submission.lab_id, Submission.course_id)
        .join(User, User.id == Submission.user_id)
    )


def _regrade_one(services: Services, definition: LabDefinition, row: Any, runner: Runner, actor: str) -> RegradeChange:
    def change(new_score: float | None, new_status: str, max_score: float | None, error: str | None = None) -> Any:
        return RegradeChange(
            submission_id=row.id,
            user_id=row.user_id,
            username=row.username,
            attempt=row.attempt,
            old_score=row.score,
            new_score=new_score,
            max_score=max_score,
            old_status=row.status,
            new_status=new_status,
            error=error,
        )

    try:
        result: Result | None = grade(row.source, definition, row.seed, runner=runner)
        failure = result.error if result.status == STATUS_ERROR else None
    except Exception as exc:
        log.exception("regrading submission %s failed", row.id)
        result, failure = None, f"{type(exc).__name__}: {exc}"
    if result is None or failure:
        return change(row.score, row.status, row.max_score, failure or "grading failed")
    outcome = change(result.score, "graded", result.max_score)

    def work(session: Session) -> bool:
        stored = session.execute(
            update(Submission)
            .where(Submission.id == row.id, Submission.status.in_(("graded", "error")))
            .values(**_graded_values(result, utcnow()))
        )
        if stored.rowcount != 1:
            return False
        _store_results(session, row.id, row.course_id, definition.id, row.user_id, result)
        if outcome.changed:
            session.add(
                AuditEvent(
                    actor_label=actor[:200],
                    action="regrade",
                    course_id=row.course_id,
                    lab_id=definition.id,
                    user_id=row.user_id,
                    submission_id=row.id,
                    old={"score": row.score, "max_score": row.max_score, "status": row.status},
                    new={"score": result.score, "max_score": result.max_score, "status": "graded"},
                    note=f"lab version {row.lab_version or '?'} → {result.lab_version}",
                )
            )
        return True

    if not run_transaction(services.sessions, work):
        return change(row.score, row.status, row.max_score, "the submission changed while it was regraded")
    return outcome
