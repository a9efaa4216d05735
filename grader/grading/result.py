"""Results of grading, as plain dataclasses with ``to_dict()``.

A :class:`Result` keeps everything (for instructors and the database);
:meth:`TestResult.feedback` and :meth:`Result.to_gradescope` give what a student may
see: hidden fixtures only by name, category and pass/fail.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from typing import Any

STATUS_GRADED = "graded"
STATUS_ERROR = "error"


@dataclass
class TestResult:
    """The verdict on one fixture."""

    name: str
    function: str
    category: str
    visibility: str
    description: str
    max_score: float
    score: float
    passed: bool
    stage: str
    message: str
    summary: str
    diagnosis: list[str] = field(default_factory=list)
    advice: str = ""
    hint: str = ""
    elapsed: float | None = None
    seed: int | None = None
    inputs: list[str] | None = None
    expected: Any = None
    got: Any = None
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    cause: str | None = None  # key of the Cause that explains this failure (Result.causes)
    candidates: list[str] = field(default_factory=list)  # catalogued mistakes whose value fits
    error_type: str | None = None  # a known exception type (builtins, NumPy): safe for hidden fixtures
    error_line: int | None = None  # line of the submission that raised (shown fixtures only)
    reason: str = ""  # refinement of the stage chosen by the grader, e.g. "per_sample_mean", "nan"
    traits: dict[str, Any] = field(default_factory=dict)  # trusted facts about the inputs (targets, rows, …)

    __test__ = False  # not a pytest test class

    @property
    def status(self) -> str:
        """``passed`` or ``failed``, as Gradescope spells them."""
        return "passed" if self.passed else "failed"

    def feedback(self) -> str:
        """What the student is told about this fixture."""
        if self.passed:
            return "passed"
        text = self.summary if self.visibility == "hidden" else self.message
        parts = [text, *self.diagnosis]
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        elif self.advice and not self.diagnosis:
            parts.append(self.advice)  # generic; only when nothing more specific is known
        return " ".join(parts)

    def student_view(self) -> dict[str, Any]:
        """The fixture as a student may see it (inputs only for public and randomised)."""
        view: dict[str, Any] = {
            "name": self.name,
            "function": self.function,
            "category": self.category,
            "visibility": self.visibility,
            "status": self.status,
            "score": self.score,
            "max_score": self.max_score,
            "feedback": self.feedback(),
        }
        if self.visibility != "hidden":
            view.update(
                description=self.description,
                inputs=self.inputs,
                expected=self.expected,
                got=self.got,
                max_abs_error=self.max_abs_error,
                max_rel_error=self.max_rel_error,
                seed=self.seed,
            )
        return view

    def to_dict(self) -> dict[str, Any]:
        """Every field (instructor view). Lists in it are this result's own, not copies
        (callers serialise it; a deep copy per fixture cost more than the rest)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["status"] = self.status
        data["feedback"] = self.feedback()
        return data


@dataclass
class Cause:
    """One reason a submission lost points, said once for every fixture it explains.

    ``message`` is student-safe Markdown (code spans, formulas); ``code`` is the line of
    the student's code it points at, with a caret line under it, when that is known and
    safe to show.
    """

    key: str  # stable id, e.g. "mistake:cee_log10", "exception:ZeroDivisionError", "load"
    kind: str  # mistake, pattern, convention, exception, missing, type, shape, non_finite, modified, load, limit, value
    message: str
    fixtures: list[str]
    points_lost: float
    mistake: str | None = None  # the catalogue id when kind == "mistake"
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The cause as plain data (results.json's ``extra_data.causes``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Result:
    """The result of grading one submission against one lab."""

    lab_id: str
    lab_title: str
    lab_version: str
    seed: int
    tests: list[TestResult]
    status: str = STATUS_GRADED
    error: str | None = None  # the grader could not grade: not the student's fault
    submission_error: str | None = None  # the file itself is unusable
    output: str = ""
    output_truncated: bool = False
    termination: str | None = None
    execution_time: float = 0.0
    runner: str = ""
    visibilities: tuple[str, ...] = ("public", "hidden", "randomised")
    causes: list[Cause] = field(default_factory=list)  # most points lost first
    notes: list[str] = field(default_factory=list)  # about the file as handed in (a notebook's magics), Markdown
    # Statements a forgiving load skipped (grader.grading.program.Program.load_warnings): line, where, code,
    # error, message (Markdown); only from the load of the shown fixtures, so safe for students.
    load_warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Points earned."""
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        """Points available."""
        return sum(t.max_score for t in self.tests)

    @property
    def all_passed(self) -> bool:
        """Whether grading completed and every fixture passed."""
        return self.status == STATUS_GRADED and all(t.passed for t in self.tests)

    def summary_line(self) -> str:
        """One line for people: score and the problem, if any."""
        if self.status == STATUS_ERROR:
            return f"grading failed: {self.error}"
        line = f"{fmt_points(self.score)}/{fmt_points(self.max_score)}"
        failed = sum(not t.passed for t in self.tests)
        if self.submission_error:
            return f"{line} — {self.submission_error}"
        return (
            f"{line} — all {len(self.tests)} fixtures passed"
            if not failed
            else f"{line} — {failed} of {len(self.tests)} fixtures failed"
        )

    def to_dict(self) -> dict[str, Any]:
        """Every field (instructor view, the database, golden files)."""
        return {
            "lab": self.lab_id,
            "lab_title": self.lab_title,
            "lab_version": self.lab_version,
            "seed": self.seed,
            "status": self.status,
            "error": self.error,
            "submission_error": self.submission_error,
            "score": self.score,
            "max_score": self.max_score,
            "termination": self.termination,
            "output": self.output,
            "output_truncated": self.output_truncated,
            "execution_time": self.execution_time,
            "runner": self.runner,
            "causes": [c.to_dict() for c in self.causes],
            "notes": list(self.notes),
            "load_warnings": [dict(w) for w in self.load_warnings],
            "tests": [t.to_dict() for t in self.tests],
        }

    def summary_text(self) -> str:
        """The summary line, then every cause once with the fixtures it explains
        (plain text: results.json's top-level ``output``)."""
        lines = [self.summary_line()]
        for cause in self.causes:
            lines.append("")
            lines.append(f"- {cause_fixtures_phrase(cause, len(self.tests))}: {cause.message}")
            if cause.code:
                lines.extend("    " + line for line in cause.code.splitlines())
        if self.notes or self.load_warnings:
            lines += ["", "About your file:", *(f"- {m}" for m in self.student_notes())]
        return "\n".join(lines)

    def student_notes(self) -> list[str]:
        """What the grader noted about the file (Markdown), once each: a notebook's
        dropped magics, then the statements a forgiving load skipped."""
        return [*self.notes, *(w["message"] for w in self.load_warnings)]

    def student_view(self) -> dict[str, Any]:
        """What a student may see of this result."""
        return {
            "lab": self.lab_id,
            "status": self.status,
            "score": self.score,
            "max_score": self.max_score,
            "seed": self.seed,
            "submission_error": self.submission_error,
            "summary": self.summary_line(),
            "causes": [c.to_dict() for c in self.causes],
            "notes": list(self.notes),
            "load_warnings": [dict(w) for w in self.load_warnings],
            "tests": [t.student_view() for t in self.tests],
        }

    def to_gradescope(self) -> dict[str, Any]:
        """Gradescope's ``results.json`` shape; our own detail goes under ``extra_data``.

        ``output`` fields are student-safe; the submission's printed output is not
        shown to students (it could carry hidden inputs) and lives in ``extra_data``.
        """
        tests = [
            {
                "name": f"{t.name} [{t.category}]",
                "score": t.score,
                "max_score": t.max_score,
                "status": t.status,
                "visibility": "visible",
                "output": t.feedback(),
                "tags": [t.visibility, t.category, t.function],
            }
            for t in self.tests
        ]
        return {
            "score": self.score,
            "max_score": self.max_score,
            "execution_time": round(self.execution_time, 3),
            "output": self.summary_text(),
            # feedback is Markdown (code spans, formulas): Gradescope renders it as such
            "output_format": "md",
            "test_output_format": "md",
            "tests": tests,
            "extra_data": {
                "lab": self.lab_id,
                "lab_version": self.lab_version,
                "seed": self.seed,
                "status": self.status,
                "error": self.error,
                "submission_error": self.submission_error,
                "termination": self.termination,
                "runner": self.runner,
                "causes": [c.to_dict() for c in self.causes],
                **({"notes": list(self.notes)} if self.notes else {}),
                **({"load_warnings": [dict(w) for w in self.load_warnings]} if self.load_warnings else {}),
                "stdout": self.output,
                "tests": [t.to_dict() for t in self.tests],
            },
        }


def cause_fixtures_phrase(cause: Cause, total: int) -> str:
    """``"all 30 fixtures"``, ``"3 fixtures (a, b, c)"`` or ``"fixture a"``."""
    n = len(cause.fixtures)
    if n == 0:
        return "the file"
    if n == total and n > 1:
        return f"all {n} fixtures"
    if n == 1:
        return f"fixture {cause.fixtures[0]}"
    shown = ", ".join(cause.fixtures[:6]) + (f" and {n - 6} more" if n > 6 else "")
    return f"{n} fixtures ({shown})"


def fmt_points(points: float) -> str:
    """``3.0`` → ``"3"``, ``2.5`` → ``"2.5"``."""
    return f"{points:g}"


def json_safe(value: Any, nul: str | None = None) -> Any:
    """Strict JSON: non-finite floats become the strings "inf", "-inf" and "nan";
    with ``nul``, NUL characters in text become it (PostgreSQL's text and json refuse them)."""
    if isinstance(value, str):
        return value.replace("\x00", nul) if nul is not None else value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v, nul) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, nul) for v in value]
    return value


def strict_json(value: Any, nul: str | None = None, **options: Any) -> str:
    """``json.dumps`` with no NaN or infinity (and, with ``nul``, no NUL characters):
    the value is serialised once, and copied through :func:`json_safe` only when that
    text would not do (nearly never)."""
    try:
        text = json.dumps(value, allow_nan=False, **options)
    except (TypeError, ValueError):
        return json.dumps(json_safe(value, nul), allow_nan=False, **options)
    if nul is not None and "\\u0000" in text:  # control characters are always escaped
        return json.dumps(json_safe(value, nul), allow_nan=False, **options)
    return text
