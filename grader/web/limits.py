"""What the app accepts before any view runs: sizes, nesting, characters and ids.

Malformed input is refused here with a 4xx (JSON under ``/api/``), before it can reach
the database or a parser that would fail with a 500:

* path parameters: ``<name>`` (:class:`PathText`) matches no control character and at
  most :data:`MAX_PATH_PARAMETER` characters, ``<int:name>`` (:class:`DatabaseId`) only
  ids a 32-bit ``INTEGER`` column can hold; anything else is a 404 (there is no such thing);
* the request line and headers: longer than :data:`MAX_URL_CHARS` / :data:`MAX_HEADER_BYTES`
  is a 414 / 431 (gunicorn's own limits are set above these, see ``lossgrader serve``);
* query strings and form fields: a NUL or other control character (except tab and line
  breaks in form fields) is a 400;
* JSON bodies: nested deeper than :data:`MAX_JSON_DEPTH` is a 400 (their size is capped
  by ``MAX_CONTENT_LENGTH``, 413).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest, RequestHeaderFieldsTooLarge, RequestURITooLarge
from werkzeug.routing import IntegerConverter, UnicodeConverter

#: Longest path plus query string the app reads (gunicorn's request line limit is above it).
MAX_URL_CHARS = 4096
#: Longest header line (name and value) the app reads (gunicorn's limit is above it).
MAX_HEADER_BYTES = 8192
#: Deepest nesting of arrays and objects in a JSON body.
MAX_JSON_DEPTH = 32
#: Longest path parameter (the longest id column is 255 characters).
MAX_PATH_PARAMETER = 255
#: Largest id a database id column holds (``INTEGER``: 32-bit on PostgreSQL).
MAX_DATABASE_ID = 2**31 - 1

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FORM_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tabs and line breaks are text
_JSON_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKETS = re.compile(rb"[\[\]{}]")


class PathText(UnicodeConverter):
    """``<name>``: one path segment without control characters, at most 255 characters."""

    def __init__(self, map: Any, minlength: int = 1, maxlength: int | None = None, length: int | None = None) -> None:
        super().__init__(map, minlength, min(maxlength or MAX_PATH_PARAMETER, MAX_PATH_PARAMETER), length)
        self.regex = self.regex.replace("[^/]", r"[^/\x00-\x1f\x7f]")


class DatabaseId(IntegerConverter):
    """``<int:name>`` limited to what an id column holds: a larger number is a 404, not a 500."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_DATABASE_ID)
        super().__init__(map, *args, **kwargs)


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``body`` nests arrays and objects deeper than ``limit`` (strings skipped)."""
    depth = 0
    for bracket in _JSON_BRACKETS.findall(_JSON_STRINGS.sub(b"", body)):
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def check_request() -> None:
    """Refuse a request the app should not read further (before any view or database access)."""
    environ = request.environ
    url = environ.get("RAW_URI") or (environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", ""))
    if len(url) > MAX_URL_CHARS:
        raise RequestURITooLarge(f"The address is longer than {MAX_URL_CHARS} characters.")
    for name, value in request.headers.items():
        if len(name) + len(value) > MAX_HEADER_BYTES:
            raise RequestHeaderFieldsTooLarge(f"The {name} header is longer than {MAX_HEADER_BYTES} bytes.")
    for name, value in request.args.items(multi=True):
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise BadRequest("The address has a control character (such as NUL) in its query string.")
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.is_json:
        if json_too_deep(request.get_data(cache=True)):
            raise BadRequest(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")
        # Pages' forms (Flask-WTF) read a JSON body as their fields: anything but an object
        # (a list, a number, false) would break them, so it is refused here, with one reason.
        if not request.path.startswith("/api/") and not isinstance(request.get_json(silent=True), dict):
            raise BadRequest("A form takes named fields: send them form-encoded or as one JSON object.")
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            if _FORM_CONTROL.search(name) or _FORM_CONTROL.search(value):
                raise BadRequest("A form field has a control character (such as NUL) in it.")


def init_app(app: Flask) -> None:
    """Install the converters (before any route is added) and the request check."""
    app.url_map.converters["default"] = PathText
    app.url_map.converters["string"] = PathText
    app.url_map.converters["int"] = DatabaseId
    app.before_request(check_request)
