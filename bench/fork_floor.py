"""What a fresh process costs here, with no isolation at all: a floor for the sandbox.

A single-threaded process imports NumPy and the harness, warms up and freezes its heap
the way the sandbox's fork server does, then, per run, forks a child ahead of time
(as the server keeps spares), lets it wait, and times from handing it the request to
having read and checked all its results. No namespaces, no seccomp, no uid change,
no limits: whatever the sandbox adds is on top of this.

Run by ``bench/sandbox_bench.py`` in a process of its own (forking a process with
threads is unsafe); prints one JSON object: ``{"hidden": [seconds, ...], "shown": [...]}``.

Usage::

    .venv/bin/python bench/fork_floor.py -n 100
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from pathlib import Path

from grader.grading import fixtures, harness
from grader.grading.lab import find_lab
from grader.grading.runner import OutcomeCollector
from grader.sandbox.zygote import _keep_heap, _reserve_huge_heap, settle_heap

ROOT = Path(__file__).resolve().parents[1]
SUBMISSION = ROOT / "tests" / "implementations" / "lab03-softmax-ce" / "correct_logsumexp.py"
LAB_ID = "lab03-softmax-ce"


def run_once(request: bytes, calls: list) -> float:
    """One pre-forked child: seconds from the request to its last result checked."""
    go_r, go_w = os.pipe()
    result_r, result_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait like a spare, then do what the sandbox's student does
        os.close(go_w)
        os.close(result_r)
        _reserve_huge_heap()
        os.read(go_r, 1)
        with os.fdopen(result_w, "wb") as out:
            harness.serve(harness.decode_request(request), out)
        os._exit(0)
    os.close(go_r)
    os.close(result_w)
    time.sleep(0.02)  # the fork is over and the child waits
    collector = OutcomeCollector(calls)
    started = time.perf_counter()
    os.write(go_w, b"x")
    while chunk := os.read(result_r, 1 << 20):
        collector.feed(chunk)
    elapsed = time.perf_counter() - started
    os.close(result_r)
    os.close(go_w)
    os.waitpid(pid, 0)
    if not collector.done or any(o is None or o.status != "ok" for o in collector.outcomes):
        raise SystemExit("the unisolated child did not return every result")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100, help="runs of each kind (default 100)")
    args = parser.parse_args(argv)
    lab = find_lab(LAB_ID)
    source = SUBMISSION.read_text()
    names = [f.name for f in lab.functions]
    groups = {
        "shown": [f.call for f in fixtures.build(lab, ("public", "randomised"), 1)],
        "hidden": [f.call for f in fixtures.build(lab, ("hidden",), 1)],
    }
    requests = {
        kind: harness.encode_request(source, names, [c.encoded for c in calls]) for kind, calls in groups.items()
    }
    _keep_heap()
    for request in requests.values():  # warm up as the fork server does
        harness.serve(harness.decode_request(request), io.BytesIO())
    settle_heap()
    times: dict[str, list[float]] = {}
    for kind, calls in groups.items():
        for _ in range(10):
            run_once(requests[kind], calls)
        times[kind] = [run_once(requests[kind], calls) for _ in range(args.n)]
    print(json.dumps(times))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
