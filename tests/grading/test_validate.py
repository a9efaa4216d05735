"""``validate_lab``: a lab loads, and the trusted reference passes every fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.grading.lab import LabError, load_lab
from grader.grading.validate import VALIDATION_SEEDS, validate_lab

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

GOOD_RANDOMISED = """\
[[fixture]]
name = "random"
dims = { n = [2, 5] }
args = [{ generate = "normal", shape = ["n"] }, { generate = "normal", shape = ["n"] }]
"""


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
    found = validate_lab(SHIPPED / lab_id)
    assert found.problems == []
    assert found.ok


@pytest.mark.parametrize("lab_id", LABS)
def test_validation_checks_randomised_fixtures_on_every_seed(lab_id: str) -> None:
    found = validate_lab(SHIPPED / lab_id)
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
