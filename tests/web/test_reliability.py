"""Failure as a contract: 503 with Retry-After while the database is away (logged once per
outage), health endpoints, malformed input refused with a 4xx JSON error before it reaches
the database, one rule for empty files, and idempotent submissions (``Idempotency-Key``)."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import func, select

from grader.db.models import Submission
from grader.db.session import make_engine, make_sessionmaker
from grader.web.limits import MAX_DATABASE_ID, MAX_HEADER_BYTES, MAX_JSON_DEPTH, MAX_URL_CHARS, json_too_deep
from tests.web.test_api import CORRECT, LAB, WRONG, bearer, make_token, post_file, post_json

#: A PostgreSQL that is not there: connecting fails at once, as while the server restarts.
UNREACHABLE = "postgresql+psycopg://postgres@/lossgrader?host=/nonexistent-lossgrader-socket-dir&port=5432"


@pytest.fixture
def alice_token(services, student) -> str:
    return make_token(services, student)


@pytest.fixture
def database_down(services):
    """The app's services lose their database until the test calls the returned ``restore()``."""
    working = services.sessions
    engine = make_engine(UNREACHABLE)
    services.sessions = make_sessionmaker(engine)

    def restore() -> None:
        services.sessions = working

    yield restore
    restore()
    engine.dispose()


def submissions_of(services) -> int:
    with services.sessions() as session:
        return session.scalar(select(func.count(Submission.id)))


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert body["status"] == status and body["message"]
    return body


# --- the database away: 503 with Retry-After, one log line per outage --------------------------------------


def test_database_down_gives_503_with_retry_after_logged_once(
    client, student_client, alice_token, database_down, caplog
):
    caplog.set_level(logging.INFO)
    answers = [
        client.post(f"/api/v1/labs/{LAB}/submissions", json={"source": CORRECT}, headers=bearer(alice_token)),
        client.get("/api/v1/submissions/1", headers=bearer(alice_token)),
        client.get("/api/v1/labs", headers=bearer(alice_token)),
    ]
    for response in answers:
        body = assert_json_error(response, 503)
        assert response.headers["Retry-After"] == "3"  # ours on the rate-limited submit too, not the limiter's
        assert "unavailable" in body["error"]
    page = student_client.get(f"/labs/{LAB}")  # a page: 503 too, without the navigation that needs the database
    assert page.status_code == 503 and page.mimetype == "text/html" and "Retry-After" in page.headers
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert "unreachable" in lines[0].getMessage() and not lines[0].exc_info

    database_down()  # back
    caplog.clear()
    assert client.get("/api/v1/labs", headers=bearer(alice_token)).status_code == 200
    back = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(back) == 1 and "reachable again" in back[0]
    assert "(4 requests answered 503)" in back[0]  # the three API calls and the page


def test_a_real_error_is_still_a_500(app, client, caplog):
    from sqlalchemy import text

    from grader.web.db import get_db

    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/_bad_sql")
    def bad_sql():
        get_db().execute(text("SELECT * FROM no_such_table"))
        return "unreachable"

    response = client.get("/_bad_sql")
    assert response.status_code == 500 and "Retry-After" not in response.headers


def test_healthz_needs_nothing_readyz_checks_the_database(client, database_down):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"]
    body = response.get_json()
    assert body["status"] == "unavailable" and body["checks"]["database"] != "ok"
    database_down()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "not used", "sandbox": "ok"},
    }


# --- malformed input: 4xx JSON before the database --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method"),
    [
        (f"/api/v1/labs/{LAB}%00/submissions", "post"),
        ("/api/v1/labs/lab%00x/public-fixtures", "get"),
        ("/api/v1/labs/lab%01x/misconceptions", "get"),
        ("/api/v1/labs/lab%7fx/fixtures/stats", "get"),
        (f"/api/v1/submissions/{MAX_DATABASE_ID + 1}", "get"),
        (f"/api/v1/submissions/{10**40}", "get"),
        ("/api/v1/labs/" + "x" * 300 + "/public-fixtures", "get"),
    ],
)
def test_path_parameters_that_cannot_exist_are_404_json(client, alice_token, path, method):
    response = getattr(client, method)(path, headers=bearer(alice_token), json={"source": CORRECT})
    assert_json_error(response, 404)


def test_the_largest_id_is_looked_up(client, alice_token):
    assert_json_error(client.get(f"/api/v1/submissions/{MAX_DATABASE_ID}", headers=bearer(alice_token)), 404)


def test_control_characters_in_query_and_form_fields_are_400(client, alice_token):
    body = assert_json_error(client.get("/api/v1/labs?x=%00", headers=bearer(alice_token)), 400)
    assert "control character" in body["message"]
    page = client.post("/login", data={"username": "a\x00b", "password": "x"})
    assert page.status_code == 400


def test_deep_json_is_400_not_a_recursion_error(client, alice_token):
    for body in ("[" * 50_000, '{"source": ' + "[" * 40 + "]" * 40 + "}"):
        response = client.post(
            f"/api/v1/labs/{LAB}/submissions", data=body, content_type="application/json", headers=bearer(alice_token)
        )
        assert "nested deeper" in assert_json_error(response, 400)["message"]


@pytest.mark.parametrize("body", ["false", "[1, 2]", "3", "null", '"text"'])
def test_a_page_form_sent_json_that_is_not_an_object_is_400(client, body):
    """Flask-WTF reads a JSON body as the form's fields; a list or false broke it (a 500)."""
    response = client.post("/login", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "named fields" in response.get_data(as_text=True)


def test_json_depth_counts_brackets_outside_strings_only():
    assert not json_too_deep(b'{"a": "' + b"[" * 100 + b'"}')
    assert not json_too_deep(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert json_too_deep(b"[" * (MAX_JSON_DEPTH + 1))
    assert not json_too_deep(b'["\\"[[[[", {"b": [1, 2]}]', limit=3)


def test_long_request_line_and_header_are_json(client, alice_token):
    long_url = "/api/v1/labs/" + "x" * MAX_URL_CHARS + "/public-fixtures"
    assert_json_error(client.get(long_url, headers=bearer(alice_token)), 414)
    huge_token = {"Authorization": "Bearer " + "t" * (MAX_HEADER_BYTES + 10)}
    assert_json_error(client.get("/api/v1/labs", headers=huge_token), 431)


# --- one rule for empty files ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["", "  \n\t\n"])
def test_an_empty_file_is_refused_the_same_way_uploaded_or_as_json(client, services, alice_token, source):
    for response in (post_file(client, alice_token, source), post_json(client, alice_token, source)):
        assert "empty" in assert_json_error(response, 422)["message"]
    assert submissions_of(services) == 0  # not an attempt


# --- idempotent submissions --------------------------------------------------------------------------------


def post_keyed(client, token, key, source=CORRECT, lab=LAB, as_file=False):
    headers = {**bearer(token), "Idempotency-Key": key}
    if as_file:
        data = {"file": (io.BytesIO(source.encode()), "mine.py")}
        return client.post(f"/api/v1/labs/{lab}/submissions", data=data, headers=headers)
    return client.post(f"/api/v1/labs/{lab}/submissions", json={"source": source}, headers=headers)


def test_a_retried_post_returns_the_first_submission(client, services, alice_token, dispatcher):
    first = post_keyed(client, alice_token, "key-1", as_file=True)
    again = post_keyed(client, alice_token, "key-1", as_file=True)
    assert first.status_code == again.status_code == 202
    assert first.get_json() == again.get_json()
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert first.headers["Location"] == again.headers["Location"]
    other = post_keyed(client, alice_token, "key-2", as_file=True)
    assert other.get_json()["id"] != first.get_json()["id"]
    assert submissions_of(services) == 2 and dispatcher.dispatched == [first.get_json()["id"], other.get_json()["id"]]
    with services.sessions() as session:
        stored = session.get(Submission, first.get_json()["id"])
        assert stored.idempotency_key == "key-1" and stored.attempt == 1


def test_keys_are_per_user(client, services, alice_token, other_student):
    bob = make_token(services, other_student)
    mine, theirs = post_keyed(client, alice_token, "same"), post_keyed(client, bob, "same")
    assert mine.status_code == theirs.status_code == 202
    assert mine.get_json()["id"] != theirs.get_json()["id"]


def test_a_key_reused_for_another_file_is_422(client, services, alice_token):
    assert post_keyed(client, alice_token, "k").status_code == 202
    assert "Idempotency-Key" in assert_json_error(post_keyed(client, alice_token, "k", source=WRONG), 422)["message"]
    assert submissions_of(services) == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_400(client, services, alice_token, key):
    headers = {**bearer(alice_token), "Idempotency-Key": key}
    response = client.post(f"/api/v1/labs/{LAB}/submissions", json={"source": CORRECT}, headers=headers)
    assert "Idempotency-Key" in assert_json_error(response, 400)["message"]
    assert submissions_of(services) == 0


def test_the_openapi_file_documents_the_header(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/labs/{lab_id}/submissions"]["post"]
    names = [p.get("name") or p.get("$ref", "") for p in operation["parameters"]]
    assert any("Idempotency-Key" in name or "IdempotencyKey" in name for name in names), names
    assert "503" in operation["responses"]


# --- the web page's live updates retry with backoff, within a bounded time ----------------------------------

JS_HARNESS = r"""
const fs = require("fs");
const script = fs.readFileSync(process.argv[2], "utf8");
const answers = JSON.parse(process.argv[3]);
const log = [];
const timers = [];
let now = 0;
const box = {
  attrs: { "data-status-url": "/submissions/1/status", "data-poll-ms": "1000" },
  getAttribute(name) { return this.attrs[name]; },
  setAttribute(name, value) { this.attrs[name] = value; log.push(["status", value]); },
  querySelector() { return paragraph; },
};
const paragraph = { textContent: "", appendChild() {} };
global.Date = { now: () => now };
global.document = { getElementById: () => box, createElement: () => ({}), createTextNode: () => ({}) };
global.window = {
  fetch: true,
  setTimeout(fn, ms) { timers.push([fn, ms]); log.push(["wait", ms]); },
  location: { reload() { log.push(["reload"]); } },
};
global.fetch = () => {
  const answer = answers.shift();
  log.push(["fetch"]);
  if (answer === "offline") return Promise.reject(new TypeError("Failed to fetch"));
  const [status, retryAfter, body] = answer;
  return Promise.resolve({
    status, ok: status >= 200 && status < 300,
    headers: { get: (name) => (name === "Retry-After" ? retryAfter : null) },
    json: () => Promise.resolve(body),
  });
};
eval(script);
(async () => {
  while (timers.length) {
    const [fn, ms] = timers.shift();
    now += ms;
    fn();
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
  if (paragraph.textContent) log.push(["said", paragraph.textContent]);
  console.log(JSON.stringify(log));
})();
"""


def run_page_script(tmp_path, answers):
    import json
    import shutil
    import subprocess
    from pathlib import Path

    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed: the page script's retries are not checked here")
    harness = tmp_path / "harness.js"
    harness.write_text(JS_HARNESS)
    script = Path(__file__).resolve().parents[2] / "grader" / "web" / "static" / "submission.js"
    done = subprocess.run(
        [node, str(harness), str(script), json.dumps(answers)], capture_output=True, text=True, timeout=30, check=True
    )
    return [tuple(step) for step in json.loads(done.stdout)]


def waits(log):
    return [step[1] for step in log if step[0] == "wait"]


def test_page_updates_follow_retry_after_and_back_off_while_the_server_is_away(tmp_path):
    pending = [200, None, {"done": False, "status": "queued", "ahead": 0, "retry_after": 2}]
    answers = [[503, "3", {}], "offline", "offline", [429, "7", {}], pending, [200, None, {"done": True}]]
    log = run_page_script(tmp_path, answers)
    assert waits(log) == [1000, 3000, 2000, 4000, 7000, 2000]  # first poll, Retry-After, backoff x2, Retry-After, ok
    assert log[-1] == ("reload",)


def test_page_updates_give_up_after_a_bounded_time_and_say_so(tmp_path):
    log = run_page_script(tmp_path, ["offline"] * 40)
    assert sum(1 for step in log if step[0] == "fetch") < 20  # backoff up to 30 s: about a dozen tries in 5 minutes
    assert log[-1][0] == "said" and "Reload this page" in log[-1][1]
    assert max(waits(log)) == 30000


def test_page_updates_stop_on_an_error_retrying_cannot_fix(tmp_path):
    log = run_page_script(tmp_path, [[404, None, {}]])
    assert sum(1 for step in log if step[0] == "fetch") == 1
    assert "HTTP 404" in log[-1][1]


def test_rate_limits_count_in_a_broker_on_a_unix_socket():
    """The limits library calls it redis+unix:// (the app failed to start with a socket broker)."""
    from limits.storage import storage_from_string

    from grader.web.settings import WebSettings

    uri = WebSettings().flask_config("unix:///run/redis/redis.sock?db=0")["RATELIMIT_STORAGE_URI"]
    assert uri == "redis+unix:///run/redis/redis.sock?db=0"
    assert storage_from_string(uri) is not None
    assert WebSettings().flask_config("redis://localhost:6379/0")["RATELIMIT_STORAGE_URI"] == "redis://localhost:6379/0"


# --- under gunicorn: requests too long for the app, or for gunicorn, are answered in JSON ------------------

SERVE = """
from grader.commands.web import gunicorn_options, make_gunicorn, prepare, worker_app
from grader.config import Config

prepare(Config.from_env(), demo_if_empty=False)
make_gunicorn(worker_app, gunicorn_options("127.0.0.1", 0, 1, 2)).run()
"""


@pytest.fixture
def gunicorn_url(tmp_path):
    """``lossgrader serve``'s gunicorn, with its options, on a port the kernel chose (read from its log)."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("LOSSGRADER_")}
    env.update(
        LOSSGRADER_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
        LOSSGRADER_INSTANCE_PATH=str(tmp_path / "instance"),
        LOSSGRADER_SECRET_KEY="serve-test",
        LOSSGRADER_INSECURE_SANDBOX="1",
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(rb"Listening at: http://127\.0\.0\.1:(\d+)", log.read_bytes())):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
            time.sleep(0.1)
        yield f"127.0.0.1:{int(found.group(1))}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def raw_get(address: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict]:
    import http.client
    import json

    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.slow
def test_gunicorn_and_the_app_answer_long_requests_in_json(gunicorn_url):
    from grader.commands.web import GUNICORN_HEADER_FIELD, GUNICORN_REQUEST_LINE

    assert GUNICORN_REQUEST_LINE > MAX_URL_CHARS and GUNICORN_HEADER_FIELD > MAX_HEADER_BYTES
    cases = [
        ("/api/v1/labs/" + "x" * 5_000 + "/public-fixtures", {}, 414),  # the app's limit
        ("/api/v1/labs/" + "x" * 10_000 + "/public-fixtures", {}, 414),  # beyond gunicorn's
        ("/api/v1/labs", {"Authorization": "Bearer " + "t" * 10_000}, 431),  # the app's limit
        ("/api/v1/labs", {"Authorization": "Bearer " + "t" * 20_000}, 431),  # beyond gunicorn's
    ]
    for path, headers, status in cases:
        got, content_type, body = raw_get(gunicorn_url, path, headers)
        assert (got, content_type.split(";")[0]) == (status, "application/json"), (len(path), headers.keys(), body)
        assert body["status"] == status and body["message"]
    assert raw_get(gunicorn_url, "/healthz")[2] == {"status": "ok"}
