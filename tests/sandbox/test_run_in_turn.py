"""SandboxRunner.run_in_turn: two requests in one child, the first sealed before the second arrives."""

from __future__ import annotations

import numpy as np
import pytest

from grader.grading.runner import Call, RunLimits
from tests.sandbox.conftest import LIMITS, requires_sandbox

pytestmark = requires_sandbox

TALKATIVE = """
import numpy as np
calls = []

def echo(x):
    calls.append(float(x[0]))
    print("saw", repr(float(x[0])), "after", len(calls) - 1, "calls")
    return float(np.sum(x))
"""


def calls(label: str, values: list[float]) -> list[Call]:
    return [Call(f"{label}-{i}", "echo", (np.array([v, 1.0]),)) for i, v in enumerate(values)]


def test_both_parts_run_in_one_child_and_the_second_part_s_output_is_never_kept(runner) -> None:
    first, then = calls("shown", [1.5, 2.5]), calls("hidden", [31337.25, 42424.75])
    shown, hidden = runner.run_in_turn(TALKATIVE, ["echo"], first, then, LIMITS)
    assert hidden is not None
    assert [o.value.tolist() for o in shown.outcomes] == [2.5, 3.5]
    assert [o.value.tolist() for o in hidden.outcomes] == [31338.25, 42425.75]
    # One process: the module's state carries over from the first part to the second.
    assert shown.output == "saw 1.5 after 0 calls\nsaw 2.5 after 1 calls\n"
    assert hidden.output == "" and not hidden.output_truncated
    assert shown.termination is None and hidden.termination is None


def test_the_first_part_s_last_unfinished_line_is_kept(runner) -> None:
    source = "def echo(x):\n    print('no newline', float(x[0]), end='')\n    return float(x[0])\n"
    shown, hidden = runner.run_in_turn(source, ["echo"], calls("shown", [1.0]), calls("hidden", [2.0]), LIMITS)
    assert shown.output == "no newline 1.0"
    assert hidden is not None and hidden.output == ""


EXIT_IN_SECOND = """
import os
def echo(x):
    if x[0] > 1000:
        print("hidden input", float(x[0]), flush=True)
        os._exit(int(x[0]) % 100)
    print("shown input", float(x[0]), flush=True)
    return float(x[0])
"""


def test_what_the_second_part_does_stays_out_of_the_first_report(runner) -> None:
    first, then = calls("shown", [3.0]), calls("hidden", [31337.0, 5.0])
    shown, hidden = runner.run_in_turn(EXIT_IN_SECOND, ["echo"], first, then, LIMITS)
    assert shown.output == "shown input 3.0\n" and shown.termination is None
    assert [o.status for o in shown.outcomes] == ["ok"]
    assert hidden is not None and hidden.output == ""
    assert hidden.outcomes[0].status == "not_run"
    assert hidden.termination == "the process exited early (exit code 37)"  # the grader's, never shown for hidden
    assert "31337" not in shown.output + str(shown.termination)


@pytest.mark.parametrize(
    "source",
    [
        "import os, signal\ndef echo(x):\n    os.kill(os.getpid(), signal.SIGKILL)\n",  # dies in the first part
        "import os\ndef echo(x):\n    os._exit(0)\n",
        "raise ValueError('broken file')\n",  # never loads: nothing to run in turn
        "import time\ndef echo(x):\n    while True: pass\n",  # stopped by a limit
    ],
)
def test_a_first_part_that_does_not_end_cleanly_leaves_the_second_to_its_own_run(runner, source: str) -> None:
    # A strict load: a forgiving one skips the statement that raises and runs on.
    limits = RunLimits(wall_seconds=3, cpu_seconds=1, memory_mib=256, output_bytes=4000, forgiving_load=False)
    shown, hidden = runner.run_in_turn(source, ["echo"], calls("shown", [1.0]), calls("hidden", [2.0]), limits)
    assert hidden is None
    assert shown.outcomes[0].status != "ok"


BURN = """
import time
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return seconds
"""


def test_each_part_has_the_cpu_time_of_the_limits(runner) -> None:
    # 0.7 s in each part: 1.4 s in all, over the one-second limit of a single part. The wall
    # limit is far beyond: on a loaded machine 0.7 s of CPU can take several seconds.
    limits = RunLimits(wall_seconds=60, cpu_seconds=1, memory_mib=256, output_bytes=4000)
    first, then = [Call("shown", "burn", (0.7,))], [Call("hidden", "burn", (0.7,))]
    shown, hidden = runner.run_in_turn(BURN, ["burn"], first, then, limits)
    assert shown.outcomes[0].status == "ok", shown.outcomes[0].error
    assert hidden is not None and hidden.outcomes[0].status == "ok", hidden.outcomes[0].error
    # ... and no more: a part that burns past its own second is stopped.
    first, then = [Call("shown", "burn", (0.2,))], [Call("hidden", "burn", (30.0,))]
    shown, hidden = runner.run_in_turn(BURN, ["burn"], first, then, limits)
    assert shown.outcomes[0].status == "ok"
    assert hidden is not None and hidden.outcomes[0].status == "not_run"
    assert hidden.termination == "CPU time limit of 1 s exceeded"


FLOOD_LATER = """
import sys
def echo(x):
    if x[0] > 100:
        for _ in range(20000):
            sys.stdout.write("x" * 100 + "\\n")
        sys.stdout.flush()
    return float(x[0])
"""


def test_a_second_part_that_floods_its_output_is_read_to_the_end(runner) -> None:
    first, then = calls("shown", [1.0]), calls("hidden", [200.0, 300.0])
    shown, hidden = runner.run_in_turn(FLOOD_LATER, ["echo"], first, then, LIMITS)
    assert hidden is not None and [o.status for o in hidden.outcomes] == ["ok", "ok"]
    assert hidden.output == "" and shown.output == ""


def test_large_inputs_reach_the_second_part_whole(runner) -> None:
    big = np.random.default_rng(3).random((1000, 100))
    source = "import numpy as np\ndef total(x):\n    return float(np.sum(x))\n"
    first = [Call("small", "total", (np.ones(3),))]
    then = [Call("big", "total", (big,)), Call("big2", "total", (-big,))]
    shown, hidden = runner.run_in_turn(source, ["total"], first, then, LIMITS)
    assert hidden is not None
    assert shown.outcomes[0].value.tolist() == 3.0
    assert [o.value.tolist() for o in hidden.outcomes] == pytest.approx([big.sum(), -big.sum()])
