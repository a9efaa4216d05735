"""Web-only settings from the environment."""

from __future__ import annotations

import datetime as dt

import pytest

from grader.web.settings import WebSettings


def test_defaults():
    settings = WebSettings.from_env({})
    assert settings == WebSettings()
    flask = settings.flask_config(None)
    assert flask["SESSION_COOKIE_HTTPONLY"] is True
    assert flask["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert flask["SESSION_COOKIE_SECURE"] is False
    assert flask["HSTS"] is False
    assert flask["MAX_CONTENT_LENGTH"] == 4160 * 1024  # a 4 MiB notebook and the form around it
    assert flask["MAX_FORM_MEMORY_SIZE"] == 300 * 1024  # pasted code stays small
    assert flask["RATELIMIT_STORAGE_URI"] == "memory://"
    assert flask["PERMANENT_SESSION_LIFETIME"] == dt.timedelta(hours=12)


def test_values_from_the_environment():
    settings = WebSettings.from_env(
        {
            "LOSSGRADER_COOKIE_SECURE": "true",
            "LOSSGRADER_BEHIND_PROXY": "2",
            "LOSSGRADER_RATELIMIT_STORAGE_URL": "redis://cache:6379/3",
            "LOSSGRADER_LOGIN_RATE_LIMIT": "3/minute",
            "LOSSGRADER_MAX_UPLOAD_KB": "100",
            "LOSSGRADER_SESSION_HOURS": "2",
        }
    )
    assert settings.cookie_secure and settings.behind_proxy == 2
    flask = settings.flask_config("redis://broker:6379/0")
    assert flask["SESSION_COOKIE_SECURE"] and flask["HSTS"]
    assert flask["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/3"
    assert flask["LOGIN_RATE_LIMIT"] == "3/minute"
    assert flask["MAX_CONTENT_LENGTH"] == 100 * 1024
    assert flask["PREFERRED_URL_SCHEME"] == "https"


def test_rate_limits_use_the_redis_broker_when_there_is_one():
    assert WebSettings().flask_config("redis://broker:6379/0")["RATELIMIT_STORAGE_URI"] == "redis://broker:6379/0"
    assert WebSettings().flask_config("amqp://elsewhere")["RATELIMIT_STORAGE_URI"] == "memory://"


@pytest.mark.parametrize("raw, proxies", [("", 0), ("0", 0), ("no", 0), ("1", 1), ("yes", 1), ("3", 3)])
def test_behind_proxy(raw, proxies):
    assert WebSettings.from_env({"LOSSGRADER_BEHIND_PROXY": raw}).behind_proxy == proxies


@pytest.mark.parametrize(
    "name, raw",
    [("LOSSGRADER_MAX_UPLOAD_KB", "lots"), ("LOSSGRADER_MAX_UPLOAD_KB", "0"), ("LOSSGRADER_BEHIND_PROXY", "maybe")],
)
def test_bad_values_name_the_variable(name, raw):
    with pytest.raises(ValueError, match=name):
        WebSettings.from_env({name: raw})
