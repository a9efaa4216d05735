"""Error pages, JSON errors under /api/, and the 500 handler's rollback."""

from __future__ import annotations

import io

from flask import abort

from grader.db.models import User
from tests.web.conftest import build_app, csrf_token, login


def test_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found" in response.get_data(as_text=True)


def test_api_errors_are_json(client):
    response = client.get("/api/no/such/thing")
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json()["status"] == 404


def test_405_page_keeps_the_allow_header(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_403_page(app, student):
    @app.route("/_forbidden")
    def forbidden():
        abort(403)

    response = app.test_client().get("/_forbidden")
    assert response.status_code == 403
    assert "Not allowed" in response.get_data(as_text=True)


def test_413_page_for_an_oversized_upload(student_client):
    token = csrf_token(student_client, "/labs/lab01-mse")
    big = io.BytesIO(b"x = 1\n" * 720_000)  # 4.3 MB: over the limit of any upload, notebooks included
    response = student_client.post(
        "/labs/lab01-mse/submit",
        data={"csrf_token": token, "file": (big, "big.py")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "Upload too large" in response.get_data(as_text=True)


def test_413_for_oversized_pasted_code(student_client):
    token = csrf_token(student_client, "/labs/lab01-mse")
    response = student_client.post("/labs/lab01-mse/submit", data={"csrf_token": token, "code": "x" * (4300 * 1024)})
    assert response.status_code == 413


def test_500_rolls_back_and_shows_a_bare_page(config, services, student):
    app = build_app(config, services, PROPAGATE_EXCEPTIONS=False)
    seen = {}

    @app.route("/_boom")
    def boom():
        from grader.web.db import get_db

        session = get_db()
        user = session.get(User, student.id)
        user.display_name = "changed before the crash"
        session.flush()
        seen["session"] = session
        raise RuntimeError("boom")

    client = app.test_client()
    login(client, student.username)
    response = client.get("/_boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong" in html
    assert "boom" not in html  # no internals
    assert "Sign out" not in html  # bare page: no navigation
    with services.sessions() as session:
        assert session.get(User, student.id).display_name == "Alice"


def test_500_under_api_is_json(config, services):
    app = build_app(config, services, PROPAGATE_EXCEPTIONS=False)

    @app.route("/api/_boom")
    def boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/api/_boom")
    assert response.status_code == 500
    assert response.get_json()["status"] == 500
