"""Property-based API tests: Schemathesis generates requests from ``/api/v1/openapi.json``.

The OpenAPI document is loaded from the app itself (WSGI, no server). Requests carry a real
API token of a demo student; every response must not be a 5xx and must match the documented
status codes, content types and response schemas. Submissions are only recorded (the
conftest's FakeDispatcher), so nothing is graded. Examples are limited to keep this short.

Deterministic: every operation first gets an explicit request it must answer with a 2xx (random
examples may all be refused, so "some random example succeeds" is not a property), then
generated ones, derandomized by the suite's Hypothesis profile (the same examples every run).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis (the dev extra)")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import checks  # noqa: E402

from grader.commands.web import DEMO_COURSE  # noqa: E402
from grader.config import TestConfig  # noqa: E402
from tests.web.conftest import FakeDispatcher, build_app, make_services  # noqa: E402

MAX_EXAMPLES = 40
LAB = "lab01-mse"
SQLITE_MAX_INTEGER = 2**63 - 1
OPENAPI_FILE = Path(__file__).resolve().parents[2] / "grader" / "web" / "api" / "openapi.json"
CORRECT_FILE = Path(__file__).resolve().parents[1] / "implementations" / "lab01-mse" / "correct_vectorised.py"
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


#: Operations for instructors only: called with the demo instructor's token (a student's is 403).
INSTRUCTOR_OPERATIONS = {
    ("GET", "/api/v1/labs/{lab_id}/misconceptions"),
    ("GET", "/api/v1/labs/{lab_id}/fixtures/stats"),
    ("GET", "/api/v1/courses/{course}/labs/{lab_id}/misconceptions"),
    ("GET", "/api/v1/courses/{course}/labs/{lab_id}/fixtures/stats"),
}


class Api:
    """The app under test, the demo student's API token (and the demo instructor's)."""

    def __init__(self, app: Any, token: str, submission_id: int, instructor_token: str = "") -> None:
        self.app = app
        self.token = token
        self.submission_id = submission_id
        self.instructor_token = instructor_token


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> Iterator[Api]:
    """The app on a fresh database with the demo course, a token of demo-student1 and one of its submissions."""
    import grader.cli  # noqa: F401  (first: importing grader.commands.web on its own is a circular import)
    from grader.commands.web import create_demo
    from grader.db.session import session_scope
    from grader.service.submissions import submit
    from grader.service.users import create_token, find_user

    folder = tmp_path_factory.mktemp("schemathesis")
    shutil.copyfile(migrated_db, folder / "api.db")
    config = TestConfig(database_url=f"sqlite:///{folder / 'api.db'}", instance_path=str(folder / "instance"))
    services = make_services(config, dispatcher=FakeDispatcher())
    try:
        with session_scope(services.sessions) as session:
            create_demo(session)
            token = create_token(session, find_user(session, "demo-student1"), "schemathesis")
            instructor_token = create_token(session, find_user(session, "demo-instructor"), "schemathesis")
            user_id = find_user(session, "demo-student1").id
        submission = submit(services, user_id, LAB, CORRECT_FILE.read_bytes(), "mse.py")
        # Generated submissions must reach the handler, not the per-token rate limit.
        app = build_app(config, services, API_SUBMIT_RATE_LIMIT="100000/minute")
        yield Api(app, token, submission.id, instructor_token)
    finally:
        services.close()


@pytest.fixture(scope="module")
def api_schema(api: Api) -> Any:
    """The OpenAPI document as the app serves it."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api.app)


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation, read from the shipped document."""
    document = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    methods = ("get", "put", "post", "delete", "patch")
    return [(m.upper(), path) for path, item in document["paths"].items() for m in methods if m in item]


def _valid_requests(api: Api) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Per operation, requests it must accept (keyword arguments of ``operation.Case``)."""
    lab = {"lab_id": LAB}
    course = {"course": DEMO_COURSE}
    in_course = {**lab, **course}
    return {
        ("GET", "/api/v1/openapi.json"): [{}],
        ("GET", "/api/v1/labs"): [{}],
        ("GET", "/api/v1/labs/{lab_id}/public-fixtures"): [{"path_parameters": lab}],
        # JSON only: the document types the multipart 'file' as text, so Schemathesis sends it as a
        # plain form field without a filename, which the endpoint refuses (tests/web/test_api.py uploads files).
        ("POST", "/api/v1/labs/{lab_id}/submissions"): [
            {
                "path_parameters": lab,
                "media_type": "application/json",
                "body": {"source": CORRECT_FILE.read_text(encoding="utf-8"), "filename": "mse.py"},
            }
        ],
        ("GET", "/api/v1/submissions/{submission_id}"): [{"path_parameters": {"submission_id": api.submission_id}}],
        ("GET", "/api/v1/labs/{lab_id}/misconceptions"): [
            {"path_parameters": lab},
            {"path_parameters": lab, "query": {"scope": "all"}},
        ],
        ("GET", "/api/v1/labs/{lab_id}/fixtures/stats"): [{"path_parameters": lab}],
        # the same routes in the demo course, named
        ("GET", "/api/v1/courses/{course}/labs"): [{"path_parameters": course}],
        ("GET", "/api/v1/courses/{course}/labs/{lab_id}/public-fixtures"): [{"path_parameters": in_course}],
        ("POST", "/api/v1/courses/{course}/labs/{lab_id}/submissions"): [
            {
                "path_parameters": in_course,
                "media_type": "application/json",
                "body": {"source": CORRECT_FILE.read_text(encoding="utf-8"), "filename": "mse.py"},
            }
        ],
        ("GET", "/api/v1/courses/{course}/labs/{lab_id}/misconceptions"): [{"path_parameters": in_course}],
        ("GET", "/api/v1/courses/{course}/labs/{lab_id}/fixtures/stats"): [{"path_parameters": in_course}],
    }


def test_openapi_document_is_served(api: Api) -> None:
    """The document itself: OpenAPI 3.1 with every route of the blueprint."""
    response = api.app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert {"/api/v1/labs", "/api/v1/labs/{lab_id}/submissions", "/api/v1/submissions/{submission_id}"} <= set(
        document["paths"]
    )


# Schemathesis's own pytest plugin (schema.parametrize) breaks on pytest 9 ('Function' has no '_nodeid'),
# so each operation gets a plain parametrized test that runs Hypothesis on the operation's strategy.
@pytest.mark.parametrize(("method", "path"), _operations())
def test_api_conforms(api_schema: Any, api: Api, method: str, path: str) -> None:
    """A valid request is answered with a 2xx; no 5xx, and status, content type and body as documented, for all."""
    operation = api_schema[path][method]
    token = api.instructor_token if (method, path) in INSTRUCTOR_OPERATIONS else api.token
    headers = {"Authorization": f"Bearer {token}"}

    valid = _valid_requests(api).get((method, path))
    assert valid, f"{method} {path}: add a request it must accept to _valid_requests"
    for request in valid:
        response = operation.Case(**request).call_and_validate(headers=headers, checks=CHECKS)
        assert 200 <= response.status_code < 300, (request, response.status_code, response.text)

    generated = operation.as_strategy()

    def real_ids(case: Any) -> Any:
        """The same request on the demo's lab and the student's own submission (random ids are mostly 404)."""
        params = dict(case.path_parameters or {})
        if "lab_id" in params:
            params["lab_id"] = LAB
        if "course" in params:
            params["course"] = DEMO_COURSE
        if "submission_id" in params:
            params["submission_id"] = api.submission_id
        case.path_parameters = params
        return case

    @given(case=st.one_of(generated, generated.map(real_ids)) if "{" in path else generated)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,  # derandomized by the suite's profile (tests/conftest.py): the same examples every run
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        statuses.add(response.status_code)

    statuses: set[int] = set()
    run()
    # The token works for generated requests too: none was turned away by authentication.
    assert statuses, "no request was generated"
    assert 401 not in statuses, statuses


def test_huge_submission_id_is_404(api: Api) -> None:
    """Found by Schemathesis: an id that does not fit SQLite's INTEGER must be a 404, not a 500."""
    response = api.app.test_client().get(
        f"/api/v1/submissions/{SQLITE_MAX_INTEGER + 1}", headers={"Authorization": f"Bearer {api.token}"}
    )
    assert response.status_code == 404


def test_api_rejects_without_token(api: Api) -> None:
    """The generated tests authenticate; without a token every operation is a JSON 401."""
    client = api.app.test_client()
    for method, url in (
        ("get", "/api/v1/labs"),
        ("get", "/api/v1/labs/lab01-mse/public-fixtures"),
        ("post", "/api/v1/labs/lab01-mse/submissions"),
        ("get", f"/api/v1/submissions/{api.submission_id}"),
        ("get", "/api/v1/labs/lab01-mse/misconceptions"),
        ("get", "/api/v1/labs/lab01-mse/fixtures/stats"),
    ):
        response = getattr(client, method)(url)
        assert response.status_code == 401, (method, url, response.status_code)
        assert response.get_json()["status"] == 401
