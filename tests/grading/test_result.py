"""Result views: instructor, student and Gradescope's results.json."""

from __future__ import annotations

import json

from grader.grading.result import Result, TestResult, fmt_points, json_safe, strict_json


def _test(name: str, visibility: str, passed: bool) -> TestResult:
    return TestResult(
        name=name,
        function="loss",
        category="edge case",
        visibility=visibility,
        description="what it tests",
        max_score=2.0,
        score=2.0 if passed else 0.0,
        passed=passed,
        stage="ok" if passed else "value",
        message="wrong value: expected 0.5, got 0.7",
        summary="wrong value.",
        diagnosis=["Your value matches the sum without ½."],
        hint="mind the ½",
        inputs=["np.array([1.0])"],
        expected=0.5,
        got=0.7,
    )


def _result() -> Result:
    return Result(
        "lab01-mse",
        "Lab01",
        "abc",
        7,
        [
            _test("pub", "public", False),
            _test("hid", "hidden", False),
            _test("ok", "randomised", True),
        ],
    )


def test_scores_add_up() -> None:
    result = _result()
    assert (result.score, result.max_score) == (2.0, 6.0)
    assert result.summary_line() == "2/6 — 2 of 3 fixtures failed"
    assert not result.all_passed


def test_feedback_for_hidden_fixtures_leaves_out_values() -> None:
    hidden = _result().tests[1]
    assert hidden.feedback() == "wrong value. Your value matches the sum without ½. Hint: mind the ½"
    assert "inputs" not in hidden.student_view() and "expected" not in hidden.student_view()


def test_feedback_for_public_fixtures_is_complete() -> None:
    public = _result().tests[0]
    assert public.feedback().startswith("wrong value: expected 0.5, got 0.7")
    assert public.student_view()["inputs"] == ["np.array([1.0])"]


def test_gradescope_shape() -> None:
    doc = json.loads(json.dumps(_result().to_gradescope()))
    assert set(doc) == {
        "score",
        "max_score",
        "execution_time",
        "output",
        "output_format",
        "test_output_format",
        "tests",
        "extra_data",
    }
    assert doc["output_format"] == doc["test_output_format"] == "md"  # feedback has code spans
    assert doc["tests"][0] == {
        "name": "pub [edge case]",
        "score": 0.0,
        "max_score": 2.0,
        "status": "failed",
        "visibility": "visible",
        "output": _result().tests[0].feedback(),
        "tags": ["public", "edge case", "loss"],
    }
    assert doc["extra_data"]["seed"] == 7 and doc["extra_data"]["lab_version"] == "abc"


def test_to_dict_keeps_everything() -> None:
    data = _result().to_dict()
    assert data["tests"][1]["message"] == "wrong value: expected 0.5, got 0.7"
    assert data["tests"][1]["status"] == "failed"


def test_points_format() -> None:
    assert fmt_points(3.0) == "3" and fmt_points(2.5) == "2.5"


def test_json_safe_spells_non_finite_numbers_and_keeps_the_rest() -> None:
    value = {"got": [float("nan"), float("inf"), -float("inf"), 1.5], 3: ("a\x00b", None, True)}
    assert json_safe(value) == {"got": ["nan", "inf", "-inf", 1.5], "3": ["a\x00b", None, True]}


def test_json_safe_can_replace_nul_characters_for_postgresql() -> None:
    assert json_safe({"output": ["x\x00y"]}, nul="\ufffd") == {"output": ["x\ufffdy"]}


def test_strict_json_is_plain_json_when_it_can_be_and_a_safe_copy_when_not() -> None:
    clean = {"got": [0.5, 1.0], "output": "a\x00b"}
    assert strict_json(clean) == json.dumps(clean)  # NUL kept: nobody asked to replace it
    assert json.loads(strict_json({"got": float("nan")}, indent=2)) == {"got": "nan"}
    assert json.loads(strict_json(clean, nul="\ufffd")) == {"got": [0.5, 1.0], "output": "a\ufffdb"}
