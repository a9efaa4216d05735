"""The ``lossgrader`` command line, as students and instructors use it.

Most tests run the CLI in-process through :func:`grader.cli.run` (the exit code is
returned, output captured by ``capsys``); a few run the installed console script in a
real subprocess to prove that no traceback ever reaches the user. Every grading
spawns interpreters (~0.4 s per file), so the expensive results are shared per module
and the quick paths (files refused before running) are used where they suffice.

Golden files (``tests/golden/``) hold ``grade --json --seed 5`` output with volatile
fields removed, and (``tests/golden/cli/``) ``check --seed 3`` output at 80 columns;
regenerate them with ``UPDATE_GOLDEN=1 pytest tests/test_cli.py`` and read the diff.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, NamedTuple

import click
import pytest

from grader import cli
from grader.cli import run
from grader.grading.compare import fmt
from grader.grading.lab import find_lab
from grader.grading.result import fmt_points
from grader.grading.runner import SubprocessRunner

ROOT = Path(__file__).resolve().parent.parent
IMPLEMENTATIONS = ROOT / "tests" / "implementations"
BAD = IMPLEMENTATIONS / "bad_files"
GOLDEN = Path(__file__).resolve().parent / "golden"
GOLDEN_CLI = GOLDEN / "cli"  # terminal output at 80 columns
LABS = ("lab01-mse", "lab02-cross-entropy", "lab03-softmax-ce")
CORRECT = {
    "lab01-mse": "correct_vectorised.py",
    "lab02-cross-entropy": "correct_loops.py",
    "lab03-softmax-ce": "correct_logsumexp.py",
}
GRADESCOPE_TEST_KEYS = {"name", "score", "max_score", "status", "visibility", "output", "tags"}
VOLATILE_TOP = ("execution_time",)
VOLATILE_EXTRA = ("runner", "file")
VOLATILE_TEST = ("elapsed",)


class Outcome(NamedTuple):
    code: int
    out: str
    err: str


def impl(lab: str, name: str) -> Path:
    return IMPLEMENTATIONS / lab / name


def invoke(capsys: pytest.CaptureFixture[str], *args: Any) -> Outcome:
    """Run the CLI in-process; exit code and captured output."""
    code = run([str(a) for a in args])
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def invoke_uncaptured(*args: Any) -> Outcome:
    """Like :func:`invoke`, without ``capsys`` (for module-scoped fixtures)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run([str(a) for a in args])
    return Outcome(code, out.getvalue(), err.getvalue())


def grade_json(lab: str, *paths: Path, seed: int = 5) -> tuple[int, Any]:
    code, out, _ = invoke_uncaptured("grade", *paths, "--lab", lab, "--json", "--seed", seed)
    return code, json.loads(out)


def normalise(doc: dict[str, Any]) -> dict[str, Any]:
    """A ``grade --json`` document without timings, runner and file paths.

    Floats are rounded to 10 significant digits, so a last-bit difference in a large
    sum on another machine does not break the golden files; inf and nan become the
    strings "inf" and "nan" (golden files stay strict JSON, and nan compares equal).
    """

    def clean(value: Any) -> Any:
        if isinstance(value, float):
            return float(f"{value:.10g}") if math.isfinite(value) else str(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    doc = json.loads(json.dumps(doc))
    for key in VOLATILE_TOP:
        doc.pop(key, None)
    for key in VOLATILE_EXTRA:
        doc["extra_data"].pop(key, None)
    for test in doc["extra_data"]["tests"]:
        for key in VOLATILE_TEST:
            test.pop(key, None)
    return clean(doc)


def hidden_leaks(output: str, detail: dict[str, Any]) -> list[str]:
    """Fragments of a hidden fixture's inputs, values or error text found in ``output``."""
    leaks = [text for text in detail["inputs"] or [] if len(text) >= 6 and text in output]
    for key in ("expected", "got"):
        value = detail[key]
        if isinstance(value, (int, float)) and len(fmt(value)) >= 4 and fmt(value) in output:
            leaks.append(f"{key} {fmt(value)}")
    leaks.extend(m.group() for m in re.finditer(r"\b(?:expected|got) (?:-?\d|\[|nan|inf)", output))
    if detail["stage"] == "raised" and ":" in detail["message"]:
        error_text = detail["message"].split(":", 1)[1].rsplit(" (line", 1)[0].strip(" .")
        if len(error_text) >= 6 and error_text in output:
            leaks.append(error_text)
    return leaks


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch):
    """A wide console (no wrapping inside messages) and no debug or lab overrides."""
    monkeypatch.setenv("COLUMNS", "500")
    monkeypatch.delenv("LOSSGRADER_DEBUG", raising=False)
    monkeypatch.delenv("LOSSGRADER_LABS", raising=False)
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def wrong_mean():
    """``grade --json --seed 5`` of lab01's wrong_mean.py: (exit code, document)."""
    return grade_json("lab01-mse", impl("lab01-mse", "wrong_mean.py"))


@pytest.fixture(scope="module")
def textbook_softmax():
    """``grade --json --seed 5`` of lab03's correct_textbook.py: (exit code, document)."""
    return grade_json("lab03-softmax-ce", impl("lab03-softmax-ce", "correct_textbook.py"))


@pytest.fixture(scope="module")
def onehot_only():
    """lab02's wrong_onehot_only.py: hidden fixtures fail by raising (shapes in the error)."""
    return grade_json("lab02-cross-entropy", impl("lab02-cross-entropy", "wrong_onehot_only.py"))


@pytest.fixture(scope="module")
def log10():
    """lab02's wrong_log10.py: one catalogued mistake explains every fixture."""
    return grade_json("lab02-cross-entropy", impl("lab02-cross-entropy", "wrong_log10.py"))


def fits(output: str, width: int) -> bool:
    """Every line of ``output`` within ``width`` columns, but the command that runs the
    randomised fixtures again: it is one line, to be copied whole (the terminal wraps it)."""
    lines = [line for line in output.splitlines() if not line.startswith("  lossgrader check ")]
    return all(len(line.rstrip()) <= width for line in lines)


def matches_golden_text(name: str, output: str) -> None:
    """``output`` (trailing spaces dropped) is the golden text file ``tests/golden/cli/name``."""
    path = GOLDEN_CLI / name
    actual = "".join(line.rstrip() + "\n" for line in output.splitlines())
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with UPDATE_GOLDEN=1")
    assert actual == path.read_text(encoding="utf-8")


def check_80(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, path: Path, lab: str, *extra: Any
) -> Outcome:
    """``check`` at 80 columns with seed 3, the file named relative to the repository."""
    monkeypatch.setattr(cli.out, "width", 80)
    result = invoke(capsys, "check", path.relative_to(ROOT), "--lab", lab, "--seed", 3, *extra)
    assert fits(result.out, 80), result.out
    assert "`" not in result.out  # Markdown code spans shown plainly
    return result


# --- check ---------------------------------------------------------------------------


@pytest.mark.parametrize("lab", LABS)
def test_check_correct_implementation_exits_0_with_full_score(capsys, lab):
    shown = find_lab(lab).fixtures_by("public", "randomised")
    points = fmt_points(sum(f.points for f in shown))
    result = invoke(capsys, "check", impl(lab, CORRECT[lab]), "--lab", lab)
    assert result.code == 0
    assert result.out.splitlines()[1] == f"{points} / {points} points: all {len(shown)} fixtures passed."
    assert "What went wrong" not in result.out and "--seed" not in result.out
    assert "hidden fixtures" in result.out


def test_check_works_on_a_students_copy_without_hidden_fixtures(capsys, tmp_path):
    folder = shutil.copytree(Path(__file__).parent.parent / "labs" / "lab01-mse", tmp_path / "lab01-mse")
    (folder / "fixtures" / "hidden.toml").unlink()
    result = invoke(capsys, "check", impl("lab01-mse", CORRECT["lab01-mse"]), "--lab", folder)
    assert result.code == 0 and "The server will also run hidden fixtures" in result.out
    graded = invoke(capsys, "grade", impl("lab01-mse", CORRECT["lab01-mse"]), "--lab", folder)
    assert graded.code == 2 and "has no hidden fixtures" in graded.err and "Traceback" not in graded.err


def test_check_wrong_implementation_exits_1_naming_failing_fixtures(capsys):
    result = invoke(capsys, "check", impl("lab01-mse", "wrong_mean.py"), "--lab", "lab01-mse")
    assert result.code == 1
    for name in ("small-vector", "two-by-two-batch", "nested-lists", "random-batch"):
        assert name in result.out
    assert "FAILED" in result.out


@pytest.mark.parametrize("width", [80, 160])
def test_check_feedback_reads_whole_at_any_width(capsys, monkeypatch, width):
    # In a table cell of an 80-column terminal the feedback was folded to a dozen
    # characters a line, numbers cut in two: it is now a paragraph under the table.
    monkeypatch.setattr(cli.out, "width", width)
    result = invoke(capsys, "check", impl("lab01-mse", "wrong_mean.py"), "--lab", "lab01-mse")
    assert result.code == 1
    assert fits(result.out, width)
    row = next(line for line in result.out.splitlines() if line.lstrip().startswith("small-vector "))
    assert "FAILED" in row and "wrong value" in row  # the table names the problem
    assert "expected 2, got 1.333333333" in result.out  # a number never split across lines
    text = " ".join(result.out.split())
    assert "Your value matches the mean of the squared differences" in text
    assert "mean_squared_error(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))" in text


def test_check_same_feedback_for_many_fixtures_is_said_once(capsys):
    result = invoke(capsys, "check", BAD / "empty.py", "--lab", "lab01-mse")
    text = " ".join(result.out.split())
    assert text.lower().count("the file is empty.") == 1
    assert "all 8 fixtures · 8 points lost" in text
    assert "FAILED" not in text  # nothing ran: no table of eight identical rows,
    assert "mean_squared_error(" not in text and "--seed" not in text  # no call and no seed to show


def test_check_log10_at_80_columns_says_the_diagnosis_once(capsys, monkeypatch):
    lab = "lab02-cross-entropy"
    result = check_80(capsys, monkeypatch, impl(lab, "wrong_log10.py"), lab)
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[1] == "0 / 9 points: all 9 fixtures failed."  # the verdict first
    text = " ".join(result.out.split())
    assert text.count("log base 10") == 1 and text.count("What went wrong") == 1
    assert text.index("FAILED") < text.index("What went wrong")  # the table, then the causes
    # one call shown, with the values it gave, numbers whole on their line
    assert result.out.count("cross_entropy_error(np.array([0.1, 0.7, 0.2]), np.array([0, 1, 0]))") == 1
    assert "expected 0.3566748011, got 0.1549018979" in result.out
    assert f"lossgrader check {impl(lab, 'wrong_log10.py').relative_to(ROOT)} --lab {lab} --seed 3" in text
    matches_golden_text("check-lab02-wrong_log10.txt", result.out)


def test_check_missing_function_at_80_columns_says_not_defined_once(capsys, monkeypatch):
    result = check_80(capsys, monkeypatch, BAD / "wrong_names.py", "lab01-mse")
    assert result.code == 1
    text = " ".join(result.out.split())
    assert text.count("not defined") == 1 and "all 8 fixtures" in text
    assert "FAILED" not in text and "--seed" not in text  # nothing ran
    matches_golden_text("check-lab01-wrong_names.txt", result.out)


def test_check_syntax_error_at_80_columns_quotes_the_line_and_caret_once(capsys, monkeypatch):
    result = check_80(capsys, monkeypatch, BAD / "syntax_error.py", "lab01-mse")
    assert result.code == 1
    assert result.out.splitlines()[1] == "0 / 8 points: the file could not be loaded."
    lines = result.out.splitlines()
    quoted = [i for i, line in enumerate(lines) if "return 0.5 * np.sum((y - t) ** 2))" in line]
    assert len(quoted) == 1 and " ".join(result.out.split()).lower().count("syntax error on line 4") == 1
    line, caret = lines[quoted[0]], lines[quoted[0] + 1]
    assert caret.count("^") == 1 and caret.index("^") == line.rindex(")")  # under the unmatched ')''
    matches_golden_text("check-bad-syntax_error.txt", result.out)


def test_check_details_states_every_failed_fixture_once(capsys, monkeypatch):
    lab = "lab02-cross-entropy"
    result = check_80(capsys, monkeypatch, impl(lab, "wrong_log10.py"), lab, "--details")
    text = " ".join(result.out.split())
    assert "For example" not in text and text.count("log base 10") == 1
    details = text[text.index("Details") :]
    args = ("check", impl(lab, "wrong_log10.py"), "--lab", lab, "--seed", 3, "--json")
    for test in json.loads(invoke(capsys, *args).out)["tests"]:
        assert details.count(f"{test['function']}({', '.join(test['inputs'])})") == 1, test["name"]
        assert len(re.findall(rf"(?<![\w-]){re.escape(test['name'])}(?![\w-])", details)) == 1, test["name"]


def test_check_names_the_fixture_a_limit_stopped(capsys, tmp_path):
    looping = tmp_path / "loop.py"
    looping.write_text("def mean_squared_error(y, t):\n    while True:\n        pass\n")
    result = invoke(capsys, "check", looping, "--lab", "lab01-mse")
    rows = {line.split()[0]: line for line in result.out.splitlines() if "FAILED" in line}
    assert rows["small-vector"].rstrip().endswith("stopped")  # it ran, and the CPU limit stopped it
    assert rows["two-by-two-batch"].rstrip().endswith("not run")
    text = " ".join(result.out.split())
    assert (
        "time limit" in text and "Stopped while running small-vector: mean_squared_error(" in text
    )  # the call it stopped in


def test_check_refused_file_exits_1_with_the_problem(capsys):
    result = invoke(capsys, "check", BAD / "empty.py", "--lab", "lab01-mse")
    assert result.code == 1
    assert "the file is empty." in result.out.lower()


def test_check_json_lists_tests_but_no_hidden_fixtures(capsys):
    lab = find_lab("lab02-cross-entropy")
    hidden = {f.name for f in lab.fixtures_by("hidden")}
    result = invoke(capsys, "check", impl(lab.id, CORRECT[lab.id]), "--lab", lab.id, "--json")
    doc = json.loads(result.out)
    assert doc["tests"]
    assert {t["visibility"] for t in doc["tests"]} <= {"public", "randomised"}
    assert not hidden & {t["name"] for t in doc["tests"]}
    assert doc["hidden_fixtures_on_server"] == len(hidden) > 0


def test_check_same_seed_gives_identical_json(capsys):
    args = ("check", impl("lab01-mse", "wrong_mean.py"), "--lab", "lab01-mse", "--json")
    first = json.loads(invoke(capsys, *args, "--seed", 11).out)
    second = json.loads(invoke(capsys, *args, "--seed", 11).out)
    assert first["seed"] == second["seed"] == 11
    assert first["score"] == second["score"]
    assert [t["seed"] for t in first["tests"]] == [t["seed"] for t in second["tests"]]
    assert first == second


# --- grade ---------------------------------------------------------------------------


def test_grade_json_is_one_gradescope_object(wrong_mean):
    _, doc = wrong_mean
    assert isinstance(doc, dict)
    assert {"score", "max_score", "execution_time", "output", "tests"} <= doc.keys()
    assert isinstance(doc["output"], str)


def test_grade_json_tests_have_gradescope_fields(wrong_mean):
    _, doc = wrong_mean
    assert len(doc["tests"]) == len(find_lab("lab01-mse").fixtures)
    for test in doc["tests"]:
        assert set(test) == GRADESCOPE_TEST_KEYS
        assert test["status"] in ("passed", "failed")
        assert isinstance(test["tags"], list)


def test_grade_json_extra_data_has_lab_version_and_seed(wrong_mean):
    _, doc = wrong_mean
    assert doc["extra_data"]["lab_version"] == find_lab("lab01-mse").version
    assert doc["extra_data"]["seed"] == 5


def test_grade_json_score_is_the_sum_of_test_scores(wrong_mean):
    _, doc = wrong_mean
    assert doc["score"] == sum(t["score"] for t in doc["tests"])
    assert doc["max_score"] == sum(t["max_score"] for t in doc["tests"])


def test_grade_wrong_file_exits_0_with_a_partial_score(wrong_mean):
    code, doc = wrong_mean
    assert code == 0
    assert doc["score"] < doc["max_score"]


@pytest.mark.parametrize("graded", ["wrong_mean", "textbook_softmax", "onehot_only"])
def test_grade_hidden_output_never_shows_inputs_or_expected(request, graded):
    _, doc = request.getfixturevalue(graded)
    details = doc["extra_data"]["tests"]
    hidden = [(t, d) for t, d in zip(doc["tests"], details, strict=True) if d["visibility"] == "hidden"]
    assert any(d["status"] == "failed" for _, d in hidden)
    for test, detail in hidden:
        assert "hidden" in test["tags"]
        assert hidden_leaks(test["output"], detail) == [], detail["name"]


def test_leak_check_flags_the_instructor_messages(onehot_only):
    _, doc = onehot_only
    failed = [d for d in doc["extra_data"]["tests"] if d["visibility"] == "hidden" and not d["passed"]]
    assert failed
    assert all(hidden_leaks(d["message"], d) for d in failed)


def reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def test_grade_json_is_strict_json_when_a_result_is_not_finite(capsys):
    lab = "lab02-cross-entropy"
    result = invoke(capsys, "grade", impl(lab, "wrong_no_delta.py"), "--lab", lab, "--json")
    assert result.code == 0
    json.loads(result.out, parse_constant=reject_constant)


def test_grade_public_output_does_show_expected_values(wrong_mean):
    _, doc = wrong_mean
    details = doc["extra_data"]["tests"]
    public = [t for t, d in zip(doc["tests"], details, strict=True) if d["name"] == "small-vector"]
    assert "expected 2, got 1.333333333" in public[0]["output"]


def test_grade_with_the_same_seed_is_reproducible(wrong_mean):
    _, first = wrong_mean
    _, again = grade_json("lab01-mse", impl("lab01-mse", "wrong_mean.py"))
    assert normalise(again) == normalise(first)


@pytest.mark.parametrize(
    ("source", "name", "problem"),
    [
        ("empty.py", "empty.py", "the file is empty."),
        ("syntax_error.py", "syntax_error.py", "syntax error on line 4"),
        ("binary.bin", "binary.py", "not a Python source file"),
        ("huge.py", "huge.py", "the limit is 256 KB"),
    ],
)
def test_grade_refused_file_exits_0_with_score_0(capsys, tmp_path, source, name, problem):
    path = tmp_path / name
    shutil.copyfile(BAD / source, path)
    result = invoke(capsys, "grade", path, "--lab", "lab01-mse", "--json")
    doc = json.loads(result.out)
    assert result.code == 0
    assert doc["score"] == 0
    assert problem in doc["extra_data"]["submission_error"]


@pytest.mark.slow
def test_grade_infinite_loop_ends_with_a_time_limit(capsys):
    result = invoke(capsys, "grade", BAD / "infinite_loop.py", "--lab", "lab01-mse", "--json")
    doc = json.loads(result.out)
    assert result.code == 0
    assert doc["score"] == 0
    assert "time limit" in doc["extra_data"]["termination"]
    assert "time limit" in doc["tests"][0]["output"]


def test_grade_several_files_gives_an_array_in_argument_order(capsys):
    files = [BAD / "syntax_error.py", BAD / "empty.py", BAD / "huge.py"]
    result = invoke(capsys, "grade", *files, "--lab", "lab01-mse", "--json")
    docs = json.loads(result.out)
    assert result.code == 0
    assert [d["extra_data"]["file"] for d in docs] == [str(f) for f in files]
    assert "line 4" in docs[0]["extra_data"]["submission_error"]
    assert "empty" in docs[1]["extra_data"]["submission_error"]


def test_grade_folder_expands_to_its_sorted_py_files(capsys, tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copyfile(BAD / "empty.py", folder / "b.py")
    shutil.copyfile(BAD / "syntax_error.py", folder / "a.py")
    (folder / "notes.txt").write_text("not a submission\n")
    first = tmp_path / "z.py"
    shutil.copyfile(BAD / "empty.py", first)
    result = invoke(capsys, "grade", first, folder, "--lab", "lab01-mse", "--json")
    docs = json.loads(result.out)
    assert result.code == 0
    assert [d["extra_data"]["file"] for d in docs] == [
        str(first),
        str(folder / "a.py"),
        str(folder / "b.py"),
    ]


def test_grade_several_files_tables_each_with_its_costliest_cause(capsys, monkeypatch):
    monkeypatch.setattr(cli.out, "width", 250)  # a row a line
    result = invoke(capsys, "grade", BAD / "syntax_error.py", BAD / "empty.py", "--lab", "lab01-mse")
    text = " ".join(result.out.replace("│", " ").split())
    assert result.code == 0
    assert "the file could not be loaded. syntax error on line 4" in text.lower()
    assert "the file could not be loaded. the file is empty." in text.lower()


def test_grade_empty_folder_is_an_error(capsys, tmp_path):
    result = invoke(capsys, "grade", tmp_path, "--lab", "lab01-mse")
    assert result.code == 2
    assert result.err.startswith("error: no .py files")


# --- golden files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("graded", "golden"),
    [
        ("wrong_mean", "lab01-wrong_mean.json"),
        ("textbook_softmax", "lab03-correct_textbook.json"),
        ("log10", "lab02-wrong_log10.json"),
    ],
)
def test_grade_json_matches_golden_file(request, graded, golden):
    _, doc = request.getfixturevalue(graded)
    path = GOLDEN / golden
    actual = normalise(doc)
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        text = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with UPDATE_GOLDEN=1")
    assert actual == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("graded", ["wrong_mean", "onehot_only", "log10"])
def test_results_json_output_says_every_cause_once(request, graded):
    _, doc = request.getfixturevalue(graded)
    causes = doc["extra_data"]["causes"]
    assert causes and all(
        set(c) == {"key", "kind", "message", "fixtures", "points_lost", "mistake", "code"} for c in causes
    )
    assert [c["points_lost"] for c in causes] == sorted((c["points_lost"] for c in causes), reverse=True)
    failed = [t["name"] for t in doc["extra_data"]["tests"] if not t["passed"]]
    assert sorted(name for c in causes for name in c["fixtures"]) == sorted(failed)  # each failure, one cause
    assert sum(c["points_lost"] for c in causes) == pytest.approx(doc["max_score"] - doc["score"])
    for cause in causes:
        assert doc["output"].count(cause["message"]) == 1, cause["key"]


@pytest.mark.parametrize("graded", ["wrong_mean", "onehot_only", "log10"])
def test_results_json_per_test_output_is_self_contained_and_short(request, graded):
    _, doc = request.getfixturevalue(graded)
    names = [t["name"] for t in doc["extra_data"]["tests"]]
    for test, name in zip(doc["tests"], names, strict=True):
        output = test["output"]
        assert output and len(output) <= 800, name
        assert (output == "passed") == (test["status"] == "passed")
        others = [n for n in names if n != name and re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", output)]
        assert others == [], name  # says what went wrong here, not "see fixture x"


def test_normalise_removes_volatile_fields(wrong_mean):
    _, doc = wrong_mean
    clean = normalise(doc)
    assert "execution_time" not in clean
    assert not {"runner", "file"} & clean["extra_data"].keys()
    assert all("elapsed" not in t for t in clean["extra_data"]["tests"])


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "grade"])
def test_unknown_lab_exits_2_listing_available_labs(capsys, command):
    result = invoke(capsys, command, impl("lab01-mse", "correct_loops.py"), "--lab", "lab99")
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("error: unknown lab 'lab99'")
    assert all(lab in result.err for lab in LABS)


def test_unknown_lab_error_is_one_line(capsys):
    result = invoke(capsys, "grade", BAD / "empty.py", "--lab", "lab99")
    assert len(result.err.splitlines()) == 1


def test_unknown_lab_error_is_one_line_on_an_80_column_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = invoke(capsys, "grade", BAD / "empty.py", "--lab", "lab99")
    assert len(result.err.splitlines()) == 1


@pytest.mark.parametrize("command", ["check", "grade"])
def test_nonexistent_path_exits_2_with_one_line(capsys, command):
    result = invoke(capsys, command, "no/such/file.py", "--lab", "lab01-mse")
    assert result.code == 2
    assert result.err.startswith("error:")
    assert "no/such/file.py" in result.err
    assert len(result.err.splitlines()) == 1


def test_unreadable_file_exits_2(capsys, tmp_path):
    path = tmp_path / "locked.py"
    shutil.copyfile(impl("lab01-mse", "correct_loops.py"), path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # root reads anything: use a file whose read fails instead
            path = Path("/proc/self/mem")
        result = invoke(capsys, "grade", path, "--lab", "lab01-mse")
    finally:
        (tmp_path / "locked.py").chmod(0o600)
    assert result.code == 2
    assert result.err.startswith(f"error: cannot read {path}")
    assert len(result.err.splitlines()) == 1


@pytest.mark.parametrize("command", ["check", "grade"])
def test_missing_lab_option_exits_2(capsys, command):
    result = invoke(capsys, command, impl("lab01-mse", "correct_loops.py"))
    assert result.code == 2
    assert result.err.startswith("error: Missing option '--lab'")
    assert len(result.err.splitlines()) == 1


def test_grade_without_paths_exits_2(capsys):
    result = invoke(capsys, "grade", "--lab", "lab01-mse")
    assert result.code == 2
    assert "Missing argument" in result.err


def test_unexpected_error_becomes_one_line(capsys, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("grader.grading.engine.grade", explode)  # cli imports it when check runs
    result = invoke(capsys, "check", impl("lab01-mse", "correct_loops.py"), "--lab", "lab01-mse")
    assert result.code == 2
    assert result.err.startswith("internal error: RuntimeError: boom")
    assert "Traceback" not in result.err
    assert len(result.err.splitlines()) == 1


# --- labs and lab --------------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 160])
def test_labs_lists_the_three_lab_ids(capsys, monkeypatch, width):
    monkeypatch.setattr(cli.out, "width", width)  # at 80 columns the ids were cut to "lab02-cro…"
    result = invoke(capsys, "labs")
    assert result.code == 0
    for lab in LABS:
        assert lab in result.out
    assert all(len(line.rstrip()) <= width for line in result.out.splitlines())


def test_lab_validate_shipped_lab_exits_0(capsys):
    result = invoke(capsys, "lab", "validate", "labs/lab01-mse")
    assert result.code == 0
    assert result.out.startswith("ok lab01-mse:")


@pytest.mark.parametrize(
    ("file", "old", "new", "where", "field"),
    [
        ("lab.toml", 'returns = "scalar"', 'returns = "matrix"', "functions[0]", "'returns'"),
        ("fixtures/public.toml", "expected = 2.0", 'expected = "two"', "fixture[0]", "'expected'"),
    ],
)
def test_lab_validate_broken_copy_names_file_and_field(capsys, tmp_path, file, old, new, where, field):
    lab = tmp_path / "lab01-mse"
    shutil.copytree(ROOT / "labs" / "lab01-mse", lab)
    text = (lab / file).read_text(encoding="utf-8")
    assert old in text
    (lab / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    result = invoke(capsys, "lab", "validate", lab)
    assert result.code == 1
    assert result.err.startswith(f"error: {lab / file}")
    assert where in result.err
    assert field in result.err


def test_lab_validate_wrong_expected_value_names_the_fixture(capsys, tmp_path):
    lab = tmp_path / "lab01-mse"
    shutil.copytree(ROOT / "labs" / "lab01-mse", lab)
    public = lab / "fixtures" / "public.toml"
    public.write_text(public.read_text(encoding="utf-8").replace("expected = 2.0", "expected = 3.0", 1))
    result = invoke(capsys, "lab", "validate", lab)
    assert result.code == 1
    assert "public.toml: fixture[0] (small-vector)" in result.err
    assert "the reference fails this fixture" in result.err


def test_lab_handout_prints_the_handout(capsys):
    handout = (ROOT / "labs" / "lab02-cross-entropy" / "handout.md").read_text(encoding="utf-8")
    result = invoke(capsys, "lab", "handout", "lab02-cross-entropy")
    assert result.code == 0
    assert result.out.startswith("# Lab02: Cross-entropy error")
    assert result.out.rstrip("\n") == handout.rstrip("\n")


def test_lab_handout_is_printed_verbatim_on_an_80_column_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    handout = (ROOT / "labs" / "lab02-cross-entropy" / "handout.md").read_text(encoding="utf-8")
    result = invoke(capsys, "lab", "handout", "lab02-cross-entropy")
    assert result.out.rstrip("\n") == handout.rstrip("\n")


def test_lab_handout_of_unknown_lab_exits_2(capsys):
    result = invoke(capsys, "lab", "handout", "lab99")
    assert result.code == 2
    assert result.err.startswith("error: unknown lab 'lab99'")


# --- the real console script ---------------------------------------------------------


def lossgrader(*args: Any, **env_extra: str) -> subprocess.CompletedProcess[str]:
    """Run the installed ``lossgrader`` script (or ``python -m grader``) in a subprocess."""
    script = shutil.which("lossgrader", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "grader"]
    env = {k: v for k, v in os.environ.items() if k not in ("LOSSGRADER_DEBUG", "LOSSGRADER_LABS")}
    env["COLUMNS"] = "500"
    env.update(env_extra)
    return subprocess.run(
        [*command, *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def test_script_check_correct_file_exits_0():
    proc = lossgrader("check", impl("lab01-mse", "correct_textbook.py"), "--lab", "lab01-mse")
    assert proc.returncode == 0
    assert "hidden fixtures" in proc.stdout
    assert proc.stderr == ""


def test_script_check_ends_without_teardown_yet_writes_everything(capsys):
    # check ends with os._exit once its output is flushed: through a pipe its report
    # arrives whole (the golden text at 80 columns; JSON that parses to what the
    # in-process run prints), with its exit status.
    path = (ROOT / impl("lab02-cross-entropy", "wrong_log10.py")).relative_to(ROOT)
    args = ("check", path, "--lab", "lab02-cross-entropy", "--seed", 3)
    proc = lossgrader(*args, COLUMNS="80")
    assert (proc.returncode, proc.stderr) == (1, "")
    matches_golden_text("check-lab02-wrong_log10.txt", proc.stdout)
    proc = lossgrader(*args, "--json")
    assert (proc.returncode, proc.stderr) == (1, "")
    assert json.loads(proc.stdout) == json.loads(invoke(capsys, *args, "--json").out)


def test_script_check_at_80_columns_fits_and_says_the_diagnosis_once():
    lab = "lab02-cross-entropy"
    proc = lossgrader("check", impl(lab, "wrong_log10.py"), "--lab", lab, "--seed", 3, COLUMNS="80")
    assert proc.returncode == 1 and proc.stderr == ""
    assert fits(proc.stdout, 80)
    assert " ".join(proc.stdout.split()).count("log base 10") == 1 and "`" not in proc.stdout


def test_script_output_survives_a_terminal_without_unicode():
    # Windows' redirected output is cp1252 and some terminals are ASCII: the feedback
    # (with ·, Σ, −) must still arrive, unencodable characters as "?".
    proc = lossgrader("check", impl("lab01-mse", "correct_textbook.py"), "--lab", "lab01-mse", PYTHONIOENCODING="ascii")
    assert proc.returncode == 0, proc.stderr
    assert "all 8 fixtures passed" in proc.stdout and "?" in proc.stdout
    assert proc.stderr == ""


def test_script_grade_binary_file_gives_json_and_no_traceback(tmp_path):
    path = tmp_path / "binary.py"
    shutil.copyfile(BAD / "binary.bin", path)
    proc = lossgrader("grade", path, "--lab", "lab02-cross-entropy", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["score"] == 0
    assert "Traceback" not in proc.stderr


def test_script_nonexistent_path_is_one_error_line():
    proc = lossgrader("grade", "no/such/file.py", "--lab", "lab01-mse")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: no such file or folder")
    assert len(proc.stderr.splitlines()) == 1


def test_script_unknown_lab_exits_2_without_traceback():
    proc = lossgrader("check", BAD / "empty.py", "--lab", "lab99")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown lab")
    assert "Traceback" not in proc.stderr


def test_script_missing_option_exits_2_without_traceback():
    proc = lossgrader("grade", BAD / "empty.py")
    assert proc.returncode == 2
    assert "Missing option '--lab'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_module_entry_point_lists_labs():
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "labs"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "500"},
        timeout=60,
    )
    assert proc.returncode == 0
    assert all(lab in proc.stdout for lab in LABS)


# --- commands loaded when they run ------------------------------------------------------

COMMAND_MODULES = sorted(
    f"grader.commands.{p.stem}" for p in (ROOT / "grader" / "commands").glob("*.py") if p.stem != "__init__"
)


def lazy_tables() -> list[tuple[click.Group, dict[str, cli.LazyCommand]]]:
    return [(cli.main, cli.LAZY_COMMANDS), (cli.lab, cli.LAZY_LAB_COMMANDS)]


def test_every_command_module_is_in_the_table():
    listed = {entry.module for _, table in lazy_tables() for entry in table.values()}
    assert set(COMMAND_MODULES) <= listed, "a command module is missing from LAZY_COMMANDS in grader/cli.py"


def test_a_table_entry_whose_module_is_not_there_is_neither_listed_nor_run(capsys, monkeypatch):
    monkeypatch.setitem(cli.LAZY_COMMANDS, "ghost", cli.LazyCommand("grader.commands.no_such_module", "Haunt."))
    assert "ghost" not in cli.main.list_commands(click.Context(cli.main))
    with monkeypatch.context() as fresh:  # as in a new process: grader.commands not imported yet
        fresh.delitem(sys.modules, "grader.commands", raising=False)
        assert "ghost" not in cli.main.list_commands(click.Context(cli.main))
        assert "db" in cli.main.list_commands(click.Context(cli.main))
    result = invoke(capsys, "ghost")
    assert result.code == 2
    assert "No such command 'ghost'" in result.err


@pytest.mark.parametrize("module_name", COMMAND_MODULES)
def test_the_table_lists_every_command_of_a_module_with_its_own_help(module_name):
    module = importlib.import_module(module_name)
    for group, table in lazy_tables():
        for name, entry in table.items():
            if entry.module != module_name:
                continue
            command = group.get_command(click.Context(group), name)
            assert command is not None, f"{module_name} has no command {name!r}"
            stand_in = click.Command(name, help=entry.help)
            for limit in (20, 45, 60, 80, 1000):
                assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (
                    f"the help of {name!r} in grader/cli.py's table is not its docstring's"
                )
    # and nothing the module adds is missing from the tables (cli's own ``lab`` group aside)
    for command in module.commands:
        assert command is cli.lab or command.name in cli.LAZY_COMMANDS, f"{command.name} is not in LAZY_COMMANDS"


def test_help_lists_lazy_commands_as_their_modules_would(capsys):
    lazy = invoke(capsys, "--help").out
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name)
    present = [name for name, entry in cli.LAZY_COMMANDS.items() if entry.module in COMMAND_MODULES]
    for name in present:
        cli.main.get_command(click.Context(cli.main), name)  # every command object now loaded
    assert set(present) <= set(cli.main.commands)
    loaded = invoke(capsys, "--help").out
    assert lazy == loaded
    assert all(f"  {name} " in lazy for name in present)


def test_lab_help_lists_set_before_its_module_is_loaded(capsys, monkeypatch):
    monkeypatch.delitem(cli.lab.commands, "set", raising=False)  # as in a fresh process
    result = invoke(capsys, "lab", "--help")
    assert result.code == 0
    assert "set       Change a lab's due date and policies" in result.out


def lazy_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, needs: tuple[str, ...] = ()) -> click.Group:
    """A LazyGroup with one lazy command ``x`` in a module made of ``body``."""
    (tmp_path / "lazy_command_module.py").write_text(body, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_command_module", raising=False)
    entry = cli.LazyCommand("lazy_command_module", "Do x.", needs)
    return cli.LazyGroup("g", lazy={"x": entry})


def test_a_lazy_command_runs_from_its_module(tmp_path, monkeypatch, capsys):
    body = "import click\n\n@click.command('x')\ndef x():\n    'Do x.'\n    click.echo('ran x')\n\ncommands = [x]\n"
    group = lazy_group(tmp_path, monkeypatch, body)
    assert "lazy_command_module" not in sys.modules
    assert "x  Do x." in group.get_help(click.Context(group))
    assert "lazy_command_module" not in sys.modules  # listed, not imported
    group.main(["x"], standalone_mode=False)
    assert capsys.readouterr().out == "ran x\n"


def test_a_command_whose_server_package_is_missing_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # import sqlalchemy now fails as if not installed
    group = lazy_group(tmp_path, monkeypatch, "import sqlalchemy\n")
    with pytest.raises(cli.UserError, match=r"^'x' needs the server extra \(pip install 'lossgrader\[server\]'\)"):
        group.main(["x"], standalone_mode=False)


def test_a_command_whose_packages_are_not_installed_is_not_listed_and_refused_in_one_line(tmp_path, monkeypatch):
    group = lazy_group(tmp_path, monkeypatch, "", needs=("no_such_package_for_lossgrader",))
    assert group.list_commands(click.Context(group)) == []
    assert "Commands:" not in group.get_help(click.Context(group))
    with pytest.raises(cli.UserError, match=r"needs the server extra .*: no_such_package_for_lossgrader is not"):
        group.main(["x"], standalone_mode=False)
    assert "lazy_command_module" not in sys.modules


def test_check_runs_in_the_child_started_before_the_engine_loaded(capsys, monkeypatch):
    started = []
    prestarted = SubprocessRunner.prestarted.__func__

    def spy(cls, limits, **options):
        runner = prestarted(cls, limits, **options)
        started.append((runner, runner._spare, limits, options))
        return runner

    monkeypatch.setattr(SubprocessRunner, "prestarted", classmethod(spy))
    result = invoke(capsys, "check", impl("lab01-mse", "correct_vectorised.py"), "--lab", "lab01-mse", "--seed", 3)
    assert result.code == 0
    [(runner, child, limits, options)] = started
    assert limits == find_lab("lab01-mse").limits
    assert options == {"fork": True}  # forked where that is safe: see tests/grading/test_prestarted_runner.py
    assert runner._spare is None and child.proc.returncode == 0  # used for the run, which ended normally
