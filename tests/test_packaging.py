"""The wheel students install: the labs without their hidden fixture files (hatch_build.py)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("lossgrader-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _fixture_files(visibility: str) -> list[tuple[str, str]]:
    found = []
    for lab_toml in sorted((ROOT / "labs").glob("*/lab.toml")):
        definition = tomllib.loads(lab_toml.read_text())
        for entry in definition["fixture_sets"]:
            if entry.get("visibility", "public") == visibility:
                found.append((lab_toml.parent.name, entry["file"]))
    return found


def test_the_wheel_carries_no_hidden_fixture_file(wheel_names: set[str]) -> None:
    hidden = _fixture_files("hidden")
    assert hidden  # the shipped labs have hidden fixtures...
    for lab, file in hidden:  # ...and none of them is in the wheel
        assert f"grader/_labs/{lab}/{file}" not in wheel_names


def test_the_wheel_carries_everything_a_check_needs(wheel_names: set[str]) -> None:
    for lab_toml in (ROOT / "labs").glob("*/lab.toml"):
        lab = lab_toml.parent.name
        assert {f"grader/_labs/{lab}/lab.toml", f"grader/_labs/{lab}/handout.md"} <= wheel_names
    for lab, file in _fixture_files("public") + _fixture_files("randomised"):
        assert f"grader/_labs/{lab}/{file}" in wheel_names
    assert any(name.startswith("grader/_migrations/") for name in wheel_names)
    assert "reference/losses.py" in wheel_names
