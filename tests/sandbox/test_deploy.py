"""deploy/: the systemd units are valid (``systemd-analyze verify``), run nothing as root, and
keep the hardening docs/deployment.md describes; the settings file names real settings."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.config import Config

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
INSTALLED = "/opt/lossgrader/venv/bin/lossgrader"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed here (Debian: apt-get install systemd)"
)


def settings(unit: Path) -> dict[str, list[str]]:
    """Every ``Key=value`` of a unit, by key (a key may repeat)."""
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def verifiable_copies(folder: Path) -> list[Path]:
    """The units with ExecStart pointing at this environment's lossgrader (verify checks that it exists)."""
    lossgrader = Path(sys.executable).with_name("lossgrader")
    target = str(lossgrader) if lossgrader.exists() else sys.executable
    copies = []
    for unit in UNITS:
        copy = folder / unit.name
        copy.write_text(unit.read_text().replace(INSTALLED, target))
        copies.append(copy)
    return copies


def test_there_is_a_unit_for_the_web_service_and_one_for_the_workers() -> None:
    assert [u.name for u in UNITS] == ["lossgrader-web.service", "lossgrader-worker.service"]
    assert settings(UNITS[0])["ExecStart"][0].startswith(f"{INSTALLED} serve --host 127.0.0.1 ")
    assert settings(UNITS[1])["ExecStart"][0].startswith(f"{INSTALLED} worker ")


@pytest.mark.parametrize("unit", UNITS, ids=[u.stem for u in UNITS])
def test_each_unit_runs_unprivileged_and_hardened(unit: Path) -> None:
    found = {key: values[-1] for key, values in settings(unit).items()}
    assert found["User"] == found["Group"] == "lossgrader"
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ReadWritePaths": "/var/lib/lossgrader",
        "CapabilityBoundingSet": "",  # no capability at all
        "AmbientCapabilities": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "RestrictSUIDSGID": "yes",
        "Delegate": "yes",  # per-run cgroups
    }
    assert {key: found.get(key) for key in expected} == expected
    # The sandbox's namespaces, and no other kind (a cgroup namespace, say).
    assert set(found["RestrictNamespaces"].split()) == {"user", "mnt", "pid", "net", "ipc", "uts"}
    # What would break the sandbox: its runs' sethostname, or a read-only cgroup tree with Delegate=.
    assert found["ProtectHostname"] == "no" and found["ProtectControlGroups"] == "no"
    assert "PrivateUsers" not in found and "DynamicUser" not in found


@needs_systemd_analyze
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    copies = verifiable_copies(tmp_path)
    run = subprocess.run([SYSTEMD_ANALYZE, "verify", *map(str, copies)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == "" and run.stdout.strip() == "", run.stderr + run.stdout


@needs_systemd_analyze
def test_systemd_rates_the_units_exposure_low(tmp_path: Path) -> None:
    copies = verifiable_copies(tmp_path)
    for copy in copies:
        run = subprocess.run(
            [SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", str(copy)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        if "offline" in run.stderr and "unrecognized" in run.stderr:
            pytest.skip("this systemd-analyze has no --offline security check (systemd < 250)")
        level = re.search(r"Overall exposure level for \S+: (\d+\.\d)", run.stdout)
        assert level, run.stdout[-2000:] + run.stderr
        assert float(level.group(1)) <= 3.0, run.stdout[-3000:]  # systemd calls up to 4.9 "OK"


def test_the_settings_file_names_only_real_settings() -> None:
    text = (ROOT / "deploy" / "lossgrader.env.example").read_text()
    names = re.findall(r"^(LOSSGRADER_[A-Z_]+)=", text, re.MULTILINE)
    known = {f"LOSSGRADER_{f.name.upper()}" for f in dataclasses.fields(Config)}
    known |= set(re.findall(r"``(LOSSGRADER_[A-Z_]+)``", (ROOT / "grader" / "web" / "settings.py").read_text()))
    assert names and set(names) <= known, set(names) - known
    assert "LOSSGRADER_INSECURE_SANDBOX" not in names


def test_the_proxy_examples_terminate_tls_and_forward_to_the_web_unit() -> None:
    caddy = (ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    nginx = (ROOT / "deploy" / "nginx" / "lossgrader.conf").read_text()
    assert "reverse_proxy 127.0.0.1:8000" in caddy  # Caddy gets its certificate itself
    assert "listen 443 ssl" in nginx and "ssl_certificate " in nginx and "return 301 https://" in nginx
    assert "proxy_pass http://127.0.0.1:8000" in nginx and "X-Forwarded-Proto" in nginx
