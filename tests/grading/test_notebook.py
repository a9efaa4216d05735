"""Jupyter notebooks as submissions: code cells become the program, magics and shell
escapes are dropped and noted, messages name the cell (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader.grading.engine import grade
from grader.grading.lab import find_lab, with_limits
from grader.grading.notebook import MAX_NOTEBOOK_BYTES, looks_like_notebook, read_notebook
from grader.grading.program import prepare
from grader.grading.source import MAX_SOURCE_BYTES
from tests.sandbox.conftest import portable_or_sandbox

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
# The Japanese course notebook (seed 001): indentation restored, np.asarray added (lists work).
TEXTBOOK = NOTEBOOKS / "textbook.ipynb"
LAB = "lab01-mse"
MSE_CELL = (
    "def mean_squared_error(y, t):\n"
    "    y, t = np.asarray(y, dtype=float), np.asarray(t, dtype=float)\n"
    "    return 0.5 * np.sum((y - t) ** 2)"
)


def notebook(*cells: str | tuple[str, str], outputs: list | None = None) -> str:
    """A notebook of code cells (``("markdown", text)`` for a Markdown cell), as saved by Jupyter."""
    made = []
    for cell in cells:
        if isinstance(cell, tuple):
            made.append(new_markdown_cell(cell[1]))
        else:
            made.append(new_code_cell(cell, outputs=outputs or []))
    return nbformat.writes(
        new_notebook(cells=made, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    )


@pytest.fixture(scope="module", params=["portable", "sandbox"])
def runner(request: pytest.FixtureRequest) -> Iterator:
    """Each runner: the sandbox where it runs (it must in CI), else the test is skipped."""
    yield from portable_or_sandbox(request.param, uid_offset=480)


# --- a notebook in the textbook's style ------------------------------------------------


def test_the_textbook_notebook_gets_every_point_with_its_leftover_cell_noted(runner) -> None:
    result = grade(TEXTBOOK.read_bytes(), LAB, 1, runner=runner)
    assert result.submission_error is None
    assert result.score == result.max_score > 0
    where = [w["where"] for w in result.load_warnings]
    assert where[0] == "cell 13, line 5"  # from dataset.mnist import load_mnist
    assert result.load_warnings[0]["message"].endswith(
        "only NumPy and the Python standard library are available to your code; `dataset` is not."
    )
    assert "cell 13, line 7" in where  # load_mnist(...): not defined, because line 5 was skipped
    # It says where the name would have come from, once: line 5's own warning says why.
    assert result.load_warnings[1]["message"] == (
        "cell 13, line 7 (`(x_train, t_train), (x_test, t_test) = load_mnist(normalize…`) was skipped when "
        "your file loaded: it uses `load_mnist`, which cell 13, line 5 would have defined."
    )
    assert result.load_warnings[0]["code"] == "from dataset.mnist import load_mnist"  # without the comment after it


def test_stored_outputs_are_ignored() -> None:
    text = notebook("import numpy as np", MSE_CELL, outputs=[new_output("stream", text="raise SystemExit\n" * 100)])
    program = prepare(text)
    assert program.check.problem is None and "SystemExit" not in program.check.text


def test_cells_run_in_order_and_markdown_counts_as_a_cell() -> None:
    book = read_notebook(notebook(("markdown", "# MSE"), "import numpy as np", ("markdown", "text"), MSE_CELL))
    assert book.code.startswith("import numpy as np\ndef mean_squared_error")
    assert book.where(1) == "cell 2, line 1" and book.where(2) == "cell 4, line 1" and book.where(4) == "cell 4, line 3"


def test_an_error_in_a_function_names_the_cell_and_the_line(runner) -> None:
    text = notebook(
        "import numpy as np", ("markdown", "## MSE"), "def mean_squared_error(y, t):\n    x = 1\n    return y.nope"
    )
    result = grade(text, LAB, 1, runner=runner)
    public = [t for t in result.tests if t.visibility == "public"]
    assert public and all("(cell 3, line 3)" in t.feedback() for t in public)
    assert all("cell 3" not in t.feedback() for t in result.tests if t.visibility == "hidden")


# --- magics and shell escapes ----------------------------------------------------------


MAGICS = notebook(
    "%matplotlib inline\n!pip install torch\nimport numpy as np",
    "%%bash\necho hello\nrm -rf /",
    "%%time\n" + MSE_CELL,
    "files = !ls\nif True:\n    %time x = 1\n    !echo indented",
    "s = ('%d'\n     % 3)",  # a line starting with % inside brackets is Python, not a magic
)


def test_magics_and_shell_escapes_are_dropped_and_noted() -> None:
    program = prepare(MAGICS)
    assert program.check.problem is None, program.check.problem
    assert program.notes == [
        "cell 1, line 1: `%matplotlib inline` was dropped (an IPython magic).",
        "cell 1, line 2: `!pip install torch` was dropped (a shell command).",
        "cell 2: the whole cell was dropped: `%%bash` is an IPython cell magic.",
        "cell 3: the cell magic `%%time` was dropped; the cell's code runs without it.",
        "cell 4, line 1: `files = !ls` was dropped (a shell command).",
        "cell 4, line 3: `%time x = 1` was dropped (an IPython magic).",
        "cell 4, line 4: `!echo indented` was dropped (a shell command).",
    ]
    assert "rm -rf" not in program.check.text and "% 3)" in program.check.text


def test_a_notebook_with_magics_is_graded_and_its_notes_reach_the_student(runner) -> None:
    result = grade(MAGICS, LAB, 1, runner=runner)
    assert result.score == result.max_score and result.load_warnings == []
    assert result.student_view()["notes"] == result.notes and len(result.notes) == 7
    assert "cell 2: the whole cell was dropped" in result.to_gradescope()["output"]


# --- a function cell after a failing cell ------------------------------------------------


FAILING_FIRST = notebook(
    "import numpy as np\nimport matplotlib.pyplot as plt",
    "x = np.arange(5)\nplt.plot(x, x ** 2)\nplt.show()",
    "print(1 / 0)",
    MSE_CELL,
    "mean_squared_error(np.array([1.0]), np.array([1.0, 2.0, 3.0]).reshape(3, 1, 1) @ np.ones((2, 2)))",
)


def test_a_function_cell_after_failing_cells_is_graded(runner) -> None:
    result = grade(FAILING_FIRST, LAB, 1, runner=runner)
    assert result.score == result.max_score
    assert [w["where"] for w in result.load_warnings] == [
        "cell 1, line 2",
        "cell 2, line 2",
        "cell 2, line 3",
        "cell 3, line 1",
        "cell 5, line 1",
    ]
    assert result.load_warnings[1]["message"].endswith(": it uses `plt`, which cell 1, line 2 would have defined.")


def test_a_strict_lab_stops_at_the_first_failing_cell(runner) -> None:
    strict = with_limits(find_lab(LAB), forgiving_load=False)
    result = grade(FAILING_FIRST, strict, 1, runner=runner)
    assert result.score == 0
    assert result.submission_error == (
        "your file raised ModuleNotFoundError: No module named 'matplotlib' (cell 1, line 2) when loaded. "
        "Only NumPy and the Python standard library are available to your code; `matplotlib` is not."
    )


# --- malformed notebooks -----------------------------------------------------------------


GOOD = json.loads(notebook("import numpy as np", MSE_CELL))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (json.dumps(GOOD)[:-40], "the notebook is not valid JSON (line 1, column"),
        ('{"cells": [}', "the notebook is not valid JSON"),
        ('{"cells": []}', 'the file is JSON but not a Jupyter notebook (it has no "nbformat" field).'),
        (json.dumps({**GOOD, "nbformat": 99}), "the notebook's format (nbformat 99) is not supported"),
        (json.dumps({**GOOD, "cells": [1, 2]}), "the notebook cannot be read"),
        (json.dumps({**GOOD, "cells": [{"cell_type": "code", "source": 5}]}), "the notebook cannot be read"),
        (json.dumps({**GOOD, "cells": []}), "the notebook has no code: its code cells are empty."),
        (b'{"nbformat": 4, "cells": "\xff"}', "the notebook is not UTF-8 text"),
        (notebook("import numpy as np", "def f(:\n    pass"), "syntax error in cell 2, line 1: invalid syntax."),
    ],
)
def test_a_malformed_notebook_gets_one_clear_sentence(data: str | bytes, problem: str) -> None:
    program = prepare(data)
    assert program.check.text is None
    assert program.check.problem.startswith(problem), program.check.problem
    assert "\n" not in program.check.problem and "Traceback" not in program.check.problem


def test_a_malformed_notebook_scores_zero_without_running() -> None:
    class Refuses:
        def run(self, *args: object) -> None:
            raise AssertionError("a malformed notebook must not run")

    result = grade('{"nbformat": 4, "cells": [', LAB, 1, runner=Refuses())
    assert result.score == 0 and result.submission_error.startswith("the notebook is not valid JSON")
    assert all(t.stage == "not_run" for t in result.tests)


# --- sizes ------------------------------------------------------------------------------


def test_a_notebook_with_huge_stored_outputs_is_graded_on_its_code() -> None:
    picture = new_output("display_data", data={"image/png": "iVBORw0KGgo" * 50_000})  # 0.55 MB of PNG text, 4 of them
    text = notebook("import numpy as np", MSE_CELL, outputs=[picture, picture])
    assert MAX_SOURCE_BYTES < len(text.encode()) < MAX_NOTEBOOK_BYTES
    result = grade(text, LAB, 1)
    assert result.score == result.max_score


def test_a_notebook_over_its_limit_is_refused_with_the_limit() -> None:
    picture = new_output("display_data", data={"image/png": "A" * (MAX_NOTEBOOK_BYTES // 2)})
    program = prepare(notebook("import numpy as np", MSE_CELL, outputs=[picture]))
    assert program.check.problem.endswith(f"the limit is {MAX_NOTEBOOK_BYTES // 1024} KB.")
    assert program.check.problem.startswith("the notebook is ")


def test_the_code_of_a_notebook_has_the_limit_of_a_py_file() -> None:
    program = prepare(notebook("x = 1\n" * (MAX_SOURCE_BYTES // 6 + 10), MSE_CELL))
    assert program.check.problem.endswith(f"the limit is {MAX_SOURCE_BYTES // 1024} KB.")


# --- telling notebooks from .py files -------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (notebook("x = 1"), True),
        ("\ufeff  " + notebook("x = 1"), True),
        ('{"nbformat": 4, "cells": [', True),  # a broken notebook is still told it is one
        ("import numpy as np\n", False),
        ('{"a": 1}\ndef f(): pass\n', False),
        ("x = {'cells': 1}\n", False),
    ],
)
def test_notebooks_are_told_by_their_content(data: str, expected: bool) -> None:
    assert looks_like_notebook(data) is expected


def test_a_py_file_never_imports_nbformat() -> None:
    code = (
        "import sys\nfrom grader.grading.engine import grade\n"
        "grade('def mean_squared_error(y, t):\\n    return 0.0\\n', 'lab01-mse', 1)\n"
        "assert 'nbformat' not in sys.modules, 'nbformat was imported'\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# --- the command line -------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    from grader.cli import run

    code = run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_takes_a_notebook_and_prints_its_notes_once(capsys) -> None:
    code, out, _ = _cli(capsys, "check", TEXTBOOK, "--lab", LAB, "--seed", 1)
    assert code == 0, out
    assert out.count("About your file") == 1
    assert "cell 13, line 5 (from dataset.mnist import load_mnist" in " ".join(out.split())


def test_check_of_a_malformed_notebook_says_one_sentence(capsys, tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"nbformat": 4, "cells": [', encoding="utf-8")
    code, out, err = _cli(capsys, "check", broken, "--lab", LAB, "--seed", 1)
    assert code == 1 and "Traceback" not in out + err
    said = " ".join(out.split())
    assert "otebook is not valid JSON (line 1, column 27); save it again from Jupyter or Colab." in said


def test_grade_finds_notebooks_in_folders(capsys, tmp_path: Path) -> None:
    from grader.cli import expand_paths

    (tmp_path / "alice.ipynb").write_text(TEXTBOOK.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "bob.py").write_text("def mean_squared_error(y, t):\n    return 0.0\n", encoding="utf-8")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "alice-checkpoint.ipynb").write_text(
        TEXTBOOK.read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "notes.txt").write_text("not a submission", encoding="utf-8")
    assert [p.name for p in expand_paths([str(tmp_path)])] == ["alice.ipynb", "bob.py"]


def test_a_notebook_without_cell_ids_is_read_without_a_warning(capsys) -> None:
    # Format 4.5 wants cell ids; a hand-made notebook lacks them. nbformat warns on stderr,
    # which a student running check would read as the grader's complaint.
    document = json.loads(notebook("import numpy as np", MSE_CELL))
    document["nbformat_minor"] = 5
    for cell in document["cells"]:
        cell.pop("id", None)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        book = read_notebook(json.dumps(document))
    assert book.problem is None and "def mean_squared_error" in (book.code or "")
