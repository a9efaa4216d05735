"""Outages (grader.service.outage): told apart from bugs, one line each, logged once when they begin and end."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from grader.service.outage import Outage, database_unreachable, describe_error, error_line

LOG = logging.getLogger("tests.outage")


def make() -> Outage:
    return Outage(LOG, "down (%s)", lambda seconds, failures: f"up after {failures} failures")


def test_an_outage_is_logged_when_it_begins_and_when_it_ends_and_not_between(caplog: pytest.LogCaptureFixture) -> None:
    outage = make()
    caplog.set_level(logging.DEBUG, LOG.name)
    outage.end()  # nothing open: nothing to say
    assert [outage.begin("first"), outage.begin("second"), outage.begin("seen", count=False)] == [True, False, False]
    outage.end()
    outage.end()
    assert [r.getMessage() for r in caplog.records] == ["down (first)", "up after 2 failures"]
    assert outage.since is None and outage.failures == 0


def test_errors_are_described_in_one_line_without_the_sql() -> None:
    class DriverError(Exception):
        pass

    exc = OperationalError("SELECT secret FROM t WHERE x = %(x)s", {"x": 1}, DriverError("server closed\nmore detail"))
    assert error_line(exc) == "server closed"
    assert describe_error(exc) == "OperationalError: server closed"
    assert describe_error(RuntimeError()) == "RuntimeError"
    assert error_line(ValueError("x" * 300)) == "x" * 200


def test_only_lost_connections_and_pool_timeouts_are_outages() -> None:
    class DriverError(Exception):
        pass

    lost = OperationalError("SELECT 1", {}, DriverError("gone"), connection_invalidated=True)
    assert database_unreachable(lost)
    assert not database_unreachable(OperationalError("SELECT 1", {}, DriverError("syntax")))
    assert not database_unreachable(RuntimeError("a bug"))
