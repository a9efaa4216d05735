"""How long one submission takes in the sandbox, against a fresh interpreter.

Not a test: ``python -m grader.sandbox.latency [-n 200] [--slots 2]`` (as root: the root mode;
as any other user: the userns mode). It
times a typical lab submission (a NumPy loss, four fixtures) run after run, then
many threads at once, then the same through :class:`SubprocessRunner`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from grader.grading.runner import Call, RunLimits, SubprocessRunner
from grader.sandbox.runner import DEFAULT_LIMITS, SandboxRunner

SOURCE = """
import numpy as np

def mse(y_pred, y_true):
    y_pred, y_true = np.asarray(y_pred, dtype=float), np.asarray(y_true, dtype=float)
    return float(np.mean((y_pred - y_true) ** 2))
"""


def _calls() -> list[Call]:
    rng = np.random.default_rng(0)
    return [Call(f"fixture-{k}", "mse", (rng.random(32), rng.random(32))) for k in range(4)]


def _time(runner, n: int, limits: RunLimits) -> list[float]:  # type: ignore[no-untyped-def]
    calls = _calls()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        report = runner.run(SOURCE, ["mse"], calls, limits)
        times.append(time.perf_counter() - started)
        if any(o.status != "ok" for o in report.outcomes):
            raise SystemExit(f"unexpected report: {report}")
    return times


def _summary(label: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return (
        f"{label:34s} median {statistics.median(ms):7.2f} ms   p90 {p90:7.2f} ms   min {ms[0]:7.2f} ms  (n={len(ms)})"
    )


def main(argv: list[str] | None = None) -> None:
    """Print the latency table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="sequential sandbox runs")
    parser.add_argument("--slots", type=int, default=None, help="slots (default: CPUs)")
    parser.add_argument("--fresh", type=int, default=20, help="SubprocessRunner runs (0 to skip)")
    args = parser.parse_args(argv)

    with SandboxRunner(slots=args.slots) as runner:
        started = time.perf_counter()
        runner.start()
        print(f"fork server start-up: {(time.perf_counter() - started) * 1000:.0f} ms")
        _time(runner, 5, DEFAULT_LIMITS)  # warm
        sandbox = _time(runner, args.n, DEFAULT_LIMITS)
        print(_summary("sandbox, one at a time", sandbox))
        calls = _calls()
        total = args.n
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=runner.slots * 2) as pool:
            list(pool.map(lambda _: runner.run(SOURCE, ["mse"], calls, DEFAULT_LIMITS), range(total)))
        elapsed = time.perf_counter() - started
        print(
            f"{'sandbox, ' + str(runner.slots * 2) + ' threads':34s} "
            f"{total / elapsed:7.1f} submissions/s ({elapsed / total * 1000:.2f} ms each)"
        )
    if args.fresh:
        fresh = _time(SubprocessRunner(), args.fresh, DEFAULT_LIMITS)
        print(_summary("fresh interpreter (SubprocessRunner)", fresh))
        print(f"speed-up (medians): {statistics.median(fresh) / statistics.median(sandbox):.1f}x")


if __name__ == "__main__":
    main()
