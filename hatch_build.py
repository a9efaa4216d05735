"""Build hook: the wheel carries the labs as students may have them, hidden fixtures left out.

A wheel is what students install to run ``lossgrader check``; a lab's hidden fixtures
(inputs and expected values) must not travel with it. Every file of ``labs/`` goes into
``grader/_labs`` except the fixture files that a lab's ``lab.toml`` declares hidden;
such a lab still checks, never grades (see ``grader.grading.lab``). The server reads the
full labs from the source tree or ``LOSSGRADER_LABS``. Editable installs use the source
tree as it is, so the hook leaves them alone.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def hidden_files(lab: Path) -> set[Path]:
    """The fixture files ``lab/lab.toml`` declares hidden."""
    with (lab / "lab.toml").open("rb") as handle:
        definition = tomllib.load(handle)
    return {
        (lab / entry["file"]).resolve()
        for entry in definition.get("fixture_sets", [])
        if entry.get("visibility") == "hidden" and "file" in entry
    }


def students_labs(root: Path) -> dict[str, str]:
    """``{source path: path in the wheel}`` for every lab file a student may have."""
    chosen: dict[str, str] = {}
    for lab in sorted(p.parent for p in root.glob("*/lab.toml")):
        withheld = hidden_files(lab)
        for path in sorted(lab.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.resolve() not in withheld:
                chosen[str(path)] = f"grader/_labs/{path.relative_to(root).as_posix()}"
    return chosen


class StudentsLabsHook(BuildHookInterface):
    """Adds the students' copy of ``labs/`` to a (non-editable) wheel."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        build_data["force_include"].update(students_labs(Path(self.root) / "labs"))
