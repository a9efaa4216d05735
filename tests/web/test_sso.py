"""Single sign-on against a real OpenID Connect provider on 127.0.0.1 (tests/oidc_provider.py, Authlib's server):
the authorization-code flow with a real token exchange and the ID token's signature checked against the JWKS."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from grader.db.models import User
from grader.db.session import session_scope
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Person, oidc_provider
from tests.web.conftest import build_app

PEOPLE = [
    Person("u-1001", "uni-pass", "Nora@Example.org", "Nora New"),
    Person("u-1002", "uni-pass", "stranger@example.org", "Stranger"),
    Person("u-1003", "uni-pass", "alice@example.org", "Alice", email_verified=False),
]


@pytest.fixture
def provider():
    with oidc_provider(PEOPLE) as running:
        yield running


@pytest.fixture
def sso_client(config, services, provider):
    settings = dataclasses.replace(
        config, oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET
    )
    return build_app(settings, services).test_client()


def _sign_in_at_provider(client, login: str, password: str = "uni-pass"):
    """Follow lossgrader's redirect to the provider, sign in there, and bring the answer back to lossgrader."""
    start = client.get("/login/sso")
    assert start.status_code == 302
    authorize = start.headers["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"] and "nonce" in query
    page = requests.get(authorize, timeout=30)
    assert page.status_code == 200 and "University sign-in" in page.text
    answer = requests.post(authorize, data={"login": login, "password": password}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert back.path == "/login/sso/callback" and "code=" in back.query
    return client.get(f"{back.path}?{back.query}")


def test_the_sign_in_page_offers_sso_only_when_configured(client, sso_client):
    assert "Sign in with your institution" not in client.get("/login").get_data(as_text=True)
    assert "Sign in with your institution" in sso_client.get("/login").get_data(as_text=True)
    assert client.get("/login/sso").headers["Location"] == "/login"


def test_a_student_is_matched_by_email_then_by_subject(sso_client, services, provider, make_user):
    make_user("nora", password=None, email="nora@example.org", display_name="Nora New")
    response = _sign_in_at_provider(sso_client, "Nora@Example.org")
    assert response.status_code == 302 and response.headers["Location"].endswith("/labs")
    assert provider.token_requests == 1 and provider.jwks_requests >= 1  # the real exchange and signature check
    assert "Nora New" in sso_client.get("/labs").get_data(as_text=True)
    with session_scope(services.sessions) as session:
        nora = session.scalar(select(User).where(User.username == "nora"))
        assert nora.sso_subject == "u-1001"
        nora.email = "nora.new@example.org"  # the address changes; the subject still finds her
    sso_client.post("/logout", data={"csrf_token": _csrf(sso_client)})
    assert _sign_in_at_provider(sso_client, "u-1001").headers["Location"].endswith("/labs")


def test_nobody_is_created_for_an_unknown_address(sso_client, services):
    response = _sign_in_at_provider(sso_client, "stranger@example.org")
    assert response.status_code == 403
    assert "no lossgrader account for stranger@example.org" in response.get_data(as_text=True)
    assert sso_client.get("/labs").status_code == 302
    with session_scope(services.sessions) as session:
        assert session.scalar(select(User).where(User.email == "stranger@example.org")) is None


def test_an_unverified_address_is_not_matched(sso_client, make_user):
    make_user("alice", email="alice@example.org")
    response = _sign_in_at_provider(sso_client, "alice@example.org")
    assert response.status_code == 403 and "not verified" in response.get_data(as_text=True)


def test_an_inactive_account_cannot_sign_in(sso_client, make_user):
    make_user("nora", password=None, email="nora@example.org", active=False)
    response = _sign_in_at_provider(sso_client, "Nora@Example.org")
    assert response.status_code == 403
    assert sso_client.get("/labs").status_code == 302


def test_an_id_token_not_signed_by_the_providers_published_key_is_refused(sso_client, provider, make_user):
    from joserfc.jwk import RSAKey

    make_user("nora", password=None, email="nora@example.org")
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
    response = _sign_in_at_provider(sso_client, "Nora@Example.org")
    assert provider.token_requests == 1
    assert response.status_code == 403 and "did not complete" in response.get_data(as_text=True)
    assert sso_client.get("/labs").status_code == 302


def test_a_forged_callback_is_refused(sso_client, make_user):
    make_user("nora", password=None, email="nora@example.org")
    sso_client.get("/login/sso")  # a state in the session, but the code and state below are made up
    response = sso_client.get("/login/sso/callback?code=made-up&state=made-up")
    assert response.status_code == 403 and "did not complete" in response.get_data(as_text=True)
    assert sso_client.get("/labs").status_code == 302


def test_an_unreachable_provider_leaves_password_sign_in(config, services):
    settings = dataclasses.replace(
        config, oidc_issuer="http://127.0.0.1:9", oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET
    )
    client = build_app(settings, services).test_client()
    response = client.get("/login/sso")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "Single sign-on is unavailable" in client.get("/login").get_data(as_text=True)


def _csrf(client):
    from tests.web.conftest import csrf_token

    return csrf_token(client, "/labs")


@pytest.mark.parametrize(
    "settings, problem",
    [
        ({"oidc_issuer": "https://idp.example.edu"}, "needs LOSSGRADER_OIDC_ISSUER, LOSSGRADER_OIDC_CLIENT_ID"),
        (
            {"oidc_issuer": "http://idp.example.edu", "oidc_client_id": "a", "oidc_client_secret": "b"},
            "must be an https:// address",
        ),
    ],
)
def test_half_or_insecure_settings_are_one_line_errors(config, settings, problem):
    from grader.web.auth.sso import check_sso_settings

    with pytest.raises(ValueError, match=problem):
        check_sso_settings(dataclasses.replace(config, **settings))
    check_sso_settings(config)  # nothing set: fine
