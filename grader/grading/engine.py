"""``grade(source, lab) -> Result``: the one path from a submission to a verdict.

source → checks on the file → runner (student code runs out of process and returns
plain numbers) → trusted comparison → :class:`Result`.

Hidden fixtures run in a process of their own: whatever a student can see (public
results, load errors, printed output) comes from a process that never held a hidden
input, so it cannot carry one out.
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from grader.grading import compare, fixtures
from grader.grading.causes import find_causes, mistakes_for
from grader.grading.lab import VISIBILITIES, Lab, find_lab
from grader.grading.program import prepare
from grader.grading.result import STATUS_ERROR, Result, TestResult
from grader.grading.runner import Runner, RunReport, SubprocessRunner
from grader.grading.source import quote_line

HIDDEN_LOAD_MESSAGE = "your file raised an exception when loaded."  # no child text: it may hold hidden inputs


def new_seed() -> int:
    """A fresh seed for randomised fixtures (recorded in the result)."""
    return secrets.randbelow(2**31)


def grade(
    source: bytes | str,
    lab: Lab | str,
    seed: int | None = None,
    *,
    runner: Runner | None = None,
    visibilities: Sequence[str] = VISIBILITIES,
) -> Result:
    """Grade one submission against a lab, with every fixture of ``visibilities``."""
    started = time.perf_counter()
    lab = lab if isinstance(lab, Lab) else find_lab(lab)
    seed = new_seed() if seed is None else seed
    runner = runner or SubprocessRunner()
    result = Result(
        lab_id=lab.id,
        lab_title=lab.title,
        lab_version=lab.version,
        seed=seed,
        tests=[],
        runner=type(runner).__name__,
        visibilities=tuple(visibilities),
    )
    if "hidden" in visibilities and lab.withheld:
        result.status = STATUS_ERROR
        result.error = (
            f"this copy of {lab.id} has no hidden fixtures ({', '.join(lab.withheld)} not found): "
            "it can check, not grade"
        )
        return result
    names = [f.name for f in lab.functions]
    program = prepare(source)  # a notebook's code cells, or the .py file
    checked = program.check
    result.notes = program.notes
    future: Future[RunReport] | None = None
    verdicts: dict[str, TestResult] = {}
    outputs = []
    load_code: str | None = None
    # A runner that can run the shown fixtures and then the hidden ones in one process
    # (the sandbox: it seals the first part before the hidden inputs reach the child)
    # does so: one process per submission instead of two.
    in_turn = getattr(runner, "run_in_turn", None)
    try:
        try:
            # The hidden fixtures are built once per lab and their run is the longest:
            # it starts first, while the rest (randomised inputs, the reference) is built.
            hidden = fixtures.build(lab, tuple(v for v in visibilities if v == "hidden"), seed)
            if hidden and not checked.problem and in_turn is None:
                assert checked.text is not None
                future = _executor().submit(_run, runner, checked.text, names, hidden, lab)
            concrete = fixtures.build(lab, tuple(visibilities), seed)
        except Exception as exc:  # a broken lab is the grader's problem, not the student's
            result.status, result.error = STATUS_ERROR, f"the lab's fixtures could not be built: {exc}"
            return result
        if checked.problem:
            result.submission_error = checked.problem
            result.tests = [_untested(f, f"not run: {checked.problem}") for f in concrete]
            result.causes = find_causes(result, load_code=checked.code)
            result.execution_time = time.perf_counter() - started
            return result
        assert checked.text is not None
        shown = [f for f in concrete if f.spec.visibility != "hidden"]
        hidden_report: RunReport | None = None
        for group in (shown, hidden):
            if not group:
                continue
            try:
                if group is hidden and future is not None:
                    report = future.result()
                elif group is hidden and hidden_report is not None:
                    report = hidden_report
                elif group is shown and hidden and in_turn is not None:
                    calls = ([f.call for f in shown], [f.call for f in hidden])
                    report, hidden_report = in_turn(checked.text, names, *calls, lab.limits)
                else:
                    report = _run(runner, checked.text, names, group, lab)
            except Exception as exc:  # the runner itself failed: not the student's fault
                result.status = STATUS_ERROR
                result.error = f"the runner failed: {type(exc).__name__}: {exc}"
                result.tests = []
                return result
            program.explain(report, shown=group is shown)
            load_message = program.load_message(report)
            if load_message and result.submission_error is None:
                result.submission_error = load_message if group is shown else HIDDEN_LOAD_MESSAGE
                if group is shown:  # a line the hidden run reports may be forged: never quoted
                    load_code = quote_line(checked.text, report.load_error_line)
            if group is shown:  # a hidden run's output and termination may carry what its child wrote
                result.load_warnings = program.load_warnings(report)  # a load before any hidden input existed
                outputs.append(report.output)
                result.output_truncated = report.output_truncated
                result.termination = report.termination
            for fixture, outcome in zip(group, report.outcomes, strict=True):
                verdicts[fixture.spec.name] = _verdict(lab, fixture, outcome, checked.defined, load_message)
    finally:
        if future is not None and not future.cancel():
            future.exception()  # wait for it: no run outlives this call
    result.tests = [verdicts[f.spec.name] for f in concrete]
    result.causes = find_causes(result, source=checked.text, load_code=load_code)
    result.output = "".join(outputs)
    result.execution_time = time.perf_counter() - started
    return result


def _run(runner: Runner, source: str, names: list[str], group: list[fixtures.Fixture], lab: Lab) -> RunReport:
    return runner.run(source, names, [f.call for f in group], lab.limits)


@functools.cache
def _executor() -> ThreadPoolExecutor:
    """Threads that wait for second runs (they only wait: the runner bounds the work)."""
    return ThreadPoolExecutor(max_workers=4 * (os.cpu_count() or 1), thread_name_prefix="lossgrader-run")


@functools.cache
def _diagnostics(function: str) -> list[compare.Diagnostic]:
    return [compare.Diagnostic(m.message, m.compute, m.key) for m in mistakes_for(function)]


def _plain(array: np.ndarray | None, limit: int = 64) -> Any:
    """A JSON-friendly copy of a small array (None for large ones)."""
    if array is None or array.size > limit:
        return None
    return array.tolist()


def _verdict(
    lab: Lab, fixture: fixtures.Fixture, outcome: Any, defined: list[str], load_message: str | None
) -> TestResult:
    spec = fixture.spec
    function = lab.function(spec.function)
    if load_message:
        outcome.error = f"not run: {load_message}"
    verdict = compare.check(
        outcome,
        fixture.expected,
        function,
        spec.policy,
        check_unmodified=spec.check_unmodified,
        defined_names=defined,
        diagnostics=_diagnostics(spec.function),
        args=fixture.args,
    )
    if load_message and spec.visibility == "hidden":
        verdict.summary = f"not run: {HIDDEN_LOAD_MESSAGE}"
    shown = spec.visibility != "hidden"
    return _test_result(
        fixture,
        score=spec.points if verdict.passed else 0.0,
        passed=verdict.passed,
        stage=verdict.stage,
        message=verdict.message,
        summary=verdict.summary,
        diagnosis=verdict.diagnosis,
        advice=verdict.advice,
        hint=_hint(spec, verdict),
        candidates=verdict.candidates,
        error_type=verdict.error_type,
        error_line=outcome.line if shown and verdict.stage == "raised" else None,
        reason=verdict.reason,
        traits=compare.input_traits(fixture.args),
        elapsed=outcome.elapsed,
        got=_plain(outcome.value),
        max_abs_error=verdict.max_abs_error,
        max_rel_error=verdict.max_rel_error,
    )


def _hint(spec: Any, verdict: compare.Verdict) -> str:
    """The fixture's hint when it applies to this failure: a listed stage ("value"), a
    catalogued mistake the value fits ("mistake:cee_no_delta"), or an exception type
    ("raised:TypeError"); never a hint about something the student did not do."""
    if verdict.passed or not spec.hint:
        return ""
    for when in spec.hint_when:
        head, _, detail = when.partition(":")
        if head == "mistake" and detail in verdict.candidates:
            return spec.hint
        if head == verdict.stage and detail in ("", verdict.error_type):
            return spec.hint
    return ""


def _untested(fixture: fixtures.Fixture, reason: str) -> TestResult:
    return _test_result(fixture, score=0.0, passed=False, stage="not_run", message=reason, summary=reason)


def _test_result(fixture: fixtures.Fixture, **verdict: Any) -> TestResult:
    """A TestResult with the fixture's own fields filled in."""
    spec = fixture.spec
    return TestResult(
        name=spec.name,
        function=spec.function,
        category=spec.category,
        visibility=spec.visibility,
        description=spec.description,
        max_score=spec.points,
        seed=fixture.seed,
        inputs=list(fixture.inputs),
        expected=_plain(fixture.expected),
        **verdict,
    )
