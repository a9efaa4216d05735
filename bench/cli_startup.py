"""Benchmark the CLI's start-up against the interpreter's own, measured side by side.

Each command is run ``-n`` times (default 9) in a fresh process, interleaved round by
round so that a slow spell of the machine hits every command alike, and the best wall
time of each is kept (start-up is a floor, and the best run is the one least disturbed).
Targets (issue 14):

* ``lossgrader --help`` ≤ 1.5 × ``python -c pass`` + 50 ms;
* ``lossgrader labs`` ≤ 1.5 × ``python -c "import numpy"``;
* ``lossgrader check`` on lab01 (a correct file) ≤ 2.5 × ``python -c "import numpy"``.

Prints a table of best and median times, then a PASS/FAIL line per target; exit status
1 if one is missed. The CLI is run as ``python -m grader`` from this checkout's
interpreter (what the console script does, without the wrapper's own start-up).

Usage::

    .venv/bin/python bench/cli_startup.py
    .venv/bin/python bench/cli_startup.py -n 21
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK_FILE = ROOT / "tests" / "implementations" / "lab01-mse" / "correct_textbook.py"

COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    'python -c "import numpy"': [sys.executable, "-c", "import numpy"],
    "lossgrader --help": [sys.executable, "-m", "grader", "--help"],
    "lossgrader labs": [sys.executable, "-m", "grader", "labs"],
    "lossgrader check (lab01)": [sys.executable, "-m", "grader", "check", str(CHECK_FILE), "--lab", "lab01-mse"],
}


def time_once(argv: list[str]) -> float:
    """Wall time of one run of ``argv`` (output discarded); a failed run is an error."""
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=_env())
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("COLUMNS", "80")
    return env


def main() -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=9, help="runs per command (default 9)")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for argv in COMMANDS.values():  # one warm-up each: file caches, .pyc files
        time_once(argv)
    for _ in range(args.n):
        for name, argv in COMMANDS.items():
            times[name].append(time_once(argv))
    best = {name: min(values) for name, values in times.items()}
    print(f"{'command':<28} {'best ms':>8} {'median ms':>10}")
    for name, values in times.items():
        print(f"{name:<28} {best[name] * 1000:8.1f} {statistics.median(values) * 1000:10.1f}")
    bare, numpy = best["python -c pass"], best['python -c "import numpy"']
    # (name, measured, limit, rule, ratio as the rule counts it)
    targets = [
        ("lossgrader --help", best["lossgrader --help"], 1.5 * bare + 0.050, "1.5 × python -c pass + 50 ms"),
        ("lossgrader labs", best["lossgrader labs"], 1.5 * numpy, '1.5 × python -c "import numpy"'),
        ("lossgrader check", best["lossgrader check (lab01)"], 2.5 * numpy, '2.5 × python -c "import numpy"'),
    ]
    ratios = {
        "lossgrader --help": f"(t − 50 ms) / python -c pass = {(best['lossgrader --help'] - 0.050) / bare:.2f}",
        "lossgrader labs": f"t / import numpy = {best['lossgrader labs'] / numpy:.2f}",
        "lossgrader check": f"t / import numpy = {best['lossgrader check (lab01)'] / numpy:.2f}",
    }
    failed = False
    print()
    for name, got, limit, rule in targets:
        ok = got <= limit
        failed |= not ok
        verdict = "PASS" if ok else "FAIL"
        print(f"{verdict} {name}: {got * 1000:.1f} ms, limit {limit * 1000:.1f} ms ({rule}); {ratios[name]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
