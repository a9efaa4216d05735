"""Fuzzing every route of the app (API, pages and forms) with malformed input.

Every rule of the URL map is requested, with each of its methods, by an anonymous client,
a student and an instructor (bearer token or session cookie), with path parameters, query
strings, headers and bodies drawn from strategies that include deep nesting, NUL and other
control characters, huge integers, long strings, wrong content types and bytes that are not
UTF-8. Properties: never a 5xx (testing mode propagates exceptions, so a bug fails loudly);
under ``/api/`` every answer is JSON, every error ``{"error", "message", "status"}``; at most
one log line per request. Derandomized by the suite's Hypothesis profile: the same examples
every run.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.db.session import session_scope
from grader.service.users import create_token, create_user
from tests.web.conftest import PASSWORD, build_app

MAX_EXAMPLES = 500
LAB = "lab01-mse"
SKIPPED_METHODS = {"HEAD", "OPTIONS"}

# --- strategies --------------------------------------------------------------------------------------------

#: Values that have broken servers: NUL, controls, the edges of integer columns, long and odd text.
EDGE_TEXT = [
    LAB,
    "1",
    "0",
    "-1",
    "\x00",
    "lab\x00",
    "\x1b[31m",
    "\x7f",
    "..",
    "%00",
    "a" * 256,
    "x" * 5000,
    str(2**31 - 1),
    str(2**31),
    str(2**63),
    "9" * 40,
    "1e309",
    "NaN",
    "\ud800",
    "\u202e",
    "caf\u00e9",
    "' OR 1=1 --",
    "<script>",
]
nasty_text = st.one_of(
    st.sampled_from(EDGE_TEXT),
    st.text(max_size=40),  # any code point, control characters included
    st.text(min_size=1, max_size=12).map(lambda s: s + "\x00" + s),
)
nasty_int = st.one_of(
    st.integers(-3, 5), st.sampled_from([2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 10**40]), st.integers()
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), nasty_int, st.floats(allow_nan=False), nasty_text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(nasty_text, inner, max_size=4)),
    max_leaves=12,
)
submission_json = st.fixed_dictionaries(
    {}, optional={"source": st.one_of(nasty_text, json_values), "filename": st.one_of(nasty_text, json_values)}
)


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of a test-client request: its body and content type."""
    kind = draw(st.sampled_from(["none", "json", "deep", "bytes", "form", "multipart", "wrong_type"]))
    if kind == "none":
        return {}
    if kind == "json":
        return {"data": json.dumps(draw(st.one_of(submission_json, json_values))), "content_type": "application/json"}
    if kind == "deep":
        depth = draw(st.sampled_from([33, 1000, 50_000]))
        opener = draw(st.sampled_from(["[", '{"a":']))
        return {"data": opener * depth, "content_type": "application/json"}
    if kind == "bytes":  # not UTF-8, or not JSON, declared as JSON
        raw = draw(st.one_of(st.binary(max_size=64), st.just(b"\xff\xfe{\x00}")))
        content_type = draw(st.sampled_from(["application/json", "application/json; charset=latin-1"]))
        return {"data": raw, "content_type": content_type}
    if kind == "form":  # encoded here: lone surrogates go on the wire as the bytes a sloppy client sends
        fields = draw(st.dictionaries(st.sampled_from(FORM_FIELDS), nasty_text, max_size=5))
        encoded = urllib.parse.urlencode(fields, encoding="utf-8", errors="surrogatepass")
        return {"data": encoded.encode(), "content_type": "application/x-www-form-urlencoded"}
    if kind == "multipart":
        import io

        drawn = draw(st.dictionaries(st.sampled_from(FORM_FIELDS), nasty_text, max_size=3))
        fields: dict[str, Any] = {name: printable(value) for name, value in drawn.items()}
        content = draw(st.one_of(st.binary(max_size=64), st.just(b""), st.just(b"def mse(a, b):\n    return 0\n")))
        fields[draw(st.sampled_from(["file", "roster", "other"]))] = (
            io.BytesIO(content),
            printable(draw(nasty_text)) or "f.py",
        )
        return {"data": fields, "content_type": "multipart/form-data"}
    return {"data": draw(st.binary(max_size=64)), "content_type": draw(st.sampled_from(WRONG_TYPES))}


def printable(text: str) -> str:
    """``text`` as the test client can encode it (a lone surrogate becomes U+FFFD)."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


#: Content types the routes do not take, or take with a broken parameter.
WRONG_TYPES = [
    "text/plain",
    "application/xml",
    "multipart/form-data",  # no boundary
    "image/png",
    "application/x-www-form-urlencoded; charset=utf-16",
    "application/json; charset=utf-32",
]


#: Field names the app's forms read (and some they do not).
FORM_FIELDS = [
    "username",
    "password",
    "code",
    "lab",
    "due_at",
    "hard_deadline_at",
    "late_policy",
    "late_percent_per_day",
    "max_submissions",
    "min_interval_seconds",
    "counting",
    "days",
    "reason",
    "scope",
    "confirm",
    "email",
    "student",
    "section",
    "new_password",
    "next",
]
QUERY_NAMES = ["scope", "lab", "page", "sort", "section", "student", "next", "format", "x", "\x00"]


# --- the app under test ----------------------------------------------------------------------------------


class Fuzzed:
    """The app, its rules, and who may call them (anonymous, tokens, cookie sessions)."""

    def __init__(self, app: Any, identities: dict[str, dict[str, Any]]) -> None:
        self.app = app
        self.identities = identities
        # anonymous requests mostly stop at the sign-in check: signed-in callers get further
        self.callers = ["anonymous"] + [name for name in sorted(identities) if name != "anonymous"] * 3
        self.routes = sorted(
            (rule.rule, method, rule)
            for rule in app.url_map.iter_rules()
            if rule.endpoint != "static"
            for method in sorted((rule.methods or set()) - SKIPPED_METHODS)
        )
        # the API's routes drawn as often as all the rest together: its errors must be JSON
        api = [route for route in self.routes if route[0].startswith("/api/")]
        self.weighted = self.routes + api * max(1, (len(self.routes) - len(api)) // max(1, len(api)))


@pytest.fixture(params=["sqlite", "postgresql"])
def fuzzed(request: pytest.FixtureRequest, tmp_path) -> Iterator[Fuzzed]:
    """The app on SQLite, then on PostgreSQL (which refuses NUL in text and ids beyond 32 bits)."""
    from grader.config import TestConfig
    from grader.grading.runner import SubprocessRunner
    from grader.service.context import open_services, sync_labs
    from tests.web.conftest import FakeDispatcher

    sqlite_url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    config = TestConfig(database_url=url, instance_path=str(tmp_path / "instance"))
    services = open_services(config, dispatcher=FakeDispatcher(), runner_factory=SubprocessRunner)
    sync_labs(services)
    app = build_app(config, services, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)  # forms reach their checks
    identities: dict[str, dict[str, Any]] = {"anonymous": {}}
    with session_scope(services.sessions) as session:
        for username, role in (("fuzz-student", "student"), ("fuzz-instructor", "instructor")):
            user = create_user(session, username, role, password=PASSWORD, display_name=username)
            identities[f"{role} token"] = {"headers": {"Authorization": f"Bearer {create_token(session, user)}"}}
    for username, role in (("fuzz-student", "student"), ("fuzz-instructor", "instructor")):
        client = app.test_client()
        assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
        with client.session_transaction() as session:
            identities[f"{role} cookie"] = {"session": dict(session)}
    try:
        yield Fuzzed(app, identities)
    finally:
        services.close()


@st.composite
def requests(draw: st.DrawFn, fuzzed: Fuzzed) -> dict[str, Any]:
    """One request: route, method, who, path parameters, query, headers and body."""
    path, method, rule = draw(st.sampled_from(fuzzed.weighted))
    for name, converter in rule._converters.items():
        value = draw(nasty_int) if converter.__class__.__name__ == "DatabaseId" else draw(nasty_text)
        path = path.replace(
            f"<{converter_spec(rule, name)}>",
            urllib.parse.quote(str(value).encode("utf-8", "surrogatepass"), safe=""),
            1,
        )
    query = draw(st.dictionaries(st.sampled_from(QUERY_NAMES), nasty_text, max_size=2)) if draw(st.booleans()) else {}
    if query:
        path += "?" + urllib.parse.urlencode(query, encoding="utf-8", errors="surrogatepass")
    who = draw(st.sampled_from(fuzzed.callers))
    headers = dict(fuzzed.identities[who].get("headers", {}))
    if draw(st.booleans()):
        headers["Idempotency-Key"] = draw(st.sampled_from(["k", "", " ", "x" * 300, "ok-key", "caf\u00e9"]))
    if draw(st.integers(0, 9)) == 0:
        headers["Accept"] = draw(st.sampled_from(["text/html", "application/xml", "*/*", "\x01"]))
    return {"path": path, "method": method, "who": who, "headers": headers, **draw(bodies())}


def converter_spec(rule: Any, name: str) -> str:
    """The ``<…>`` text of the rule's parameter ``name`` (``lab_id`` or ``int:submission_id``)."""
    import re

    match = re.search(r"<(?:[^>:]+:)?" + re.escape(name) + ">", rule.rule)
    assert match is not None, (rule.rule, name)
    return match.group(0)[1:-1]


class LogLines(logging.Handler):
    """Counts the log records of one request (any logger, INFO and above)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def send(fuzzed: Fuzzed, request: dict[str, Any]) -> tuple[Any, list[logging.LogRecord]]:
    client = fuzzed.app.test_client()
    identity = fuzzed.identities[request["who"]]
    if "session" in identity:  # the session a sign-in through the form made (cheaper than signing in again)
        with client.session_transaction() as session:
            session.update(identity["session"])
    lines = LogLines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(lines)
    root.setLevel(logging.INFO)
    try:
        kwargs = {k: request[k] for k in ("data", "content_type") if k in request}
        response = client.open(request["path"], method=request["method"], headers=request["headers"], **kwargs)
        response.get_data()
    finally:
        root.removeHandler(lines)
        root.setLevel(level)
    return response, lines.records


def test_every_route_and_method_is_fuzzed(fuzzed):
    paths = {path for path, _method, _rule in fuzzed.routes}
    assert {"/api/v1/labs/<lab_id>/submissions", "/api/v1/submissions/<int:submission_id>", "/login"} <= paths
    assert any(method == "POST" and not path.startswith("/api/") for path, method, _ in fuzzed.routes)  # forms


def test_no_input_gives_a_5xx_a_non_json_api_answer_or_more_than_one_log_line(fuzzed):
    seen: set[tuple[str, str]] = set()

    @settings(
        max_examples=MAX_EXAMPLES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(requests(fuzzed))
    def check(request: dict[str, Any]) -> None:
        response, records = send(fuzzed, request)
        seen.add((request["method"], request["path"].split("?")[0]))
        where = f"{request['method']} {request['path'][:200]!r} as {request['who']}"
        assert response.status_code < 500, f"{where}: {response.status_code} {response.get_data(as_text=True)[:300]}"
        if request["path"].startswith("/api/"):
            assert response.is_json, f"{where}: {response.status_code} {response.mimetype}"
            if response.status_code >= 400:
                body = response.get_json()
                assert body["status"] == response.status_code and body["error"] and body["message"], where
        assert len(records) <= 1, f"{where}: {[r.getMessage()[:200] for r in records]}"

    check()
    assert len(seen) > 30  # many distinct routes were hit, not a few over and over
