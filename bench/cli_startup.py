"""Benchmark the CLI's start-up against the interpreter's own, measured side by side.

Each command is run ``-n`` times (default 9) in a fresh process, interleaved round by
round so that a slow spell of the machine hits every command alike, and the best wall
time of each is kept (start-up is a floor, and the best run is the one least disturbed).
Targets (issue 14):

* ``lossgrader --help`` ≤ 1.5 × ``python -c pass`` + 50 ms;
* ``lossgrader labs`` ≤ 1.5 × ``python -c "import numpy"``;
* ``lossgrader check`` on lab01 (a correct file) ≤ 2.5 × ``python -c "import numpy"``.

A floor for ``check`` is timed beside them: two interpreters importing NumPy at once
(``check`` is a parent and a child that both import NumPy; on an idle machine with two
cores they overlap, on a busy one they queue). It is information, not a target.

Prints a table of best and median times, then a PASS/FAIL line per target; exit status
1 if one is missed. The CLI is run as ``python -m grader`` from this checkout's
interpreter (what the console script does, without the wrapper's own start-up).

Measured as users see it: with cached bytecode. Every command (the baselines too) runs
with ``PYTHONDONTWRITEBYTECODE`` removed from its environment, after ``compileall`` and
one warm-up run of each command have written the ``.pyc`` files (an installed package
has them; a development environment that sets the variable recompiles every module at
each start). The same commands with ``PYTHONDONTWRITEBYTECODE=1`` and the caches
ignored (``-B`` is not enough: it only stops writing) are then timed for information:
no target applies to them.

Usage::

    .venv/bin/python bench/cli_startup.py
    .venv/bin/python bench/cli_startup.py -n 21
    nice .venv/bin/python bench/cli_startup.py --no-uncached
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK_FILE = ROOT / "tests" / "implementations" / "lab01-mse" / "correct_textbook.py"
IMPORT_NUMPY = [sys.executable, "-c", "import numpy"]

COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    'python -c "import numpy"': IMPORT_NUMPY,
    "lossgrader --help": [sys.executable, "-m", "grader", "--help"],
    "lossgrader labs": [sys.executable, "-m", "grader", "labs"],
    "lossgrader check (lab01)": [sys.executable, "-m", "grader", "check", str(CHECK_FILE), "--lab", "lab01-mse"],
}
FLOOR = "2 × import numpy at once"  # timed by time_pair, not a command of its own


def environment(*, cached: bool, empty_cache: str = "") -> dict[str, str]:
    """The environment commands run in: with bytecode caches (the variable removed), or
    with ``PYTHONDONTWRITEBYTECODE=1`` and an empty cache folder (nothing cached, nothing written)."""
    env = dict(os.environ)
    env.setdefault("COLUMNS", "80")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if not cached:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = empty_cache
    return env


def time_once(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of one run of ``argv`` (output discarded); a failed run is an error."""
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def time_pair(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of two runs of ``argv`` started together, until both have ended."""
    started = time.perf_counter()
    procs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL, cwd=ROOT, env=env) for _ in range(2)]
    if any(proc.wait() for proc in procs):
        raise SystemExit(f"{' '.join(argv)} failed")
    return time.perf_counter() - started


def measure(runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    """Each command (and the floor) ``runs`` times, interleaved round by round."""
    timers: dict[str, Callable[[], float]] = {name: lambda a=argv: time_once(a, env) for name, argv in COMMANDS.items()}
    timers[FLOOR] = lambda: time_pair(IMPORT_NUMPY, env)
    times: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(runs):
        for name, timer in timers.items():
            times[name].append(timer())
    return times


def print_table(title: str, times: dict[str, list[float]]) -> dict[str, float]:
    """Best and median per command; returns the best."""
    best = {name: min(values) for name, values in times.items()}
    print(title)
    print(f"{'command':<28} {'best ms':>8} {'median ms':>10}")
    for name, values in times.items():
        print(f"{name:<28} {best[name] * 1000:8.1f} {statistics.median(values) * 1000:10.1f}")
    return best


def warm_up(env: dict[str, str]) -> None:
    """Write the bytecode caches: compileall on the project, then one run of each command."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "grader", "reference"], cwd=ROOT, env=env, check=True)
    for argv in COMMANDS.values():
        time_once(argv, env)


def main() -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=9, help="runs per command (default 9)")
    parser.add_argument("--no-uncached", action="store_true", help="skip the information runs without bytecode caches")
    args = parser.parse_args()
    cached = environment(cached=True)
    warm_up(cached)
    best = print_table("with bytecode caches (as installed; the targets apply):", measure(args.n, cached))
    if not args.no_uncached:
        with tempfile.TemporaryDirectory(prefix="no-pyc-") as empty:
            print()
            print_table(
                "PYTHONDONTWRITEBYTECODE=1 and no bytecode caches (every module compiled at each start; "
                "information only):",
                measure(max(1, args.n // 3), environment(cached=False, empty_cache=empty)),
            )
    bare, numpy = best["python -c pass"], best['python -c "import numpy"']
    targets = [
        ("lossgrader --help", best["lossgrader --help"], 1.5 * bare + 0.050, "1.5 × python -c pass + 50 ms"),
        ("lossgrader labs", best["lossgrader labs"], 1.5 * numpy, '1.5 × python -c "import numpy"'),
        ("lossgrader check", best["lossgrader check (lab01)"], 2.5 * numpy, '2.5 × python -c "import numpy"'),
    ]
    ratios = {
        "lossgrader --help": f"(t − 50 ms) / python -c pass = {(best['lossgrader --help'] - 0.050) / bare:.2f}",
        "lossgrader labs": f"t / import numpy = {best['lossgrader labs'] / numpy:.2f}",
        "lossgrader check": (
            f"t / import numpy = {best['lossgrader check (lab01)'] / numpy:.2f}; "
            f"floor ({FLOOR}) / import numpy = {best[FLOOR] / numpy:.2f}"
        ),
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
