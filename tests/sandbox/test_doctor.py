"""The doctor probes every protection; the runner factory refuses to run without them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grader.grading.runner import SubprocessRunner
from grader.sandbox import SandboxRunner, SandboxUnavailable, doctor, make_runner
from grader.sandbox.doctor import Protection, check, format_report, require_secure
from tests.sandbox.conftest import SANDBOX_MODE, requires_sandbox


@requires_sandbox
def test_every_protection_is_seen_working_here() -> None:
    protections = check()
    assert [p.name for p in protections] == list(doctor.STOPS)
    inactive = [(p.name, p.detail) for p in protections if not p.active and p.required]
    assert inactive == []
    assert {p.name for p in protections if p.required} == doctor.required(SANDBOX_MODE)
    assert require_secure(protections) is True
    report = format_report(protections)
    assert "secure: yes" in report and all(name in report for name in doctor.STOPS)
    assert f"mode: {SANDBOX_MODE} " in report


@requires_sandbox
def test_the_mode_decides_what_is_required() -> None:
    protections = {p.name: p for p in check()}
    user_namespace = protections["user namespace"]
    if SANDBOX_MODE == "root":
        assert not user_namespace.active and not user_namespace.required
    else:  # a user namespace per run, mapping one uid of its own, and no capability left at all
        assert user_namespace.active and user_namespace.required, user_namespace.detail
        assert "maps uid" in user_namespace.detail
        assert "no capabilities" in protections["uid drop"].detail
    # Per-run cgroups are reported, never required: rlimits cap every run anyway.
    assert not protections["cgroup limits"].required
    assert protections["rlimits"].active and protections["rlimits"].required


@requires_sandbox
def test_make_runner_gives_the_sandbox_here(monkeypatch) -> None:
    monkeypatch.setattr(doctor, "check", lambda: [Protection(n, True, "ok", s) for n, s in doctor.STOPS.items()])
    runner = make_runner(2)
    try:
        assert isinstance(runner, SandboxRunner) and runner.slots == 2
    finally:
        runner.close()


def missing_seccomp() -> list[Protection]:
    return [
        Protection(n, n != "seccomp", "filter mode off" if n == "seccomp" else "ok", s) for n, s in doctor.STOPS.items()
    ]


def test_a_missing_protection_is_refused_with_one_line(monkeypatch) -> None:
    monkeypatch.delenv(doctor.INSECURE_ENV, raising=False)
    with pytest.raises(SandboxUnavailable) as info:
        require_secure(missing_seccomp())
    assert str(info.value) == "sandbox unavailable: seccomp: filter mode off"
    assert "\n" not in str(info.value)
    assert "secure: NO (missing: seccomp)" in format_report(missing_seccomp())


def test_the_audit_hook_alone_is_not_required(monkeypatch) -> None:
    monkeypatch.delenv(doctor.INSECURE_ENV, raising=False)
    protections = [Protection(n, n != "audit hook", "x", s) for n, s in doctor.STOPS.items()]
    assert require_secure(protections) is True
    without_cgroups = [Protection(n, n not in doctor.OPTIONAL, "x", s) for n, s in doctor.STOPS.items()]
    assert require_secure(without_cgroups) is True


def test_a_user_namespace_is_required_only_unprivileged(monkeypatch) -> None:
    monkeypatch.delenv(doctor.INSECURE_ENV, raising=False)
    assert "user namespace" in doctor.required("userns") and "user namespace" not in doctor.required("root")
    for mode in ("root", "userns"):
        protections = [
            Protection(n, n != "user namespace", "x", s, n in doctor.required(mode)) for n, s in doctor.STOPS.items()
        ]
        if mode == "root":
            assert require_secure(protections) is True
        else:
            with pytest.raises(SandboxUnavailable, match="user namespace"):
                require_secure(protections)


def test_the_insecure_setting_falls_back_loudly(monkeypatch, capsys) -> None:
    monkeypatch.setattr(doctor, "check", missing_seccomp)
    monkeypatch.setenv(doctor.INSECURE_ENV, "1")
    assert require_secure() is False
    runner = make_runner()
    assert isinstance(runner, SubprocessRunner)
    assert "UNSANDBOXED" in capsys.readouterr().err
    monkeypatch.setenv(doctor.INSECURE_ENV, "0")
    with pytest.raises(SandboxUnavailable):
        make_runner()
    assert isinstance(make_runner(insecure=True), SubprocessRunner)


def test_other_systems_report_every_protection_missing(monkeypatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    protections = check()
    assert protections and not any(p.active for p in protections)
    assert {p.detail for p in protections} == {"needs Linux"}


def test_grading_never_imports_the_sandbox_and_the_zygote_needs_only_the_stdlib() -> None:
    code = (
        "import sys\n"
        "import grader.grading.runner, grader.grading.harness, grader.grading.engine\n"
        "assert not [m for m in sys.modules if m.startswith('grader.sandbox')], 'imported'\n"
        "import importlib.util, grader.sandbox, os\n"
        "path = os.path.join(os.path.dirname(grader.sandbox.__file__), 'zygote.py')\n"
        "print(path)\n"
    )
    path = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    # -S: no site-packages, so no numpy or pyseccomp: the module must still import.
    load = (
        "import importlib.util as u, sys\n"
        f"s = u.spec_from_file_location('z', {path!r})\n"
        "sys.modules['z'] = m = u.module_from_spec(s)\n"
        "s.loader.exec_module(m)\n"
        "assert 'numpy' not in sys.modules and 'grader' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-I", "-S", "-c", load], check=True)
