"""The app factory: configuration, secret key, blueprints, home page and health check."""

from __future__ import annotations

import os
import stat
import sys
import types

import pytest

from grader.web import create_app
from tests.web.conftest import build_app, login, with_config


def test_factory_uses_the_test_config(app, config):
    assert app.testing
    assert app.config["LOSSGRADER"] is config
    assert app.config["SECRET_KEY"] == "test-secret"
    assert app.config["MAX_CONTENT_LENGTH"] == 4160 * 1024  # a notebook with its outputs, and the form


def test_mapping_overrides_flask_settings(config, services):
    app = build_app(config, services, MAX_CONTENT_LENGTH=1234, SECRET_KEY="from-mapping")
    assert app.config["MAX_CONTENT_LENGTH"] == 1234
    assert app.config["SECRET_KEY"] == "from-mapping"


def test_secret_key_is_generated_once_under_the_instance_folder(config, services, tmp_path):
    config = with_config(config, secret_key=None, instance_path=str(tmp_path / "inst"))
    first = build_app(config, services)
    second = build_app(config, services)
    key_file = tmp_path / "inst" / "secret_key"
    assert key_file.is_file()
    assert len(first.config["SECRET_KEY"]) >= 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text().strip()
    if os.name == "posix":
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_configured_secret_key_wins(config, services, tmp_path):
    config = with_config(config, secret_key="configured", instance_path=str(tmp_path / "inst2"))
    assert build_app(config, services).config["SECRET_KEY"] == "configured"
    assert not (tmp_path / "inst2" / "secret_key").exists()


def test_factory_opens_its_own_services_from_the_config(config):
    from grader.web.db import close_services, get_services

    app = create_app(config)
    try:
        services = get_services(app)
        assert services.config is config
        assert app.test_client().get("/healthz").get_json() == {"status": "ok"}
    finally:
        close_services(app)


def test_index_redirects_by_sign_in_state(client, student):
    assert client.get("/").headers["Location"].endswith("/login")
    login(client, student.username)
    assert client.get("/").headers["Location"].endswith("/labs")


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_optional_blueprints_are_registered_when_present(config, services, monkeypatch):
    from flask import Blueprint

    module = types.ModuleType("grader.web.api")
    module.__file__ = "api/__init__.py"
    module.bp = Blueprint("api", __name__, url_prefix="/api")
    module.bp.add_url_rule("/ping", "ping", lambda: {"pong": True})
    monkeypatch.setitem(sys.modules, "grader.web.api", module)
    app = build_app(config, services)
    assert "api" in app.blueprints
    assert app.test_client().get("/api/ping").get_json() == {"pong": True}


def test_an_empty_blueprint_folder_is_skipped(config, services, monkeypatch):
    monkeypatch.setitem(sys.modules, "grader.web.api", types.ModuleType("grader.web.api"))  # no __file__
    assert "api" not in build_app(config, services).blueprints


def test_missing_optional_blueprints_are_skipped_but_broken_ones_are_not(config, services, monkeypatch):
    import importlib

    real_import = importlib.import_module

    def fake_import(name, *args):
        if name == "grader.web.instructor":
            raise ModuleNotFoundError("No module named 'flask_nonexistent'", name="flask_nonexistent")
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(ModuleNotFoundError):
        build_app(config, services)
