"""Forgiving load: top-level statements that raise while the file loads are skipped and
reported, the functions are graded; the lab setting turns it off (issue 14).

Runs through the portable runner and, where the sandbox runs, the sandbox too.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.grading import harness, wire
from grader.grading.engine import grade
from grader.grading.lab import LabError, find_lab, load_lab, with_limits
from grader.grading.program import prepare
from grader.grading.runner import (
    Call,
    CallOutcome,
    OutcomeCollector,
    RunLimits,
    RunReport,
    SkippedStatement,
    SubprocessRunner,
)
from tests.sandbox.conftest import portable_or_sandbox

LAB = "lab01-mse"
PROVIDED = "only NumPy and the Python standard library are available to your code"
MSE = """
def mean_squared_error(y, t):
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    return float(0.5 * np.sum((y - t) ** 2))
"""

#: Leftover notebook code of each kind that fails in the grader, then the function.
LEFTOVERS = {
    "unavailable import": (
        "import numpy as np\nimport matplotlib.pyplot as plt\n",
        2,
        PROVIDED + "; `matplotlib` is not",
    ),
    "torch": ("import numpy as np\nimport torch\n", 2, PROVIDED + "; `torch` is not"),
    "sklearn": ("import numpy as np\nfrom sklearn.metrics import log_loss\n", 2, PROVIDED + "; `sklearn` is not"),
    "textbook dataset": (
        "import sys, os\nsys.path.append(os.pardir)\nimport numpy as np\nfrom dataset.mnist import load_mnist\n",
        4,
        PROVIDED + "; `dataset` is not",
    ),
    "dataset read": (
        "import numpy as np\ndata = np.load('mnist.npz')\n",
        2,
        "FileNotFoundError",
    ),
    "plotting": (
        "import numpy as np\nplt.plot([1, 2, 3])\n",
        2,
        "NameError: name 'plt' is not defined",
    ),
}
TEST_CALL = "print(mean_squared_error([0.1, 0.9], [0, 1]))\nprint(mean_squared_error([1, 2], [1, 2, 3]))\n"


@pytest.fixture(scope="module", params=["portable", "sandbox"])
def runner(request: pytest.FixtureRequest) -> Iterator:
    """Each runner: the sandbox where it runs (it must in CI), else the test is skipped."""
    yield from portable_or_sandbox(request.param, uid_offset=448)


def _strict(lab: str = LAB):
    return with_limits(find_lab(lab), forgiving_load=False)


def _events(source: str, forgiving: bool) -> list[dict]:
    fields = {"forgiving": True} if forgiving else {}
    request = harness.decode_request(harness.encode_request(source, ["f"], [], **fields))
    out = io.BytesIO()
    harness.serve(request, out)
    return [value for tag, value in wire.FrameDecoder().feed(out.getvalue()) if tag == wire.JSON]


# --- the harness ---------------------------------------------------------------------


def test_a_forgiving_load_skips_each_failing_statement_and_says_which() -> None:
    source = "import no_such_module\nx = 1 / 0\ny = 2\ndef f():\n    return y\n"
    events = _events(source, forgiving=True)
    assert events[0] == {
        "event": "loaded",
        "skipped": [
            {"line": 1, "error": "ModuleNotFoundError: No module named 'no_such_module'"},
            {"line": 2, "error": "ZeroDivisionError: division by zero"},
        ],
    }


def test_a_strict_load_stops_at_the_first_failing_statement() -> None:
    events = _events("import no_such_module\ndef f():\n    return 1\n", forgiving=False)
    assert events == [
        {"event": "load_error", "error": "ModuleNotFoundError: No module named 'no_such_module'", "line": 1}
    ]


def test_a_forgiving_load_lists_twenty_statements_and_counts_the_rest() -> None:
    events = _events("".join(f"raise ValueError({i})\n" for i in range(35)), forgiving=True)
    assert len(events[0]["skipped"]) == harness.MAX_SKIPPED == 20
    assert events[0]["skipped"][-1] == {"line": 20, "error": "ValueError: 19"}
    assert events[0]["skipped_more"] == 15


def test_future_imports_hold_for_the_statements_after_them() -> None:
    source = "from __future__ import annotations\ndef f(a: NotDefinedAnywhere) -> int:\n    return 1\n"
    assert _events(source, forgiving=True)[0] == {"event": "loaded"}


def test_system_exit_at_load_is_skipped_too() -> None:
    events = _events("import sys\nsys.exit(0)\ndef f():\n    return 1\n", forgiving=True)
    assert events[0]["skipped"] == [{"line": 2, "error": "SystemExit: 0"}]


# --- the trusted side re-checks what the child says ----------------------------------


def _collect(loaded: dict) -> OutcomeCollector:
    collector = OutcomeCollector([])
    collector.feed(wire.json_frame(loaded) + wire.json_frame({"event": "done"}))
    return collector


@pytest.mark.parametrize(
    "loaded",
    [
        {"event": "loaded", "skipped": [{"line": 1, "error": "x"}] * 21},  # more than the harness lists
        {"event": "loaded", "skipped": {"line": 1}},
        {"event": "loaded", "skipped": [{"line": True, "error": "x"}]},
        {"event": "loaded", "skipped": [{"line": 0, "error": "x"}]},
        {"event": "loaded", "skipped": [{"line": 2, "error": ["x"]}]},
        {"event": "loaded", "skipped": ["line 2"]},
        {"event": "loaded", "skipped_more": -1},
        {"event": "loaded", "skipped_more": 10**9},
        {"event": "loaded", "skipped_more": "3"},
    ],
)
def test_malformed_skipped_statements_corrupt_the_stream(loaded: dict) -> None:
    with pytest.raises(wire.ProtocolError):
        _collect(loaded)


def test_skipped_errors_are_cut_short() -> None:
    collector = _collect({"event": "loaded", "skipped": [{"line": 3, "error": "E" * 5000}]})
    assert collector.skipped[0].line == 3 and len(collector.skipped[0].error) == 300


def test_a_warning_needs_a_statement_at_its_line_and_quotes_the_source_not_the_child() -> None:
    program = prepare("import numpy as np\nx = (1,\n     2)\n")
    report = RunReport(
        outcomes=[],
        skipped=[
            SkippedStatement(2, "ValueError: `rm -rf` <script>\x1b[31m\nline 1"),
            SkippedStatement(3, "inside a statement: forged"),
            SkippedStatement(99, "no such line"),
        ],
    )
    (warning,) = program.load_warnings(report)
    assert warning["line"] == 2 and warning["code"] == "x = (1, …"
    assert warning["error"] == "ValueError: `rm -rf` <script> [31m line 1"
    assert "\x1b" not in warning["message"] and "\n" not in warning["message"]
    assert warning["message"].endswith("it raised `ValueError: 'rm -rf' <script> [31m line 1`.")


# --- through the runners -------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(LEFTOVERS))
def test_leftover_code_is_skipped_and_the_function_graded(runner, kind: str) -> None:
    head, line, words = LEFTOVERS[kind]
    result = grade(head + MSE + TEST_CALL, LAB, 1, runner=runner)
    assert result.submission_error is None
    assert result.score == result.max_score > 0, [t.feedback() for t in result.tests if not t.passed]
    messages = [w["message"] for w in result.load_warnings]
    assert any(m.startswith(f"line {line} (`") and words in m for m in messages), messages
    test_call = len(head.splitlines()) + len(MSE.splitlines()) + 2  # the second print
    assert any(m.startswith(f"line {test_call} (`print(mean_squared_error([1, 2], [1, 2, 3]))`)") for m in messages)


def test_a_function_that_uses_a_skipped_name_names_the_skipped_line(runner) -> None:
    source = "import numpy as np\nimport matplotlib.pyplot as plt\n\ndef mean_squared_error(y, t):\n    plt.plot(y)\n"
    result = grade(source, LAB, 1, runner=runner)
    public = [t for t in result.tests if t.visibility == "public"]
    expected = (
        "`plt` was not defined because line 2 (`import matplotlib.pyplot as plt`) was skipped when your file loaded"
    )
    assert public and all(expected in t.feedback() for t in public)
    assert all(expected not in t.feedback() for t in result.tests if t.visibility == "hidden")


@pytest.mark.parametrize(("module", "statement"), [("torch", "import torch"), ("sklearn", "from sklearn import svm")])
def test_a_strict_lab_stops_at_an_unavailable_import_and_says_what_there_is(runner, module, statement) -> None:
    result = grade(f"import numpy as np\n{statement}\n" + MSE, _strict(), 1, runner=runner)
    assert result.score == 0 and result.load_warnings == []
    assert result.submission_error == (
        f"your file raised ModuleNotFoundError: No module named '{module}' (line 2) when loaded. "
        f"Only NumPy and the Python standard library are available to your code; `{module}` is not."
    )


def test_a_strict_lab_stops_at_a_test_call_that_raises(runner) -> None:
    result = grade("import numpy as np\n" + MSE + TEST_CALL, _strict(), 1, runner=runner)
    assert result.score == 0
    assert result.submission_error.startswith("your file raised ValueError: operands could not be broadcast")


def test_an_import_inside_the_function_says_what_there_is(runner) -> None:
    source = "def mean_squared_error(y, t):\n    import torch\n    return 0.0\n"
    result = grade(source, LAB, 1, runner=runner)
    public = [t for t in result.tests if t.visibility == "public"]
    assert all(f"(line 2) — {PROVIDED}; `torch` is not" in t.feedback() for t in public)


def test_flooding_warnings_shows_twenty_and_a_count(runner) -> None:
    source = "import numpy as np\n" + "".join(f"raise ValueError({i})\n" for i in range(50)) + MSE
    result = grade(source, LAB, 1, runner=runner)
    assert result.score == result.max_score
    assert len(result.load_warnings) == 21
    assert result.load_warnings[-1]["message"] == "30 more statements were skipped."


def test_warnings_come_only_from_the_load_of_the_shown_fixtures() -> None:
    """The hidden fixtures run in a process of their own: a load there happens with the
    hidden inputs in memory, so what it reports must never reach the student."""
    source = (
        "import sys\n"
        "def _inputs():\n"
        "    frame = sys._getframe()\n"
        "    while frame is not None:\n"
        "        if 'arrays' in frame.f_locals and 'header' in frame.f_locals:\n"
        "            return [repr(a.ravel()[:6].tolist()) for a in frame.f_locals['arrays']]\n"
        "        frame = frame.f_back\n"
        "    return []\n"
        "raise RuntimeError('LEAK ' + ' '.join(_inputs()))\n"
        "import numpy as np\n" + MSE
    )
    runner = _RecordingRunner()
    result = grade(source, LAB, 1, runner=runner)
    assert result.score == result.max_score
    hidden_names = {t.name for t in result.tests if t.visibility == "hidden"}
    hidden_reports = [r for calls, r in runner.runs if {c.label for c in calls} <= hidden_names]
    assert hidden_reports and hidden_reports[0].skipped[0].error.startswith("RuntimeError: LEAK [")
    (warning,) = result.load_warnings  # the shown load's own: no hidden input in it
    shown_report = next(r for calls, r in runner.runs if not {c.label for c in calls} <= hidden_names)
    assert warning["error"].startswith("RuntimeError: LEAK [") and shown_report.skipped[0].error.startswith(
        warning["error"].rstrip("…")
    )
    hidden_leak = hidden_reports[0].skipped[0].error[len("RuntimeError: LEAK ") :][:60]
    assert hidden_leak not in warning["error"] and hidden_leak not in str(result.student_view())


class _RecordingRunner(SubprocessRunner):
    def __init__(self) -> None:
        super().__init__()
        self.runs: list[tuple[list[Call], RunReport]] = []

    def run(self, source: str, functions: list[str], calls: list[Call], limits: RunLimits) -> RunReport:
        report = super().run(source, functions, calls, limits)
        self.runs.append((list(calls), report))
        return report


class _HiddenWarningsRunner:
    """Reports a skipped statement from every run, the hidden one's with a secret."""

    def __init__(self) -> None:
        self.hidden_names = {f.name for f in find_lab(LAB).fixtures_by("hidden")}

    def run(self, source: str, functions: list[str], calls: list[Call], limits: RunLimits) -> RunReport:
        hidden = {c.label for c in calls} <= self.hidden_names
        report = SubprocessRunner().run(source, functions, calls, limits)
        if hidden:
            report.skipped = [SkippedStatement(1, "ValueError: hidden input 31337")]
        return report


def test_hidden_reports_with_warnings_never_reach_the_student() -> None:
    source = "import numpy as np\nraise ValueError('shown')\n" + MSE
    result = grade(source, LAB, 1, runner=_HiddenWarningsRunner())
    assert "31337" not in str(result.student_view()) + str(result.to_gradescope())


# --- the lab setting -------------------------------------------------------------------


def test_labs_load_forgivingly_unless_they_say_otherwise(tmp_path: Path) -> None:
    assert find_lab(LAB).limits.forgiving_load is True
    folder = _lab_copy(tmp_path, "\n[load]\nforgiving = false\n")
    assert load_lab(folder).limits.forgiving_load is False


@pytest.mark.parametrize(
    ("table", "words"),
    [("[load]\nforgiving = 'yes'\n", "field 'forgiving' must be"), ("[load]\nforgive = true\n", "unknown field")],
)
def test_a_bad_load_setting_is_a_lab_error(tmp_path: Path, table: str, words: str) -> None:
    with pytest.raises(LabError, match=words):
        load_lab(_lab_copy(tmp_path, "\n" + table))


def _lab_copy(tmp_path: Path, extra: str) -> Path:
    import shutil

    folder = tmp_path / LAB
    shutil.copytree(find_lab(LAB).path, folder)
    toml = folder / "lab.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return folder


def test_a_strict_load_of_a_shown_report_keeps_the_child_error_for_public_fixtures_only() -> None:
    report = RunReport(outcomes=[CallOutcome("raised", error="NameError: name 'plt' is not defined", line=4)])
    program = prepare("import matplotlib.pyplot as plt\nimport numpy as np\ndef f():\n    plt.plot()\n")
    report.skipped = [SkippedStatement(1, "ModuleNotFoundError: No module named 'matplotlib'")]
    hidden = RunReport(outcomes=[CallOutcome("raised", error="NameError: name 'plt' is not defined", line=4)])
    hidden.skipped = list(report.skipped)
    program.explain(report, shown=True)
    program.explain(hidden, shown=False)
    assert "was skipped when your file loaded" in report.outcomes[0].error and report.outcomes[0].line is None
    assert hidden.outcomes[0].error == "NameError: name 'plt' is not defined" and hidden.outcomes[0].line == 4


def test_a_function_whose_decorator_fails_is_said_to_be_undefined() -> None:
    program = prepare("import numba\n@numba.jit\ndef mean_squared_error(y, t):\n    return 0.0\n")
    report = RunReport(
        outcomes=[],
        skipped=[
            SkippedStatement(1, "ModuleNotFoundError: No module named 'numba'"),
            SkippedStatement(3, "NameError: name 'numba' is not defined"),
        ],
    )
    message = program.load_warnings(report)[1]["message"]
    assert message.startswith("line 3 (`def mean_squared_error(y, t): …`) was skipped")
    assert message.endswith(" So `mean_squared_error` was not defined.")
    assert ": it uses `numba`, which line 1 would have defined." in message
    assert "NameError" not in message and message.count("was skipped") == 1  # the cause once, not the cascade
