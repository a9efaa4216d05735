"""Turning fixture specs into concrete inputs and expected values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.grading.fixtures import NEAR_ZERO_PROBABILITY, build, describe_value, materialise, materialise_arg
from grader.grading.lab import STAGES, FixtureSpec, Lab, Policy, load_lab
from reference import losses

SHIPPED = Path(__file__).resolve().parents[2] / "labs"


def spec(
    *args: Any,
    visibility: str = "hidden",
    dims: dict[str, Any] | None = None,
    name: str = "f",
    function: str = "mean_squared_error",
    expected: Any = None,
) -> FixtureSpec:
    """A fixture spec as ``load_lab`` would make it, with only the parts a test needs."""
    return FixtureSpec(
        name=name,
        function=function,
        visibility=visibility,
        category="test",
        description="",
        points=1.0,
        args=args,
        expected=expected,
        policy=Policy(),
        check_unmodified=False,
        hint="",
        hint_when=STAGES,
        dims=dims or {},
        source=f"test.toml: fixture[0] ({name})",
    )


def arg(value: Any, dims: dict[str, int] | None = None, seed: int = 0) -> Any:
    """One argument, materialised."""
    return materialise_arg(value, np.random.default_rng(seed), dims or {}, "test")


def same(left: tuple[Any, ...], right: tuple[Any, ...]) -> bool:
    """Whether two sets of inputs are identical (shape, dtype and values)."""
    return len(left) == len(right) and all(
        np.asarray(a).shape == np.asarray(b).shape
        and np.asarray(a).dtype == np.asarray(b).dtype
        and np.array_equal(a, b)
        for a, b in zip(left, right, strict=True)
    )


@pytest.fixture(scope="module")
def lab01() -> Lab:
    return load_lab(SHIPPED / "lab01-mse")


# --------------------------------------------------------------------- literals


def test_integer_literal_becomes_an_int64_array() -> None:
    value = arg([1, 2, 3])
    assert isinstance(value, np.ndarray)
    assert value.dtype == np.int64
    assert value.tolist() == [1, 2, 3]


def test_float_literal_becomes_a_float64_array() -> None:
    value = arg([[0.5, 1], [2, 3]])
    assert value.dtype == np.float64
    assert value.shape == (2, 2)


def test_number_literal_becomes_a_0d_array() -> None:
    value = arg(1)
    assert isinstance(value, np.ndarray)
    assert value.shape == ()
    assert value.dtype == np.int64


def test_value_table_is_the_same_as_a_bare_literal() -> None:
    assert np.array_equal(arg({"value": [0.1, 0.2]}), arg([0.1, 0.2]))


def test_as_list_gives_nested_python_lists() -> None:
    value = arg({"value": [[0.5, 1.5], [2.5, 3.5]], "as": "list"})
    assert value == [[0.5, 1.5], [2.5, 3.5]]
    assert type(value[0]) is list
    assert type(value[0][0]) is float


def test_as_list_keeps_integers_as_python_ints() -> None:
    value = arg({"value": [[2, 4], [6, 8]], "as": "list"})
    assert value == [[2, 4], [6, 8]]
    assert all(type(item) is int for row in value for item in row)


def test_as_scalar_gives_a_python_float() -> None:
    value = arg({"value": 2.5, "as": "scalar"})
    assert type(value) is float
    assert value == 2.5


def test_as_scalar_keeps_an_integer_an_int() -> None:
    value = arg({"value": 3, "as": "scalar"})
    assert type(value) is int
    assert value == 3


@pytest.mark.parametrize("dtype", ["float32", "int32", "float64", "int64"])
def test_dtype_is_honoured_for_literals(dtype: str) -> None:
    assert arg({"value": [1, 2, 3], "dtype": dtype}).dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_dtype_is_honoured_for_generated_inputs(dtype: str) -> None:
    value = arg({"generate": "labels", "shape": [6], "classes": 3, "dtype": dtype})
    assert value.dtype == np.dtype(dtype)


# --------------------------------------------------------------------- generators


@pytest.mark.parametrize(
    "generator",
    [
        {"generate": "uniform"},
        {"generate": "normal", "scale": 3.0},
        {"generate": "integers", "low": -5, "high": 5},
        {"generate": "probs"},
        {"generate": "probs", "zeros": 0.3},
        {"generate": "onehot"},
    ],
    ids=lambda g: "-".join(str(v) for v in g.values()),
)
def test_generator_gives_the_requested_shape(generator: dict[str, Any]) -> None:
    assert arg({**generator, "shape": [7, 3]}).shape == (7, 3)


def test_labels_have_the_requested_shape() -> None:
    assert arg({"generate": "labels", "shape": [7], "classes": 3}).shape == (7,)


def test_shape_can_name_dimensions() -> None:
    value = arg({"generate": "normal", "shape": ["n", "k", 2]}, dims={"n": 4, "k": 5})
    assert value.shape == (4, 5, 2)


def test_shape_with_unknown_dimension_is_an_error_naming_the_fixture() -> None:
    with pytest.raises(ValueError, match=r"^test: shape uses unknown dimension 'm'$"):
        arg({"generate": "normal", "shape": ["m"]})


def test_uniform_lies_between_low_and_high() -> None:
    value = arg({"generate": "uniform", "shape": [500], "low": -2.0, "high": -1.0})
    assert value.dtype == np.float64
    assert value.min() >= -2.0
    assert value.max() < -1.0


def test_integers_lie_in_low_to_high_exclusive() -> None:
    value = arg({"generate": "integers", "shape": [500], "low": -3, "high": 3})
    assert value.dtype == np.int64
    assert set(value.tolist()) == {-3, -2, -1, 0, 1, 2}


def test_probs_rows_sum_to_one() -> None:
    value = arg({"generate": "probs", "shape": [20, 6]})
    assert np.all(value > 0)
    assert np.allclose(value.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


def test_probs_with_zeros_has_exact_zeros() -> None:
    value = arg({"generate": "probs", "shape": [20, 6], "zeros": 0.5})
    assert np.any(value == 0.0)
    assert np.all(value >= 0.0)


def test_probs_with_zeros_still_sum_to_one() -> None:
    value = arg({"generate": "probs", "shape": [200, 3], "zeros": 0.9})
    assert np.allclose(value.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


def test_labels_lie_in_zero_to_classes() -> None:
    value = arg({"generate": "labels", "shape": [500], "classes": 4})
    assert value.dtype == np.int64
    assert set(value.tolist()) == {0, 1, 2, 3}


def test_labels_can_take_classes_from_a_dimension() -> None:
    value = arg({"generate": "labels", "shape": [500], "classes": "k"}, dims={"k": 3})
    assert set(value.tolist()) == {0, 1, 2}


def test_onehot_rows_have_a_single_one() -> None:
    value = arg({"generate": "onehot", "shape": [50, 5]})
    assert set(np.unique(value).tolist()) == {0.0, 1.0}
    assert np.all(value.sum(axis=-1) == 1.0)


def test_onehot_and_labels_with_the_same_seed_and_shape_agree() -> None:
    onehot, labels = materialise(
        spec(
            {"generate": "onehot", "shape": [30, 4], "seed": 62},
            {"generate": "labels", "shape": [30], "classes": 4, "seed": 62},
        ),
        seed=1,
    )
    assert np.array_equal(onehot.argmax(-1), labels)


def test_shipped_labels_and_onehot_fixtures_share_their_targets() -> None:
    lab = load_lab(SHIPPED / "lab02-cross-entropy")
    by_name = {f.spec.name: f for f in build(lab, ("hidden",), seed=1)}
    labels, onehot = by_name["labels-batch"], by_name["one-hot-batch"]
    assert np.array_equal(onehot.args[1].argmax(-1), labels.args[1])
    assert np.isclose(onehot.expected, labels.expected, rtol=1e-12, atol=0)


# --------------------------------------------------------------------- seeds


def test_fixed_seed_fixture_is_identical_across_calls() -> None:
    fixed = spec({"generate": "normal", "shape": [4, 3], "seed": 5})
    assert same(materialise(fixed, 1), materialise(fixed, 1))


def test_fixed_seed_fixture_does_not_depend_on_the_submission_seed() -> None:
    fixed = spec({"generate": "normal", "shape": [4, 3], "seed": 5})
    assert same(materialise(fixed, 1), materialise(fixed, 987654))


def test_different_fixed_seeds_give_different_inputs() -> None:
    first = materialise(spec({"generate": "normal", "shape": [4], "seed": 5}), 1)
    second = materialise(spec({"generate": "normal", "shape": [4], "seed": 6}), 1)
    assert not same(first, second)


def test_hidden_fixtures_of_a_shipped_lab_do_not_depend_on_the_submission_seed(lab01: Lab) -> None:
    for fixture in lab01.fixtures_by("public", "hidden"):
        assert same(materialise(fixture, 1), materialise(fixture, 2)), fixture.name


def test_randomised_fixture_is_reproducible_for_the_same_seed() -> None:
    random = spec({"generate": "normal", "shape": ["n"]}, visibility="randomised", dims={"n": [2, 40]})
    assert same(materialise(random, 123), materialise(random, 123))


def test_randomised_fixture_differs_for_different_seeds() -> None:
    random = spec({"generate": "normal", "shape": ["n"]}, visibility="randomised", dims={"n": [2, 40]})
    assert not same(materialise(random, 123), materialise(random, 124))


def test_randomised_fixtures_of_a_shipped_lab_differ_between_seeds(lab01: Lab) -> None:
    for fixture in lab01.fixtures_by("randomised"):
        assert not same(materialise(fixture, 1), materialise(fixture, 2)), fixture.name


def test_randomised_fixtures_with_the_same_args_but_different_names_differ() -> None:
    args = ({"generate": "normal", "shape": [5]},)
    first = materialise(spec(*args, visibility="randomised", name="a"), 7)
    second = materialise(spec(*args, visibility="randomised", name="b"), 7)
    assert not same(first, second)


def test_args_of_a_randomised_fixture_are_drawn_independently() -> None:
    y, t = materialise(
        spec(
            {"generate": "normal", "shape": [5]},
            {"generate": "normal", "shape": [5]},
            visibility="randomised",
        ),
        7,
    )
    assert not np.array_equal(y, t)


# --------------------------------------------------------------------- dims


def test_dims_ranges_are_inclusive_and_respected() -> None:
    random = spec(
        {"generate": "normal", "shape": ["n", "k"]},
        visibility="randomised",
        dims={"n": [2, 5], "k": 3},
    )
    shapes = {materialise(random, seed)[0].shape for seed in range(200)}
    assert {n for n, _ in shapes} == {2, 3, 4, 5}
    assert {k for _, k in shapes} == {3}


def test_dims_are_shared_between_the_args_of_one_fixture() -> None:
    random = spec(
        {"generate": "probs", "shape": ["n", "k"]},
        {"generate": "labels", "shape": ["n"], "classes": "k"},
        visibility="randomised",
        dims={"n": [2, 30], "k": [2, 12]},
    )
    for seed in range(20):
        probs, labels = materialise(random, seed)
        assert labels.shape == probs.shape[:1]
        assert labels.max() < probs.shape[1]


def test_dims_of_a_shipped_randomised_fixture_stay_in_range(lab01: Lab) -> None:
    (random,) = [f for f in lab01.fixtures if f.name == "random-batch"]
    for seed in range(30):
        probs, onehot = materialise(random, seed)
        assert probs.shape == onehot.shape
        assert 2 <= probs.shape[0] <= 30
        assert 3 <= probs.shape[1] <= 12


# --------------------------------------------------------------------- build


def test_build_uses_the_literal_expected_value(lab01: Lab) -> None:
    lab = replace(lab01, fixtures=[spec([1.0, 2.0], [1.0, 2.0], visibility="public", expected=99.0)])
    (fixture,) = build(lab, ("public",), seed=1)
    assert fixture.expected.dtype == np.float64
    assert fixture.expected.item() == 99.0


def test_build_asks_the_reference_without_a_literal_expected_value(lab01: Lab) -> None:
    lab = replace(lab01, fixtures=[spec([1.0, 2.0, 3.0], [1.0, 2.0, 5.0], visibility="public")])
    (fixture,) = build(lab, ("public",), seed=1)
    assert fixture.expected.item() == losses.mean_squared_error([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])


def test_build_expected_of_an_array_function_is_a_float64_array() -> None:
    lab = load_lab(SHIPPED / "lab03-softmax-ce")
    by_name = {f.spec.name: f for f in build(lab, ("public",), seed=1)}
    expected = by_name["softmax-batch"].expected
    assert expected.dtype == np.float64
    assert np.array_equal(expected, losses.softmax([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]))


def test_build_only_returns_the_requested_visibilities(lab01: Lab) -> None:
    built = build(lab01, ("public", "randomised"), seed=1)
    assert {f.spec.visibility for f in built} == {"public", "randomised"}
    assert len(built) == len(lab01.fixtures_by("public", "randomised"))


def test_build_records_the_seed_of_randomised_fixtures_only(lab01: Lab) -> None:
    for fixture in build(lab01, ("public", "hidden", "randomised"), seed=42):
        assert fixture.seed == (42 if fixture.spec.visibility == "randomised" else None)


def test_build_is_reproducible_for_the_same_seed(lab01: Lab) -> None:
    first = build(lab01, ("randomised",), seed=9)
    second = build(lab01, ("randomised",), seed=9)
    assert all(same(a.args, b.args) for a, b in zip(first, second, strict=True))
    assert all(np.array_equal(a.expected, b.expected) for a, b in zip(first, second, strict=True))


# --------------------------------------------------------------------- describe_value


def test_describe_small_float_array_in_full() -> None:
    assert describe_value(np.array([1.5, 2.25])) == "np.array([1.5, 2.25])"


def test_describe_small_array_shows_a_non_default_dtype() -> None:
    assert describe_value(np.array([[1, 2], [3, 4]], dtype=np.int32)) == ("np.array([[1, 2], [3, 4]], dtype=int32)")


def test_describe_small_2d_array_on_one_line() -> None:
    assert "\n" not in describe_value(np.arange(12.0).reshape(3, 4))


def test_describe_0d_array() -> None:
    assert describe_value(np.array(2.5)) == "np.array(2.5)"


def test_describe_large_array_by_shape() -> None:
    assert describe_value(np.zeros((3, 5))) == "array of float64 with shape (3, 5)"


def test_describe_limit_is_configurable() -> None:
    assert describe_value(np.zeros(4), limit=3) == "array of float64 with shape (4,)"


def test_describe_small_list_as_python() -> None:
    assert describe_value([[1, 2], [3, 4]]) == "[[1, 2], [3, 4]]"


def test_describe_large_list_by_size() -> None:
    assert describe_value([[0.1] * 5] * 3) == "nested list of 3 items (15 numbers)"


def test_describe_python_number() -> None:
    assert describe_value(0.25) == "0.25"


# --------------------------------------------------------------------- near_zero_target

NEAR_ZERO_ONE_HOT = (
    {"generate": "probs", "shape": ["n", "k"], "near_zero_target": 1},
    {"generate": "onehot", "shape": ["n", "k"]},
)
NEAR_ZERO_LABELS = (
    {"generate": "probs", "shape": ["n", "k"], "near_zero_target": 1},
    {"generate": "labels", "shape": ["n"], "classes": "k"},
)


def true_class_probabilities(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Each row's probability of its true class (targets one-hot or labels)."""
    rows = probs.reshape(-1, probs.shape[-1])
    labels = targets.reshape(rows.shape).argmax(-1) if targets.shape == probs.shape else targets.reshape(-1)
    return rows[np.arange(rows.shape[0]), labels]


@pytest.mark.parametrize("args", [NEAR_ZERO_ONE_HOT, NEAR_ZERO_LABELS], ids=["one-hot", "labels"])
def test_near_zero_target_puts_one_true_class_near_zero_in_every_draw(args) -> None:
    random = spec(*args, visibility="randomised", dims={"n": [1, 40], "k": [2, 12]}, function="cross_entropy_error")
    for seed in range(200):
        probs, targets = materialise(random, seed)
        assert np.allclose(probs.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
        assert np.all(probs >= 0)
        # Other rows may come near 0 by chance too; the designed one always does.
        assert true_class_probabilities(probs, targets).min() <= NEAR_ZERO_PROBABILITY[1], seed


def test_near_zero_target_changes_one_row_and_nothing_else() -> None:
    coupled = spec(*NEAR_ZERO_LABELS, visibility="randomised", dims={"n": 30, "k": 5})
    plain = spec(
        {"generate": "probs", "shape": ["n", "k"]}, NEAR_ZERO_LABELS[1], visibility="randomised", dims={"n": 30, "k": 5}
    )
    for seed in range(20):
        (probs, labels), (before, same_labels) = materialise(coupled, seed), materialise(plain, seed)
        assert np.array_equal(labels, same_labels)
        changed = np.flatnonzero(np.any(probs != before, axis=-1))
        assert changed.size == 1
        (row,) = changed
        low, high = NEAR_ZERO_PROBABILITY
        assert low <= probs[row, labels[row]] <= high
        others = np.delete(np.arange(5), labels[row])
        ratio = probs[row, others] / before[row, others]  # the rest of the row is rescaled, not redrawn
        assert np.allclose(ratio, ratio[0], rtol=1e-12, atol=0)


def test_near_zero_target_works_for_a_single_sample() -> None:
    single = spec(
        {"generate": "probs", "shape": ["k"], "near_zero_target": 1},
        {"generate": "onehot", "shape": ["k"]},
        visibility="randomised",
        dims={"k": [2, 12]},
    )
    low, high = NEAR_ZERO_PROBABILITY
    for seed in range(50):
        probs, onehot = materialise(single, seed)
        assert probs.shape == onehot.shape
        assert low <= probs[onehot.argmax()] <= high


def test_near_zero_target_keeps_the_requested_form_and_dtype() -> None:
    listed = spec(
        {"generate": "probs", "shape": [4, 3], "near_zero_target": 1, "as": "list"},
        {"generate": "labels", "shape": [4], "classes": 3, "dtype": "int32"},
        visibility="randomised",
    )
    probs, labels = materialise(listed, 3)
    assert type(probs) is list and len(probs) == 4
    assert labels.dtype == np.int32


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (({"generate": "normal", "shape": [3], "near_zero_target": 1}, [0, 1, 0]), 'generate = "probs"'),
        (({"generate": "probs", "shape": [3], "near_zero_target": 0}, [0, 1, 0]), "another argument"),
        (({"generate": "probs", "shape": [3], "near_zero_target": 5}, [0, 1, 0]), "another argument"),
        (({"generate": "probs", "shape": [3], "near_zero_target": True}, [0, 1, 0]), "another argument"),
        (({"generate": "probs", "shape": [3], "near_zero_target": 1}, [0, 1]), "fit the probabilities"),
        (({"generate": "probs", "shape": [1], "near_zero_target": 1}, [1]), "K >= 2"),
    ],
)
def test_near_zero_target_that_does_not_fit_is_a_clear_error(args, words: str) -> None:
    with pytest.raises(ValueError, match="near_zero_target") as info:
        materialise(spec(*args, visibility="randomised"), 1)
    assert words in str(info.value)
    assert str(info.value).startswith("test.toml: fixture[0] (f) args[0]: ")


def test_near_zero_target_is_accepted_by_the_lab_schema() -> None:
    lab = load_lab(SHIPPED / "lab02-cross-entropy")
    coupled = [f.name for f in lab.fixtures_by("randomised") if any("near_zero_target" in a for a in f.args)]
    assert coupled  # the shipped lab uses it, so loading it proves the key is allowed
