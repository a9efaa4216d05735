"""grade(): from source to Result, with the grader's and the student's errors apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.grading.engine import grade
from grader.grading.lab import find_lab, with_limits
from grader.grading.result import STATUS_ERROR, STATUS_GRADED
from grader.grading.runner import CallOutcome, RunReport, SubprocessRunner

IMPLEMENTATIONS = Path(__file__).parent.parent / "implementations"
CORRECT_MSE = (IMPLEMENTATIONS / "lab01-mse" / "correct_vectorised.py").read_text()


class RecordingRunner:
    """Runs nothing: records the calls and answers 0.0 to every one."""

    def __init__(self) -> None:
        self.runs: list[list[str]] = []

    def run(self, source, functions, calls, limits) -> RunReport:
        self.runs.append([c.label for c in calls])
        return RunReport([CallOutcome("ok", np.array(0.0), "scalar", "float") for _ in calls])


class BrokenRunner:
    def run(self, source, functions, calls, limits) -> RunReport:
        raise OSError("cannot start the interpreter")


def test_a_correct_submission_gets_full_marks_and_a_traceable_result() -> None:
    lab = find_lab("lab01-mse")
    result = grade(CORRECT_MSE, lab, seed=42)
    assert result.status == STATUS_GRADED and result.all_passed
    assert result.score == result.max_score == lab.max_score
    assert result.seed == 42 and result.lab_version == lab.version
    assert {t.visibility for t in result.tests} == {"public", "hidden", "randomised"}
    assert all(t.elapsed is not None for t in result.tests)


def test_seed_is_chosen_and_recorded_when_not_given() -> None:
    result = grade(CORRECT_MSE, "lab01-mse", runner=RecordingRunner())
    assert isinstance(result.seed, int) and result.seed >= 0


def test_same_seed_same_randomised_inputs_and_different_seed_different_ones() -> None:
    def randomised_inputs(seed: int) -> list:
        result = grade(CORRECT_MSE, "lab01-mse", seed, runner=RecordingRunner())
        return [t.inputs for t in result.tests if t.visibility == "randomised"]

    assert randomised_inputs(5) == randomised_inputs(5)
    assert randomised_inputs(5) != randomised_inputs(6)


def test_hidden_fixtures_run_in_a_process_of_their_own() -> None:
    runner = RecordingRunner()
    lab = find_lab("lab02-cross-entropy")
    grade(CORRECT_MSE, lab, 1, runner=runner)
    hidden = {f.name for f in lab.fixtures_by("hidden")}
    assert len(runner.runs) == 2  # started together: in either order
    shown_run, hidden_run = sorted(runner.runs, key=lambda labels: bool(hidden & set(labels)))
    assert not hidden & set(shown_run)
    assert set(hidden_run) == hidden


class InTurnRunner(RecordingRunner):
    """Also runs in turn, like the sandbox: records each part; ``second`` False plays a
    first part that did not end cleanly (the engine must then run the hidden one apart)."""

    def __init__(self, second: bool = True) -> None:
        super().__init__()
        self.second = second
        self.in_turn: list[tuple[list[str], list[str]]] = []

    def run_in_turn(self, source, functions, first, then, limits):
        self.in_turn.append(([c.label for c in first], [c.label for c in then]))
        shown = RunReport([CallOutcome("ok", np.array(0.0), "scalar", "float") for _ in first], output="shown\n")
        if not self.second:
            return shown, None
        hidden = RunReport([CallOutcome("not_run", error="not run: exit 9") for _ in then], termination="exit 9")
        return shown, hidden


def test_a_runner_that_runs_in_turn_gets_the_shown_fixtures_then_the_hidden_ones_in_one_run() -> None:
    runner = InTurnRunner()
    lab = find_lab("lab02-cross-entropy")
    result = grade(CORRECT_MSE, lab, 1, runner=runner)
    hidden = {f.name for f in lab.fixtures_by("hidden")}
    assert runner.runs == [] and len(runner.in_turn) == 1
    first, then = runner.in_turn[0]
    assert not hidden & set(first) and set(then) == hidden
    # Output and termination come from the shown part only.
    assert result.output == "shown\n" and result.termination is None
    assert {t.stage for t in result.tests if t.visibility == "hidden"} == {"not_run"}


def test_when_the_shown_part_does_not_end_cleanly_the_hidden_fixtures_run_apart() -> None:
    runner = InTurnRunner(second=False)
    lab = find_lab("lab02-cross-entropy")
    grade(CORRECT_MSE, lab, 1, runner=runner)
    assert len(runner.in_turn) == 1
    assert [set(run) for run in runner.runs] == [{f.name for f in lab.fixtures_by("hidden")}]


def test_hidden_only_grading_is_one_run() -> None:
    runner = RecordingRunner()
    lab = find_lab("lab01-mse")
    result = grade(CORRECT_MSE, lab, 1, runner=runner, visibilities=("hidden",))
    assert [set(run) for run in runner.runs] == [{f.name for f in lab.fixtures_by("hidden")}]
    assert {t.visibility for t in result.tests} == {"hidden"}


def test_check_runs_only_public_and_randomised_fixtures() -> None:
    runner = RecordingRunner()
    result = grade(CORRECT_MSE, "lab01-mse", 1, runner=runner, visibilities=("public", "randomised"))
    assert len(runner.runs) == 1
    assert {t.visibility for t in result.tests} == {"public", "randomised"}


@pytest.mark.parametrize(
    ("source", "words"),
    [
        (b"", "empty"),
        (b"def f(:\n", "syntax error on line 1"),
        (b"x = '\xff'\n", "not UTF-8"),
        (b"a\0b", "NUL"),
    ],
)
def test_unusable_files_score_zero_without_running(source: bytes, words: str) -> None:
    runner = RecordingRunner()
    result = grade(source, "lab01-mse", 1, runner=runner)
    assert runner.runs == []
    assert result.status == STATUS_GRADED and result.score == 0
    assert words in result.submission_error
    assert all(t.stage == "not_run" and words in t.feedback() for t in result.tests)


def test_a_file_that_raises_on_load_is_explained_once_and_hidden_fixtures_say_little() -> None:
    strict = with_limits(find_lab("lab01-mse"), forgiving_load=False)  # a forgiving load skips the raise
    result = grade("import numpy as np\nraise RuntimeError('secret ' + str(42))\n", strict, 1)
    assert result.submission_error == "your file raised RuntimeError: secret 42 (line 2) when loaded."
    hidden = [t for t in result.tests if t.visibility == "hidden"]
    assert hidden and all("secret" not in t.feedback() for t in hidden)
    public = [t for t in result.tests if t.visibility == "public"]
    assert all("secret 42" in t.feedback() for t in public)


def test_wrong_function_names_are_reported_with_what_the_file_defines() -> None:
    result = grade((IMPLEMENTATIONS / "bad_files" / "wrong_names.py").read_bytes(), "lab01-mse", 1)
    assert result.score == 0
    feedback = result.tests[0].feedback()
    assert "`mean_squared_error` is not defined" in feedback and "mse" in feedback


def test_runner_failure_is_a_grader_error_not_a_zero() -> None:
    result = grade(CORRECT_MSE, "lab01-mse", 1, runner=BrokenRunner())
    assert result.status == STATUS_ERROR
    assert "cannot start the interpreter" in result.error
    assert result.tests == []


def test_broken_fixtures_are_a_grader_error(tmp_path, monkeypatch) -> None:
    lab = find_lab("lab01-mse")

    def explode(*args):
        raise ValueError("reference broke")

    monkeypatch.setattr(type(lab), "reference", lambda self, name: explode)
    result = grade(CORRECT_MSE, lab, 1, runner=RecordingRunner())
    assert result.status == STATUS_ERROR and "reference broke" in result.error


def test_printed_output_is_kept_for_instructors_only() -> None:
    source = CORRECT_MSE + "\nprint('debugging output')\n"
    result = grade(source, "lab01-mse", 1, runner=SubprocessRunner())
    assert "debugging output" in result.output
    gradescope = result.to_gradescope()
    assert "debugging output" not in gradescope["output"]
    assert all("debugging output" not in t["output"] for t in gradescope["tests"])
    assert gradescope["extra_data"]["stdout"] == result.output
