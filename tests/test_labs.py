"""The shipped labs: they validate, and they tell right from wrong implementations.

Student submissions under ``tests/implementations/`` are graded end to end (each in
its own interpreter, hidden fixtures included). Correct ones, in three styles, get full
marks on several seeds; each wrong one loses points on exactly the fixtures named
below, randomised ones included. Every file also gets one verdict per randomised
fixture over many seeds (run in-process): the same code gets the same score.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from grader.grading import compare, fixtures
from grader.grading.engine import grade
from grader.grading.harness import to_plain
from grader.grading.lab import available_labs, find_lab, labs_dir
from grader.grading.result import Result
from grader.grading.runner import CallOutcome
from grader.grading.validate import validate_lab

IMPLEMENTATIONS = Path(__file__).parent / "implementations"
LABS = ("lab01-mse", "lab02-cross-entropy", "lab03-softmax-ce")
SEEDS = (1, 2, 3)

CORRECT = [
    ("lab01-mse", "correct_vectorised.py"),
    ("lab01-mse", "correct_loops.py"),
    ("lab01-mse", "correct_textbook.py"),
    ("lab02-cross-entropy", "correct_vectorised.py"),
    ("lab02-cross-entropy", "correct_loops.py"),
    ("lab02-cross-entropy", "correct_textbook.py"),
    ("lab03-softmax-ce", "correct_vectorised.py"),
    ("lab03-softmax-ce", "correct_loops.py"),
    ("lab03-softmax-ce", "correct_logsumexp.py"),
]

# (lab, file, fixed fixtures it must fail, randomised fixtures it must fail -- exactly
# these, on every seed). The textbook softmax cross-entropy is "correct" but for
# extreme logits, as the lab03 handout says.
WRONG = [
    (
        "lab01-mse",
        "textbook_verbatim.py",
        ["integer-lists", "nested-lists", "nested-lists-2d"],
        ["random-lists"],
    ),
    (
        "lab01-mse",
        "wrong_half_mean.py",
        [
            "batch-3x4",
            "batch-of-one",
            "course-digit-seven",
            "course-digit-two",
            "course-integer-regression",
            "course-pattern-close",
            "course-pattern-far",
            "float32-inputs",
            "inputs-unmodified",
            "integer-arrays-2d",
            "integer-lists",
            "large-batch",
            "list-and-array",
            "negative-and-large-values",
            "nested-lists",
            "nested-lists-2d",
            "small-vector",
            "two-by-two-batch",
            "two-elements",
        ],
        ["random-batch", "random-integers", "random-lists", "random-vector"],
    ),
    (
        "lab01-mse",
        "wrong_hardcoded.py",
        [
            "batch-3x4",
            "batch-of-one",
            "float32-inputs",
            "inputs-unmodified",
            "integer-arrays-2d",
            "integer-lists",
            "large-batch",
            "list-and-array",
            "negative-and-large-values",
            "nested-lists",
            "nested-lists-2d",
            "single-element",
            "small-vector",
            "two-by-two-batch",
            "two-elements",
        ],
        ["random-batch", "random-integers", "random-lists", "random-vector"],
    ),
    (
        "lab01-mse",
        "wrong_mean.py",
        [
            "batch-3x4",
            "batch-of-one",
            "course-digit-seven",
            "course-digit-two",
            "course-integer-regression",
            "course-pattern-close",
            "course-pattern-far",
            "float32-inputs",
            "inputs-unmodified",
            "integer-arrays-2d",
            "integer-lists",
            "large-batch",
            "list-and-array",
            "negative-and-large-values",
            "nested-lists",
            "nested-lists-2d",
            "single-element",
            "small-vector",
            "two-by-two-batch",
        ],
        ["random-batch", "random-integers", "random-lists", "random-vector"],
    ),
    ("lab01-mse", "wrong_mutates_inputs.py", ["inputs-unmodified"], []),
    (
        "lab01-mse",
        "wrong_no_half.py",
        [
            "batch-3x4",
            "batch-of-one",
            "course-digit-seven",
            "course-digit-two",
            "course-integer-regression",
            "course-pattern-close",
            "course-pattern-far",
            "float32-inputs",
            "inputs-unmodified",
            "integer-arrays-2d",
            "integer-lists",
            "large-batch",
            "list-and-array",
            "negative-and-large-values",
            "nested-lists",
            "nested-lists-2d",
            "single-element",
            "small-vector",
            "two-by-two-batch",
            "two-elements",
        ],
        ["random-batch", "random-integers", "random-lists", "random-vector"],
    ),
    (
        "lab01-mse",
        "wrong_returns_array.py",
        [
            "batch-3x4",
            "batch-of-one",
            "course-digit-seven",
            "course-digit-two",
            "course-integer-regression",
            "course-pattern-close",
            "course-pattern-far",
            "float32-inputs",
            "identical-inputs",
            "inputs-unmodified",
            "integer-arrays-2d",
            "integer-lists",
            "large-batch",
            "list-and-array",
            "negative-and-large-values",
            "nested-lists",
            "nested-lists-2d",
            "single-element",
            "small-vector",
            "two-by-two-batch",
            "two-elements",
        ],
        ["random-batch", "random-integers", "random-lists", "random-vector"],
    ),
    (
        "lab01-mse",
        "wrong_sqrt.py",
        [
            "batch-3x4",
            "batch-of-one",
            "course-digit-seven",
            "course-digit-two",
            "course-integer-regression",
            "course-pattern-close",
            "course-pattern-far",
            "float32-inputs",
            "inputs-unmodified",
            "integer-arrays-2d",
            "integer-lists",
            "large-batch",
            "list-and-array",
            "negative-and-large-values",
            "nested-lists",
            "nested-lists-2d",
            "single-element",
            "two-by-two-batch",
            "two-elements",
        ],
        ["random-batch", "random-integers", "random-lists", "random-vector"],
    ),
    (
        "lab02-cross-entropy",
        "wrong_hardcoded.py",
        [
            "batch-labels",
            "batch-one-hot",
            "course-batch-first",
            "course-batch-second",
            "course-slide-softmax-output",
            "course-two-classes",
            "float32-probabilities",
            "inputs-unmodified",
            "inputs-unmodified-labels",
            "labels-batch",
            "labels-batch-of-one",
            "labels-int32",
            "large-batch-labels",
            "large-batch-one-hot",
            "one-hot-batch",
            "one-hot-batch-of-one",
            "single-label",
            "single-one-hot",
            "zero-probability-elsewhere",
            "zero-probability-true-class",
            "zero-probability-true-class-batch",
            "zero-probability-true-class-label",
        ],
        [
            "random-batch-labels",
            "random-batch-one-hot",
            "random-batch-with-zeros",
            "random-single-one-hot",
        ],
    ),
    (
        "lab02-cross-entropy",
        "wrong_korean_argument_order.py",
        [
            "batch-labels",
            "course-digit-seven",
            "course-digit-two",
            "course-pattern-close",
            "course-pattern-far",
            "course-slide-softmax-output",
            "course-two-classes",
            "inputs-unmodified",
            "inputs-unmodified-labels",
            "labels-batch",
            "labels-batch-of-one",
            "labels-int32",
            "large-batch-labels",
            "large-batch-one-hot",
            "one-hot-batch",
            "single-label",
            "single-one-hot",
            "zero-probability-elsewhere",
            "zero-probability-true-class",
            "zero-probability-true-class-batch",
            "zero-probability-true-class-label",
        ],
        [
            "random-batch-labels",
            "random-batch-one-hot",
            "random-batch-with-zeros",
            "random-single-one-hot",
        ],
    ),
    (
        "lab02-cross-entropy",
        "wrong_labels_only.py",
        [
            "batch-one-hot",
            "course-batch-first",
            "course-batch-second",
            "course-digit-seven",
            "course-digit-two",
            "course-pattern-close",
            "course-pattern-far",
            "course-slide-softmax-output",
            "course-two-classes",
            "float32-probabilities",
            "inputs-unmodified",
            "inputs-unmodified-labels",
            "labels-batch",
            "large-batch-labels",
            "large-batch-one-hot",
            "one-hot-batch",
            "one-hot-batch-of-one",
            "single-one-hot",
            "zero-probability-elsewhere",
            "zero-probability-true-class",
            "zero-probability-true-class-batch",
            "zero-probability-true-class-label",
        ],
        [
            "random-batch-labels",
            "random-batch-one-hot",
            "random-batch-with-zeros",
            "random-single-one-hot",
        ],
    ),
    (
        "lab02-cross-entropy",
        "wrong_log10.py",
        [
            "batch-labels",
            "batch-one-hot",
            "course-batch-first",
            "course-batch-second",
            "course-digit-seven",
            "course-digit-two",
            "course-pattern-close",
            "course-pattern-far",
            "course-slide-softmax-output",
            "course-two-classes",
            "float32-probabilities",
            "inputs-unmodified",
            "inputs-unmodified-labels",
            "labels-batch",
            "labels-batch-of-one",
            "labels-int32",
            "large-batch-labels",
            "large-batch-one-hot",
            "one-hot-batch",
            "one-hot-batch-of-one",
            "single-label",
            "single-one-hot",
            "zero-probability-elsewhere",
            "zero-probability-true-class",
            "zero-probability-true-class-batch",
            "zero-probability-true-class-label",
        ],
        [
            "random-batch-labels",
            "random-batch-one-hot",
            "random-batch-with-zeros",
            "random-single-one-hot",
        ],
    ),
    (
        "lab02-cross-entropy",
        "wrong_missing_minus.py",
        [
            "batch-labels",
            "batch-one-hot",
            "course-batch-first",
            "course-batch-second",
            "course-digit-seven",
            "course-digit-two",
            "course-pattern-close",
            "course-pattern-far",
            "course-slide-softmax-output",
            "course-two-classes",
            "float32-probabilities",
            "inputs-unmodified",
            "inputs-unmodified-labels",
            "labels-batch",
            "labels-batch-of-one",
            "labels-int32",
            "large-batch-labels",
            "large-batch-one-hot",
            "one-hot-batch",
            "one-hot-batch-of-one",
            "single-label",
            "single-one-hot",
            "zero-probability-elsewhere",
            "zero-probability-true-class",
            "zero-probability-true-class-batch",
            "zero-probability-true-class-label",
        ],
        [
            "random-batch-labels",
            "random-batch-one-hot",
            "random-batch-with-zeros",
            "random-single-one-hot",
        ],
    ),
    (
        "lab02-cross-entropy",
        "wrong_mutates_inputs.py",
        ["inputs-unmodified", "inputs-unmodified-labels"],
        [],
    ),
    (
        "lab02-cross-entropy",
        "wrong_no_batch_division.py",
        [
            "batch-labels",
            "batch-one-hot",
            "course-batch-first",
            "course-batch-second",
            "float32-probabilities",
            "inputs-unmodified",
            "inputs-unmodified-labels",
            "labels-batch",
            "labels-int32",
            "large-batch-labels",
            "large-batch-one-hot",
            "one-hot-batch",
            "zero-probability-true-class-batch",
        ],
        ["random-batch-labels", "random-batch-one-hot", "random-batch-with-zeros"],
    ),
    (
        "lab02-cross-entropy",
        "wrong_no_delta.py",
        [
            "course-digit-seven",
            "course-digit-two",
            "course-pattern-close",
            "inputs-unmodified",
            "inputs-unmodified-labels",
            "labels-batch",
            "large-batch-labels",
            "large-batch-one-hot",
            "one-hot-batch",
            "zero-probability-elsewhere",
            "zero-probability-true-class",
            "zero-probability-true-class-batch",
            "zero-probability-true-class-label",
        ],
        # One true class near 0 in every draw: δ matters on every randomised fixture.
        ["random-batch-labels", "random-batch-one-hot", "random-batch-with-zeros", "random-single-one-hot"],
    ),
    (
        "lab02-cross-entropy",
        "wrong_onehot_only.py",
        [
            "batch-labels",
            "inputs-unmodified-labels",
            "labels-batch",
            "labels-batch-of-one",
            "labels-int32",
            "large-batch-labels",
            "single-label",
            "zero-probability-true-class-label",
        ],
        ["random-batch-labels", "random-batch-with-zeros"],
    ),
    (
        "lab02-cross-entropy",
        "wrong_returns_array.py",
        [
            "batch-labels",
            "batch-one-hot",
            "course-batch-first",
            "course-batch-second",
            "course-digit-seven",
            "course-digit-two",
            "course-pattern-close",
            "course-pattern-far",
            "course-slide-softmax-output",
            "course-two-classes",
            "float32-probabilities",
            "inputs-unmodified",
            "inputs-unmodified-labels",
            "labels-batch",
            "labels-batch-of-one",
            "labels-int32",
            "large-batch-labels",
            "large-batch-one-hot",
            "one-hot-batch",
            "one-hot-batch-of-one",
            "single-label",
            "single-one-hot",
            "zero-probability-elsewhere",
            "zero-probability-true-class",
            "zero-probability-true-class-batch",
            "zero-probability-true-class-label",
        ],
        [
            "random-batch-labels",
            "random-batch-one-hot",
            "random-batch-with-zeros",
            "random-single-one-hot",
        ],
    ),
    (
        "lab02-cross-entropy",
        "wrong_swapped_args.py",
        [
            "batch-labels",
            "batch-one-hot",
            "course-batch-first",
            "course-batch-second",
            "course-digit-seven",
            "course-digit-two",
            "course-pattern-close",
            "course-pattern-far",
            "course-slide-softmax-output",
            "course-two-classes",
            "float32-probabilities",
            "inputs-unmodified",
            "inputs-unmodified-labels",
            "labels-batch",
            "labels-batch-of-one",
            "labels-int32",
            "large-batch-labels",
            "large-batch-one-hot",
            "one-hot-batch",
            "one-hot-batch-of-one",
            "single-label",
            "single-one-hot",
            "zero-probability-elsewhere",
            "zero-probability-true-class-batch",
        ],
        [
            "random-batch-labels",
            "random-batch-one-hot",
            "random-batch-with-zeros",
            "random-single-one-hot",
        ],
    ),
    (
        "lab03-softmax-ce",
        "wrong_ce_missing_minus.py",
        [
            "sce-batch-of-one",
            "sce-batch-one-hot",
            "sce-course-slide",
            "sce-extreme-batch",
            "sce-extreme-wrong-class",
            "sce-float32",
            "sce-inputs-unmodified",
            "sce-labels-batch",
            "sce-large-batch",
            "sce-large-logits",
            "sce-one-hot-batch",
            "sce-single-label",
            "sce-single-one-hot",
        ],
        ["random-sce-labels", "random-sce-one-hot"],
    ),
    (
        "lab03-softmax-ce",
        "wrong_ce_no_batch_division.py",
        [
            "sce-batch-one-hot",
            "sce-extreme-batch",
            "sce-float32",
            "sce-inputs-unmodified",
            "sce-labels-batch",
            "sce-large-batch",
            "sce-large-logits",
            "sce-one-hot-batch",
        ],
        ["random-sce-labels", "random-sce-one-hot"],
    ),
    (
        "lab03-softmax-ce",
        "wrong_hardcoded.py",
        [
            "sce-batch-of-one",
            "sce-batch-one-hot",
            "sce-course-slide",
            "sce-extreme-batch",
            "sce-extreme-right-class",
            "sce-extreme-wrong-class",
            "sce-float32",
            "sce-inputs-unmodified",
            "sce-labels-batch",
            "sce-large-batch",
            "sce-large-logits",
            "sce-one-hot-batch",
            "sce-single-label",
            "sce-single-one-hot",
            "softmax-batch",
            "softmax-batch-of-one",
            "softmax-batch-rows",
            "softmax-course-network-output",
            "softmax-course-slide",
            "softmax-extreme-batch",
            "softmax-extreme-logits",
            "softmax-float32",
            "softmax-inputs-unmodified",
            "softmax-large-batch",
            "softmax-large-logits",
            "softmax-vector",
            "softmax-very-negative",
        ],
        [
            "random-sce-labels",
            "random-sce-one-hot",
            "random-softmax-batch",
            "random-softmax-vector",
        ],
    ),
    (
        "lab03-softmax-ce",
        "wrong_mutates_inputs.py",
        ["sce-inputs-unmodified", "softmax-inputs-unmodified"],
        [],
    ),
    (
        "lab03-softmax-ce",
        "wrong_returns_array.py",
        [
            "sce-batch-of-one",
            "sce-batch-one-hot",
            "sce-course-slide",
            "sce-extreme-batch",
            "sce-extreme-right-class",
            "sce-extreme-wrong-class",
            "sce-float32",
            "sce-inputs-unmodified",
            "sce-labels-batch",
            "sce-large-batch",
            "sce-large-logits",
            "sce-one-hot-batch",
            "sce-single-label",
            "sce-single-one-hot",
        ],
        ["random-sce-labels", "random-sce-one-hot"],
    ),
    (
        "lab03-softmax-ce",
        "wrong_softmax_no_shift.py",
        [
            "sce-extreme-batch",
            "sce-extreme-right-class",
            "sce-extreme-wrong-class",
            "sce-large-logits",
            "softmax-extreme-batch",
            "softmax-extreme-logits",
            "softmax-large-logits",
            "softmax-very-negative",
        ],
        [],
    ),
    (
        "lab03-softmax-ce",
        "wrong_softmax_whole_batch.py",
        [
            "sce-batch-one-hot",
            "sce-extreme-batch",
            "sce-float32",
            "sce-inputs-unmodified",
            "sce-labels-batch",
            "sce-large-batch",
            "sce-large-logits",
            "sce-one-hot-batch",
            "softmax-batch",
            "softmax-batch-rows",
            "softmax-extreme-batch",
            "softmax-float32",
            "softmax-inputs-unmodified",
            "softmax-large-batch",
        ],
        ["random-sce-labels", "random-sce-one-hot", "random-softmax-batch"],
    ),
    (
        "lab03-softmax-ce",
        "wrong_swapped_args.py",
        [
            "sce-batch-of-one",
            "sce-batch-one-hot",
            "sce-course-slide",
            "sce-extreme-batch",
            "sce-extreme-wrong-class",
            "sce-float32",
            "sce-inputs-unmodified",
            "sce-labels-batch",
            "sce-large-batch",
            "sce-large-logits",
            "sce-one-hot-batch",
            "sce-single-label",
            "sce-single-one-hot",
        ],
        ["random-sce-labels", "random-sce-one-hot"],
    ),
    (
        "lab03-softmax-ce",
        "wrong_textbook_no_delta.py",
        ["sce-extreme-batch", "sce-extreme-right-class", "sce-extreme-wrong-class"],
        [],
    ),
    (
        "lab03-softmax-ce",
        "correct_textbook.py",
        ["sce-extreme-batch", "sce-extreme-wrong-class"],
        [],
    ),
]


def _grade_all(cases: list[tuple[str, str]], seeds: tuple[int, ...]) -> dict[tuple[str, str, int], Result]:
    """Grade every (lab, file) on every seed, two at a time (one per core)."""
    jobs = [(lab, name, seed) for lab, name in cases for seed in seeds]

    def one(job: tuple[str, str, int]) -> Result:
        lab, name, seed = job
        return grade((IMPLEMENTATIONS / lab / name).read_bytes(), find_lab(lab), seed)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(one, jobs), strict=True))


@pytest.fixture(scope="module")
def correct_results() -> dict[tuple[str, str, int], Result]:
    return _grade_all(CORRECT, SEEDS)


@pytest.fixture(scope="module")
def wrong_results() -> dict[tuple[str, str, int], Result]:
    return _grade_all([(lab, name) for lab, name, _, _ in WRONG], SEEDS)


def test_the_three_labs_ship_with_their_contract_ids() -> None:
    assert set(LABS) <= set(available_labs(labs_dir()))
    assert [f.signature for f in find_lab("lab01-mse").functions] == ["mean_squared_error(y, t)"]
    assert [f.signature for f in find_lab("lab02-cross-entropy").functions] == ["cross_entropy_error(y, t)"]
    assert [f.signature for f in find_lab("lab03-softmax-ce").functions] == [
        "softmax(a)",
        "softmax_cross_entropy(a, t)",
    ]


@pytest.mark.parametrize("lab_id", LABS)
def test_lab_validates(lab_id: str) -> None:
    found = validate_lab(labs_dir() / lab_id)
    assert found.problems == []
    assert found.ok
    visibilities = {f.visibility for f in found.lab.fixtures}
    assert visibilities == {"public", "hidden", "randomised"}


@pytest.mark.parametrize("lab_id", LABS)
def test_handout_formulas_read_as_written(lab_id: str) -> None:
    # The page and `lossgrader handout` show the text as it is (no TeX renderer):
    # formulas are written in plain Unicode, inside code blocks.
    handout = find_lab(lab_id).handout
    assert "$$" not in handout and "\\frac" not in handout and "\\sum" not in handout
    assert "    E = " in handout


@pytest.mark.parametrize("lab_id", LABS)
def test_every_fixture_names_what_it_tests(lab_id: str) -> None:
    for spec in find_lab(lab_id).fixtures:
        assert spec.category and spec.description, spec.name


@pytest.mark.parametrize(("lab_id", "name"), CORRECT)
def test_correct_implementations_get_full_marks(correct_results, lab_id: str, name: str) -> None:
    for seed in SEEDS:
        result = correct_results[(lab_id, name, seed)]
        failed = [(t.name, t.message) for t in result.tests if not t.passed]
        assert failed == [], f"seed {seed}"
        assert result.score == result.max_score == find_lab(lab_id).max_score
        assert result.submission_error is None


@pytest.mark.parametrize(("lab_id", "name", "must_fail", "random_must_fail"), WRONG)
def test_wrong_implementations_lose_points_on_named_fixtures(
    wrong_results, lab_id: str, name: str, must_fail: list[str], random_must_fail: list[str]
) -> None:
    for seed in SEEDS:
        result = wrong_results[(lab_id, name, seed)]
        failed_fixed = sorted(t.name for t in result.tests if not t.passed and t.visibility != "randomised")
        failed_random = {t.name for t in result.tests if not t.passed and t.visibility == "randomised"}
        assert failed_fixed == sorted(must_fail), f"seed {seed}"
        assert failed_random == set(random_must_fail), f"seed {seed}"
        assert result.score < result.max_score
        for test in result.tests:
            if not test.passed:
                assert test.feedback() and test.feedback() != "passed"


def test_textbook_verbatim_fails_only_on_python_lists(wrong_results) -> None:
    result = wrong_results[("lab01-mse", "textbook_verbatim.py", 1)]
    failed = [t for t in result.tests if not t.passed]
    assert {t.category for t in failed} <= {"python lists", "randomised"}
    assert all(t.stage == "raised" and "TypeError" in t.feedback() for t in failed)


def test_hard_coded_answers_pass_the_course_values_but_not_randomised(wrong_results) -> None:
    for lab_id in LABS:
        result = wrong_results[(lab_id, "wrong_hardcoded.py", 1)]
        randomised = [t for t in result.tests if t.visibility == "randomised"]
        assert randomised and not any(t.passed for t in randomised)
    mse = wrong_results[("lab01-mse", "wrong_hardcoded.py", 1)]
    assert all(t.passed for t in mse.tests if t.category == "course sample value")


def test_wrong_values_are_explained_by_the_mistake_catalogue(wrong_results) -> None:
    expected_words = {
        ("lab01-mse", "wrong_mean.py"): "mean of the squared differences",
        ("lab01-mse", "wrong_no_half.py"): "without the ½",
        ("lab01-mse", "wrong_sqrt.py"): "Euclidean distance",
        ("lab02-cross-entropy", "wrong_no_batch_division.py"): "sum over the whole batch",
        ("lab03-softmax-ce", "correct_textbook.py"): "δ",
    }
    for (lab_id, name), words in expected_words.items():
        result = wrong_results[(lab_id, name, 1)]
        # On one- or two-element inputs several mistakes give the same number; the
        # course's sample values and the randomised fixtures tell them apart.
        failed = [
            t
            for t in result.tests
            if not t.passed
            and t.stage == "value"
            and t.category in ("course sample value", "randomised", "extreme logits")
        ]
        assert failed and all(any(words in d for d in t.diagnosis) for t in failed), name


def test_hidden_feedback_never_shows_inputs_or_values(wrong_results) -> None:
    result = wrong_results[("lab02-cross-entropy", "wrong_log10.py", 1)]
    for test in result.tests:
        view = test.student_view()
        if test.visibility == "hidden":
            assert "inputs" not in view and "expected" not in view and "got" not in view
            assert "expected" not in test.feedback()
        else:
            assert view["inputs"] and "expected" in test.feedback()


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"impl_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", range(0, 400, 7))
def test_textbook_route_passes_every_non_extreme_fixture_on_many_seeds(seed: int) -> None:
    """The handout's promise, checked in-process over many randomised draws."""
    lab = find_lab("lab03-softmax-ce")
    module = _load(IMPLEMENTATIONS / "lab03-softmax-ce" / "correct_textbook.py")
    for fixture in fixtures.build(lab, ("public", "hidden", "randomised"), seed):
        kind, type_name, array = to_plain(getattr(module, fixture.spec.function)(*fixture.args))
        outcome = CallOutcome(status="ok", value=array, kind=kind, type_name=type_name)
        verdict = compare.check(outcome, fixture.expected, lab.function(fixture.spec.function), fixture.spec.policy)
        spec = fixture.spec
        must_pass = (
            spec.function == "softmax"  # the textbook softmax shifts by the max: exact
            or spec.category != "extreme logits"
            or spec.name == "sce-extreme-right-class"  # -ln(1 + δ) is within atol of 0
        )
        assert verdict.passed == must_pass, (spec.name, verdict.message)


IMPLEMENTATION_FILES = sorted(path for lab_id in LABS for path in (IMPLEMENTATIONS / lab_id).glob("*.py"))
STABILITY_SEEDS = range(100)


def _load_quietly(path: Path):
    with contextlib.redirect_stdout(io.StringIO()):  # some files print a test call at import
        return _load(path)


def _passes(module, lab, fixture: fixtures.Fixture) -> bool:
    """The verdict the grader would give this module's value (an exception fails)."""
    try:
        with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
            value = getattr(module, fixture.spec.function)(*copy.deepcopy(fixture.args))
    except Exception as exc:
        outcome = CallOutcome(status="raised", error=type(exc).__name__)
    else:
        kind, type_name, array = to_plain(value)
        outcome = CallOutcome(
            status="ok" if array is not None else "non_numeric", value=array, kind=kind, type_name=type_name
        )
    spec = fixture.spec
    return compare.check(outcome, fixture.expected, lab.function(spec.function), spec.policy).passed


@pytest.mark.parametrize("path", IMPLEMENTATION_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_same_code_gets_the_same_randomised_verdicts_on_every_seed(path: Path) -> None:
    """Issue 13: a submission's score must not depend on the seed of its randomised fixtures
    (a δ-free cross-entropy used to score 13 or 14 of 30 depending on the draw)."""
    lab = find_lab(path.parent.name)
    module = _load_quietly(path)
    seeds_by_verdict: dict[str, dict[bool, list[int]]] = {}
    for seed in STABILITY_SEEDS:
        for fixture in fixtures.build(lab, ("randomised",), seed):
            verdicts = seeds_by_verdict.setdefault(fixture.spec.name, {})
            verdicts.setdefault(_passes(module, lab, fixture), []).append(seed)
    assert set(seeds_by_verdict) == {spec.name for spec in lab.fixtures_by("randomised")}
    flipping = {
        name: {("passes" if verdict else "fails"): seeds[:3] for verdict, seeds in by_verdict.items()}
        for name, by_verdict in seeds_by_verdict.items()
        if len(by_verdict) > 1
    }
    assert flipping == {}
