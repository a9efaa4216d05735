"""Signing in and out, CSRF, rate limits, session fixation, role checks and API tokens."""

from __future__ import annotations

import pytest
from flask import g
from werkzeug.routing import IntegerConverter

from grader.db.models import User
from grader.db.session import session_scope
from grader.web.auth.roles import instructor_required, role_required, student_required
from grader.web.auth.tokens import token_required
from grader.web.auth.views import safe_next
from tests.web.conftest import PASSWORD, build_app, csrf_token, login

# --- sign in ------------------------------------------------------------------------------


def test_login_page_is_accessible(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<label for="username">' in html and '<label for="password">' in html
    assert 'autocomplete="current-password"' in html
    assert 'href="#content"' in html  # skip link


def test_login_and_logout(client, student):
    response = login(client, "alice")
    assert response.status_code == 302 and response.headers["Location"].endswith("/labs")
    assert client.get("/labs").status_code == 200
    token = csrf_token(client, "/labs")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/labs").status_code == 302


def test_login_with_student_id(client, make_user):
    make_user("carol", student_number="S-42")
    assert login(client, "S-42").status_code == 302


@pytest.mark.parametrize("username, password", [("alice", "wrong"), ("nobody", PASSWORD), ("alice", "")])
def test_wrong_credentials_say_so_without_telling_which(client, student, username, password):
    response = login(client, username, password)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert ("Wrong username or password." if password else "Enter your password.") in html
    assert client.get("/labs").status_code == 302


def test_inactive_user_cannot_sign_in(client, make_user):
    make_user("dora", active=False)
    assert "Wrong username or password." in login(client, "dora").get_data(as_text=True)


def test_logout_needs_post(client, student):
    login(client, "alice")
    assert client.get("/logout").status_code == 405
    assert client.get("/labs").status_code == 200


def test_signed_in_user_visiting_login_goes_home(student_client):
    assert student_client.get("/login").headers["Location"].endswith("/labs")


def test_next_parameter_is_followed_only_within_the_site(client, student):
    token = csrf_token(client)
    data = {"username": "alice", "password": PASSWORD, "csrf_token": token}
    response = client.post("/login?next=/labs/lab01-mse", data=data)
    assert response.headers["Location"] == "/labs/lab01-mse"


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/labs", "/labs"),
        ("/labs?x=1", "/labs?x=1"),
        ("https://evil.example/", None),
        ("//evil.example/", None),
        ("/\\evil.example", None),
        ("javascript:alert(1)", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_next(target, expected):
    assert safe_next(target) == expected


def test_anonymous_page_request_redirects_to_login_with_next(client):
    response = client.get("/labs/lab01-mse")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/labs/lab01-mse"


# --- session fixation and invalidation ------------------------------------------------------


def test_session_is_renewed_at_login(client, student):
    token_before = csrf_token(client)
    with client.session_transaction() as session:
        before = dict(session)
    cookie_before = client.get_cookie("lossgrader_session").value
    login(client, "alice")
    with client.session_transaction() as session:
        after = dict(session)
    assert after.get("sid") and after.get("sid") != before.get("sid")
    assert after.get("csrf_token") != before.get("csrf_token")  # the pre-login CSRF secret is gone
    assert client.get_cookie("lossgrader_session").value != cookie_before
    assert csrf_token(client, "/labs") != token_before


def test_a_fixed_pre_login_cookie_does_not_become_signed_in(client, app, student):
    csrf_token(client)
    planted = client.get_cookie("lossgrader_session").value  # what an attacker could have planted
    login(client, "alice")
    attacker = app.test_client()
    attacker.set_cookie("lossgrader_session", planted)
    assert attacker.get("/labs").status_code == 302


def test_password_change_ends_other_sessions(student_client, services, student):
    from grader.service.users import set_password

    assert student_client.get("/labs").status_code == 200
    with session_scope(services.sessions) as session:
        set_password(session.get(User, student.id), "a new password")
    assert student_client.get("/labs").status_code == 302


def test_deactivation_ends_sessions(student_client, services, student):
    with session_scope(services.sessions) as session:
        session.get(User, student.id).active = False
    assert student_client.get("/labs").status_code == 302


def test_session_protection_is_strong(app):
    assert app.login_manager.session_protection == "strong"


# --- CSRF -----------------------------------------------------------------------------------


def _post_rules(app):
    for rule in app.url_map.iter_rules():
        if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api"):
            values = {arg: 1 if isinstance(rule._converters[arg], IntegerConverter) else "x" for arg in rule.arguments}
            with app.test_request_context():
                from flask import url_for

                yield url_for(rule.endpoint, **values)


def test_every_form_needs_a_csrf_token(app, student):
    client = app.test_client()
    posts = list(_post_rules(app))
    assert "/login" in posts and "/logout" in posts and "/labs/x/submit" in posts
    for url in posts:
        assert client.post(url, data={}).status_code == 400, url  # anonymous
    login(client, "alice")
    for url in posts:
        response = client.post(url, data={"csrf_token": "forged"})
        assert response.status_code == 400, url
        assert "Reload the page" in response.get_data(as_text=True)


def test_forms_render_a_csrf_token(client, student_client):
    assert 'name="csrf_token"' in client.application.test_client().get("/login").get_data(as_text=True)
    for url in ("/labs", "/labs/lab01-mse"):
        assert 'name="csrf_token"' in student_client.get(url).get_data(as_text=True)


def test_bearer_requests_skip_csrf_but_need_a_token(config, services, student):
    app = build_app(config, services)

    @app.route("/api/_echo", methods=["POST"])
    @token_required()
    def echo():
        return {"user": g.account.username}

    client = app.test_client()
    assert client.post("/api/_echo").status_code == 400  # no bearer header: CSRF applies
    response = client.post("/api/_echo", headers={"Authorization": "Bearer lg_notarealtokenatallxxxxxxxx"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    from grader.service.users import create_token

    with session_scope(services.sessions) as session:
        token = create_token(session, session.get(User, student.id))
    response = client.post("/api/_echo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json() == {"user": "alice"}


def test_token_required_checks_the_role(config, services, student):
    from grader.service.users import create_token

    app = build_app(config, services)

    @app.route("/api/_staff")
    @token_required("instructor")
    def staff():
        return {"ok": True}

    with session_scope(services.sessions) as session:
        token = create_token(session, session.get(User, student.id))
    response = app.test_client().get("/api/_staff", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.is_json


# --- rate limits -----------------------------------------------------------------------------


def test_failed_logins_are_rate_limited(client, student):
    for _ in range(5):
        assert login(client, "alice", "wrong").status_code == 200
    response = login(client, "alice", "wrong")
    assert response.status_code == 429
    assert "Too many" in response.get_data(as_text=True)
    assert login(client, "alice").status_code == 429  # even the right password, for now


def test_rate_limit_is_per_username(client, student, other_student):
    for _ in range(5):
        login(client, "alice", "wrong")
    assert login(client, "alice", "wrong").status_code == 429
    assert login(client, "bob").status_code == 302


def test_successful_logins_do_not_count(client, app, student):
    for _ in range(7):
        assert login(client, "alice").status_code == 302
        client.post("/logout", data={"csrf_token": csrf_token(client, "/labs")})


def test_rate_limit_is_configurable(config, services, student, monkeypatch):
    monkeypatch.setenv("LOSSGRADER_LOGIN_RATE_LIMIT", "2/minute")
    client = build_app(config, services).test_client()
    login(client, "alice", "wrong")
    login(client, "alice", "wrong")
    assert login(client, "alice", "wrong").status_code == 429


def test_sign_in_works_while_the_rate_limit_storage_is_down(config, services, student, monkeypatch):
    monkeypatch.setenv("LOSSGRADER_RATELIMIT_STORAGE_URL", "redis://127.0.0.1:1/0")
    client = build_app(config, services).test_client()
    assert login(client, "alice", "wrong").status_code == 200
    assert login(client, "alice").status_code == 302


# --- roles -----------------------------------------------------------------------------------


def _role_app(config, services):
    app = build_app(config, services)

    @app.route("/_student")
    @student_required
    def student_page():
        return "student page"

    @app.route("/_instructor")
    @instructor_required
    def instructor_page():
        return "instructor page"

    @app.route("/_admin")
    @role_required("admin")
    def admin_page():
        return "admin page"

    @app.route("/api/_instructor")
    @instructor_required
    def api_instructor():
        return {"ok": True}

    return app


@pytest.mark.parametrize(
    "role, allowed",
    [
        ("student", {"/_student"}),
        ("instructor", {"/_student", "/_instructor"}),
        ("admin", {"/_student", "/_instructor", "/_admin"}),
    ],
)
def test_role_checks(config, services, make_user, role, allowed):
    app = _role_app(config, services)
    make_user("someone", role)
    client = app.test_client()
    login(client, "someone")
    for path in ("/_student", "/_instructor", "/_admin"):
        expected = 200 if path in allowed else 403
        assert client.get(path).status_code == expected, (role, path)


def test_anonymous_gets_redirect_for_pages_and_401_json_for_api(config, services):
    client = _role_app(config, services).test_client()
    response = client.get("/_instructor")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.get("/api/_instructor")
    assert response.status_code == 401 and response.is_json
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_student_cannot_reach_instructor_urls(app, student_client):
    instructor_urls = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("instructor.")]
    for rule in instructor_urls:
        if rule.arguments or "GET" not in (rule.methods or ()):
            continue
        assert student_client.get(rule.rule).status_code in (403, 404), rule.rule
