"""The portable subprocess runner: results, limits, and a hostile child's stream."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from grader.grading import wire
from grader.grading.runner import Call, CallOutcome, OutcomeCollector, RunLimits, SubprocessRunner

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="rlimits are POSIX-only")

FAST = RunLimits(wall_seconds=5, cpu_seconds=3, memory_mib=1024, output_bytes=2000)


def run(source: str, calls: list[Call], limits: RunLimits = FAST):
    return SubprocessRunner().run(source, ["f"], calls, limits)


def call(label: str = "c", *args) -> Call:
    return Call(label, "f", args or (np.array([1.0, 2.0]),))


def test_results_come_back_as_plain_numbers() -> None:
    report = run("import numpy as np\ndef f(a):\n    return np.sum(a)\n", [call("a"), call("b", [3, 4])])
    assert [o.status for o in report.outcomes] == ["ok", "ok"]
    assert float(report.outcomes[0].value) == 3.0 and float(report.outcomes[1].value) == 7.0
    assert report.termination is None and report.load_error is None


def test_printing_does_not_disturb_results_and_is_captured() -> None:
    source = "import os\ndef f(a):\n    print('hi')\n    os.write(1, b'raw bytes on fd 1')\n    return 1.0\n"
    report = run(source, [call()])
    assert report.outcomes[0].status == "ok"
    assert "hi" in report.output and "raw bytes on fd 1" in report.output


def test_output_is_capped() -> None:
    report = run("def f(a):\n    print('x' * 100000)\n    return 1.0\n", [call()])
    assert len(report.output) <= FAST.output_bytes and report.output_truncated
    assert report.outcomes[0].status == "ok"


def test_wall_clock_limit_names_the_fixture_and_keeps_earlier_results() -> None:
    source = "import time\ndef f(a):\n    if a[0] > 1:\n        time.sleep(60)\n    return 1.0\n"
    calls = [
        call("quick", np.array([1.0])),
        call("slow", np.array([2.0])),
        call("after", np.array([1.0])),
    ]
    # The clock starts with the process: 4 s leave the quick fixture room on a loaded machine.
    report = run(source, calls, RunLimits(wall_seconds=4, cpu_seconds=5))
    assert report.outcomes[0].status == "ok"
    assert report.outcomes[1].status == "not_run"
    assert report.outcomes[1].error == "time limit of 4 s exceeded on fixture slow"
    assert report.outcomes[2].error == "not run: time limit of 4 s exceeded"


@posix_only
def test_cpu_limit_is_reported() -> None:
    report = run(
        "def f(a):\n    while True:\n        pass\n",
        [call("spin")],
        RunLimits(wall_seconds=60, cpu_seconds=1),  # the CPU limit first, however little CPU a loaded machine gives
    )
    assert "CPU time limit of 1 s exceeded" in report.outcomes[0].error


@posix_only
def test_memory_limit_turns_into_memory_error() -> None:
    source = "import numpy as np\ndef f(a):\n    return float(np.ones(10**9).sum())\n"
    report = run(source, [call()], RunLimits(memory_mib=512))
    assert report.outcomes[0].status == "raised" and "MemoryError" in report.outcomes[0].error


def test_os_exit_leaves_later_fixtures_not_run() -> None:
    source = "import os\ndef f(a):\n    if a[0] == 2:\n        os._exit(0)\n    return 1.0\n"
    report = run(
        source,
        [
            call("one", np.array([1.0])),
            call("two", np.array([2.0])),
            call("three", np.array([3.0])),
        ],
    )
    assert [o.status for o in report.outcomes] == ["ok", "not_run", "not_run"]
    assert "exited early" in report.outcomes[1].error


def test_garbage_on_the_event_stream_is_a_corrupt_stream_not_a_crash() -> None:
    source = (
        "import os\n"
        "def f(a):\n"
        "    for fd in range(3, 20):\n"
        "        try:\n"
        "            os.write(fd, b'Z' * 64)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return 1.0\n"
    )
    report = run(source, [call("first"), call("second")])
    assert all(o.status == "not_run" for o in report.outcomes)
    assert "corrupted the result stream" in report.termination


def test_forged_result_events_cannot_skip_the_order() -> None:
    # A fake "result" for a call that was never started is rejected.
    collector = OutcomeCollector([call("a"), call("b")])
    collector.feed(wire.json_frame({"event": "loaded"}))
    with pytest.raises(wire.ProtocolError):
        collector.feed(wire.json_frame({"event": "result", "call": 1, "status": "ok"}))


def test_done_before_every_call_is_rejected() -> None:
    collector = OutcomeCollector([call("a")])
    collector.feed(wire.json_frame({"event": "loaded"}))
    with pytest.raises(wire.ProtocolError, match="done before"):
        collector.feed(wire.json_frame({"event": "done"}))


def test_result_without_its_array_is_cut_off() -> None:
    collector = OutcomeCollector([call("a")])
    collector.feed(wire.json_frame({"event": "loaded"}) + wire.json_frame({"event": "start", "call": 0}))
    collector.feed(wire.json_frame({"event": "result", "call": 0, "status": "ok", "kind": "scalar"}))
    outcomes = collector.finish("the process was killed by signal 9 (SIGKILL)")
    assert outcomes[0] == CallOutcome(status="not_run", kind="scalar", error="the result was cut off")


def test_the_child_sees_no_secrets_in_its_environment(monkeypatch) -> None:
    monkeypatch.setenv("LOSSGRADER_SECRET_KEY", "s3cret")
    source = (
        "import os\ndef f(a):\n    return float('LOSSGRADER_SECRET_KEY' in os.environ or 's3cret' in str(os.environ))\n"
    )
    report = run(source, [call()])
    assert float(report.outcomes[0].value) == 0.0


def test_child_runs_in_a_fresh_working_directory() -> None:
    source = f"import os\ndef f(a):\n    return float(os.getcwd() == {os.getcwd()!r})\n"
    assert float(run(source, [call()]).outcomes[0].value) == 0.0
