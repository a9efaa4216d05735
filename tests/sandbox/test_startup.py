"""``lossgrader serve`` and ``worker`` say loudly when they run as root, and only then."""

from __future__ import annotations

import pytest

from grader.sandbox import startup


def test_root_gets_a_loud_warning_and_no_cgroup_takeover(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(startup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(startup.cgroup, "delegate", lambda: pytest.fail("root must not take over its cgroup"))
    startup.prepare_service("serve")
    err = capsys.readouterr().err
    assert "WARNING: lossgrader serve is running as ROOT" in err
    assert "root compromise" in err and "unprivileged user" in err
    assert err.startswith("!" * 78) and err.rstrip().endswith("!" * 78)


def test_an_unprivileged_service_is_quiet_and_sets_up_its_cgroups(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(startup.os, "geteuid", lambda: 999)
    called = []
    monkeypatch.setattr(startup.cgroup, "delegate", lambda: called.append(1))
    startup.prepare_service("worker")
    assert capsys.readouterr().err == "" and called == [1]
    assert startup.root_warning("worker") is None
