"""SandboxRunner: same results as SubprocessRunner, and every limit ends as a clear reason."""

from __future__ import annotations

import numpy as np
import pytest

from grader.grading.runner import Call, RunLimits, SubprocessRunner
from tests.sandbox.conftest import LIMITS, requires_sandbox

pytestmark = requires_sandbox

HONEST = """
import numpy as np

def mse(y, t):
    y = np.asarray(y, dtype=float)
    return float(np.mean((y - np.asarray(t)) ** 2))

def per_sample(y, t):
    return (np.asarray(y) - np.asarray(t)) ** 2

def as_list(y, t):
    return [float(a - b) for a, b in zip(y, t)]

def mutates(y, t):
    y[0] = 99.0
    return 0.0

def raises(y, t):
    print("about to fail")
    return y / "nope"

def words(y, t):
    return "not a number"
"""


def honest_calls() -> list[Call]:
    y, t = np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 1.0])
    return [
        Call("mse", "mse", (y, t)),
        Call("mse-lists", "mse", ([1, 2], [0, 0])),
        Call("per-sample", "per_sample", (y, t)),
        Call("list", "as_list", (y, t)),
        Call("mutation", "mutates", (y.copy(), t)),
        Call("raise", "raises", (y, t)),
        Call("non-numeric", "words", (y, t)),
        Call("missing", "nowhere", (y, t)),
    ]


def test_honest_code_gives_the_same_report_as_the_subprocess_runner(runner) -> None:
    functions = ["mse", "per_sample", "as_list", "mutates", "raises", "words"]
    sandboxed = runner.run(HONEST, functions, honest_calls(), LIMITS)
    plain = SubprocessRunner().run(HONEST, functions, honest_calls(), LIMITS)
    assert sandboxed.termination is None and sandboxed.load_error is None
    assert sandboxed.output == plain.output == "about to fail\n"
    for mine, theirs in zip(sandboxed.outcomes, plain.outcomes, strict=True):
        assert (mine.status, mine.kind, mine.type_name, mine.error, mine.line, mine.mutated) == (
            theirs.status,
            theirs.kind,
            theirs.type_name,
            theirs.error,
            theirs.line,
            theirs.mutated,
        )
        if theirs.value is None:
            assert mine.value is None
        else:
            np.testing.assert_array_equal(mine.value, theirs.value)
    assert [o.status for o in sandboxed.outcomes] == [
        "ok",
        "ok",
        "ok",
        "ok",
        "ok",
        "raised",
        "non_numeric",
        "missing",
    ]


def test_a_file_that_does_not_load_reports_like_the_subprocess_runner(runner) -> None:
    source = "def f(:\n    pass\n"
    calls = [Call("a", "f", ())]
    sandboxed = runner.run(source, ["f"], calls, LIMITS)
    plain = SubprocessRunner().run(source, ["f"], calls, LIMITS)
    assert sandboxed.load_error == plain.load_error and sandboxed.load_error.startswith("SyntaxError")
    assert sandboxed.load_error_line == plain.load_error_line == 1
    assert sandboxed.outcomes[0].error == "the file could not be loaded"


def test_wall_clock_limit_names_the_fixture_and_keeps_earlier_results(runner) -> None:
    source = "def f(n):\n    while n:\n        pass\n    return 1.0\n"
    calls = [Call("quick", "f", (0,)), Call("spin", "f", (1,)), Call("after", "f", (0,))]
    report = runner.run(source, ["f"], calls, RunLimits(wall_seconds=1, cpu_seconds=5))
    assert report.outcomes[0].status == "ok"
    assert report.outcomes[1].error == "time limit of 1 s exceeded on fixture spin"
    assert report.outcomes[2].error == "not run: time limit of 1 s exceeded"
    assert report.termination == "time limit of 1 s exceeded"
    assert report.wall_seconds < 4


def test_a_sleeping_submission_is_stopped_by_the_wall_clock(runner) -> None:
    source = "import time\ndef f():\n    time.sleep(60)\n"
    report = runner.run(source, ["f"], [Call("nap", "f", ())], RunLimits(wall_seconds=0.5, cpu_seconds=5))
    assert report.outcomes[0].error == "time limit of 0.5 s exceeded on fixture nap"


@pytest.mark.parametrize(
    "prologue",
    ["", "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"],
    ids=["default", "sigxcpu-ignored"],
)
def test_cpu_limit_is_reported_even_if_sigxcpu_is_ignored(runner, prologue: str) -> None:
    source = prologue + "def f():\n    while True:\n        pass\n"
    # The CPU limit first, however little CPU a loaded machine gives: a wall limit far beyond it.
    report = runner.run(source, ["f"], [Call("burn", "f", ())], RunLimits(wall_seconds=60, cpu_seconds=1))
    assert report.outcomes[0].error == "CPU time limit of 1 s exceeded on fixture burn"


@pytest.mark.parametrize(
    "body",
    ["return np.ones(10**9).sum()", "x = [0] * 10**9\n    return 1.0", "return np.zeros((60000, 60000)).sum()"],
    ids=["array", "list", "2d"],
)
def test_memory_hog_is_a_memory_limit_message(runner, body: str) -> None:
    source = f"import numpy as np\ndef f():\n    {body}\n"
    report = runner.run(source, ["f"], [Call("hog", "f", ())], LIMITS)
    assert report.outcomes[0].status == "raised"
    assert report.outcomes[0].error.startswith("memory limit of 256 MiB exceeded")


def test_output_flood_is_capped_and_results_survive(runner) -> None:
    source = (
        "import os\n"
        "def f():\n"
        "    for _ in range(20000):\n"
        "        print('x' * 100)\n"
        "    os.write(2, b'raw')\n"
        "    return 2.0\n"
    )
    report = runner.run(source, ["f"], [Call("flood", "f", ())], LIMITS)
    assert report.output_truncated and len(report.output) <= LIMITS.output_bytes
    assert report.outcomes[0].status == "ok" and float(report.outcomes[0].value) == 2.0


def test_a_crash_at_fixture_k_keeps_earlier_results(runner) -> None:
    source = "import os, signal\ndef f(n):\n    if n:\n        os.kill(os.getpid(), signal.SIGSEGV)\n    return 1.0\n"
    calls = [Call("first", "f", (0,)), Call("second", "f", (1,)), Call("third", "f", (0,))]
    report = runner.run(source, ["f"], calls, LIMITS)
    assert report.outcomes[0].status == "ok"
    assert report.outcomes[1].error == "the process was killed by signal 11 (SIGSEGV) on fixture second"
    assert report.outcomes[2].status == "not_run"


def test_os_exit_is_an_early_exit(runner) -> None:
    report = runner.run("import os\ndef f():\n    os._exit(0)\n", ["f"], [Call("bye", "f", ())], LIMITS)
    assert report.outcomes[0].error == "the process exited early (exit code 0) on fixture bye"


def test_garbage_written_to_inherited_descriptors_is_a_corrupt_stream(runner) -> None:
    source = (
        "import os\n"
        "def f():\n"
        "    for fd in range(3, 64):\n"
        "        try:\n"
        "            os.write(fd, b'\\xff' * 64)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return 1.0\n"
    )
    report = runner.run(source, ["f"], [Call("forge", "f", ()), Call("later", "f", ())], LIMITS)
    assert "corrupted the result stream" in report.termination
    assert all(o.status == "not_run" for o in report.outcomes)


def test_forged_events_cannot_fake_a_score(runner) -> None:
    """Well-formed but forged frames for calls not yet made break the stream order."""
    source = (
        "import os, gc\n"
        "from grader.grading import wire\n"
        "def f():\n"
        "    fake = wire.json_frame({'event': 'result', 'call': 5, 'status': 'ok'})\n"
        "    for fd in range(3, 64):\n"
        "        try:\n"
        "            os.write(fd, fake)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return 1.0\n"
    )
    report = runner.run(source, ["f"], [Call("a", "f", ())], LIMITS)
    assert "corrupted the result stream" in report.termination


def test_file_size_limit(runner) -> None:
    source = "def f():\n    open('/tmp/big', 'wb').write(b'x' * (4 << 20))\n"
    report = runner.run(source, ["f"], [Call("big", "f", ())], LIMITS)
    assert report.outcomes[0].error == "OSError: [Errno 27] File too large"


def test_threads_follow_the_processes_limit(runner) -> None:
    source = (
        "import threading\n"
        "def f():\n"
        "    t = threading.Thread(target=print, args=('in a thread',))\n"
        "    t.start()\n"
        "    t.join()\n"
        "    return 1.0\n"
    )
    calls = [Call("thread", "f", ())]
    refused = runner.run(source, ["f"], calls, LIMITS)
    assert refused.outcomes[0].error == "RuntimeError: can't start new thread"
    allowed = runner.run(source, ["f"], calls, RunLimits(wall_seconds=10, cpu_seconds=5, processes=2))
    assert allowed.outcomes[0].status == "ok" and "in a thread" in allowed.output


def test_stdlib_and_numpy_submodules_not_preloaded_still_import(runner) -> None:
    source = (
        "import statistics, fractions, numpy as np\n"
        "def f():\n"
        "    rng = np.random.default_rng(0)\n"
        "    fft = float(np.fft.fft([1.0, 1.0])[0].real)\n"
        "    return [statistics.mean([1, 2, 3]), float(fractions.Fraction(1, 4)), fft, float(rng.random() < 1)]\n"
    )
    report = runner.run(source, ["f"], [Call("imports", "f", ())], LIMITS)
    assert report.outcomes[0].status == "ok", report.outcomes[0].error
    assert report.outcomes[0].value.tolist() == [2.0, 0.25, 2.0, 1.0]


def test_large_arrays_travel_both_ways(runner) -> None:
    big = np.arange(1_000_000, dtype=np.float64)
    report = runner.run("def f(a):\n    return a * 2\n", ["f"], [Call("big", "f", (big,))], LIMITS)
    assert report.outcomes[0].status == "ok"
    np.testing.assert_array_equal(report.outcomes[0].value, big * 2)
