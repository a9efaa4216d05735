"""Shared helpers for the submission-lifecycle tests: services over each database, fake runners."""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, update

from grader.config import TestConfig
from grader.db.models import CourseLab, Enrolment, FixtureResult, Submission, User
from grader.grading import harness
from grader.grading.runner import Call, OutcomeCollector, RunLimits, RunReport
from grader.service.context import Services, open_services, sync_labs
from grader.service.courses import add_all_labs, ensure_course

LAB = "lab01-mse"
COURSE = "default"  # the course every test user is enrolled in
FIXTURES = 25  # lab01-mse: public + hidden + randomised

CORRECT = """\
import numpy as np


def mean_squared_error(y, t):
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    return 0.5 * float(np.sum((y - t) ** 2))
"""

WRONG = CORRECT.replace("0.5 * ", "")  # forgets the ½: passes only the fixtures whose loss is 0

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


class InlineRunner:
    """Runs (trusted) test submissions in this process through the real harness: fast, no sandbox."""

    def __init__(self, output: str = "") -> None:
        self.runs = 0
        self.output = output  # what the submission "printed" (the real runner captures it)
        self._lock = threading.Lock()

    def run(self, source: str, functions: list[str], calls: list[Call], limits: RunLimits) -> RunReport:
        """Run the calls like the child process would, and collect the outcomes."""
        with self._lock:
            self.runs += 1
            request = harness.encode_request(source, functions, [c.encoded for c in calls])
            out = io.BytesIO()
            harness.serve(harness.decode_request(request), out)
        collector = OutcomeCollector(calls)
        collector.feed(out.getvalue())
        return RunReport(
            outcomes=collector.finish(None),
            load_error=collector.load_error,
            load_error_line=collector.load_error_line,
            output=self.output,
        )


class FailingRunner:
    """A runner that always fails (the grader's fault, not the student's)."""

    def __init__(self, message: str = "sandbox exploded") -> None:
        self.message = message
        self.runs = 0

    def run(self, source: str, functions: list[str], calls: list[Call], limits: RunLimits) -> RunReport:
        """Raise."""
        self.runs += 1
        raise RuntimeError(self.message)


class RecordingDispatcher:
    """Records dispatched ids and does nothing else (optionally checks something at dispatch time)."""

    def __init__(self, on_dispatch: Callable[[int], None] | None = None, fail: bool = False) -> None:
        self.ids: list[int] = []
        self.on_dispatch = on_dispatch
        self.fail = fail

    def dispatch(self, submission_id: int) -> None:
        """Record ``submission_id`` (or raise, like a broker that is down)."""
        if self.fail:
            raise ConnectionError("broker down")
        if self.on_dispatch is not None:
            self.on_dispatch(submission_id)
        self.ids.append(submission_id)


ServicesFactory = Callable[..., Services]


@pytest.fixture
def make_services(database_url: str) -> Iterator[ServicesFactory]:
    """``make_services(dispatcher=..., runner=..., **config)``: services on the test database, labs synced."""
    opened: list[Services] = []

    def factory(*, dispatcher: Any = None, runner: Any = None, **settings: Any) -> Services:
        config = TestConfig(database_url=database_url, **settings)
        chosen = runner if runner is not None else InlineRunner()
        services = open_services(
            config,
            dispatcher=dispatcher if dispatcher is not None else RecordingDispatcher(),
            runner_factory=lambda: chosen,
        )
        opened.append(services)
        sync_labs(services)
        with services.sessions() as session:  # one course running every lab, as a one-course service has
            add_all_labs(session, ensure_course(session, COURSE, "Course"))
            session.commit()
        return services

    yield factory
    for services in reversed(opened):
        services.close()


@pytest.fixture
def services(make_services: ServicesFactory) -> Services:
    """Services with a recording dispatcher and the inline runner."""
    return make_services()


def add_user(services: Services, username: str = "alice", **fields: Any) -> int:
    """Create a student enrolled in the test course; return the id."""
    with services.sessions() as session:
        course = _test_course(session)
        user = User(username=username, **fields)
        session.add(user)
        session.flush()
        session.add(Enrolment(course_id=course.id, user_id=user.id, role="student", section=user.section))
        session.commit()
        return user.id


def _test_course(session: Any, code: str = COURSE) -> Any:
    course = ensure_course(session, code, "Course")
    if code == COURSE:
        add_all_labs(session, course)
    return course


def course_id(services: Services, code: str = COURSE) -> int:
    """The id of a course (the test course by default, made running every synced lab if missing)."""
    with services.sessions() as session:
        course = _test_course(session, code)
        session.commit()
        return course.id


def set_policy(services: Services, lab_id: str = LAB, **fields: Any) -> None:
    """Change a lab's policy columns in the test course."""
    with services.sessions() as session:
        mine = (CourseLab.lab_id == lab_id, CourseLab.course_id == course_id(services))
        session.execute(update(CourseLab).where(*mine).values(**fields))
        session.commit()


def get_submission(services: Services, submission_id: int) -> Submission:
    """A fresh copy of a submission row."""
    with services.sessions() as session:
        found = session.get(Submission, submission_id)
        assert found is not None
        return found


def result_rows(services: Services, submission_id: int) -> int:
    """How many fixture results a submission has."""
    with services.sessions() as session:
        return session.scalar(
            select(func.count()).select_from(FixtureResult).where(FixtureResult.submission_id == submission_id)
        )
