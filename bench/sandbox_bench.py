"""Benchmark grading in the sandbox against a fresh interpreter per submission.

Grades ``-n`` copies (default 200) of ``tests/implementations/lab03-softmax-ce/
correct_logsumexp.py`` with every fixture (public, hidden and randomised: 31 fixtures),
the way ``lossgrader grade`` does (``grader.cli._grade_many`` over ``grade()``), and
prints:

* latency, one submission at a time, with the default pool (one slot per CPU) and
  with a single slot, back to back (the targets are about these) and, for information,
  one submission every 50 ms, as students submit (the pool idles in between, and its
  spare children warm up): per submission (``Result.execution_time``: fixtures built, the
  run, comparison) and per run. In the sandbox a lab03 submission is one run in one
  child: the shown fixtures (9), then, once what they wrote is sealed, the hidden ones
  (22) (``SandboxRunner.run_in_turn``); a fresh interpreter runs each group apart;
* what the trusted grader itself spends per submission (building fixtures, the
  reference, comparison), measured on its own by replaying recorded run reports;
* a floor: the same runs in a pre-forked child of a warm process with no isolation
  at all (``bench/fork_floor.py``), one at a time; what the sandbox adds is on top;
* throughput (submissions/s) with 1 and 2 slots (``--jobs`` grading threads per slot,
  default 2, as ``lossgrader grade -j`` would);
* the same work through :class:`~grader.grading.runner.SubprocessRunner` (a fresh
  interpreter per run), one submission at a time, and the ratio.

* the two sandbox modes side by side (run as root): the root mode (this process) and the
  unprivileged ``userns`` mode (the same measurement as an unprivileged service user, made
  as the tests make it: :mod:`tests.sandbox.service_user`), root before and after it, one
  submission at a time with the default pool.

Then a PASS/FAIL line per target: sandbox ≥ 10× faster than a fresh interpreter
(per-submission medians, default pool for both), ≤ 10 ms median per submission,
throughput growing with slots, and the userns mode's per-run median within 1.2× of the
root mode's. Exit status 1 if a target is missed. Needs Linux, pyseccomp, and root (or,
for the userns mode alone, unprivileged user namespaces).

Usage::

    .venv/bin/python bench/sandbox_bench.py              # full size: 200 submissions
    .venv/bin/python bench/sandbox_bench.py -n 50 --fresh 20
    .venv/bin/python bench/sandbox_bench.py --modes-only -n 100   # only the two modes
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from grader.cli import _grade_many
from grader.grading.engine import grade
from grader.grading.lab import Lab, find_lab
from grader.grading.result import Result
from grader.grading.runner import Call, RunLimits, RunReport, SubprocessRunner

ROOT = Path(__file__).resolve().parents[1]
SUBMISSION = ROOT / "tests" / "implementations" / "lab03-softmax-ce" / "correct_logsumexp.py"
LAB_ID = "lab03-softmax-ce"

TARGET_SPEEDUP = 10.0
TARGET_P50_MS = 10.0
TARGET_GROWTH = 1.05  # 2 slots must do at least 5 % more than 1 (more than noise)
TARGET_USERNS_RATIO = 1.2  # the unprivileged mode's per-run cost, against the root mode's
SPORADIC_GAP = 0.05  # seconds between submissions in the "as students submit" measurement


class TimedRunner:
    """Delegates to a runner and records how long each run took, by kind of run: shown,
    hidden, or both in turn in one child (the sandbox's way, as the service grades)."""

    def __init__(self, inner: Any, hidden_calls: int) -> None:
        self.inner = inner
        self.hidden_calls = hidden_calls
        self.times: dict[str, list[float]] = {"shown": [], "hidden": [], "in turn": []}
        self._lock = threading.Lock()
        if hasattr(inner, "run_in_turn"):  # grade() asks for it by name
            self.run_in_turn = self._run_in_turn

    def run(self, source: str, functions: list[str], calls: list[Call], limits: RunLimits) -> RunReport:
        started = time.perf_counter()
        report = self.inner.run(source, functions, calls, limits)
        elapsed = time.perf_counter() - started
        with self._lock:
            self.times["hidden" if len(calls) == self.hidden_calls else "shown"].append(elapsed)
        return report

    def _run_in_turn(
        self, source: str, functions: list[str], first: list[Call], then: list[Call], limits: RunLimits
    ) -> tuple[RunReport, RunReport | None]:
        started = time.perf_counter()
        reports = self.inner.run_in_turn(source, functions, first, then, limits)
        elapsed = time.perf_counter() - started
        with self._lock:
            self.times["in turn"].append(elapsed)
        self.keep(first, reports[0])
        if reports[1] is not None:
            self.keep(then, reports[1])
        return reports

    def keep(self, calls: list[Call], report: RunReport) -> None:
        """A report of a run (or of one part of a run in turn); nothing here."""

    def all_times(self) -> list[float]:
        return self.times["shown"] + self.times["hidden"] + self.times["in turn"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def ms(values: list[float]) -> str:
    return f"p50 {percentile(values, 50) * 1000:8.2f} ms   p95 {percentile(values, 95) * 1000:8.2f} ms"


def check(results: list[Result]) -> None:
    wrong = [r for r in results if r.status != "graded" or r.score != r.max_score]
    if wrong:
        raise SystemExit(f"{len(wrong)} submissions were not graded in full: {wrong[0].summary_line()}")


def sequential(runner: Any, lab: Lab, sources: list[bytes]) -> tuple[list[float], TimedRunner, float]:
    """Grade one at a time; per-submission latencies, the runs' times, total seconds."""
    timed = TimedRunner(runner, len(lab.fixtures_by("hidden")))
    latencies = []
    started = time.perf_counter()
    for source in sources:
        result = grade(source, lab, None, runner=timed)
        check([result])
        latencies.append(result.execution_time)
    return latencies, timed, time.perf_counter() - started


def throughput(runner: Any, lab: Lab, sources: list[bytes], jobs: int) -> float:
    """Submissions per second through ``lossgrader grade``'s own concurrent path."""
    started = time.perf_counter()
    results = _grade_many(sources, lab, None, runner, jobs, show_progress=False)
    elapsed = time.perf_counter() - started
    check(results)
    return len(sources) / elapsed


class ReplayRunner:
    """Hands back copies of recorded reports: grading without running anything."""

    def __init__(self, reports: dict[int, RunReport]) -> None:
        self.reports = reports

    def run(self, source: str, functions: list[str], calls: list[Call], limits: RunLimits) -> RunReport:
        report = self.reports[len(calls)]
        return dataclasses.replace(report, outcomes=[dataclasses.replace(o) for o in report.outcomes])


class RecordingRunner(TimedRunner):
    """Keeps the last report of each kind of run."""

    def __init__(self, inner: Any, hidden_calls: int) -> None:
        super().__init__(inner, hidden_calls)
        self.reports: dict[int, RunReport] = {}

    def run(self, source: str, functions: list[str], calls: list[Call], limits: RunLimits) -> RunReport:
        report = super().run(source, functions, calls, limits)
        self.keep(calls, report)
        return report

    def keep(self, calls: list[Call], report: RunReport) -> None:
        self.reports[len(calls)] = report


def grader_side(runner: Any, lab: Lab, source: bytes, n: int) -> list[float]:
    """Per-submission time of the trusted side alone (fixtures, reference, comparison)."""
    seed = 12345
    recording = RecordingRunner(runner, len(lab.fixtures_by("hidden")))
    check([grade(source, lab, seed, runner=recording)])
    replay = ReplayRunner(recording.reports)
    times = []
    for _ in range(n):
        result = grade(source, lab, seed, runner=replay)
        check([result])
        times.append(result.execution_time)
    return times


def sporadic(runner: Any, lab: Lab, source: bytes, n: int, gap: float) -> list[float]:
    """Latencies of submissions that arrive ``gap`` seconds apart (the pool idles between)."""
    latencies = []
    for _ in range(n):
        time.sleep(gap)
        result = grade(source, lab, None, runner=runner)
        check([result])
        latencies.append(result.execution_time)
    return latencies


def unisolated_floor(n: int) -> dict[str, list[float]]:
    """Per-run times of a pre-forked child with no isolation (``bench/fork_floor.py``)."""
    floor = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fork_floor.py"), "-n", str(n)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(floor.stdout)


def latency(runner: Any, lab: Lab, source: bytes, n: int, warm: int, label: str) -> tuple[list[float], TimedRunner]:
    """Grade one submission at a time and print its latencies."""
    sequential(runner, lab, [source] * warm)
    latencies, timed, elapsed = sequential(runner, lab, [source] * n)
    print(f"\n{label}, one submission at a time")
    print(f"  per submission (runs + grader)        {ms(latencies)}")
    if timed.times["in turn"]:
        print(f"  per run, shown then hidden in turn    {ms(timed.times['in turn'])}")
    if timed.times["shown"]:
        print(f"  per run, shown                        {ms(timed.times['shown'])}")
    if timed.times["hidden"]:
        label = "per run, hidden" + (" (apart)" if timed.times["in turn"] else "")
        print(f"  {label:<38}{ms(timed.times['hidden'])}")
    print(f"  throughput, sequential                {n / elapsed:8.1f} submissions/s")
    return latencies, timed


def mode_figures(runner: Any, lab: Lab, source: bytes, n: int, warm: int) -> dict[str, float]:
    """Per-submission and per-run medians, one submission at a time, in ``runner``'s mode."""
    sequential(runner, lab, [source] * warm)
    latencies, timed, _elapsed = sequential(runner, lab, [source] * n)
    return {"p50": percentile(latencies, 50), "run_p50": percentile(timed.all_times(), 50)}


def userns_figures(n: int, warm: int, prefault: str) -> dict[str, float]:
    """:func:`mode_figures` in the userns mode: this benchmark run by an unprivileged service user
    (created if missing, with a virtual environment it can read, cached), on a copy of the project."""
    import shutil
    import tempfile

    from tests.sandbox import service_user

    reason = service_user.why_unavailable()
    if reason:
        raise RuntimeError(f"the unprivileged mode cannot be measured here: {reason}")
    user = service_user.ensure_user()
    venv = service_user.ensure_venv()
    top = Path(tempfile.mkdtemp(prefix="lg-bench-", dir="/srv" if os.path.isdir("/srv") else "/var/tmp"))
    try:
        top.chmod(0o755)
        project = service_user.copy_project(top)
        argv = [str(venv / "bin" / "python"), "-m", "bench.sandbox_bench", "--userns-child"]
        argv += ["-n", str(n), "--warm", str(warm), "--prefault", prefault]
        run = service_user.run_as(
            user, argv, env=service_user.service_environment(project), cwd=str(project), capture_output=True
        )
        if run.returncode:
            raise RuntimeError(f"the userns measurement failed: {run.stderr.strip()[-2000:]}")
        return json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(top, ignore_errors=True)


def compare_modes(lab: Lab, source: bytes, n: int, warm: int, prefault: str) -> float | None:
    """Root, userns, root again: print the medians; returns userns / root per run (None: not measurable)."""
    from grader.sandbox import SandboxRunner

    print("\nthe two sandbox modes, one submission at a time, default pool (root, userns, root again)")
    root: list[dict[str, float]] = []
    userns: dict[str, float] = {}
    for step in ("root", "userns", "root"):
        if step == "root":
            with SandboxRunner(prefault=prefault) as runner:
                root.append(mode_figures(runner, lab, source, n, warm))
            figures = root[-1]
        else:
            try:
                userns = figures = userns_figures(n, warm, prefault)
            except RuntimeError as exc:
                print(f"  userns: {exc}")
                return None
        print(
            f"  {step:<7} per submission p50 {figures['p50'] * 1000:7.2f} ms   "
            f"per run p50 {figures['run_p50'] * 1000:7.2f} ms"
        )
    root_run = sum(f["run_p50"] for f in root) / len(root)
    ratio = userns["run_p50"] / root_run
    print(f"  userns / root, per run p50            {ratio:8.2f}x   (root: the mean of its two)")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200, help="submissions per measurement (default 200)")
    parser.add_argument("--fresh", type=int, default=None, help="submissions through SubprocessRunner (default: -n)")
    parser.add_argument("--jobs", type=int, default=2, help="grading threads per slot for throughput (default 2)")
    parser.add_argument("--warm", type=int, default=10, help="warm-up submissions per runner (default 10)")
    parser.add_argument(
        "--prefault",
        choices=("idle", "always", "never"),
        default="idle",
        help="when spares warm up while they wait (default: idle, as the service does)",
    )
    parser.add_argument("--modes-only", action="store_true", help="only the root and userns modes side by side")
    parser.add_argument("--userns-child", action="store_true", help=argparse.SUPPRESS)  # compare_modes' child
    args = parser.parse_args(argv)

    from grader.sandbox import SandboxRunner, SandboxUnavailable

    lab = find_lab(LAB_ID)
    source = SUBMISSION.read_bytes()
    if args.userns_child:  # run by userns_figures() as the service user: JSON on the last line
        with SandboxRunner(prefault=args.prefault) as runner:
            print(json.dumps({**mode_figures(runner, lab, source, args.n, args.warm), "mode": runner.mode}))
        return 0
    if args.modes_only:
        ratio = compare_modes(lab, source, args.n, args.warm, args.prefault)
        if ratio is None:
            return 2
        ok = ratio <= TARGET_USERNS_RATIO
        print(f"\n{'PASS' if ok else 'FAIL'}  userns per-run p50 <= {TARGET_USERNS_RATIO:g}x root's: {ratio:.2f}x")
        return 0 if ok else 1
    sources = [source] * args.n
    fresh_n = args.n if args.fresh is None else args.fresh
    shown_calls = len(lab.fixtures_by("public", "randomised"))
    hidden_calls = len(lab.fixtures_by("hidden"))
    cpus = os.cpu_count() or 1
    print(f"lossgrader sandbox benchmark: {SUBMISSION.relative_to(ROOT)}, {LAB_ID}")
    print(
        f"  {args.n} submissions x {shown_calls + hidden_calls} fixtures "
        f"({shown_calls} shown, {hidden_calls} hidden: one sandboxed child runs both in turn, "
        "a fresh interpreter runs each apart); "
        f"{cpus} CPUs; Python {sys.version.split()[0]}; load {os.getloadavg()[0]:.2f}"
    )

    figures: dict[str, float] = {}
    try:
        with SandboxRunner(prefault=args.prefault) as runner:
            started = time.perf_counter()
            runner.start()
            print(f"  fork server start-up: {(time.perf_counter() - started) * 1000:.0f} ms; mode {runner.mode}")
            latencies, timed = latency(
                runner, lab, source, args.n, args.warm, f"sandbox, default pool ({runner.slots} slots)"
            )
            figures["p50"] = percentile(latencies, 50)
            figures["run_p50"] = percentile(timed.all_times(), 50)
            spaced = sporadic(runner, lab, source, min(args.n, 100), SPORADIC_GAP)
            figures["sporadic_p50"] = percentile(spaced, 50)
            print(f"  one every {SPORADIC_GAP * 1000:.0f} ms (idle between)  {ms(spaced)}")
            trusted = grader_side(runner, lab, source, args.n)
            figures["grader_p50"] = percentile(trusted, 50)
            print(f"\ntrusted grader alone (replayed runs)     {ms(trusted)}   (fixtures + reference + comparison)")
            figures["sandbox_run_p50"] = percentile(timed.times["in turn"] or timed.times["hidden"], 50)
        floor = unisolated_floor(min(args.n, 100))
        figures["floor_hidden_p50"] = percentile(floor["hidden"], 50)
        print("\nno isolation at all (bench/fork_floor.py: a pre-forked plain child of a warm process)")
        print(f"  per run, shown                        {ms(floor['shown'])}")
        print(f"  per run, hidden                       {ms(floor['hidden'])}")
        floor_p50 = figures["floor_hidden_p50"] + figures["grader_p50"]
        print(
            f"  its hidden run + the trusted grader   {floor_p50 * 1000:8.2f} ms"
            f"   (the sandbox's run, shown then hidden in one child: {figures['sandbox_run_p50'] * 1000:.2f} ms)"
        )
        with SandboxRunner(slots=1, prefault=args.prefault) as runner:
            runner.start()
            latency(runner, lab, source, args.n, args.warm, "sandbox, 1 slot")
            print(f"\nsandbox throughput (lossgrader grade path, {args.jobs} threads per slot)")
            sequential(runner, lab, [source] * args.warm)
            figures["thr1"] = throughput(runner, lab, sources, args.jobs * 1)
            print(f"  1 slot   {figures['thr1']:8.1f} submissions/s   ({args.jobs} threads)")
        with SandboxRunner(slots=2, prefault=args.prefault) as runner:
            runner.start()
            sequential(runner, lab, [source] * args.warm)
            figures["thr2"] = throughput(runner, lab, sources, args.jobs * 2)
            print(f"  2 slots  {figures['thr2']:8.1f} submissions/s   ({args.jobs * 2} threads)")
        ratio = compare_modes(lab, source, min(args.n, 100), args.warm, args.prefault) if os.geteuid() == 0 else None
    except SandboxUnavailable as exc:
        print(f"the sandbox is not available here: {exc}", file=sys.stderr)
        return 2

    print(f"\nfresh interpreter per run (SubprocessRunner), one submission at a time, n={fresh_n}")
    fresh_latencies, fresh_timed, fresh_elapsed = sequential(SubprocessRunner(), lab, [source] * fresh_n)
    print(f"  per submission (both runs + grader)   {ms(fresh_latencies)}")
    print(f"  per run (all)                         {ms(fresh_timed.all_times())}")
    print(f"  throughput, sequential                {fresh_n / fresh_elapsed:8.1f} submissions/s")

    speedup = percentile(fresh_latencies, 50) / figures["p50"]
    run_speedup = percentile(fresh_timed.all_times(), 50) / figures["run_p50"]
    growth = figures["thr2"] / figures["thr1"]
    print("\nratios")
    print(f"  fresh / sandbox, per submission p50   {speedup:8.1f}x")
    print(f"  fresh / sandbox, per run p50          {run_speedup:8.1f}x")
    sporadic_speedup = percentile(fresh_latencies, 50) / figures["sporadic_p50"]
    print(f"  fresh / sandbox, one every 50 ms p50  {sporadic_speedup:8.1f}x   (for information)")
    print(f"  2 slots / 1 slot throughput           {growth:8.2f}x")

    targets = [
        (
            f"sandbox >= {TARGET_SPEEDUP:g}x faster than a fresh interpreter (per-submission p50)",
            speedup >= TARGET_SPEEDUP,
            f"{speedup:.1f}x",
        ),
        (
            f"p50 per submission <= {TARGET_P50_MS:g} ms (run + grader side)",
            figures["p50"] * 1000 <= TARGET_P50_MS,
            f"{figures['p50'] * 1000:.2f} ms; per run {figures['run_p50'] * 1000:.2f} ms, "
            f"trusted grader alone {figures['grader_p50'] * 1000:.2f} ms; with no isolation at all, "
            f"the hidden run and the grader alone take {floor_p50 * 1000:.2f} ms",
        ),
        ("throughput grows with slots (2 vs 1)", growth >= TARGET_GROWTH, f"{growth:.2f}x"),
    ]
    if ratio is not None:
        targets.append(
            (f"userns per-run p50 <= {TARGET_USERNS_RATIO:g}x root's", ratio <= TARGET_USERNS_RATIO, f"{ratio:.2f}x")
        )
    print()
    for name, ok, detail in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return 0 if all(ok for _, ok, _ in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
