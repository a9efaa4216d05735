"""What the student's commands import: never the service's packages (not a timing test;
bench/cli_startup.py times them).

Each command runs through :func:`grader.cli.run` in a fresh interpreter, which then
prints the modules of interest found in ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.grading.lab import LabError, available_labs, find_lab, lab_limits, labs_dir, load_lab

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "tests" / "implementations" / "lab01-mse" / "correct_textbook.py"
#: Packages only the service needs (the ``server`` extra).
SERVICE_ONLY = ("sqlalchemy", "flask", "dramatiq", "psycopg", "alembic", "werkzeug", "redis")

PROBE = """
import contextlib, io, json, sys
from grader.cli import run
with contextlib.redirect_stdout(io.StringIO()):
    code = run(sys.argv[1:])
watched = json.loads({watched!r})
print(json.dumps({{"code": code, "imported": sorted(m for m in watched if m in sys.modules)}}))
"""


def imported_by(*args: str, watched: tuple[str, ...]) -> tuple[int, list[str]]:
    """Run ``lossgrader ARGS`` in a fresh interpreter: its exit code and which of ``watched`` it imported."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(watched=json.dumps(watched)), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "120"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.splitlines()[-1])
    return found["code"], found["imported"]


def test_help_imports_no_service_package_nor_rich_nor_numpy():
    code, imported = imported_by("--help", watched=(*SERVICE_ONLY, "rich", "numpy", "grader.commands"))
    assert code == 0
    assert imported == []


def test_labs_imports_no_service_package_nor_the_engine_nor_numpy():
    watched = (*SERVICE_ONLY, "numpy", "grader.grading.engine", "reference", "grader.commands")
    code, imported = imported_by("labs", watched=watched)
    assert code == 0
    assert imported == []


@pytest.mark.parametrize("output", [(), ("--json",)])
def test_check_imports_no_service_package(output):
    code, imported = imported_by("check", str(CORRECT), "--lab", "lab01-mse", *output, watched=SERVICE_ONLY)
    assert code == 0
    assert imported == []


def test_a_service_command_is_imported_when_it_runs():
    code, imported = imported_by("db", "--help", watched=("grader.commands.db", "grader.commands.web"))
    assert code == 0
    assert imported == ["grader.commands.db"]


# --- what check and labs read instead of loading everything -------------------------------


@pytest.mark.parametrize("lab_id", available_labs())
def test_lab_limits_are_the_loaded_labs_limits(lab_id):
    assert lab_limits(lab_id) == find_lab(lab_id).limits
    assert lab_limits(str(labs_dir() / lab_id)) == find_lab(lab_id).limits


def test_lab_limits_of_an_unknown_lab_is_the_same_error_as_loading_it():
    with pytest.raises(LabError) as limits_error:
        lab_limits("lab99-nothing")
    with pytest.raises(LabError) as load_error:
        find_lab("lab99-nothing")
    assert str(limits_error.value) == str(load_error.value)


def test_lab_limits_reports_a_bad_limit_as_loading_does(tmp_path):
    folder = tmp_path / "lab01-mse"
    folder.mkdir()
    (folder / "lab.toml").write_text('id = "lab01-mse"\n[limits]\nwall_seconds = -1\n', encoding="utf-8")
    with pytest.raises(LabError, match=r"lab\.toml \[limits\].*wall_seconds"):
        lab_limits(str(folder))


@pytest.mark.parametrize("lab_id", available_labs())
def test_a_lab_loaded_without_its_reference_is_the_same_lab(lab_id):
    full = load_lab(labs_dir() / lab_id)
    light = load_lab(labs_dir() / lab_id, check_reference=False)
    assert light.version == full.version  # the reference's source is still in the version
    assert (light.id, light.title, light.functions, light.fixtures, light.limits, light.withheld) == (
        full.id,
        full.title,
        full.functions,
        full.fixtures,
        full.limits,
        full.withheld,
    )
