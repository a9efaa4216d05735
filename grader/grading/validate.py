"""``lossgrader lab validate``: a lab is well-formed and its reference passes it.

Beyond the schema checks of :func:`load_lab`, every fixture is built (randomised ones
with several seeds) and the trusted reference's own answer is put through the same
comparison a student's would get, so a wrong literal ``expected`` or a generator that
does not fit the function is caught before any student sees it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from grader.grading import compare, fixtures
from grader.grading.harness import to_plain, unchanged
from grader.grading.lab import Lab, LabError, load_lab
from grader.grading.runner import CallOutcome

VALIDATION_SEEDS = (0, 1, 2, 3, 20261122)


@dataclass
class Validation:
    """What validating one lab found."""

    path: Path
    lab: Lab | None = None
    problems: list[str] = field(default_factory=list)
    fixtures_checked: int = 0

    @property
    def ok(self) -> bool:
        """Whether the lab is usable."""
        return self.lab is not None and not self.problems


def validate_lab(path: str | Path, seeds: tuple[int, ...] = VALIDATION_SEEDS) -> Validation:
    """Load the lab in ``path`` and check the reference passes every fixture."""
    result = Validation(Path(path))
    try:
        lab = load_lab(path)
    except LabError as exc:
        result.problems.append(str(exc))
        return result
    result.lab = lab
    for name in lab.withheld:  # fine in a students' copy, never on the server
        result.problems.append(f"{lab.path / 'lab.toml'}: hidden fixture file {name!r} not found")
    if not lab.handout.strip():
        result.problems.append(f"{lab.path / 'handout.md'}: the handout is empty")
    for spec in lab.fixtures:
        for seed in seeds if spec.visibility == "randomised" else seeds[:1]:
            seed_note = f" (seed {seed})" if spec.visibility == "randomised" else ""
            try:
                fixture = fixtures.build_one(lab, spec, seed)
            except Exception as exc:
                result.problems.append(f"{spec.source}{seed_note}: cannot be built: {type(exc).__name__}: {exc}")
                continue
            problem = _check_reference(lab, fixture)
            result.fixtures_checked += 1
            if problem:
                result.problems.append(f"{spec.source}{seed_note}: {problem}")
    return result


def _check_reference(lab: Lab, fixture: fixtures.Fixture) -> str | None:
    spec = fixture.spec
    function = lab.function(spec.function)
    args = copy.deepcopy(fixture.args)
    try:
        value = lab.reference(spec.function)(*args)
    except Exception as exc:
        return f"the reference raised {type(exc).__name__}: {exc}"
    if not all(unchanged(before, after) for before, after in zip(fixture.args, args, strict=True)):
        return "the reference modified its inputs"
    kind, type_name, array = to_plain(value)
    outcome = CallOutcome(
        status="ok" if array is not None else "non_numeric",
        value=array,
        kind=kind,
        type_name=type_name,
    )
    verdict = compare.check(outcome, fixture.expected, function, spec.policy)
    if not verdict.passed:
        return f"the reference fails this fixture: {verdict.message}"
    return None
