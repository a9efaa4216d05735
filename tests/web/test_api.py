"""The JSON API: token auth, submitting, reading results (own only, hidden fixtures redacted), OpenAPI."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.db.models import FixtureResult, Submission, User, utcnow
from grader.db.session import session_scope
from grader.grading.lab import find_lab
from grader.service import outlook as outlook_module
from grader.service.users import create_token, revoke_token
from tests.web.conftest import build_app, course_id, course_lab, csrf_token, login

IMPLEMENTATIONS = Path(__file__).resolve().parent.parent / "implementations" / "lab01-mse"
CORRECT = (IMPLEMENTATIONS / "correct_vectorised.py").read_text()
WRONG = (IMPLEMENTATIONS / "wrong_no_half.py").read_text()
LAB = "lab01-mse"


def make_token(services, user: User) -> str:
    with session_scope(services.sessions) as session:
        return create_token(session, session.get(User, user.id))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def alice_token(services, student) -> str:
    return make_token(services, student)


@pytest.fixture
def bob_token(services, other_student) -> str:
    return make_token(services, other_student)


@pytest.fixture
def ines_token(services, instructor) -> str:
    return make_token(services, instructor)


def post_json(client, token, source=CORRECT, filename="mine.py", lab=LAB):
    return client.post(
        f"/api/v1/labs/{lab}/submissions", json={"source": source, "filename": filename}, headers=bearer(token)
    )


def post_file(client, token, source=CORRECT, filename="mine.py", lab=LAB):
    data = {"file": (io.BytesIO(source.encode() if isinstance(source, str) else source), filename)}
    return client.post(
        f"/api/v1/labs/{lab}/submissions", data=data, content_type="multipart/form-data", headers=bearer(token)
    )


def grade_now(services, sid):
    from grader.service.submissions import grade_submission

    grade_submission(services, sid, worker="test")


def assert_json_error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) >= {"error", "message", "status"} and body["status"] == status
    assert "<html" not in response.get_data(as_text=True).lower()
    return body


def set_lab(services, lab_id=LAB, **values):
    with session_scope(services.sessions) as session:
        lab = course_lab(session, lab_id)
        for key, value in values.items():
            setattr(lab.lab if key in ("title", "version", "max_score") else lab, key, value)


# --- authentication ------------------------------------------------------------------------

ROUTES = [
    ("get", "/api/v1/labs"),
    ("get", f"/api/v1/labs/{LAB}/public-fixtures"),
    ("post", f"/api/v1/labs/{LAB}/submissions"),
    ("get", "/api/v1/submissions/1"),
]


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_anonymous_requests_get_401_json(client, method, url):
    response = getattr(client, method)(url)
    assert_json_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_bad_token_gets_401_json(client, student, method, url):
    response = getattr(client, method)(url, headers=bearer("lg_not-a-real-token"))
    assert_json_error(response, 401)


def test_revoked_token_is_refused(client, services, alice_token):
    assert client.get("/api/v1/labs", headers=bearer(alice_token)).status_code == 200
    with session_scope(services.sessions) as session:
        assert revoke_token(session, alice_token)
    assert_json_error(client.get("/api/v1/labs", headers=bearer(alice_token)), 401)


def test_session_cookie_works_for_reading(student_client):
    response = student_client.get("/api/v1/labs")
    assert response.status_code == 200


def test_cookie_posts_need_csrf_token_posts_need_none(student_client, alice_token, dispatcher):
    response = student_client.post(f"/api/v1/labs/{LAB}/submissions", json={"source": CORRECT})
    assert_json_error(response, 400)
    assert not dispatcher.dispatched
    response = student_client.post(
        f"/api/v1/labs/{LAB}/submissions",
        json={"source": CORRECT},
        headers={"X-CSRFToken": csrf_token(student_client, f"/labs/{LAB}")},
    )
    assert response.status_code == 202
    assert post_json(student_client, alice_token).status_code == 202  # token requests need no CSRF token


def test_unknown_api_route_is_json_404(client, alice_token):
    assert_json_error(client.get("/api/v1/nothing", headers=bearer(alice_token)), 404)


# --- labs and public fixtures --------------------------------------------------------------


def test_labs_list(client, alice_token):
    response = client.get("/api/v1/labs", headers=bearer(alice_token))
    assert response.status_code == 200
    labs = {lab["id"]: lab for lab in response.get_json()["labs"]}
    assert LAB in labs
    lab = labs[LAB]
    definition = find_lab(LAB)
    assert lab["title"] == definition.title
    assert lab["max_score"] == pytest.approx(definition.max_score)
    assert [f["name"] for f in lab["functions"]] == [f.name for f in definition.functions]
    for visibility in ("public", "hidden", "randomised"):
        assert lab["fixtures"][visibility] == len(definition.fixtures_by(visibility))
    assert set(lab) >= {"due_at", "hard_deadline_at", "extension_due_at"}


def test_public_fixtures_are_json_safe(client, alice_token):
    response = client.get(f"/api/v1/labs/{LAB}/public-fixtures", headers=bearer(alice_token))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "NaN" not in body and "Infinity" not in body
    document = json.loads(body)
    names = [f["name"] for f in document["fixtures"]]
    assert names == [f.name for f in find_lab(LAB).fixtures_by("public")]
    hidden = {f.name for f in find_lab(LAB).fixtures_by("hidden")}
    assert not hidden & set(names)
    assert all("expected" in f and "args" in f for f in document["fixtures"])


def test_public_fixtures_of_an_unknown_lab_is_404(client, alice_token):
    assert_json_error(client.get("/api/v1/labs/nope/public-fixtures", headers=bearer(alice_token)), 404)


# --- submitting ----------------------------------------------------------------------------


def test_submit_json(client, services, alice_token, dispatcher, student):
    response = post_json(client, alice_token)
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "queued"
    assert body["url"].endswith(f"/api/v1/submissions/{body['id']}")
    assert response.headers["Location"] == body["url"]
    assert response.headers["Retry-After"] == "1"  # first in line: ask again in a second
    assert dispatcher.dispatched == [body["id"]]
    with services.sessions() as session:
        row = session.get(Submission, body["id"])
        assert (row.user_id, row.lab_id, row.filename, row.source) == (student.id, LAB, "mine.py", CORRECT)


def test_submit_multipart(client, services, alice_token, dispatcher):
    response = post_file(client, alice_token, filename="../../etc/loss.py")
    assert response.status_code == 202, response.get_data(as_text=True)
    with services.sessions() as session:
        assert session.get(Submission, response.get_json()["id"]).filename == "loss.py"


def test_submit_json_default_filename(client, services, alice_token):
    response = client.post(f"/api/v1/labs/{LAB}/submissions", json={"source": CORRECT}, headers=bearer(alice_token))
    assert response.status_code == 202
    with services.sessions() as session:
        assert session.get(Submission, response.get_json()["id"]).filename == "submission.py"


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        ({"json": {"filename": "x.py"}}, 400, "source"),
        ({"json": {"source": ""}}, 422, "empty"),  # the empty-file rule: refused like an empty upload
        ({"json": {"source": 3}}, 400, "source"),
        ({"json": {"source": "x = 1", "filename": 5}}, 400, "filename"),
        ({"json": ["not", "an", "object"]}, 400, "JSON object"),
        ({"data": "{not json", "content_type": "application/json"}, 400, "JSON object"),
        ({"data": "source=x", "content_type": "text/plain"}, 400, "multipart"),
        ({"data": {"other": (io.BytesIO(b"x"), "a.py")}, "content_type": "multipart/form-data"}, 400, "'file'"),
        ({"json": {"source": "x = 1", "filename": "notes.txt"}}, 422, ".py"),
    ],
)
def test_malformed_submissions(client, alice_token, dispatcher, kwargs, status, words):
    response = client.post(f"/api/v1/labs/{LAB}/submissions", headers=bearer(alice_token), **kwargs)
    body = assert_json_error(response, status)
    assert words in body["message"]
    assert not dispatcher.dispatched


def test_unknown_lab_is_404_json(client, alice_token):
    body = assert_json_error(post_json(client, alice_token, lab="lab99-nothing"), 404)
    assert "lab99-nothing" in body["message"]


def test_refusals_are_422_json_with_the_reason(client, services, alice_token, dispatcher):
    import datetime as dt

    from grader.db.models import utcnow

    set_lab(services, max_submissions=1)
    assert post_json(client, alice_token).status_code == 202
    body = assert_json_error(post_json(client, alice_token), 422)
    assert "used all 1 submission" in body["message"]

    set_lab(services, "lab02-cross-entropy", hard_deadline_at=utcnow() - dt.timedelta(hours=1))
    body = assert_json_error(post_json(client, alice_token, lab="lab02-cross-entropy"), 422)
    assert body["message"]

    body = assert_json_error(post_file(client, alice_token, source=b"\xff\xfe\x00 binary", lab="lab03-softmax-ce"), 422)
    assert "not accepted" in body["message"]


def test_too_large_upload_is_413_json(client, alice_token):
    big = "x = 1\n" * 720_000  # 4.3 MB: over the limit of any upload, notebooks included
    assert_json_error(post_file(client, alice_token, source=big), 413)
    assert_json_error(post_json(client, alice_token, source=big), 413)


def test_submissions_are_rate_limited_per_token(config, services, alice_token):
    app = build_app(config, services, API_SUBMIT_RATE_LIMIT="2/minute")
    client = app.test_client()
    assert post_json(client, alice_token).status_code == 202
    assert post_json(client, alice_token).status_code == 202
    refused = post_json(client, alice_token)
    assert_json_error(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60  # the limiter's: when the window frees up


def test_the_rate_limiter_s_retry_after_is_only_on_its_refusals(client, services, alice_token):
    # With its headers on, Flask-Limiter puts its window's reset (a minute) in every
    # response it counts: a polling client would wait a minute for a result due in a second.
    response = post_json(client, alice_token)
    assert response.status_code == 202 and "X-RateLimit-Limit" in response.headers
    assert response.headers["Retry-After"] == "1"
    grade_now(services, response.get_json()["id"])
    done = client.get(response.headers["Location"], headers=bearer(alice_token))
    assert done.status_code == 200 and "Retry-After" not in done.headers


def test_retry_after_grows_with_the_queue_ahead(client, services, alice_token, bob_token, monkeypatch):
    # Bob's 3 submissions are ahead of Alice's; 21 graded over the last 20 s: 1.05 a second.
    now = utcnow()
    monkeypatch.setattr(outlook_module, "utcnow", lambda: now)
    for _ in range(3):
        post_json(client, bob_token)
    with services.sessions() as session:
        user = session.scalars(select(Submission.user_id)).first()
        for i in range(21):
            session.add(
                Submission(
                    course_id=course_id(session),
                    user_id=user, lab_id=LAB, attempt=100 + i, source="pass", source_sha256="0" * 64, seed=1,
                    status="graded", submitted_at=now, graded_at=now - dt.timedelta(seconds=i),
                )
            )  # fmt: skip
        session.commit()
    response = post_json(client, alice_token)
    assert response.status_code == 202
    # 3 ahead at 1.05/s: 2.9 s, asked again at 3/4 of it: 2 s; a longer queue waits longer.
    assert response.headers["Retry-After"] == "2"
    for _ in range(2):
        post_json(client, bob_token)
    late = post_json(client, alice_token)
    assert late.headers["Retry-After"] == "4"  # 6 ahead (her first one too): 5.7 s, 3/4 of it


# --- reading submissions -------------------------------------------------------------------


def test_pending_submission(client, alice_token):
    sid = post_json(client, alice_token).get_json()["id"]
    response = client.get(f"/api/v1/submissions/{sid}", headers=bearer(alice_token))
    assert response.headers["Retry-After"] == "1"
    body = response.get_json()
    assert body["status"] == "queued" and body["done"] is False
    assert body["tests"] == [] and body["score"] is None
    assert body["attempt"] == 1 and body["lab"] == LAB
    assert {"id", "lab", "status", "score", "max_score", "attempt", "submitted_at", "seed", "tests"} <= set(body)


def test_graded_submission_for_its_student_redacts_hidden_fixtures(client, services, alice_token):
    sid = post_json(client, alice_token, source=WRONG).get_json()["id"]
    grade_now(services, sid)
    response = client.get(f"/api/v1/submissions/{sid}", headers=bearer(alice_token))
    assert response.status_code == 200
    assert "Retry-After" not in response.headers  # done: nothing to wait for
    body = response.get_json()
    assert body["status"] == "graded" and body["done"] is True
    assert 0 <= body["score"] < body["max_score"]
    with services.sessions() as session:
        rows = session.scalars(select(FixtureResult).where(FixtureResult.submission_id == sid)).all()
        assert len(rows) == len(body["tests"])
        hidden_rows = [r for r in rows if r.visibility == "hidden"]
    assert hidden_rows
    raw = response.get_data(as_text=True)
    for test in body["tests"]:
        if test["visibility"] == "hidden":
            assert set(test) == {"name", "category", "visibility", "status", "score", "max_score", "feedback"}
        else:
            assert "inputs" in test and "expected" in test
    assert "detail" not in raw and "output" not in body and "user" not in body
    hidden_text = json.dumps([t for t in body["tests"] if t["visibility"] == "hidden"])
    shown_text = json.dumps([t for t in body["tests"] if t["visibility"] != "hidden"])
    for row in hidden_rows:
        for value in (row.detail.get("inputs") or []) + [row.detail.get("error")]:
            if isinstance(value, str) and len(value) > 12:
                # Never a hidden input or exception text; a generic description such as
                # "array of float64 with shape (4, 5)" may coincide with a shown fixture's.
                assert value not in hidden_text
                assert value not in raw or value in shown_text
        for key in ("expected", "got"):
            value = row.detail.get(key)
            if value is not None and not isinstance(value, (int, float)) and len(json.dumps(value)) > 12:
                assert json.dumps(value) not in hidden_text
                assert json.dumps(value) not in raw or json.dumps(value) in shown_text


def test_instructor_gets_the_full_detail(client, services, alice_token, ines_token, student):
    sid = post_json(client, alice_token, source=WRONG).get_json()["id"]
    grade_now(services, sid)
    body = client.get(f"/api/v1/submissions/{sid}", headers=bearer(ines_token)).get_json()
    assert body["user"]["username"] == student.username
    hidden = [t for t in body["tests"] if t["visibility"] == "hidden"]
    assert hidden and all("detail" in t and "inputs" in t["detail"] for t in hidden)
    assert "output" in body and "error" in body


def test_students_cannot_read_each_others_submissions(client, alice_token, bob_token):
    sid = post_json(client, alice_token).get_json()["id"]
    body = assert_json_error(client.get(f"/api/v1/submissions/{sid}", headers=bearer(bob_token)), 404)
    missing = assert_json_error(client.get("/api/v1/submissions/999999", headers=bearer(bob_token)), 404)
    assert re.sub(r"\d+", "N", body["message"]) == re.sub(r"\d+", "N", missing["message"])  # no difference to probe
    assert client.get(f"/api/v1/submissions/{sid}", headers=bearer(alice_token)).status_code == 200


def test_token_wins_over_the_session_cookie(client, student, other_student, bob_token, alice_token):
    sid = post_json(client, alice_token).get_json()["id"]
    login(client, "alice")
    assert client.get(f"/api/v1/submissions/{sid}").status_code == 200
    assert client.get(f"/api/v1/submissions/{sid}", headers=bearer(bob_token)).status_code == 404


# --- OpenAPI -------------------------------------------------------------------------------


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_openapi_document_describes_every_route(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    registered = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            methods = {m.lower() for m in rule.methods} - {"head", "options"}
            registered[_openapi_path(rule.rule)] = methods
    described = {path: set(item) - {"parameters"} for path, item in document["paths"].items()}
    assert described == registered

    schemas = document["components"]["schemas"]
    responses = document["components"]["responses"]

    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(document):
        kind, name = ref.removeprefix("#/components/").split("/")
        assert name in {"schemas": schemas, "responses": responses}[kind], ref
    for path, item in document["paths"].items():
        for operation in item.values():
            assert "200" in operation["responses"] or "202" in operation["responses"], path
            for parameter in re.findall(r"{([a-z_]+)}", path):
                assert parameter in {p["name"] for p in operation.get("parameters", [])}, (path, parameter)


def test_openapi_submission_schema_matches_a_real_response(client, services, alice_token, ines_token):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    sid = post_json(client, alice_token, source=WRONG).get_json()["id"]
    grade_now(services, sid)
    for token in (alice_token, ines_token):
        body = client.get(f"/api/v1/submissions/{sid}", headers=bearer(token)).get_json()
        assert set(schemas["Submission"]["required"]) <= set(body) <= set(schemas["Submission"]["properties"])
        for test in body["tests"]:
            assert set(schemas["TestResult"]["required"]) <= set(test) <= set(schemas["TestResult"]["properties"])
    labs = client.get("/api/v1/labs", headers=bearer(alice_token)).get_json()["labs"]
    assert all(set(lab) == set(schemas["Lab"]["properties"]) for lab in labs)
    fixtures = client.get(f"/api/v1/labs/{LAB}/public-fixtures", headers=bearer(alice_token)).get_json()
    assert set(fixtures) == set(schemas["PublicFixtures"]["properties"])
    error = client.get("/api/v1/labs").get_json()
    assert set(error) == set(schemas["Error"]["required"])


# --- causes and the summary ------------------------------------------------------------------


def test_a_students_result_says_each_cause_once_with_a_summary(client, services, alice_token):
    sid = post_json(client, alice_token, source=WRONG).get_json()["id"]
    grade_now(services, sid)
    body = client.get(f"/api/v1/submissions/{sid}", headers=bearer(alice_token)).get_json()
    failed = [t["name"] for t in body["tests"] if t["status"] == "failed"]
    assert failed and body["causes"]
    explained = [name for cause in body["causes"] for name in cause["fixtures"]]
    assert sorted(explained) == sorted(failed)  # every failure explained, each by one cause
    lost = [cause["points_lost"] for cause in body["causes"]]
    assert lost == sorted(lost, reverse=True)  # most points lost first
    assert body["summary"].splitlines()[0].startswith(f"{body['score']:g}/{body['max_score']:g}")
    for cause in body["causes"]:
        assert set(cause) == {"key", "kind", "message", "fixtures", "points_lost", "mistake", "code"}
        assert body["summary"].count(cause["message"]) == 1


def test_results_stored_before_causes_get_causes_derived_from_their_fixtures(client, services, alice_token):
    sid = post_json(client, alice_token, source=WRONG).get_json()["id"]
    grade_now(services, sid)
    with session_scope(services.sessions) as session:
        session.get(Submission, sid).causes = None  # as stored before causes were recorded
    body = client.get(f"/api/v1/submissions/{sid}", headers=bearer(alice_token)).get_json()
    failed = sorted(t["name"] for t in body["tests"] if t["status"] == "failed")
    assert failed and sorted(name for cause in body["causes"] for name in cause["fixtures"]) == failed
    assert body["summary"]


def test_a_pending_submission_has_no_causes_yet(client, alice_token):
    sid = post_json(client, alice_token).get_json()["id"]
    body = client.get(f"/api/v1/submissions/{sid}", headers=bearer(alice_token)).get_json()
    assert body["causes"] == [] and body["summary"] is None
