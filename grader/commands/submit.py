"""``lossgrader submit FILE --lab LAB``: send a file to the server, wait for its grading, print the result.

The server and token come from ``--server``/``--token``, then ``LOSSGRADER_SERVER``/
``LOSSGRADER_TOKEN``, then ``~/.config/lossgrader/config.toml`` (``server = "..."``,
``token = "..."``; ``$XDG_CONFIG_HOME`` is honoured). Only the standard library talks to
the server. Exit status: 0 every fixture passed, 1 some failed, 2 the submission could
not be made or graded (one line on stderr).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from grader.cli import UserError, check_command, out
from grader.grading.result import Cause, Result, TestResult, strict_json
from grader.terminal import group_by_feedback, print_result

DEFAULT_SERVER = "http://127.0.0.1:8000"
USER_AGENT = "lossgrader-cli"
REQUEST_TIMEOUT = 30.0
FIRST_POLL = 0.5
MAX_POLL = 5.0
MAX_WAIT = 30.0  # the most of a server's Retry-After we follow
#: Answers that say "try again soon": the service (or a proxy in front of it) is briefly unavailable.
RETRY_STATUSES = (429, 502, 503, 504)
RETRY_SECONDS = 60.0  # how long one request keeps retrying them (and lost connections), by default
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 8.0


def config_path() -> Path:
    """``$XDG_CONFIG_HOME/lossgrader/config.toml`` (default ``~/.config``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lossgrader" / "config.toml"


def read_config(path: Path | None = None) -> dict[str, Any]:
    """The config file's settings; {} when there is none. A broken file is an error."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    path = path or config_path()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    return data if isinstance(data, dict) else {}


class _TryAgain(Exception):
    """A failure worth retrying: a lost connection, or an answer in :data:`RETRY_STATUSES`."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


def retry_delay(attempt: int, retry_after: float | None) -> float:
    """Seconds before try ``attempt + 1``: the server's Retry-After when it gave one (at most
    :data:`MAX_WAIT`), else exponential backoff with jitter (so clients do not return in step)."""
    if retry_after is not None:
        return min(max(retry_after, FIRST_BACKOFF), MAX_WAIT)
    ceiling = min(FIRST_BACKOFF * 2**attempt, MAX_BACKOFF)
    return random.uniform(ceiling / 2, ceiling)


class Client:
    """The few API calls ``submit`` needs, over urllib, each retried while the service is
    briefly unavailable (503, 429, 502, 504, a lost connection) for up to ``retry_seconds``.

    ``answers`` records every HTTP status received and its Retry-After header.
    """

    def __init__(
        self,
        server: str,
        token: str,
        timeout: float = REQUEST_TIMEOUT,
        *,
        retry_seconds: float = RETRY_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.sleep = sleep
        self.retry_after: float | None = None  # the last answer's Retry-After, in seconds
        self.retries = 0  # tries that were repeated, over this client's life
        self.answers: list[tuple[int, str | None]] = []

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send a request, retrying while the service is briefly unavailable; the decoded JSON
        body, or UserError with one line. Only idempotent requests should be retried: a POST
        carries an ``Idempotency-Key``."""
        deadline = time.monotonic() + self.retry_seconds
        attempt = 0
        while True:
            try:
                return self._once(method, path, body, content_type, headers or {})
            except _TryAgain as exc:
                delay = retry_delay(attempt, exc.retry_after)
                if time.monotonic() + delay > deadline:
                    raise UserError(f"{exc.problem}; gave up after retrying for {self.retry_seconds:g} s") from None
                self.retries += 1
                attempt += 1
                self.sleep(delay)

    def _once(self, method: str, path: str, body: bytes | None, content_type: str | None, extra: dict[str, str]) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json", "User-Agent": USER_AGENT}
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(extra)
        request = urllib.request.Request(self.server + path, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                self.answers.append((response.status, response.headers.get("Retry-After")))
                self.retry_after = _seconds(response.headers.get("Retry-After"))
                return json.loads(response.read().decode("utf-8") or "null")
        except urllib.error.HTTPError as exc:
            self.answers.append((exc.code, exc.headers.get("Retry-After")))
            problem = self._problem(exc)
            if exc.code in RETRY_STATUSES:
                raise _TryAgain(problem, _seconds(exc.headers.get("Retry-After"))) from None
            raise UserError(problem) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
            raise _TryAgain(f"cannot reach the server at {self.server}: {reason}") from None
        except ValueError:
            raise UserError(
                f"the server at {self.server} did not answer with JSON (is it a lossgrader server?)"
            ) from None

    def _problem(self, exc: urllib.error.HTTPError) -> str:
        try:
            message = json.loads(exc.read().decode("utf-8")).get("message")
        except (ValueError, AttributeError, OSError):
            message = None
        if exc.code == 401:
            return "the server refused the token (check --token, LOSSGRADER_TOKEN or the config file)"
        if exc.code == 404 and message is None:
            return f"{self.server} has no lossgrader API (HTTP 404)"
        return f"{message or exc.reason} (HTTP {exc.code})"

    def submit(
        self,
        lab_id: str,
        filename: str,
        source: bytes,
        idempotency_key: str | None = None,
        course: str | None = None,
    ) -> dict[str, Any]:
        """POST the file as multipart/form-data, with an ``Idempotency-Key`` (a new one unless
        given) so that a retry gets the submission a lost answer's try made, not a second one.
        ``course``: the course's code (None: the server picks the one course of yours with the lab)."""
        boundary = "lossgrader-" + secrets.token_hex(16)
        safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        body = b"".join(
            (
                f"--{boundary}\r\n".encode(),
                f'Content-Disposition: form-data; name="file"; filename="{safe_name}"\r\n'.encode(),
                b"Content-Type: text/x-python\r\n\r\n",
                source,
                f"\r\n--{boundary}--\r\n".encode(),
            )
        )
        path = f"/api/v1/labs/{urllib.parse.quote(lab_id, safe='')}/submissions"
        if course:
            path = f"/api/v1/courses/{urllib.parse.quote(course, safe='')}" + path.removeprefix("/api/v1")
        key = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return self.request("POST", path, body, f"multipart/form-data; boundary={boundary}", key)

    def submission(self, submission_id: int) -> dict[str, Any]:
        """GET a submission."""
        return self.request("GET", f"/api/v1/submissions/{int(submission_id)}")


def _seconds(value: str | None) -> float | None:
    """A Retry-After given in seconds (the only form the server sends); None otherwise."""
    return float(value) if value and value.strip().isdigit() else None


def wait_for(client: Client, submission_id: int, timeout: float) -> dict[str, Any]:
    """Poll until grading is done, when the server's Retry-After says (it knows the queue)
    or else with backoff; UserError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    backoff = FIRST_POLL
    while True:
        document = client.submission(submission_id)
        if document.get("done") or document.get("status") in ("graded", "error"):
            return document
        left = deadline - time.monotonic()
        if left <= 0:
            raise UserError(
                f"submission {submission_id} is still {document.get('status', 'queued')} after {timeout:g} s; "
                f"see {client.server}/submissions/{submission_id}"
            )
        delay = backoff if client.retry_after is None else min(max(client.retry_after, FIRST_POLL), MAX_WAIT)
        time.sleep(min(delay, left))  # a last look at the deadline
        backoff = min(backoff * 1.5, MAX_POLL)


def as_result(document: dict[str, Any]) -> Result:
    """The API's submission as a :class:`~grader.grading.result.Result`, for the terminal.

    Its causes are the server's; a server that sends none gets them by grouping failed
    fixtures with word-for-word the same feedback (:func:`grader.terminal.group_by_feedback`).
    """
    tests = []
    for test in document.get("tests") or []:
        feedback = test.get("feedback") or ""
        tests.append(
            TestResult(
                name=test["name"],
                function=test.get("function") or "",
                category=test.get("category") or "",
                visibility=test.get("visibility") or "hidden",
                description=test.get("description") or "",
                max_score=float(test.get("max_score") or 0),
                score=float(test.get("score") or 0),
                passed=test.get("status") == "passed",
                stage="not_run" if feedback.lower().startswith("not run") else "",  # the API gives students no stage
                message=feedback,
                summary=feedback,
                inputs=test.get("inputs"),
                expected=test.get("expected"),
                got=test.get("got"),
                seed=test.get("seed"),
            )
        )
    result = Result(
        lab_id=document.get("lab", ""),
        lab_title="",
        lab_version="",
        seed=int(document.get("seed") or 0),
        tests=tests,
        submission_error=document.get("submission_error"),
    )
    causes = [c for c in map(as_cause, document.get("causes") or []) if c is not None]
    result.causes = causes or group_by_feedback(result)
    return result


def as_cause(data: Any) -> Cause | None:
    """One of the API's causes as a :class:`~grader.grading.result.Cause`; None when it is
    not one (a server of another version: its causes are skipped, not fatal)."""
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return None
    fixtures = data.get("fixtures")
    code = data.get("code")
    mistake = data.get("mistake")
    return Cause(
        key=str(data.get("key") or ""),
        kind=str(data.get("kind") or ""),
        message=data["message"],
        fixtures=[str(f) for f in fixtures] if isinstance(fixtures, list) else [],
        points_lost=float(data.get("points_lost") or 0),
        mistake=mistake if isinstance(mistake, str) else None,
        code=code if isinstance(code, str) else None,
    )


@click.command("submit")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lab", "lab_id", required=True, help="Lab id, e.g. lab01-mse.")
@click.option(
    "--course",
    default=None,
    metavar="CODE",
    help="Course code (default: LOSSGRADER_COURSE, the config file; else the one course of yours with the lab).",
)
@click.option("--server", default=None, help=f"Server URL (default: LOSSGRADER_SERVER, config file, {DEFAULT_SERVER}).")
@click.option("--token", default=None, help="API token (default: LOSSGRADER_TOKEN, then the config file).")
@click.option("--timeout", type=click.FloatRange(1), default=300.0, show_default=True, help="Seconds to wait.")
@click.option(
    "--retry-for",
    "retry_seconds",
    type=click.FloatRange(0),
    default=RETRY_SECONDS,
    show_default=True,
    help="Seconds each request keeps retrying while the server is unreachable or busy (503, 429).",
)
@click.option("--no-wait", is_flag=True, help="Only submit; print the submission's id and URL.")
@click.option("--details", "-v", is_flag=True, help="Show every failed visible fixture's call and values.")
@click.option("--json", "as_json", is_flag=True, help="Print the server's result document as JSON.")
def submit(
    file: Path,
    lab_id: str,
    course: str | None,
    server: str | None,
    token: str | None,
    timeout: float,
    retry_seconds: float,
    no_wait: bool,
    details: bool,
    as_json: bool,
) -> None:
    """Submit FILE to the course server and show the graded result.

    Exit status 0 only if every fixture passed (hidden ones included), 1 if some failed.
    """
    settings = read_config()
    server = server or os.environ.get("LOSSGRADER_SERVER") or settings.get("server") or DEFAULT_SERVER
    token = token or os.environ.get("LOSSGRADER_TOKEN") or settings.get("token")
    if not isinstance(server, str) or urllib.parse.urlsplit(server).scheme not in ("http", "https"):
        raise UserError(f"the server must be an http:// or https:// URL, got {server!r}")
    if not token or not isinstance(token, str):
        raise UserError(f'no API token: give --token, set LOSSGRADER_TOKEN, or put token = "..." in {config_path()}')
    try:
        source = file.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {file}: {exc.strerror or exc}") from None

    client = Client(server, token.strip(), retry_seconds=retry_seconds)
    course = course or os.environ.get("LOSSGRADER_COURSE") or settings.get("course")
    if course is not None and not isinstance(course, str):
        raise UserError(f'course in {config_path()} must be a string, like course = "dl101"')
    accepted = client.submit(lab_id, file.name, source, course=course or None)
    submission_id = int(accepted["id"])
    if no_wait:
        out.print(f"submitted {escape(str(file))} to {escape(lab_id)}: submission {submission_id}")
        return
    if not as_json:
        out.print(f"submitted {escape(str(file))} to {escape(lab_id)} (submission {submission_id}); grading…")
    document = wait_for(client, submission_id, timeout)
    if document.get("status") != "graded":
        raise UserError(
            f"the server could not grade submission {submission_id} (not your fault); your instructor will regrade it"
        )
    result = as_result(document)
    if as_json:
        click.echo(strict_json(document, indent=2))
    else:
        title = f"{file} · {lab_id} · submission {submission_id}"
        print_result(out, result, title, details=details, reproduce=check_command(file, lab_id))
    sys.exit(0 if result.all_passed and not result.submission_error else 1)


commands = [submit]
