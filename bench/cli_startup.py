"""Benchmark the CLI's start-up against the interpreter's own, measured side by side.

Each command is run ``-n`` times (default 9) in a fresh process, interleaved round by
round so that a slow spell of the machine hits every command alike, and the best wall
time of each is kept (start-up is a floor, and the best run is the one least disturbed).
Targets (issue 14):

* ``lossgrader --help`` ≤ 1.5 × ``python -c pass`` + 50 ms;
* ``lossgrader labs`` ≤ 1.5 × ``python -c "import numpy"``;
* ``lossgrader check`` on lab01 (a correct file) ≤ 2.5 × ``python -c "import numpy"``.

Two references for ``check`` are timed beside them (information, not targets).
"floor: numpy, then fork" is an interpreter that imports NumPy, forks a child and waits
for it: ``check`` cannot do less (a parent that builds the inputs and compares the
results, a child that runs the student's code; both need NumPy), and on Linux its child
is such a fork (``SubprocessRunner.prestarted(..., fork=True)``). "numpy in parent + new
child" is the same with a new interpreter importing NumPy as the child, what ``check``
does elsewhere (and did before): the two imports overlap on an idle machine with two
cores, queue on a busy one, and slow each other down even when they overlap.

Prints a table of best and median times, then a PASS/FAIL line per target; exit status
1 if one is missed. The CLI is run as ``python -m grader`` from this checkout's
interpreter (what the console script does, without the wrapper's own start-up).

Measured as users see it: with cached bytecode. Every command (the baselines too) runs
with ``PYTHONDONTWRITEBYTECODE`` removed from its environment, after ``compileall`` and
one warm-up run of each command have written the ``.pyc`` files (an installed package
has them; a development environment that sets the variable never writes them, and
compiles every module it has no cache for at each start). For information (no target
applies), the same commands are then timed as such an environment sees them at worst:
``PYTHONDONTWRITEBYTECODE=1`` and ``PYTHONPYCACHEPREFIX`` an empty folder, so that no
cache is read and every imported module is compiled at each start.

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
FLOOR = "floor: numpy, then fork"
COMMANDS[FLOOR] = [
    sys.executable,
    "-c",
    "import os, numpy; pid = os.fork(); os._exit(0) if pid == 0 else os.waitpid(pid, 0); os._exit(0)",
]
NEW_CHILD = "numpy in parent + new child"
COMMANDS[NEW_CHILD] = [
    sys.executable,
    "-c",
    "import subprocess, sys; child = subprocess.Popen([sys.executable, '-I', '-c', 'import numpy']); "
    "import numpy; sys.exit(child.wait())",
]


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


def measure(runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    """Each command ``runs`` times, interleaved round by round."""
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, argv in COMMANDS.items():
            times[name].append(time_once(argv, env))
    return times


def print_table(title: str, times: dict[str, list[float]]) -> dict[str, float]:
    """Best and median per command; returns the best."""
    best = {name: min(values) for name, values in times.items()}
    print(title)
    print(f"{'command':<30} {'best ms':>8} {'median ms':>10}")
    for name, values in times.items():
        print(f"{name:<30} {best[name] * 1000:8.1f} {statistics.median(values) * 1000:10.1f}")
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
    check, floor = best["lossgrader check (lab01)"], best[FLOOR]
    targets = [
        ("lossgrader --help", best["lossgrader --help"], 1.5 * bare + 0.050, "1.5 × python -c pass + 50 ms"),
        ("lossgrader labs", best["lossgrader labs"], 1.5 * numpy, '1.5 × python -c "import numpy"'),
        ("lossgrader check", check, 2.5 * numpy, '2.5 × python -c "import numpy"'),
    ]
    ratios = {
        "lossgrader --help": f"(t − 50 ms) / python -c pass = {(best['lossgrader --help'] - 0.050) / bare:.2f}",
        "lossgrader labs": f"t / import numpy = {best['lossgrader labs'] / numpy:.2f}",
        "lossgrader check": (
            f"t / import numpy = {check / numpy:.2f}; floor / import numpy = {floor / numpy:.2f}; "
            f"t − floor = {(check - floor) * 1000:.0f} ms; numpy in parent + new child = "
            f"{best[NEW_CHILD] * 1000:.1f} ms"
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
