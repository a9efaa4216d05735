"""Security headers, cookie flags, proxy handling and the stored secret key."""

from __future__ import annotations

import re
import threading

import pytest

from grader.web.security import load_secret_key
from tests.web.conftest import build_app, login


@pytest.mark.parametrize("path", ["/login", "/labs", "/nope", "/static/style.css", "/healthz"])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers


def test_pages_are_not_cached_but_static_files_may_be(client):
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    assert client.get("/static/style.css").headers.get("Cache-Control") != "no-store"


def test_a_header_the_view_set_is_kept_and_none_is_sent_twice(app):
    from flask import Response

    from grader.web.security import add_security_headers

    with app.test_request_context("/labs"):
        response = Response("x", headers={"x-frame-options": "SAMEORIGIN", "Cache-Control": "max-age=60"})
        add_security_headers(response)
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers.getlist("Cache-Control") == ["max-age=60"]
    assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]


def test_pages_have_no_inline_scripts_or_styles(student_client):
    for path in ("/login", "/labs", "/labs/lab01-mse"):
        html = student_client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path  # every script is a file
        assert " style=" not in html and "<style" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path  # no inline event handlers


def test_session_cookie_is_httponly_and_lax(client, student):
    login(client, student.username)
    cookie = client.get_cookie("lossgrader_session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert not cookie.secure


def test_cookie_secure_setting_adds_secure_and_hsts(config, services, student, monkeypatch):
    monkeypatch.setenv("LOSSGRADER_COOKIE_SECURE", "1")
    app = build_app(config, services)
    client = app.test_client()
    response = client.get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    login(client, student.username, base_url="https://localhost", headers={"Referer": "https://localhost/login"})
    assert client.get_cookie("lossgrader_session", domain="localhost").secure


def test_hsts_over_https_even_without_the_setting(client):
    assert "Strict-Transport-Security" in client.get("/login", base_url="https://localhost").headers


def test_behind_proxy_trusts_forwarded_headers(config, services, monkeypatch):
    monkeypatch.setenv("LOSSGRADER_BEHIND_PROXY", "1")
    app = build_app(config, services)

    @app.route("/_whoami")
    def whoami():
        from flask import request

        return {"addr": request.remote_addr, "scheme": request.scheme}

    response = app.test_client().get(
        "/_whoami", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    )
    assert response.get_json() == {"addr": "203.0.113.7", "scheme": "https"}


def test_forwarded_headers_are_ignored_by_default(app):
    @app.route("/_whoami")
    def whoami():
        from flask import request

        return {"addr": request.remote_addr}

    response = app.test_client().get("/_whoami", headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.get_json()["addr"] == "127.0.0.1"


def test_secret_key_file_is_shared_by_concurrent_starts(tmp_path):
    keys = []
    threads = [threading.Thread(target=lambda: keys.append(load_secret_key(tmp_path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and len(keys) == 8
