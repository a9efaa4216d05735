"""``lossgrader serve`` and ``lossgrader demo`` (grader/commands/web.py), without starting gunicorn."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.cli import run
from grader.commands import web as web_commands
from grader.config import Config
from grader.db.models import User, utcnow
from grader.service.users import check_password


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """A temporary database and instance folder, through the environment."""
    monkeypatch.setenv("LOSSGRADER_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("LOSSGRADER_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("LOSSGRADER_INSECURE_SANDBOX", "1")
    for name in ("LOSSGRADER_BROKER_URL", "LOSSGRADER_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return Config.from_env()


def _stored(config: Config):
    from grader.service.context import open_services

    return open_services(config)


def _passwords(output: str) -> dict[str, str]:
    return dict(re.findall(r"(demo-\w+)\s*│\s*\w+\s*│\s*(\S+)", output))


def test_prepare_migrates_syncs_and_creates_the_demo_course_once(env):
    accounts = web_commands.prepare(env)
    assert [a.username for a in accounts] == ["demo-instructor", "demo-student1", "demo-student2", "demo-student3"]
    assert len({a.password for a in accounts}) == 4
    services = _stored(env)
    try:
        with services.sessions() as session:
            users = {u.username: u for u in session.scalars(select(User))}
            assert users["demo-instructor"].role == "instructor"
            for name in web_commands.DEMO_STUDENTS:
                assert users[name].role == "student" and users[name].section == web_commands.DEMO_SECTION
            for account in accounts:
                assert check_password(users[account.username], account.password)
            from grader.service.courses import course_labs, get_course, role_in

            course = get_course(session, web_commands.DEMO_COURSE)  # the demo is one course, every user enrolled
            assert all(role_in(session, course, users[a.username]) == users[a.username].role for a in accounts)
            labs = course_labs(session, course.id)
            assert [lab.id for lab in labs][:3] == ["lab01-mse", "lab02-cross-entropy", "lab03-softmax-ce"]
            days = [round((lab.due_at - utcnow()) / dt.timedelta(days=1)) for lab in labs[:3]]
            assert days == [7, 14, 21] or days == [8, 15, 22]  # 23:59 UTC on that day
            assert all(lab.hard_deadline_at > lab.due_at for lab in labs)
    finally:
        services.close()
    assert web_commands.prepare(env) == []  # not empty any more: nothing is created


def test_demo_command_recreates_passwords(env, capsys):
    assert run(["demo"]) == 0
    first = _passwords(capsys.readouterr().out)
    assert set(first) == {"demo-instructor", "demo-student1", "demo-student2", "demo-student3"}
    assert run(["demo"]) == 0
    second = _passwords(capsys.readouterr().out)
    assert set(second) == set(first) and all(first[name] != second[name] for name in first)
    services = _stored(env)
    try:
        with services.sessions() as session:
            assert session.scalar(select(User).where(User.username == "demo-student1")) is not None
            assert len(session.scalars(select(User)).all()) == 4
            student = session.scalar(select(User).where(User.username == "demo-student1"))
            assert check_password(student, second["demo-student1"])
            assert not check_password(student, first["demo-student1"])
    finally:
        services.close()


def test_serve_prepares_then_runs_gunicorn_with_the_factory_per_worker(env, capsys, monkeypatch):
    started = {}

    class FakeServer:
        def run(self):
            started["run"] = True

    def fake_make(factory, options):
        started.update(factory=factory, options=options)
        return FakeServer()

    monkeypatch.setattr(web_commands, "make_gunicorn", fake_make)
    assert run(["serve", "--host", "0.0.0.0", "--port", "8123", "--workers", "3"]) == 0
    captured = capsys.readouterr()
    assert "demo-student1" in captured.out and "demo-instructor" in captured.out
    assert "rate limits are counted per worker" in captured.err  # 3 workers, memory storage
    assert started["run"] and started["factory"] is web_commands.worker_app
    options = started["options"]
    assert options["bind"] == "0.0.0.0:8123"
    assert options["workers"] == 3 and options["preload_app"] is False
    assert (Path(env.instance_path) / "secret_key").is_file()
    options["when_ready"](None)
    assert "http://0.0.0.0:8123/" in capsys.readouterr().out


def test_serve_with_one_worker_does_not_warn_about_rate_limits(env, capsys, monkeypatch):
    monkeypatch.setattr(web_commands, "make_gunicorn", lambda *a: type("S", (), {"run": lambda self: None})())
    assert run(["serve", "--no-demo"]) == 0
    assert "rate limits" not in capsys.readouterr().err


def test_serve_refuses_when_nothing_can_be_graded(env, capsys, monkeypatch):
    from grader.service import runners

    def unavailable(config):
        raise runners.GraderUnavailable("cannot grade: no sandbox here")

    monkeypatch.setattr(runners, "server_runner", unavailable)
    monkeypatch.setattr(web_commands, "make_gunicorn", lambda *a: pytest.fail("gunicorn must not start"))
    assert run(["serve", "--no-demo"]) == 2
    assert "cannot grade: no sandbox here" in capsys.readouterr().err


def test_gunicorn_options_and_application():
    options = web_commands.gunicorn_options("::1", 9000, 2, 4)
    assert options["bind"] == "[::1]:9000"
    assert options["worker_class"] == "gthread" and options["threads"] == 4
    loaded = []
    server = web_commands.make_gunicorn(lambda: loaded.append(1) or "app", options)
    assert server.cfg.workers == 2 and server.cfg.threads == 4
    assert server.load() == "app" and loaded == [1]


def test_worker_app_starts_and_worker_exit_stops_the_background_work(env):
    from types import SimpleNamespace

    from grader.web.db import SERVICES_KEY

    web_commands.prepare(env, demo_if_empty=False)
    app = web_commands.worker_app()
    services = app.extensions[SERVICES_KEY]
    assert services.reconciler is not None
    web_commands._worker_exit(None, SimpleNamespace(wsgi=app))
    assert services.reconciler is None
    assert SERVICES_KEY not in app.extensions
