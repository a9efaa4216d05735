"""Loading labs: the shipped ones, finding labs, and broken lab files.

The contract for broken labs: ``load_lab`` raises :class:`LabError` with a one-line
message that names the file and the field at fault.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.grading.lab import (
    STAGES,
    LabError,
    Policy,
    available_labs,
    find_lab,
    labs_dir,
    load_lab,
)
from grader.grading.runner import RunLimits
from reference import losses

SHIPPED = Path(__file__).resolve().parents[2] / "labs"
LABS = ("lab01-mse", "lab02-cross-entropy", "lab03-softmax-ce")


@pytest.fixture(autouse=True)
def _no_labs_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped labs, whatever the environment of the person running the tests."""
    monkeypatch.delenv("LOSSGRADER_LABS", raising=False)


@pytest.fixture
def lab_copy(tmp_path: Path) -> Path:
    """A copy of lab01 in a folder of its own, free to edit."""
    return Path(shutil.copytree(SHIPPED / "lab01-mse", tmp_path / "labs" / "lab01-mse"))


# --------------------------------------------------------------------- a minimal lab

TINY_LAB = """\
id = "lab-tiny"
title = "Tiny"
handout = "handout.md"
reference = "reference.losses"

[limits]
wall_seconds = 5

[compare]
rtol = 1e-6

[[functions]]
name = "mean_squared_error"
signature = "mean_squared_error(y, t)"
returns = "scalar"

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

TINY_PUBLIC = """\
[[fixture]]
name = "small"
args = [[1.0, 2.0, 3.0], [1.0, 2.0, 5.0]]
expected = 2.0
"""

TINY_HIDDEN = """\
[[fixture]]
name = "generated"
args = [{ generate = "uniform", shape = [3, 4], seed = 1 }, { generate = "onehot", shape = [3, 4], seed = 2 }]
"""

TINY_RANDOMISED = """\
[[fixture]]
name = "random"
dims = { n = [2, 5] }
args = [{ generate = "normal", shape = ["n"] }, { generate = "normal", shape = ["n"] }]
"""

TINY_FILES = {
    "lab.toml": TINY_LAB,
    "handout.md": "# Tiny\n\nWrite `mean_squared_error(y, t)`.\n",
    "fixtures/public.toml": TINY_PUBLIC,
    "fixtures/hidden.toml": TINY_HIDDEN,
    "fixtures/randomised.toml": TINY_RANDOMISED,
}


def make_lab(root: Path, edits: dict[str, dict[str, str]] | None = None) -> Path:
    """Write the tiny lab under ``root``; ``edits[file]`` maps old text to new text."""
    folder = root / "lab-tiny"
    for name, text in TINY_FILES.items():
        for old, new in (edits or {}).get(name, {}).items():
            assert old in text, f"{old!r} is not in {name}"
            text = text.replace(old, new)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_the_minimal_lab_loads(tmp_path: Path) -> None:
    lab = load_lab(make_lab(tmp_path))
    assert lab.id == "lab-tiny"
    assert [f.name for f in lab.fixtures] == ["small", "generated", "random"]


# --------------------------------------------------------------------- shipped labs


@pytest.mark.parametrize("lab_id", LABS)
def test_shipped_lab_loads_with_its_id_and_title(lab_id: str) -> None:
    lab = load_lab(SHIPPED / lab_id)
    assert lab.id == lab_id
    assert lab.title.startswith(f"Lab0{lab_id[4]}: ")
    assert lab.path == SHIPPED / lab_id
    assert lab.handout.startswith("# Lab0")


def test_lab03_requires_softmax_and_softmax_cross_entropy() -> None:
    lab = load_lab(SHIPPED / "lab03-softmax-ce")
    assert [(f.name, f.returns, f.reference) for f in lab.functions] == [
        ("softmax", "array", "softmax"),
        ("softmax_cross_entropy", "scalar", "softmax_cross_entropy"),
    ]


def test_lab_reference_is_the_trusted_implementation() -> None:
    lab = load_lab(SHIPPED / "lab03-softmax-ce")
    assert lab.reference("softmax") is losses.softmax
    assert lab.reference("softmax_cross_entropy") is losses.softmax_cross_entropy


def test_unknown_function_name_raises_key_error() -> None:
    lab = load_lab(SHIPPED / "lab01-mse")
    with pytest.raises(KeyError):
        lab.function("softmax")


@pytest.mark.parametrize(
    ("lab_id", "public", "hidden", "randomised"),
    [
        ("lab01-mse", 4, 17, 4),
        ("lab02-cross-entropy", 5, 21, 4),
        ("lab03-softmax-ce", 5, 22, 4),
    ],
)
def test_shipped_lab_fixture_counts_by_visibility(lab_id: str, public: int, hidden: int, randomised: int) -> None:
    lab = load_lab(SHIPPED / lab_id)
    assert len(lab.fixtures_by("public")) == public
    assert len(lab.fixtures_by("hidden")) == hidden
    assert len(lab.fixtures_by("randomised")) == randomised
    assert len(lab.fixtures_by("public", "hidden", "randomised")) == len(lab.fixtures)


def test_fixtures_by_keeps_file_order() -> None:
    lab = load_lab(SHIPPED / "lab01-mse")
    assert [f.name for f in lab.fixtures_by("public")] == [
        "small-vector",
        "two-by-two-batch",
        "nested-lists",
        "identical-inputs",
    ]


def test_lab_compare_table_is_the_default_policy_of_its_functions() -> None:
    lab = load_lab(SHIPPED / "lab01-mse")
    assert lab.function("mean_squared_error").policy == Policy(rtol=1e-6, atol=1e-9, nan="fail")


def test_function_can_override_the_lab_policy() -> None:
    lab = load_lab(SHIPPED / "lab03-softmax-ce")
    assert lab.function("softmax").policy == Policy(rtol=1e-6, atol=1e-9)
    assert lab.function("softmax_cross_entropy").policy == Policy(rtol=1e-4, atol=1e-6)


def test_fixture_can_override_its_function_policy() -> None:
    lab = load_lab(SHIPPED / "lab03-softmax-ce")
    (fixture,) = [f for f in lab.fixtures if f.name == "softmax-float32"]
    assert fixture.policy == Policy(rtol=1e-5, atol=1e-7)


def test_fixture_override_keeps_the_fields_it_does_not_name() -> None:
    lab = load_lab(SHIPPED / "lab01-mse")
    (fixture,) = [f for f in lab.fixtures if f.name == "float32-inputs"]
    assert fixture.policy.rtol == 1e-4
    assert fixture.policy.atol == 1e-9


def test_fixture_without_override_inherits_its_function_policy() -> None:
    lab = load_lab(SHIPPED / "lab03-softmax-ce")
    (fixture,) = [f for f in lab.fixtures if f.name == "sce-float32"]
    assert fixture.policy == lab.function("softmax_cross_entropy").policy


@pytest.mark.parametrize("lab_id", LABS)
def test_shipped_lab_limits(lab_id: str) -> None:
    lab = load_lab(SHIPPED / lab_id)
    assert lab.limits == RunLimits(wall_seconds=5.0, cpu_seconds=2.0, memory_mib=512)


def test_limits_not_given_keep_their_defaults(tmp_path: Path) -> None:
    lab = load_lab(make_lab(tmp_path))
    assert lab.limits == RunLimits(wall_seconds=5.0)


def test_hint_when_defaults_to_every_stage() -> None:
    lab = load_lab(SHIPPED / "lab01-mse")
    (fixture,) = [f for f in lab.fixtures if f.name == "small-vector"]
    assert fixture.hint_when == STAGES


def test_hint_when_restricts_the_hint_to_some_stages() -> None:
    lab = load_lab(SHIPPED / "lab01-mse")
    (fixture,) = [f for f in lab.fixtures if f.name == "inputs-unmodified"]
    assert fixture.check_unmodified
    assert fixture.hint_when == ("unmodified",)


@pytest.mark.parametrize(("lab_id", "max_score"), [(LABS[0], 25), (LABS[1], 30), (LABS[2], 31)])
def test_max_score_is_one_point_per_shipped_fixture(lab_id: str, max_score: int) -> None:
    lab = load_lab(SHIPPED / lab_id)
    assert lab.max_score == len(lab.fixtures) == max_score


def test_max_score_adds_up_fixture_points(tmp_path: Path) -> None:
    folder = make_lab(tmp_path, {"fixtures/public.toml": {"expected = 2.0": "expected = 2.0\npoints = 2.5"}})
    assert load_lab(folder).max_score == 2.5 + 1 + 1


# --------------------------------------------------------------------- version


@pytest.mark.parametrize("lab_id", LABS)
def test_version_is_sixteen_hex_digits(lab_id: str) -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", load_lab(SHIPPED / lab_id).version)


def test_versions_of_different_labs_differ() -> None:
    assert len({load_lab(SHIPPED / lab_id).version for lab_id in LABS}) == len(LABS)


def test_version_is_stable_across_loads(lab_copy: Path) -> None:
    assert load_lab(lab_copy).version == load_lab(lab_copy).version


def test_version_does_not_depend_on_where_the_lab_lives(lab_copy: Path) -> None:
    assert load_lab(lab_copy).version == load_lab(SHIPPED / "lab01-mse").version


def test_version_ignores_pycache(lab_copy: Path) -> None:
    before = load_lab(lab_copy).version
    (lab_copy / "__pycache__").mkdir()
    (lab_copy / "__pycache__" / "stray.cpython-311.pyc").write_bytes(b"\0\1\2")
    assert load_lab(lab_copy).version == before


@pytest.mark.parametrize(
    "name",
    [
        "lab.toml",
        "handout.md",
        "fixtures/public.toml",
        "fixtures/hidden.toml",
        "fixtures/randomised.toml",
    ],
)
def test_version_changes_when_a_lab_file_changes(lab_copy: Path, name: str) -> None:
    before = load_lab(lab_copy).version
    with (lab_copy / name).open("a", encoding="utf-8") as fh:
        fh.write("\n# edited\n")
    assert load_lab(lab_copy).version != before


@pytest.fixture
def own_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A reference module of the test's own, importable for the length of the test."""
    name = "lossgrader_test_own_reference"
    path = tmp_path / f"{name}.py"
    path.write_text("from reference.losses import mean_squared_error\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, path
    sys.modules.pop(name, None)


def test_version_changes_when_the_reference_module_changes(tmp_path: Path, own_reference: tuple[str, Path]) -> None:
    name, path = own_reference
    folder = make_lab(tmp_path / "labs", {"lab.toml": {'reference = "reference.losses"': f'reference = "{name}"'}})
    before = load_lab(folder).version
    with path.open("a") as fh:
        fh.write("# a fix to the reference\n")
    assert load_lab(folder).version != before


# --------------------------------------------------------------------- finding labs


@pytest.mark.parametrize("lab_id", LABS)
def test_find_lab_by_id(lab_id: str) -> None:
    assert find_lab(lab_id).path == labs_dir() / lab_id


def test_find_lab_by_folder_path(lab_copy: Path) -> None:
    lab = find_lab(str(lab_copy))
    assert lab.id == "lab01-mse"
    assert lab.path == lab_copy


def test_find_lab_looks_at_the_files_again_only_as_often_as_asked(
    lab_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import grader.grading.lab as lab_module

    clock = [1000.0]
    monkeypatch.setattr(lab_module.time, "monotonic", lambda: clock[0])
    first = find_lab(str(lab_copy), recheck_seconds=1.0)
    handout = lab_copy / "handout.md"
    handout.write_text(handout.read_text() + "\nOne more line.\n")
    clock[0] += 0.5
    assert find_lab(str(lab_copy), recheck_seconds=1.0) is first  # within the second: not looked at
    clock[0] += 1.0
    edited = find_lab(str(lab_copy), recheck_seconds=1.0)
    assert edited.version != first.version  # a second later: looked at again
    handout.write_text(handout.read_text() + "\nAnd another.\n")
    assert find_lab(str(lab_copy)).version not in (first.version, edited.version)  # by default: always


def test_unknown_lab_error_lists_the_available_labs() -> None:
    with pytest.raises(LabError, match="unknown lab 'lab99-nope'") as info:
        find_lab("lab99-nope")
    assert all(lab_id in str(info.value) for lab_id in LABS)


def test_shipped_labs_are_available_by_default() -> None:
    assert set(LABS) <= set(available_labs())


def test_labs_env_var_redirects_labs_dir(lab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOSSGRADER_LABS", str(lab_copy.parent))
    assert labs_dir() == lab_copy.parent
    assert available_labs() == ["lab01-mse"]
    assert find_lab("lab01-mse").path == lab_copy


def test_labs_env_var_limits_the_labs_offered_in_errors(lab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOSSGRADER_LABS", str(lab_copy.parent))
    with pytest.raises(LabError, match=r"\(available: lab01-mse\)$"):
        find_lab("lab02-cross-entropy")


def test_unknown_lab_in_an_empty_labs_dir_says_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOSSGRADER_LABS", str(tmp_path))
    with pytest.raises(LabError, match=r"\(available: none\)$"):
        find_lab("lab01-mse")


def test_available_labs_skips_folders_without_lab_toml(tmp_path: Path) -> None:
    make_lab(tmp_path)
    (tmp_path / "notes").mkdir()
    assert available_labs(tmp_path) == ["lab-tiny"]


def test_load_lab_rejects_a_path_that_is_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="not a lab folder"):
        load_lab(tmp_path / "missing")


# --------------------------------------------------------------------- broken labs


def _broken(case: str, file: str, edits: dict[str, str], field: str) -> Any:
    return pytest.param(file, edits, field, id=case)


LAB, PUBLIC, HIDDEN, RANDOMISED = (
    "lab.toml",
    "fixtures/public.toml",
    "fixtures/hidden.toml",
    "fixtures/randomised.toml",
)
FUNCTION_HEADER = '[[functions]]\nname = "mean_squared_error"\n'
RANDOM_ARGS = 'args = [{ generate = "normal", shape = ["n"] }'

BROKEN = [
    _broken("bad-toml-syntax", LAB, {'title = "Tiny"': 'title = "Tiny'}, "line 2"),
    _broken("missing-id", LAB, {'id = "lab-tiny"\n': ""}, "'id'"),
    _broken("id-not-folder-name", LAB, {'id = "lab-tiny"': 'id = "lab-other"'}, "'id'"),
    _broken("missing-handout", LAB, {'"handout.md"': '"README.md"'}, "'handout'"),
    _broken("unknown-top-level-field", LAB, {'title = "Tiny"': 'title = "Tiny"\ncolour = 1'}, "'colour'"),
    _broken("missing-title", LAB, {'title = "Tiny"\n': ""}, "'title'"),
    _broken(
        "functions-empty",
        LAB,
        {'title = "Tiny"': 'title = "Tiny"\nfunctions = []', FUNCTION_HEADER: "[extra.unused]\n"},
        "'functions'",
    ),
    _broken("function-name-not-identifier", LAB, {'name = "mean_squared_error"': 'name = "mean-sq"'}, "'name'"),
    _broken("reference-missing-function", LAB, {'returns = "scalar"': 'reference = "nope"'}, "'reference'"),
    _broken("reference-module-missing", LAB, {'"reference.losses"': '"no_such_module"'}, "'reference'"),
    _broken("unknown-returns", LAB, {'returns = "scalar"': 'returns = "vector"'}, "'returns'"),
    _broken("unknown-function-field", LAB, {'returns = "scalar"': "colour = 1"}, "'colour'"),
    _broken("negative-rtol-in-compare", LAB, {"rtol = 1e-6": "rtol = -1e-6"}, "'rtol'"),
    _broken("negative-rtol-in-function", LAB, {'returns = "scalar"': "rtol = -1.0"}, "'rtol'"),
    _broken("negative-rtol-in-fixture", PUBLIC, {"expected = 2.0": "rtol = -1.0"}, "'rtol'"),
    _broken("unknown-nan-policy", LAB, {"rtol = 1e-6": 'nan = "ignore"'}, "'nan'"),
    _broken(
        "unknown-scalar-form",
        LAB,
        {'returns = "scalar"': 'scalar_forms = ["python", "string"]'},
        "'scalar_forms'",
    ),
    _broken("limit-not-positive", LAB, {"wall_seconds = 5": "wall_seconds = 0"}, "'wall_seconds'"),
    _broken("limit-boolean", LAB, {"wall_seconds = 5": "wall_seconds = true"}, "'wall_seconds'"),
    _broken("unknown-limit", LAB, {"wall_seconds = 5": "wall_secs = 5"}, "'wall_secs'"),
    _broken(
        "fractional-memory-limit",
        LAB,
        {"wall_seconds = 5": "memory_mib = 0.5"},
        "'memory_mib'",
    ),
    _broken("unknown-visibility", LAB, {'visibility = "hidden"': 'visibility = "secret"'}, "'visibility'"),
    _broken(
        "fixture-file-missing",
        LAB,
        {'"fixtures/public.toml"': '"fixtures/pubic.toml"'},
        "'file'",
    ),
    _broken("fixture-without-name", PUBLIC, {'name = "small"\n': ""}, "'name'"),
    _broken("fixture-name-with-space", PUBLIC, {'name = "small"': 'name = "small one"'}, "'name'"),
    _broken("duplicate-fixture-name", HIDDEN, {'name = "generated"': 'name = "small"'}, "name"),
    _broken("fixture-for-unknown-function", PUBLIC, {"expected = 2.0": 'function = "nope"'}, "'function'"),
    _broken("fixture-without-args", PUBLIC, {"args = ": "argz = "}, "'args'"),
    _broken(
        "arg-with-value-and-generate",
        PUBLIC,
        {"args = [[1.0, 2.0, 3.0],": 'args = [{ value = [1.0], generate = "normal", shape = [1], seed = 1 },'},
        "'generate'",
    ),
    _broken("arg-a-string", PUBLIC, {"args = [[1.0, 2.0, 3.0],": 'args = ["y",'}, "args[0]"),
    _broken("unknown-arg-field", HIDDEN, {"seed = 1 }": "seed = 1, colour = 1 }"}, "'colour'"),
    _broken("unknown-arg-form", PUBLIC, {"args = [[1.0, 2.0, 3.0],": 'args = [{ value = 1, as = "tuple" },'}, "'as'"),
    _broken("unknown-generator", HIDDEN, {'"uniform"': '"gaussian"'}, "'generate'"),
    _broken("generator-without-shape", HIDDEN, {"shape = [3, 4], seed = 1": "seed = 1"}, "'shape'"),
    _broken("bad-dtype", HIDDEN, {"seed = 1 }": 'seed = 1, dtype = "float16" }'}, "'dtype'"),
    _broken("hidden-generator-without-seed", HIDDEN, {", seed = 1 }": " }"}, "'seed'"),
    _broken(
        "hidden-generator-with-boolean-seed",
        HIDDEN,
        {"seed = 1 }": "seed = true }"},
        "'seed'",
    ),
    _broken("seed-in-randomised-fixture", RANDOMISED, {'shape = ["n"] }': 'shape = ["n"], seed = 3 }'}, "'seed'"),
    _broken(
        "expected-in-randomised-fixture",
        RANDOMISED,
        {RANDOM_ARGS: "expected = 1.0\n" + RANDOM_ARGS},
        "'expected'",
    ),
    _broken("expected-a-string", PUBLIC, {"expected = 2.0": 'expected = "2.0"'}, "'expected'"),
    _broken("dims-a-string", RANDOMISED, {"n = [2, 5]": 'n = "big"'}, "'dims.n'"),
    _broken("dims-three-numbers", RANDOMISED, {"n = [2, 5]": "n = [2, 5, 8]"}, "'dims.n'"),
    _broken("dims-floats", RANDOMISED, {"n = [2, 5]": "n = [2.0, 5.0]"}, "'dims.n'"),
    _broken("dims-not-a-table", RANDOMISED, {"dims = { n = [2, 5] }": "dims = [2, 5]"}, "'dims'"),
    _broken(
        "dims-range-reversed",
        RANDOMISED,
        {"n = [2, 5]": "n = [5, 2]"},
        "'dims.n'",
    ),
    _broken(
        "dims-negative",
        RANDOMISED,
        {"n = [2, 5]": "n = -3"},
        "'dims.n'",
    ),
    _broken("negative-points", PUBLIC, {"expected = 2.0": "points = -1"}, "'points'"),
    _broken("unknown-fixture-field", PUBLIC, {"expected = 2.0": "colour = 1"}, "'colour'"),
    _broken("hint-when-unknown-stage", PUBLIC, {"expected = 2.0": 'hint_when = ["sideways"]'}, "'hint_when'"),
    _broken("hint-when-not-a-list", PUBLIC, {"expected = 2.0": 'hint_when = "raised"'}, "'hint_when'"),
]


def _load_error(folder: Path) -> str:
    with pytest.raises(LabError) as info:
        load_lab(folder)
    return str(info.value)


@pytest.mark.parametrize(("file", "edits", "field"), BROKEN)
def test_broken_lab_error_names_file_and_field_in_one_line(
    tmp_path: Path, file: str, edits: dict[str, str], field: str
) -> None:
    folder = make_lab(tmp_path, {file: edits})
    message = _load_error(folder)
    assert str(folder / file) in message
    assert field in message
    assert "\n" not in message


def test_fixture_error_names_the_fixture(tmp_path: Path) -> None:
    message = _load_error(make_lab(tmp_path, {PUBLIC: {"expected = 2.0": "points = -1"}}))
    assert "fixture[0] (small)" in message


def test_argument_error_names_the_argument(tmp_path: Path) -> None:
    message = _load_error(make_lab(tmp_path, {HIDDEN: {"seed = 1 }": 'seed = 1, dtype = "f16" }'}}))
    assert "fixture[0] (generated) args[0]" in message


def test_duplicate_fixture_name_is_reported_at_the_second_one(tmp_path: Path) -> None:
    folder = make_lab(tmp_path, {HIDDEN: {'name = "generated"': 'name = "small"'}})
    message = _load_error(folder)
    assert message.startswith(f"{folder / HIDDEN}: fixture[0] (small)")
    assert "duplicate fixture name 'small'" in message


def test_missing_fixture_file_error_names_the_missing_file(tmp_path: Path) -> None:
    folder = make_lab(tmp_path, {LAB: {'"fixtures/public.toml"': '"fixtures/pubic.toml"'}})
    assert "field 'file': 'fixtures/pubic.toml' not found" in _load_error(folder)


def test_lab_without_fixtures_is_rejected(tmp_path: Path) -> None:
    folder = make_lab(tmp_path)
    for name in (PUBLIC, HIDDEN, RANDOMISED):
        (folder / name).write_text("fixture = []\n")
    assert _load_error(folder) == f"{folder / LAB}: the lab has no fixtures"


def test_function_is_optional_in_a_single_function_lab(tmp_path: Path) -> None:
    lab = load_lab(make_lab(tmp_path))
    assert {f.function for f in lab.fixtures} == {"mean_squared_error"}


def test_extra_table_is_kept_for_tools(tmp_path: Path) -> None:
    folder = make_lab(tmp_path, {LAB: {"[limits]": '[extra]\ncourse = "ML 101"\n\n[limits]'}})
    assert load_lab(folder).extra == {"course": "ML 101"}


# --------------------------------------------------------------------- a students' copy


def test_a_copy_without_its_hidden_fixture_file_checks_but_never_grades(lab_copy: Path) -> None:
    from grader.grading.engine import grade
    from grader.grading.result import STATUS_ERROR
    from grader.grading.runner import SubprocessRunner

    (lab_copy / "fixtures" / "hidden.toml").unlink()
    lab = load_lab(lab_copy)
    assert lab.withheld == ("fixtures/hidden.toml",)
    assert lab.fixtures_by("hidden") == [] and lab.fixtures_by("public")
    source = (Path(__file__).parents[1] / "implementations" / "lab01-mse" / "correct_vectorised.py").read_text()
    checked = grade(source, lab, 1, runner=SubprocessRunner(), visibilities=("public", "randomised"))
    assert checked.status == "graded" and checked.all_passed
    graded = grade(source, lab, 1, runner=SubprocessRunner())
    assert graded.status == STATUS_ERROR and graded.tests == []
    assert "has no hidden fixtures (fixtures/hidden.toml not found)" in (graded.error or "")


def test_only_hidden_fixture_files_may_be_missing(lab_copy: Path) -> None:
    (lab_copy / "fixtures" / "randomised.toml").unlink()
    assert "field 'file': 'fixtures/randomised.toml' not found" in _load_error(lab_copy)
