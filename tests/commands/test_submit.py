"""``lossgrader submit`` against the web app served by a real local HTTP server (in a thread)."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from grader.cli import UserError, main, run
from grader.commands.submit import FIRST_POLL, MAX_WAIT, Client, as_result, commands, read_config, wait_for
from grader.commands.submit import submit as submit_command
from grader.db.models import User
from grader.db.session import session_scope
from grader.service.users import create_token
from grader.terminal import plain, print_result
from tests.web.conftest import COURSE, FakeDispatcher, build_app, config, make_services, migrated_db  # noqa: F401

IMPLEMENTATIONS = Path(__file__).resolve().parent.parent / "implementations" / "lab01-mse"
CORRECT = IMPLEMENTATIONS / "correct_vectorised.py"
WRONG = IMPLEMENTATIONS / "wrong_no_half.py"


@pytest.fixture(autouse=True)
def submit_registered(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The command on ``lossgrader``; no real config file or environment settings are read."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LOSSGRADER_TOKEN", raising=False)
    monkeypatch.delenv("LOSSGRADER_SERVER", raising=False)
    added = "submit" not in main.commands
    if added:
        main.add_command(submit_command)
    yield
    if added:
        main.commands.pop("submit", None)


@pytest.fixture
def server(config) -> Iterator[dict[str, Any]]:  # noqa: F811
    """The app with in-process grading, on a free local port; ``{"url", "token", "services"}``."""
    from werkzeug.serving import make_server

    from grader.grading.runner import SubprocessRunner
    from grader.service.courses import enrol, get_course
    from grader.service.users import create_user

    services = make_services(config, runner_factory=SubprocessRunner)
    services.start_background()
    with session_scope(services.sessions) as session:
        user = create_user(session, "alice", "student", password="correct horse battery staple")
        enrol(session, get_course(session, COURSE), user)
        token = create_token(session, session.get(User, user.id))
    app = build_app(config, services)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{http.server_port}", "token": token, "services": services}
    finally:
        http.shutdown()
        thread.join(10)
        services.close()


def invoke(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    code = run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_exposes_the_command():
    assert commands == [submit_command]


def test_correct_file_exits_0(server, capsys):
    code, out, err = invoke(
        capsys, "submit", CORRECT, "--lab", "lab01-mse", "--server", server["url"], "--token", server["token"]
    )
    assert code == 0, out + err
    assert "all" in out and "fixtures passed" in out
    assert "passed" in out


def test_wrong_file_exits_1_with_feedback(server, capsys, monkeypatch):
    monkeypatch.setenv("LOSSGRADER_TOKEN", server["token"])
    monkeypatch.setenv("LOSSGRADER_SERVER", server["url"])
    code, out, err = invoke(capsys, "submit", WRONG, "--lab", "lab01-mse")
    assert code == 1, out + err
    assert re.search(r"\d+ of 25 fixtures failed", out) and "What went wrong" in out


def test_wrong_file_says_each_of_the_servers_causes_once(server, capsys):
    args = ("submit", WRONG, "--lab", "lab01-mse", "--server", server["url"], "--token", server["token"])
    code, out, err = invoke(capsys, *args)
    assert code == 1, out + err
    submission_id = int(re.search(r"submission (\d+)", out).group(1))
    document = Client(server["url"], server["token"]).submission(submission_id)
    assert document["causes"], document
    text = " ".join(out.split())
    assert text.index("fixtures total passed failed causes") < text.index("What went wrong")  # a row per kind
    for cause in document["causes"]:
        assert text.count(" ".join(plain(cause["message"]).split())) == 1, cause["key"]
    assert "`" not in out
    assert f"--lab lab01-mse --seed {document['seed']}" in text  # its randomised fixtures, locally


def test_json_prints_the_servers_document(server, capsys):
    args = ("submit", WRONG, "--lab", "lab01-mse", "--server", server["url"], "--token", server["token"], "--json")
    code, out, err = invoke(capsys, *args)
    assert code == 1, out + err
    document = json.loads(out)
    assert document["status"] == "graded" and document["tests"] and "causes" in document


def test_token_and_server_from_the_config_file(server, capsys, tmp_path):
    folder = tmp_path / "xdg" / "lossgrader"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(f'server = "{server["url"]}"\ntoken = "{server["token"]}"\n')
    assert read_config()["server"] == server["url"]
    code, out, err = invoke(capsys, "submit", CORRECT, "--lab", "lab01-mse")
    assert code == 0, out + err


def test_course_names_the_course_and_an_unknown_one_is_one_line(server, capsys, monkeypatch):
    from grader.db.models import Submission
    from grader.service.courses import get_course

    args = ("submit", CORRECT, "--lab", "lab01-mse", "--server", server["url"], "--token", server["token"])
    code, out, err = invoke(capsys, *args, "--course", COURSE, "--no-wait")
    assert code == 0, out + err
    with session_scope(server["services"].sessions) as session:
        latest = session.query(Submission).order_by(Submission.id.desc()).first()
        assert latest.course_id == get_course(session, COURSE).id
    code, _out, err = invoke(capsys, *args, "--course", "nope")
    assert code == 2 and "nope" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("LOSSGRADER_COURSE", "nope")  # the environment names it too
    code, _out, err = invoke(capsys, *args)
    assert code == 2 and "nope" in err


def test_bad_token_exits_2_with_one_line(server, capsys):
    code, _out, err = invoke(
        capsys, "submit", CORRECT, "--lab", "lab01-mse", "--server", server["url"], "--token", "lg_wrong"
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "token" in err and "Traceback" not in err


def test_refusal_exits_2_with_the_servers_reason(server, capsys):
    code, _out, err = invoke(
        capsys, "submit", CORRECT, "--lab", "lab99-none", "--server", server["url"], "--token", server["token"]
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "lab99-none" in err and "404" in err


def test_unreachable_server_exits_2_with_one_line(capsys):
    with socket.socket() as sock:  # bound, never listening: refused, and nobody else can take the port
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        code, _out, err = invoke(
            capsys, "submit", CORRECT, "--lab", "lab01-mse", "--server", url, "--token", "lg_x", "--retry-for", "1"
        )
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "cannot reach the server" in err and "gave up after retrying for 1 s" in err


def test_missing_token_exits_2(capsys):
    code, _out, err = invoke(capsys, "submit", CORRECT, "--lab", "lab01-mse", "--server", "http://127.0.0.1:1")
    assert code == 2 and "no API token" in err


def test_missing_file_exits_2(capsys):
    code, _out, err = invoke(capsys, "submit", "nope.py", "--lab", "lab01-mse", "--token", "lg_x")
    assert code == 2 and "cannot read" in err


def test_broken_config_file_exits_2(capsys, tmp_path):
    folder = tmp_path / "xdg" / "lossgrader"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text("server = \n")
    code, _out, err = invoke(capsys, "submit", CORRECT, "--lab", "lab01-mse")
    assert code == 2 and "config.toml" in err


def test_as_result_keeps_verdicts_and_hides_nothing_extra():
    document = {
        "lab": "lab01-mse",
        "seed": 7,
        "submission_error": None,
        "tests": [
            {
                "name": "a",
                "category": "c",
                "visibility": "hidden",
                "status": "failed",
                "score": 0,
                "max_score": 1,
                "feedback": "f",
            },
            {
                "name": "b",
                "category": "c",
                "visibility": "public",
                "status": "passed",
                "score": 1,
                "max_score": 1,
                "feedback": "passed",
                "inputs": ["1"],
            },
        ],
    }
    result = as_result(document)
    assert result.score == 1 and result.max_score == 2 and not result.all_passed
    assert result.tests[0].feedback() == "f"


def hidden(name: str, feedback: str, passed: bool = False) -> dict[str, Any]:
    status = "passed" if passed else "failed"
    score = 1 if passed else 0
    return {"name": name, "category": "c", "visibility": "hidden", "status": status, "score": score,
            "max_score": 1, "feedback": "passed" if passed else feedback}  # fmt: skip


def render(document: dict[str, Any]) -> str:
    console = Console(file=io.StringIO(), width=80, color_system=None)
    print_result(console, as_result(document), "f.py · lab01-mse")
    return console.file.getvalue()


def test_as_result_reads_the_servers_causes_and_skips_malformed_ones():
    cause = {"key": "mistake:x", "kind": "mistake", "message": "Use `np.log`.", "fixtures": ["a", "b"],
             "points_lost": 2, "mistake": "cee_log10", "code": None}  # fmt: skip
    document = {"lab": "lab02", "seed": 3, "tests": [hidden("a", "f"), hidden("b", "g")], "causes": [cause, "junk", {}]}
    result = as_result(document)
    assert [(c.key, c.fixtures, c.points_lost, c.mistake) for c in result.causes] == [
        ("mistake:x", ["a", "b"], 2.0, "cee_log10")
    ]
    text = render(document)
    assert text.count("Use np.log.") == 1 and "`" not in text


def test_a_server_without_causes_gets_identical_feedback_grouped_once():
    tests = [hidden(f"h{i}", "`f` raised ValueError.") for i in range(5)]
    tests += [hidden("w", "wrong value."), hidden("p", "", passed=True)]
    result = as_result({"lab": "lab01-mse", "seed": 1, "tests": tests})
    assert [(len(c.fixtures), c.points_lost) for c in result.causes] == [(5, 5.0), (1, 1.0)]
    text = render({"lab": "lab01-mse", "seed": 1, "tests": tests})
    assert text.count("f raised ValueError.") == 1 and "(1) 5 fixtures: h0, h1, h2, h3, h4" in text


class ScriptedClient:
    """Answers GETs from a script of (status, Retry-After) pairs, like :class:`Client`."""

    server = "http://grader.test"

    def __init__(self, answers: list[tuple[str, float | None]]) -> None:
        self.answers = answers
        self.retry_after: float | None = None

    def submission(self, submission_id: int) -> dict[str, Any]:
        status, self.retry_after = self.answers.pop(0)
        return {"id": submission_id, "status": status, "done": status not in ("queued", "running")}


def test_waiting_follows_the_server_s_retry_after(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr("grader.commands.submit.time.sleep", slept.append)
    client = ScriptedClient([("queued", 7), ("queued", 2), ("running", 1), ("graded", None)])
    assert wait_for(client, 5, timeout=300)["status"] == "graded"
    assert slept == [7, 2, 1]


def test_waiting_backs_off_without_retry_after_and_bounds_what_it_follows(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr("grader.commands.submit.time.sleep", slept.append)
    client = ScriptedClient([("queued", None), ("queued", None), ("queued", 3600), ("queued", 0), ("graded", None)])
    wait_for(client, 5, timeout=300)
    assert slept == [FIRST_POLL, FIRST_POLL * 1.5, MAX_WAIT, FIRST_POLL]


def test_waiting_gives_up_at_the_timeout_after_a_last_look(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("grader.commands.submit.time.monotonic", lambda: clock[0])
    monkeypatch.setattr("grader.commands.submit.time.sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    client = ScriptedClient([("queued", 10), ("queued", 10), ("queued", 10)])
    with pytest.raises(UserError, match="still queued after 15 s"):
        wait_for(client, 5, timeout=15)
    assert clock[0] == 15 and client.answers == []  # polled at 0, 10 and 15 s
