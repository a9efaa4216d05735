"""What a student reads of a graded submission: a verdict, each cause once, the fixtures.

Built from the stored row (:attr:`Submission.causes`, the fixture rows) for the result
page and the API. Submissions stored before causes were recorded have none: their
causes are derived from the fixture rows (what the grader would say of them now, or,
failing that, one group per distinct student-safe feedback text).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, fields
from typing import Any

from grader.grading.result import Cause, Result, TestResult, cause_fixtures_phrase, fmt_points
from grader.grading.source import quote_line
from grader.service.policies import is_unloadable

#: Printed output shown to a student is cut here (the database keeps more).
OUTPUT_CHARS = 4000
OUTPUT_LINES = 60
_LINE_RE = re.compile(r"\bline (\d+)\b")
_WARNING_RE = re.compile(r"^\S*:\d+: \w*Warning: ", re.MULTILINE)
_LOAD_KINDS = frozenset({"load", "missing"})


@dataclass
class CauseView:
    """One cause with the fixture rows it explains (most points lost first)."""

    key: str
    kind: str
    message: str  # Markdown
    fixtures: list[str]
    points_lost: float
    mistake: str | None = None
    code: str | None = None
    rows: list[Any] = field(default_factory=list)
    scope: str = ""  # "All 30 fixtures", "3 fixtures", "Fixture single-label"

    def to_dict(self) -> dict[str, Any]:
        """The cause as the API gives it (the fields of :class:`Cause`)."""
        return {f.name: getattr(self, f.name) for f in fields(Cause)}


@dataclass
class Feedback:
    """The result page's model of a graded submission."""

    outcome: str  # passed, partial, failed, unloadable
    headline: str
    total: int
    passed: list[Any]
    causes: list[CauseView]
    load_error: CauseView | None = None  # the one error when the file could not be run
    not_run: list[Any] = field(default_factory=list)
    reproduce: str | None = None  # the command that reruns the randomised fixtures locally
    output: str = ""
    output_cut: bool = False
    warnings: int = 0
    uses_no_attempt: bool = False  # a file that cannot be loaded (policies.is_unloadable)


def stored_causes(submission: Any, rows: list[Any]) -> list[dict[str, Any]]:
    """The submission's causes as stored, or derived from its fixture rows when it was
    graded before causes were stored."""
    if submission.causes is not None:
        return list(submission.causes)
    return derive_causes(submission.submission_error, rows)


def derive_causes(submission_error: str | None, rows: list[Any]) -> list[dict[str, Any]]:
    """Causes for fixture rows stored without them: the grader's own grouping when the
    rows hold what it needs, else one group per distinct feedback text."""
    try:
        result = Result(
            lab_id="",
            lab_title="",
            lab_version="",
            seed=0,
            tests=[_test_result(row) for row in rows],
            submission_error=submission_error,
        )
        from grader.grading.causes import find_causes

        return [cause.to_dict() for cause in find_causes(result)]
    except Exception:  # rows from an older grader: group them by what each one says
        return _group_by_feedback(submission_error, rows)


_TEST_FIELDS = {f.name for f in fields(TestResult)}


def _test_result(row: Any) -> TestResult:
    detail = {k: v for k, v in dict(row.detail or {}).items() if k in _TEST_FIELDS}
    detail.update(
        name=row.name,
        function=row.function,
        category=row.category,
        visibility=row.visibility,
        passed=row.passed,
        stage=row.stage,
        score=row.score,
        max_score=row.max_score,
    )
    detail.setdefault("description", "")
    detail.setdefault("message", row.feedback)
    detail.setdefault("summary", row.feedback)
    return TestResult(**detail)


def _group_by_feedback(submission_error: str | None, rows: list[Any]) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.passed:
            continue
        load = bool(submission_error) and row.stage == "not_run"
        key = "load" if load else f"{row.stage}:{row.feedback}"
        group = groups.setdefault(
            key,
            {
                "key": key,
                "kind": "load" if load else row.stage,
                "message": submission_error if load else row.feedback,
                "fixtures": [],
                "points_lost": 0.0,
                "mistake": None,
                "code": None,
            },
        )
        group["fixtures"].append(row.name)
        group["points_lost"] += row.max_score - row.score
    return sorted(groups.values(), key=lambda g: -g["points_lost"])


def build(submission: Any, rows: list[Any], lab_id: str) -> Feedback:
    """The result page's model of a graded submission and its fixture rows (in order)."""
    total = len(rows)
    by_name = {row.name: row for row in rows}
    passed = [row for row in rows if row.passed]
    causes: list[CauseView] = []
    explained: set[str] = set()
    for data in stored_causes(submission, rows):
        view = CauseView(**{f.name: data.get(f.name) for f in fields(Cause)})
        view.fixtures = [name for name in view.fixtures or [] if name in by_name]
        view.rows = [by_name[name] for name in view.fixtures if not by_name[name].passed]
        view.points_lost = float(view.points_lost or 0.0)
        view.scope = scope_phrase(view.fixtures, total)
        explained.update(view.fixtures)
        causes.append(view)
    leftover = [row for row in rows if not row.passed and row.name not in explained]
    if leftover:  # never drop a failure the causes do not name
        for data in _group_by_feedback(None, leftover):
            view = CauseView(**data, rows=[by_name[n] for n in data["fixtures"]])
            view.scope = scope_phrase(view.fixtures, total)
            causes.append(view)
    causes.sort(key=lambda c: -c.points_lost)

    feedback = Feedback(outcome="", headline="", total=total, passed=passed, causes=causes)
    _decide_outcome(feedback, submission)
    if feedback.load_error is not None and feedback.load_error.code is None:
        feedback.load_error.code = quote_message_line(submission.source or "", feedback.load_error.message)
    feedback.uses_no_attempt = is_unloadable(submission.score, submission.submission_error, [r.stage for r in rows])
    if feedback.outcome != "unloadable" and any(row.visibility == "randomised" for row in rows):
        feedback.reproduce = reproduce_command(submission.filename, lab_id, submission.seed)
    feedback.output, feedback.output_cut = capped_output(submission.output or "")
    feedback.warnings = len(_WARNING_RE.findall(feedback.output))
    return feedback


def _decide_outcome(feedback: Feedback, submission: Any) -> None:
    """Green only when everything passed; red when nothing did or the file could not run."""
    failed = feedback.total - len(feedback.passed)
    causes = feedback.causes
    whole_file = (
        len(causes) == 1 and causes[0].kind in _LOAD_KINDS and len(causes[0].rows) == failed and not feedback.passed
    )
    if submission.submission_error or whole_file:
        feedback.outcome = "unloadable"
        if causes and (whole_file or causes[0].kind == "load"):
            feedback.load_error = causes[0]
            feedback.not_run = causes[0].rows
            feedback.causes = causes[1:]
        elif submission.submission_error:
            feedback.load_error = CauseView(
                key="load", kind="load", message=submission.submission_error, fixtures=[], points_lost=0.0
            )
        missing = feedback.load_error is not None and feedback.load_error.kind == "missing"
        feedback.headline = (
            "Your file does not define the required functions" if missing else "Your file could not be run"
        )
    elif failed == 0:
        feedback.outcome = "passed"
        feedback.headline = f"All {feedback.total} fixtures passed" if feedback.total != 1 else "The fixture passed"
    elif not feedback.passed or not (submission.score or 0) > 0:
        feedback.outcome = "failed"
        feedback.headline = "No fixture passed" if not feedback.passed else "No points"
    else:
        feedback.outcome = "partial"
        feedback.headline = "Some fixtures failed"


def scope_phrase(fixtures: list[str], total: int) -> str:
    """``"All 30 fixtures"``, ``"3 fixtures"``, ``"Fixture single-label"``, ``"Your file"``."""
    n = len(fixtures)
    if n == 0:
        return "Your file"
    if n == 1:
        return f"Fixture {fixtures[0]}"
    return f"All {n} fixtures" if n == total else f"{n} fixtures"


def quote_message_line(source: str, message: str) -> str | None:
    """The line a load error names (its last ``line N``: the grader's, after any quoted
    exception text), quoted with a caret line under it."""
    found = _LINE_RE.findall(message or "")
    return quote_line(source, int(found[-1])) if found else None


def reproduce_command(filename: str | None, lab_id: str, seed: int) -> str:
    """The ``lossgrader check`` command that reruns this submission's randomised fixtures."""
    return f"lossgrader check {shlex.quote(filename or 'submission.py')} --lab {shlex.quote(lab_id)} --seed {seed}"


def capped_output(text: str) -> tuple[str, bool]:
    """At most :data:`OUTPUT_LINES` lines and :data:`OUTPUT_CHARS` characters; whether it was cut."""
    text = text.replace("\x00", "\ufffd")
    lines = text.splitlines(keepends=True)
    cut = len(lines) > OUTPUT_LINES or len(text) > OUTPUT_CHARS
    if cut:
        text = "".join(lines[:OUTPUT_LINES])[:OUTPUT_CHARS]
    return text, cut


def summary_text(submission: Any, causes: list[dict[str, Any]], rows: list[Any]) -> str:
    """The score, then every cause once with the fixtures it explains (plain text, like
    results.json's ``output``)."""
    score, max_score = submission.score or 0.0, submission.max_score or 0.0
    total, failed = len(rows), sum(not row.passed for row in rows)
    line = f"{fmt_points(score)}/{fmt_points(max_score)}"
    if submission.submission_error:
        line += f" — {submission.submission_error}"
    elif not failed:
        line += f" — all {total} fixtures passed"
    else:
        line += f" — {failed} of {total} fixtures failed"
    lines = [line]
    for data in causes:
        cause = Cause(**{f.name: data.get(f.name) for f in fields(Cause)})
        cause.fixtures = list(cause.fixtures or [])
        lines += ["", f"- {cause_fixtures_phrase(cause, total)}: {cause.message}"]
        if cause.code:
            lines.extend("    " + part for part in cause.code.splitlines())
    return "\n".join(lines)
