"""``lossgrader lab validate``: a lab is well-formed and its reference passes it.

Beyond the schema checks of :func:`load_lab`, every fixture is built (randomised ones
with several seeds) and the trusted reference's own answer is put through the same
comparison a student's would get, so a wrong literal ``expected`` or a generator that
does not fit the function is caught before any student sees it.

Same code, same score: every catalogued mistake (:func:`reference.mistakes.mistakes_for`)
is also run on each randomised fixture for many seeds. A mistake that passes on some
seeds and fails on others is a problem (its grade would depend on the draw); one whose
error ever comes within a factor of 10 of the tolerance, either side, is a warning.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.grading import compare, fixtures
from grader.grading.harness import to_plain, unchanged
from grader.grading.lab import FixtureSpec, FunctionSpec, Lab, LabError, Policy, load_lab
from grader.grading.runner import CallOutcome
from reference.mistakes import mistakes_for

VALIDATION_SEEDS = (0, 1, 2, 3, 20261122)
#: Seeds each catalogued mistake is run on, per randomised fixture.
STABILITY_SEEDS = range(200)
#: A mistake's error should be over MARGIN × the tolerance, or under 1/MARGIN of it.
MARGIN = 10.0
_EXAMPLES = 3  # seeds named per verdict in a report


@dataclass
class Validation:
    """What validating one lab found."""

    path: Path
    lab: Lab | None = None
    problems: list[str] = field(default_factory=list)
    fixtures_checked: int = 0
    #: Not wrong, but worth a look: a catalogued mistake close to the tolerance.
    warnings: list[str] = field(default_factory=list)
    #: Catalogued mistake × randomised fixture pairs run over ``STABILITY_SEEDS``.
    mistake_pairs_checked: int = 0

    @property
    def ok(self) -> bool:
        """Whether the lab is usable."""
        return self.lab is not None and not self.problems


def validate_lab(
    path: str | Path,
    seeds: tuple[int, ...] = VALIDATION_SEEDS,
    stability_seeds: Sequence[int] = STABILITY_SEEDS,
) -> Validation:
    """Load the lab in ``path``, check the reference passes every fixture and every
    catalogued mistake gets one verdict per randomised fixture over ``stability_seeds``."""
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
    for spec in lab.fixtures_by("randomised"):
        _check_stability(lab, spec, stability_seeds, result)
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


@dataclass
class _Verdicts:
    """One catalogued mistake on one randomised fixture, over many seeds."""

    key: str
    passed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # its error / the tolerance, per seed

    def add(self, seed: int, passed: bool, ratio: float) -> None:
        (self.passed if passed else self.failed).append(seed)
        self.ratios.append(ratio)

    def near(self, seeds: Sequence[int]) -> tuple[float, int] | None:
        """The ratio nearest to 1 within the margin, and its seed (None: none is near)."""
        near = [(abs(math.log(r)), r, s) for r, s in zip(self.ratios, seeds, strict=True) if 1 / MARGIN <= r <= MARGIN]
        return min(near)[1:] if near else None


def _check_stability(lab: Lab, spec: FixtureSpec, seeds: Sequence[int], result: Validation) -> None:
    """Run every catalogued mistake of the fixture's function on every seed; report flips."""
    mistakes = mistakes_for(spec.function)
    if not mistakes or not seeds:
        return
    function = lab.function(spec.function)
    verdicts = [_Verdicts(m.key) for m in mistakes]
    for seed in seeds:
        try:
            fixture = fixtures.build_one(lab, spec, seed)
        except Exception as exc:
            if not any(p.startswith(spec.source) and "cannot be built" in p for p in result.problems):
                result.problems.append(f"{spec.source} (seed {seed}): cannot be built: {type(exc).__name__}: {exc}")
            return
        for mistake, found in zip(mistakes, verdicts, strict=True):
            passed, ratio = mistake_verdict(mistake.compute, fixture, function, spec.policy)
            found.add(seed, passed, ratio)
    result.mistake_pairs_checked += len(verdicts)
    for found in verdicts:
        where = f"{spec.source}: catalogued mistake {found.key!r}"
        if found.passed and found.failed:
            result.problems.append(
                f"{where} passes on {len(found.passed)} of {len(seeds)} seeds (e.g. {_examples(found.passed)}) "
                f"and fails on {len(found.failed)} (e.g. {_examples(found.failed)}); its error is "
                f"{min(found.ratios):.2g}–{max(found.ratios):.2g}× the tolerance: change the generator or the "
                f"tolerance so that it is over {MARGIN:g}× or under {1 / MARGIN:g}× on every seed"
            )
        elif near := found.near(seeds):
            verdict = "passes" if found.passed else "fails"
            result.warnings.append(
                f"{where} {verdict} on all {len(seeds)} seeds, but its error is {near[0]:.2g}× the tolerance "
                f"at seed {near[1]}: another seed may change its verdict"
            )


def _examples(seeds: list[int]) -> str:
    return ", ".join(str(s) for s in seeds[:_EXAMPLES])


def mistake_verdict(
    compute: Callable[..., Any], fixture: fixtures.Fixture, function: FunctionSpec, policy: Policy
) -> tuple[bool, float]:
    """Whether a mistake's value passes the fixture as a student's would, and its largest
    error as a multiple of the tolerance (inf when it raises or is not a finite value of
    the right shape; 0 when it passes as exactly equal)."""
    try:
        with np.errstate(all="ignore"):
            value = compute(*copy.deepcopy(fixture.args))
    except Exception:  # a variant that raises fails, like a student's code that raises
        return False, math.inf
    kind, type_name, array = to_plain(value)
    outcome = CallOutcome(
        status="ok" if array is not None else "non_numeric", value=array, kind=kind, type_name=type_name
    )
    passed = compare.check(outcome, fixture.expected, function, policy).passed
    expected = fixture.expected
    if array is None or array.shape != expected.shape or not np.all(np.isfinite(array)):
        return passed, 0.0 if passed else math.inf
    with np.errstate(all="ignore"):
        allowed = policy.atol + policy.rtol * np.abs(expected)
        diff = np.abs(array - expected)
        ratio = np.where(diff == 0, 0.0, diff / allowed)
    return passed, float(np.max(ratio)) if ratio.size else 0.0
