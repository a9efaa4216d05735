"""``validate_lab``: a lab loads, the trusted reference passes every fixture, and every
catalogued mistake gets one verdict per randomised fixture whatever the seed."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pytest

from grader import cli
from grader.grading import fixtures
from grader.grading.lab import LabError, load_lab
from grader.grading.validate import (
    MARGIN,
    STABILITY_SEEDS,
    VALIDATION_SEEDS,
    Validation,
    mistake_verdict,
    validate_lab,
)
from reference import losses
from reference.mistakes import MISTAKES, Mistake, mistakes_for

SHIPPED = Path(__file__).resolve().parents[2] / "labs"
LABS = ("lab01-mse", "lab02-cross-entropy", "lab03-softmax-ce")

LAB_TOML = """\
id = "lab-check"
title = "Check"

[[functions]]
name = "{function}"

[[fixture_sets]]
file = "fixtures/public.toml"
visibility = "public"

[[fixture_sets]]
file = "fixtures/hidden.toml"
visibility = "hidden"

[[fixture_sets]]
file = "fixtures/randomised.toml"
visibility = "randomised"
"""

GOOD_PUBLIC = """\
[[fixture]]
name = "small"
args = [[1.0, 2.0, 3.0], [1.0, 2.0, 5.0]]
expected = 2.0
"""

GOOD_HIDDEN = """\
[[fixture]]
name = "generated"
args = [{ generate = "uniform", shape = [3, 4], seed = 1 }, { generate = "onehot", shape = [3, 4], seed = 2 }]
"""

# n = 2 would be seed-dependent: the mean of two squares is ½·Σ, so "mse_mean" passes there.
GOOD_RANDOMISED = """\
[[fixture]]
name = "random"
dims = { n = [3, 5] }
args = [{ generate = "normal", shape = ["n"] }, { generate = "normal", shape = ["n"] }]
"""


@functools.cache
def shipped(lab_id: str) -> Validation:
    """A shipped lab's validation, done once for the tests that only read it."""
    return validate_lab(SHIPPED / lab_id)


def write_lab(
    root: Path,
    *,
    function: str = "mean_squared_error",
    public: str = GOOD_PUBLIC,
    hidden: str = GOOD_HIDDEN,
    randomised: str = GOOD_RANDOMISED,
    handout: str = "# Check\n",
) -> Path:
    """A small lab for one function; every part can be swapped for a broken one."""
    folder = root / "lab-check"
    (folder / "fixtures").mkdir(parents=True)
    (folder / "lab.toml").write_text(LAB_TOML.format(function=function))
    (folder / "handout.md").write_text(handout)
    (folder / "fixtures" / "public.toml").write_text(public)
    (folder / "fixtures" / "hidden.toml").write_text(hidden)
    (folder / "fixtures" / "randomised.toml").write_text(randomised)
    return folder


@pytest.mark.parametrize("lab_id", LABS)
def test_shipped_lab_has_no_problems(lab_id: str) -> None:
    found = shipped(lab_id)
    assert found.problems == []
    assert found.ok


@pytest.mark.parametrize("lab_id", LABS)
def test_validation_checks_randomised_fixtures_on_every_seed(lab_id: str) -> None:
    found = shipped(lab_id)
    lab = found.lab
    fixed = len(lab.fixtures_by("public", "hidden"))
    randomised = len(lab.fixtures_by("randomised"))
    assert found.fixtures_checked == fixed + randomised * len(VALIDATION_SEEDS)


def test_a_good_lab_is_ok(tmp_path: Path) -> None:
    found = validate_lab(write_lab(tmp_path))
    assert found.ok
    assert found.lab is not None and found.lab.id == "lab-check"


def test_wrong_literal_expected_is_reported(tmp_path: Path) -> None:
    folder = write_lab(tmp_path, public=GOOD_PUBLIC.replace("expected = 2.0", "expected = 2.5"))
    found = validate_lab(folder)
    assert not found.ok
    assert len(found.problems) == 1


def test_wrong_literal_expected_names_the_fixture_file_and_name(tmp_path: Path) -> None:
    folder = write_lab(tmp_path, public=GOOD_PUBLIC.replace("expected = 2.0", "expected = 2.5"))
    (problem,) = validate_lab(folder).problems
    assert problem.startswith(f"{folder / 'fixtures' / 'public.toml'}: fixture[0] (small): ")
    assert "the reference fails this fixture" in problem


TOO_MANY_CLASSES = """\
[[fixture]]
name = "too-many-classes"
args = [
    { generate = "probs", shape = [20, 4], seed = 1 },
    { generate = "labels", shape = [20], classes = 10, seed = 2 },
]
"""


def classes_lab(root: Path, hidden: str = TOO_MANY_CLASSES) -> Path:
    """A cross-entropy lab whose only fixture draws labels 0..9 for 4 classes."""
    return write_lab(
        root,
        function="cross_entropy_error",
        public="fixture = []",
        hidden=hidden,
        randomised="fixture = []",
    )


def test_generator_that_does_not_fit_the_function_is_reported(tmp_path: Path) -> None:
    found = validate_lab(classes_lab(tmp_path))
    assert not found.ok
    (problem,) = found.problems
    assert "class labels must lie in [0, 4)" in problem


def test_reference_error_on_a_literal_fixture_names_its_file_and_name(tmp_path: Path) -> None:
    folder = classes_lab(tmp_path, TOO_MANY_CLASSES + "expected = 1.0\n")
    (problem,) = validate_lab(folder).problems
    assert problem.startswith(f"{folder / 'fixtures' / 'hidden.toml'}: fixture[0] (too-many-classes): ")
    assert "the reference raised ValueError: class labels must lie in [0, 4)" in problem


def test_reference_error_on_a_computed_fixture_names_its_file_and_name(tmp_path: Path) -> None:
    folder = classes_lab(tmp_path)
    (problem,) = validate_lab(folder).problems
    assert problem.startswith(f"{folder / 'fixtures' / 'hidden.toml'}: fixture[0] (too-many-classes): ")


def test_randomised_problem_names_the_seed(tmp_path: Path) -> None:
    randomised = """\
[[fixture]]
name = "rows"
dims = { n = [2, 5] }
args = [{ generate = "normal", shape = ["n", 3] }]
"""
    # softmax returns an array, but the lab declares the default `returns = "scalar"`.
    folder = write_lab(
        tmp_path, function="softmax", public="fixture = []", hidden="fixture = []", randomised=randomised
    )
    found = validate_lab(folder, seeds=(11, 12))
    assert [p.split(": ")[1] for p in found.problems] == [
        "fixture[0] (rows) (seed 11)",
        "fixture[0] (rows) (seed 12)",
    ]


def test_empty_handout_is_reported(tmp_path: Path) -> None:
    found = validate_lab(write_lab(tmp_path, handout="  \n"))
    assert not found.ok
    assert found.problems == [f"{tmp_path / 'lab-check' / 'handout.md'}: the handout is empty"]


def test_lab_that_does_not_load_is_not_ok(tmp_path: Path) -> None:
    folder = write_lab(tmp_path, public=GOOD_PUBLIC.replace('name = "small"\n', ""))
    found = validate_lab(folder)
    assert not found.ok
    assert found.lab is None
    assert found.fixtures_checked == 0


def test_lab_that_does_not_load_reports_the_lab_error_text(tmp_path: Path) -> None:
    folder = write_lab(tmp_path, public=GOOD_PUBLIC.replace('name = "small"\n', ""))
    with pytest.raises(LabError) as info:
        load_lab(folder)
    assert validate_lab(folder).problems == [str(info.value)]


def test_missing_folder_is_not_ok(tmp_path: Path) -> None:
    found = validate_lab(tmp_path / "nowhere")
    assert not found.ok
    assert found.problems == [f"{tmp_path / 'nowhere'}: not a lab folder"]


def test_fixture_that_cannot_be_built_does_not_hide_the_others(tmp_path: Path) -> None:
    fine = '\n[[fixture]]\nname = "fine"\nargs = [[[0.5, 0.5]], [1]]\n'
    found = validate_lab(classes_lab(tmp_path, TOO_MANY_CLASSES + fine))
    assert found.fixtures_checked >= 1


def test_a_missing_hidden_fixture_file_is_a_problem(tmp_path) -> None:
    import shutil

    folder = shutil.copytree(Path(__file__).parents[2] / "labs" / "lab01-mse", tmp_path / "lab01-mse")
    (folder / "fixtures" / "hidden.toml").unlink()
    found = validate_lab(folder)
    assert not found.ok
    assert any("hidden fixture file 'fixtures/hidden.toml' not found" in p for p in found.problems)


# --------------------------------------------------------------------- same code, same score


@pytest.mark.parametrize("lab_id", LABS)
def test_shipped_lab_gives_every_catalogued_mistake_one_clear_verdict(lab_id: str) -> None:
    found = shipped(lab_id)
    assert found.problems == []
    assert found.warnings == []  # every error is over MARGIN× the tolerance or under 1/MARGIN of it
    randomised = found.lab.fixtures_by("randomised")
    assert found.mistake_pairs_checked == sum(len(mistakes_for(f.function)) for f in randomised) > 0


# The lab02 fixture as it was before issue 13: random probabilities, so a loss without δ
# is off by about δ/p_true, sometimes within rtol = 1e-6 and sometimes not.
SEED_DEPENDENT = """\
[[fixture]]
name = "random-batch"
dims = { n = [2, 40], k = [2, 12] }
args = [{ generate = "probs", shape = ["n", "k"] }, { generate = "onehot", shape = ["n", "k"] }]
"""


def cross_entropy_lab(root: Path, randomised: str) -> Path:
    return write_lab(
        root, function="cross_entropy_error", public="fixture = []", hidden="fixture = []", randomised=randomised
    )


def flip_report(problems: list[str], key: str) -> str:
    (report,) = [p for p in problems if f"catalogued mistake {key!r}" in p]
    return report


def test_a_mistake_whose_verdict_depends_on_the_seed_is_a_problem(tmp_path: Path) -> None:
    folder = cross_entropy_lab(tmp_path, SEED_DEPENDENT)
    found = validate_lab(folder)
    assert not found.ok
    report = flip_report(found.problems, "cee_no_delta")
    assert report.startswith(f"{folder / 'fixtures' / 'randomised.toml'}: fixture[0] (random-batch): ")
    assert re.search(rf"passes on \d+ of {len(STABILITY_SEEDS)} seeds \(e\.g\. [\d, ]+\) and fails on \d+", report)
    assert f"over {MARGIN:g}× or under {1 / MARGIN:g}×" in report


def test_the_example_seeds_of_a_flip_reproduce_both_verdicts(tmp_path: Path) -> None:
    folder = cross_entropy_lab(tmp_path, SEED_DEPENDENT)
    report = flip_report(validate_lab(folder).problems, "cee_no_delta")
    passing, failing = (
        [int(seed) for seed in group.split(", ")] for group in re.findall(r"\(e\.g\. ([\d, ]+)\)", report)
    )
    lab = load_lab(folder)
    (spec,) = lab.fixtures_by("randomised")
    (no_delta,) = [m for m in mistakes_for(spec.function) if m.key == "cee_no_delta"]
    for seeds, verdict in ((passing, True), (failing, False)):
        for seed in seeds:
            fixture = fixtures.build_one(lab, spec, seed)
            assert mistake_verdict(no_delta.compute, fixture, lab.function(spec.function), spec.policy)[0] is verdict


def test_a_near_zero_true_class_makes_the_delta_mistakes_fail_on_every_seed(tmp_path: Path) -> None:
    stable = SEED_DEPENDENT.replace('shape = ["n", "k"] },', 'shape = ["n", "k"], near_zero_target = 1 },', 1)
    found = validate_lab(cross_entropy_lab(tmp_path, stable))
    assert found.problems == [] and found.warnings == []
    lab = found.lab
    (spec,) = lab.fixtures_by("randomised")
    delta_mistakes = [m for m in mistakes_for(spec.function) if m.key in ("cee_no_delta", "cee_delta_outside")]
    assert len(delta_mistakes) == 2
    for seed in range(50):
        fixture = fixtures.build_one(lab, spec, seed)
        for mistake in delta_mistakes:
            passed, ratio = mistake_verdict(mistake.compute, fixture, lab.function(spec.function), spec.policy)
            assert not passed and ratio > MARGIN, (mistake.key, seed)


def _scaled_mse(factor_for_odd: float, factor_for_even: float):
    def compute(y, t):
        y = np.asarray(y, dtype=np.float64)
        return losses.mean_squared_error(y, t) * (factor_for_odd if y.size % 2 else factor_for_even)

    return compute


def test_whatever_is_in_the_catalogue_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A made-up entry, off by 3× rtol on odd sizes and exact on even ones: it flips with n.
    flipping = Mistake("made_up_parity", "mean_squared_error", "A made-up mistake.", _scaled_mse(1 + 3e-6, 1.0))
    monkeypatch.setitem(MISTAKES, "mean_squared_error", [flipping])
    found = validate_lab(write_lab(tmp_path))
    assert found.mistake_pairs_checked == 1
    report = flip_report(found.problems, "made_up_parity")
    assert "fixture[0] (random)" in report
    assert "its error is 0–3× the tolerance" in report


def test_a_mistake_close_to_the_tolerance_on_every_seed_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    close = Mistake("made_up_close", "mean_squared_error", "A made-up mistake.", _scaled_mse(1 + 3e-6, 1 + 3e-6))
    clear = Mistake("made_up_clear", "mean_squared_error", "A made-up mistake.", _scaled_mse(1.5, 1.5))
    monkeypatch.setitem(MISTAKES, "mean_squared_error", [close, clear])
    found = validate_lab(write_lab(tmp_path))
    assert found.ok
    (warning,) = found.warnings
    assert re.search(
        r"'made_up_close' fails on all 200 seeds, but its error is [\d.]+× the tolerance at seed \d+", warning
    )


def test_cli_validate_exits_1_and_names_the_mistake_fixture_and_seeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = cross_entropy_lab(tmp_path, SEED_DEPENDENT)
    code = cli.run(["lab", "validate", str(folder)])
    err = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    assert code == 1
    assert "error:" in err and "(random-batch): catalogued mistake 'cee_no_delta' passes on" in err


def test_cli_validate_of_a_shipped_lab_says_how_many_pairs_it_checked(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.run(["lab", "validate", str(SHIPPED / "lab02-cross-entropy")])
    out = " ".join(capsys.readouterr().out.split())
    pairs = shipped("lab02-cross-entropy").mistake_pairs_checked
    assert code == 0
    assert f"{pairs} catalogued mistake × randomised fixture pairs give one verdict over 200 seeds" in out


def test_a_draw_that_cannot_be_built_on_a_stability_seed_is_reported_once(tmp_path: Path) -> None:
    # Labels 0..2 for k = 2 classes: the reference raises on the draws where k is 2.
    randomised = """\
[[fixture]]
name = "sometimes-too-many-classes"
dims = { n = [2, 5], k = [2, 4] }
args = [{ generate = "probs", shape = ["n", "k"] }, { generate = "labels", shape = ["n"], classes = 3 }]
"""
    found = validate_lab(cross_entropy_lab(tmp_path, randomised), seeds=())
    (problem,) = found.problems
    assert "fixture[0] (sometimes-too-many-classes) (seed " in problem
    assert "cannot be built: ValueError: class labels must lie in [0, 2)" in problem
