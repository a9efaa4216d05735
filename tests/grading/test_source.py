"""``check_source``: unusable files are refused with one clear sentence, good ones parse.

The bad files are the ones in ``tests/implementations/bad_files/`` (see its README);
nothing here runs student code: ``check_source`` only decodes and parses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.grading.source import MAX_SOURCE_BYTES, check_source

IMPLEMENTATIONS = Path(__file__).resolve().parent.parent / "implementations"
BAD_FILES = IMPLEMENTATIONS / "bad_files"
BOM = b"\xef\xbb\xbf"
CORRECT_MSE = b"import numpy as np\n\ndef mean_squared_error(y, t):\n    return 0.5 * np.sum((y - t) ** 2)\n"

REFUSED = ["empty.py", "binary.bin", "nul_bytes.py", "latin1.py", "huge.py", "syntax_error.py"]
ACCEPTED = [
    "bad_files/wrong_names.py",
    "bad_files/import_error.py",
    "bad_files/infinite_loop.py",
    "bad_files/exits_at_import.py",
    "lab01-mse/correct_vectorised.py",
    "lab02-cross-entropy/correct_loops.py",
    "lab03-softmax-ce/correct_logsumexp.py",
]


def problem_of(name: str) -> str:
    result = check_source((BAD_FILES / name).read_bytes())
    assert result.problem is not None, f"{name} was accepted"
    return result.problem


@pytest.mark.parametrize("name", REFUSED)
def test_refused_file_has_no_text_and_no_names(name):
    result = check_source((BAD_FILES / name).read_bytes())
    assert result.text is None
    assert result.defined == []
    assert result.problem


@pytest.mark.parametrize("name", REFUSED)
def test_refusal_is_one_line(name):
    problem = problem_of(name)
    assert "\n" not in problem
    assert problem.endswith(".")


def test_empty_file_is_refused_as_empty():
    assert problem_of("empty.py") == "the file is empty."


def test_whitespace_only_file_is_refused_as_empty():
    assert check_source(b"  \n\t\n\n").problem == "the file is empty."


def test_binary_file_is_refused_as_not_python_source():
    problem = problem_of("binary.bin")
    assert "not a Python source file" in problem or "not UTF-8" in problem


def test_nul_bytes_are_refused():
    assert "NUL bytes" in problem_of("nul_bytes.py")


def test_latin1_file_is_refused_naming_the_byte_and_line():
    problem = problem_of("latin1.py")
    assert "not UTF-8" in problem
    assert "0xfb" in problem
    assert "line 1" in problem


def test_not_utf8_reports_the_line_of_the_bad_byte():
    problem = check_source(b"x = 1\ny = 2\n# caf\xe9\n").problem
    assert problem is not None
    assert "0xe9 on line 3" in problem


def test_not_utf8_after_a_bom_reports_the_right_byte_and_line():
    problem = check_source(BOM + b"x = 1\ny = 2\n# caf\xe9\n").problem
    assert problem is not None
    assert "0xe9 on line 3" in problem


def stated_sizes(problem: str) -> tuple[float, float]:
    """The file size and the limit, in KB, from a size problem."""
    match = re.fullmatch(r"the file is ([\d.]+) KB\b.*; the limit is ([\d.]+) KB\.", problem)
    assert match, problem
    return float(match[1]), float(match[2])


def test_huge_file_is_refused_with_its_size_and_the_limit():
    size, limit = stated_sizes(problem_of("huge.py"))
    assert size == pytest.approx((BAD_FILES / "huge.py").stat().st_size / 1024, abs=1)
    assert limit == MAX_SOURCE_BYTES / 1024


def test_size_limit_can_be_lowered():
    size, limit = stated_sizes(check_source(b"x = 1\n" * 1024, max_bytes=2048).problem)
    assert (size, limit) == (6, 2)


def test_file_exactly_at_the_limit_is_accepted():
    data = b"#" * (MAX_SOURCE_BYTES - 1) + b"\n"
    assert check_source(data).problem is None


def test_file_just_over_the_limit_reports_a_size_above_the_limit():
    size, limit = stated_sizes(check_source(b"#" * (MAX_SOURCE_BYTES + 100)).problem)
    assert size > limit


def test_syntax_error_names_line_4():
    problem = problem_of("syntax_error.py")
    assert problem.startswith("syntax error on line 4:")
    assert "unmatched ')'" in problem


def test_syntax_error_on_the_first_line():
    assert check_source(b"def f(:\n    pass\n").problem.startswith("syntax error on line 1:")


@pytest.mark.parametrize("relative", ACCEPTED)
def test_valid_file_gives_its_text(relative):
    data = (IMPLEMENTATIONS / relative).read_bytes()
    result = check_source(data)
    assert result.problem is None
    assert result.text == data.decode("utf-8")


def test_wrong_names_defines_mse_and_cee():
    defined = check_source((BAD_FILES / "wrong_names.py").read_bytes()).defined
    assert "mse" in defined
    assert "cee" in defined
    assert "mean_squared_error" not in defined


def test_correct_file_defines_the_required_function():
    data = (IMPLEMENTATIONS / "lab01-mse" / "correct_vectorised.py").read_bytes()
    assert "mean_squared_error" in check_source(data).defined


def test_defined_names_cover_imports_assignments_functions_and_classes():
    source = b"import numpy as np\nimport os.path\nfrom math import log as ln\nX = Y = 1\n"
    source += b"def f():\n    inner = 2\nclass C:\n    pass\ndef f():\n    pass\n"
    assert check_source(source).defined == ["np", "os", "ln", "X", "Y", "f", "C"]


def test_bom_is_accepted_and_stripped():
    result = check_source(BOM + CORRECT_MSE)
    assert result.problem is None
    assert result.text == CORRECT_MSE.decode("utf-8")
    assert result.defined == ["np", "mean_squared_error"]


def test_non_ascii_utf8_is_accepted():
    result = check_source("# ½·Σ(y − t)², 損失函數\nx = 1\n".encode())
    assert result.problem is None
    assert result.defined == ["x"]


def test_str_input_is_accepted():
    result = check_source(CORRECT_MSE.decode("utf-8"))
    assert result.problem is None
    assert result.text == CORRECT_MSE.decode("utf-8")
    assert "mean_squared_error" in result.defined


def test_str_input_with_a_syntax_error_names_the_line():
    assert check_source("x = 1\ny = (\n").problem.startswith("syntax error on line 2:")


def test_empty_str_is_refused():
    assert check_source("").problem == "the file is empty."


def test_a_syntax_error_quotes_its_line_with_a_caret_under_the_column():
    checked = check_source("import numpy as np\n\ndef f(y, t):\n    return 0.5 * np.sum((y - t) ** 2))\n")
    assert checked.line == 4 and checked.column == 38
    quoted, caret = checked.code.splitlines()
    assert quoted == "4 |     return 0.5 * np.sum((y - t) ** 2))"
    assert caret.index("^") == quoted.rindex(")")


def test_no_doubled_punctuation_after_pythons_own_question():
    problem = check_source("x = [1 2]\n").problem
    assert problem.endswith("?") and "?." not in problem


def test_quote_line_without_a_column_underlines_the_statement_and_refuses_bad_lines():
    from grader.grading.source import quote_line

    assert quote_line("a = 1\n    b = a +\n", 2) == "2 |     b = a +\n  |     ^^^^^^^"
    assert quote_line("a = 1\n", 5) is None and quote_line("a = 1\n", None) is None
    assert quote_line("\n\n", 1) is None
