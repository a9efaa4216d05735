"""Causes: why a submission lost points, each said once for the fixtures it explains.

Per fixture the comparison says what went wrong; here the failures of one submission
are grouped by cause (a catalogued mistake, an exception, a wrong shape, a load error,
…), most points lost first, so that a student reads each diagnosis once.
"""

from __future__ import annotations

from grader.grading.result import Cause, Result, TestResult


def find_causes(result: Result) -> list[Cause]:
    """The causes of a graded result's failures, most points lost first; sets each failed
    test's ``cause`` to the key of the cause that explains it."""
    causes: dict[str, Cause] = {}
    order: list[str] = []
    for test in result.tests:
        if test.passed:
            continue
        key, kind, message = _classify(test, result)
        cause = causes.get(key)
        if cause is None:
            cause = causes[key] = Cause(key=key, kind=kind, message=message, fixtures=[], points_lost=0.0)
            order.append(key)
        cause.fixtures.append(test.name)
        cause.points_lost += test.max_score - test.score
        test.cause = key
    ranked = sorted(order, key=lambda k: (-causes[k].points_lost, order.index(k)))
    return [causes[k] for k in ranked]


_KINDS = {
    "missing": "missing",
    "raised": "exception",
    "type": "type",
    "shape": "shape",
    "finite": "non_finite",
    "value": "value",
    "unmodified": "modified",
    "not_run": "limit",
}


def _classify(test: TestResult, result: Result) -> tuple[str, str, str]:
    """(key, kind, message) of one failed test."""
    if result.submission_error and test.stage == "not_run":
        return "load", "load", result.submission_error
    kind = _KINDS.get(test.stage, test.stage)
    feedback = test.feedback()
    return f"{kind}:{feedback}", kind, feedback
