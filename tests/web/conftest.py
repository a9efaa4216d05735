"""Fixtures for the web tests: an app on a fresh SQLite file, users, signing in, CSRF tokens.

The database is migrated once per session and copied for each test. ``services`` uses
a :class:`FakeDispatcher` (it only records ids); tests that grade for real build their
own services with the in-process dispatcher.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from grader.config import TestConfig
from grader.db.models import User

PASSWORD = "correct horse battery staple"
COURSE = "dl101"  # the course of the template database: every lab, every user made by make_user
_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class FakeDispatcher:
    """Records what was dispatched; grades nothing."""

    def __init__(self) -> None:
        self.dispatched: list[int] = []

    def dispatch(self, submission_id: int) -> None:
        """Remember ``submission_id``."""
        self.dispatched.append(submission_id)


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the current schema with the shipped labs synced and one course
    (:data:`COURSE`) running them all, made once."""
    from grader.service.context import open_services, sync_labs
    from grader.service.courses import add_all_labs, ensure_course

    path = tmp_path_factory.mktemp("template") / "template.db"
    services = open_services(TestConfig(database_url=f"sqlite:///{path}"), dispatcher=FakeDispatcher())
    try:
        sync_labs(services)
        with services.sessions() as session:
            add_all_labs(session, ensure_course(session, COURSE, "Deep learning", "2026 fall"))
            session.commit()
    finally:
        services.close()
    return path


@pytest.fixture
def config(tmp_path: Path, migrated_db: Path) -> TestConfig:
    """A test configuration on a fresh copy of the migrated database, instance folder in tmp_path."""
    path = tmp_path / "web.db"
    shutil.copyfile(migrated_db, path)
    return TestConfig(database_url=f"sqlite:///{path}", instance_path=str(tmp_path / "instance"))


def make_services(config: TestConfig, **kwargs: Any) -> Any:
    """Services on ``config`` (no migration needed: the database is a migrated copy)."""
    from grader.service.context import open_services

    return open_services(config, **kwargs)


@pytest.fixture
def dispatcher() -> FakeDispatcher:
    """The fake dispatcher of ``services``."""
    return FakeDispatcher()


@pytest.fixture
def services(config: TestConfig, dispatcher: FakeDispatcher) -> Iterator[Any]:
    """Services with the fake dispatcher."""
    from grader.grading.runner import SubprocessRunner

    opened = make_services(config, dispatcher=dispatcher, runner_factory=SubprocessRunner)
    yield opened
    opened.close()


def build_app(config: TestConfig, services: Any, **settings: Any) -> Flask:
    """An app for tests; ``settings`` are Flask config overrides."""
    from grader.web import create_app

    return create_app({"LOSSGRADER": config, "SERVICES": services, **settings})


@pytest.fixture
def app(config: TestConfig, services: Any) -> Iterator[Flask]:
    """The app, on the test database, with CSRF protection and rate limits on (as in production)."""
    yield build_app(config, services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client."""
    return app.test_client()


@pytest.fixture
def make_user(services: Any) -> Callable[..., User]:
    """``make_user(username, role="student", password=PASSWORD, course=COURSE, **fields)`` → a committed
    User, enrolled in ``course`` (with their role; an admin is not enrolled; ``course=None``: nowhere)."""
    from grader.db.session import session_scope
    from grader.service.courses import enrol, get_course
    from grader.service.users import create_user

    def make(
        username: str, role: str = "student", password: str = PASSWORD, course: str | None = COURSE, **fields: Any
    ) -> User:
        with session_scope(services.sessions) as session:
            user = create_user(session, username, role, password=password, **fields)
            if course is not None and role in ("student", "instructor"):
                enrol(session, get_course(session, course), user, role, user.section)
            return user

    return make


def csrf_token(client: FlaskClient, url: str = "/login") -> str:
    """The CSRF token of the form on ``url`` (the session's token)."""
    response = client.get(url)
    match = _CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url} ({response.status_code})"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    """Sign in through the form (with its CSRF token); returns the response."""
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token}, **kwargs)


@pytest.fixture
def student(make_user: Callable[..., User]) -> User:
    """A student, ``alice``."""
    return make_user("alice", "student", display_name="Alice", section="A")


@pytest.fixture
def other_student(make_user: Callable[..., User]) -> User:
    """Another student, ``bob``."""
    return make_user("bob", "student", display_name="Bob", section="A")


@pytest.fixture
def instructor(make_user: Callable[..., User]) -> User:
    """An instructor, ``ines``."""
    return make_user("ines", "instructor", display_name="Ines")


@pytest.fixture
def student_client(client: FlaskClient, student: User) -> FlaskClient:
    """A client signed in as ``alice``."""
    response = login(client, student.username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def with_config(config: TestConfig, **changes: Any) -> TestConfig:
    """A copy of ``config`` with some fields changed."""
    return dataclasses.replace(config, **changes)


def course_lab(session: Any, lab_id: str, code: str = COURSE) -> Any:
    """The test course's row for a lab: its due date and policy."""
    from grader.db.models import CourseLab
    from grader.service.courses import get_course

    found = session.get(CourseLab, (get_course(session, code).id, lab_id))
    assert found is not None, lab_id
    return found


def course_id(session: Any, code: str = COURSE) -> int:
    """The id of the test course."""
    from grader.service.courses import get_course

    return get_course(session, code).id
