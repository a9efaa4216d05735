"""An OpenID Connect provider for tests, built from Authlib's own server components, on 127.0.0.1.

It serves discovery (``/.well-known/openid-configuration``), a sign-in page at
``/authorize`` (a form: login and password of one of its people), the token endpoint
(Authlib's ``AuthorizationServer`` with the authorization-code grant and the ``OpenIDCode``
extension: the code is exchanged for an access token and an RS256-signed ID token) and the
JWKS the client verifies that signature with. Nothing is mocked: the client under test
does the real redirects, token exchange and signature check over HTTP.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "lossgrader-test"
CLIENT_SECRET = "test-client-secret-" + "x" * 16


@dataclass
class Person:
    """Someone the provider knows."""

    sub: str
    password: str
    email: str | None
    name: str
    email_verified: bool = True


@dataclass
class Client:
    """The one registered client (lossgrader)."""

    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)  # empty: any loopback address (ports are chosen late)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in ("openid", "email", "profile"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if self.redirect_uris:
            return redirect_uri in self.redirect_uris
        return redirect_uri.startswith(("http://127.0.0.1:", "http://localhost/", "http://localhost:"))

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    """An authorization code waiting to be exchanged."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    sub: str
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class Provider:
    """The provider's state: people, codes, the signing key, and what it was asked."""

    def __init__(self, people: list[Person]) -> None:
        self.people = {p.sub: p for p in people}
        self.client = Client(CLIENT_ID, CLIENT_SECRET)
        self.codes: dict[str, Code] = {}
        self.nonces: set[str] = set()
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
        self.signing_key = self.key  # what ID tokens are signed with (a test may swap in a key not in the JWKS)
        self.issuer = ""
        self.token_requests = 0  # the token endpoint was called (the real exchange happened)
        self.jwks_requests = 0

    def by_login(self, login: str, password: str) -> Person | None:
        person = next((p for p in self.people.values() if p.email == login or p.sub == login), None)
        return person if person and secrets.compare_digest(person.password, password) else None


def build_app(provider: Provider) -> Flask:
    """The provider's Flask app."""
    app = Flask("oidc-test-provider")
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": 600}

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

        def save_authorization_code(self, code: str, request: Any) -> None:
            payload = request.payload
            if payload.data.get("nonce"):
                provider.nonces.add(payload.data["nonce"])  # a nonce is good for one code
            provider.codes[code] = Code(
                code,
                payload.client_id,
                payload.redirect_uri,
                payload.scope,
                payload.data.get("nonce"),
                request.user.sub,
            )

        def query_authorization_code(self, code: str, client: Any) -> Code | None:
            found = provider.codes.get(code)
            return found if found and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            provider.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> Person:
            return provider.people[authorization_code.sub]

    class OpenID(OpenIDCode):
        def exists_nonce(self, nonce: str, request: Any) -> bool:
            return nonce in provider.nonces

        def resolve_client_private_key(self, client: Any) -> Any:
            return provider.signing_key

        def get_client_algorithm(self, client: Any) -> str:
            return "RS256"

        def get_encode_header(self, client: Any) -> dict[str, str]:
            return {"alg": "RS256", "kid": "test-key"}

        def get_client_claims(self, client: Any) -> dict[str, Any]:
            return {"iss": provider.issuer, "aud": [client.get_client_id()]}

        def generate_user_info(self, user: Person, scope: str) -> UserInfo:
            info = UserInfo(sub=user.sub, name=user.name)
            if "email" in scope and user.email:
                info["email"] = user.email
                info["email_verified"] = user.email_verified
            return info

    server = AuthorizationServer(
        app,
        query_client=lambda client_id: provider.client if client_id == provider.client.client_id else None,
        save_token=lambda token, request: None,
    )
    server.register_grant(CodeGrant, [OpenID(require_nonce=True)])

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        return jsonify(
            issuer=provider.issuer,
            authorization_endpoint=f"{provider.issuer}/authorize",
            token_endpoint=f"{provider.issuer}/token",
            jwks_uri=f"{provider.issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
            scopes_supported=["openid", "email", "profile"],
        )

    @app.get("/jwks")
    def jwks() -> Any:
        provider.jwks_requests += 1
        return jsonify(KeySet([provider.key]).as_dict(private=False))

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        if request.method == "GET":
            server.get_consent_grant(end_user=None)  # checks client, redirect URI, scope first
            return SIGN_IN_PAGE.format(error="")
        person = provider.by_login(request.form.get("login", ""), request.form.get("password", ""))
        if person is None:
            return SIGN_IN_PAGE.format(error='<p role="alert">Wrong login or password.</p>'), 200
        grant = server.get_consent_grant(end_user=person)
        return server.create_authorization_response(grant=grant, grant_user=person)

    @app.post("/token")
    def token() -> Any:
        provider.token_requests += 1
        return server.create_token_response()

    return app


SIGN_IN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>University sign-in</title>
<style>body{{font-family:sans-serif;max-width:24rem;margin:3rem auto}}
label,input{{display:block;margin:.4rem 0}}</style>
</head><body><h1>University sign-in</h1>{error}
<form method="post"><label for="login">Email</label><input id="login" name="login" autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password">
<button type="submit">Sign in</button></form></body></html>"""


@contextmanager
def oidc_provider(people: list[Person]) -> Iterator[Provider]:
    """Run the provider on 127.0.0.1 (a port the system chooses) for the block; ``provider.issuer`` is its URL."""
    provider = Provider(people)
    server = make_server("127.0.0.1", 0, build_app(provider), threaded=True)
    provider.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="oidc-provider", daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
