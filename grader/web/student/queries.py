"""What the student pages read: the course's labs with deadlines, own submissions (in this course) only,
lab definitions. The course is the request's (:func:`grader.web.course_context.current_course`)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import abort, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.db.models import CourseLab, Extension, Score, Submission, utcnow
from grader.grading.lab import Lab as LabDefinition
from grader.grading.lab import LabError, find_lab, load_lab
from grader.service.policies import effective_due, effective_hard_deadline
from grader.web.course_context import current_course

_definitions_lock = threading.Lock()
RELOAD_SECONDS = 60.0
MAX_ID = 2**63 - 1  # larger integers cannot be database ids (and overflow SQLite)


@dataclass
class Deadline:
    """A lab's deadlines for one student (see :mod:`grader.service.policies`: an extension moves them)."""

    due_at: dt.datetime | None
    hard_deadline_at: dt.datetime | None
    extended: bool = False

    def closes_at(self) -> dt.datetime | None:
        """The last moment a submission is accepted (None: never closes)."""
        return self.hard_deadline_at

    def is_open(self, now: dt.datetime | None = None) -> bool:
        """Whether a submission would still be accepted (exactly at the hard deadline still is)."""
        return self.hard_deadline_at is None or (now or utcnow()) <= self.hard_deadline_at


@dataclass
class LabRow:
    """One line of the labs list."""

    lab: CourseLab
    deadline: Deadline
    latest: Submission | None
    score: Score | None


def deadline_for(lab: CourseLab, extension: Extension | None) -> Deadline:
    """The student's deadlines for ``lab``, with their extension if they have one."""
    extension_due = extension.due_at if extension is not None else None
    return Deadline(
        effective_due(lab.due_at, extension_due),
        effective_hard_deadline(lab.hard_deadline_at, extension_due),
        extended=extension is not None,
    )


def lab_or_404(db: Session, lab_id: str) -> CourseLab:
    """The course's lab (its policy; reads like a lab), or 404."""
    lab = db.get(CourseLab, (current_course().id, lab_id))
    if lab is None:
        abort(404)
    return lab


def extension_for(db: Session, user_id: int, lab_id: str) -> Extension | None:
    """The student's extension for the lab in this course, if any."""
    mine = (Extension.course_id == current_course().id, Extension.user_id == user_id, Extension.lab_id == lab_id)
    return db.scalar(select(Extension).where(*mine))


def lab_rows(db: Session, user_id: int) -> list[LabRow]:
    """Every lab of the course with the student's deadline, latest submission and counted score (four queries)."""
    course_id = current_course().id
    labs = db.scalars(
        select(CourseLab).where(CourseLab.course_id == course_id).order_by(CourseLab.position, CourseLab.lab_id)
    ).all()
    scores = {
        s.lab_id: s for s in db.scalars(select(Score).where(Score.user_id == user_id, Score.course_id == course_id))
    }
    mine = (Extension.user_id == user_id, Extension.course_id == course_id)
    extensions = {e.lab_id: e for e in db.scalars(select(Extension).where(*mine))}
    newest = (
        select(Submission.lab_id, func.max(Submission.attempt).label("attempt"))
        .where(Submission.user_id == user_id, Submission.course_id == course_id)
        .group_by(Submission.lab_id)
        .subquery()
    )
    latest = {
        s.lab_id: s
        for s in db.scalars(
            select(Submission)
            .join(newest, (Submission.lab_id == newest.c.lab_id) & (Submission.attempt == newest.c.attempt))
            .where(Submission.user_id == user_id, Submission.course_id == course_id)
        )
    }
    return [
        LabRow(lab, deadline_for(lab, extensions.get(lab.id)), latest.get(lab.id), scores.get(lab.id)) for lab in labs
    ]


def attempts(db: Session, user_id: int, lab_id: str) -> list[Submission]:
    """The student's submissions for a lab, newest first."""
    return list(
        db.scalars(
            select(Submission)
            .where(
                Submission.user_id == user_id, Submission.lab_id == lab_id, Submission.course_id == current_course().id
            )
            .order_by(Submission.attempt.desc())
        )
    )


def score_for(db: Session, user_id: int, lab_id: str) -> Score | None:
    """The student's counted score for a lab in this course."""
    mine = (Score.user_id == user_id, Score.lab_id == lab_id, Score.course_id == current_course().id)
    return db.scalar(select(Score).where(*mine))


def own_submission_or_404(db: Session, user_id: int, submission_id: int) -> Submission:
    """The submission if it is ``user_id``'s in this course; 404 otherwise, so ids of others are not revealed."""
    if not 0 < submission_id <= MAX_ID:
        abort(404)
    submission = db.get(Submission, submission_id)
    if submission is None or submission.user_id != user_id or submission.course_id != current_course().id:
        abort(404)
    return submission


def own_attempt_or_404(db: Session, user_id: int, lab_id: str, attempt: int) -> Submission:
    """The student's attempt number ``attempt`` at a lab, or 404."""
    if not 0 < attempt <= MAX_ID:
        abort(404)
    submission = db.scalar(
        select(Submission).where(
            Submission.user_id == user_id,
            Submission.lab_id == lab_id,
            Submission.attempt == attempt,
            Submission.course_id == current_course().id,
        )
    )
    if submission is None:
        abort(404)
    return submission


def lab_definition(lab_id: str, version: str | None = None) -> LabDefinition | None:
    """The lab's definition (handout, fixtures) from the labs folder; None if it cannot be loaded.

    Cached per app; reloaded when the database records another version (at most once a minute).
    """
    cache: dict[str, tuple[LabDefinition, float]] = current_app.extensions.setdefault("lossgrader.lab_definitions", {})
    cached = cache.get(lab_id)
    if cached is not None and (version in (None, cached[0].version) or time.monotonic() - cached[1] < RELOAD_SECONDS):
        return cached[0]
    with _definitions_lock:
        try:
            found = _load(lab_id)
        except LabError as exc:
            current_app.logger.warning("lab %s cannot be loaded: %s", lab_id, exc)
            return None
        cache[lab_id] = (found, time.monotonic())
    return found


def tolerances(lab_id: str, version: str | None) -> dict[str, str]:
    """Each fixture's tolerance in words (``rtol=1e-06, atol=1e-09``), when the lab as
    loaded is the version that graded the submission (else none: it may have changed)."""
    definition = lab_definition(lab_id, version)
    if definition is None or version is None or definition.version != version:
        return {}
    return {spec.name: f"rtol={spec.policy.rtol:g}, atol={spec.policy.atol:g}" for spec in definition.fixtures}


def _load(lab_id: str) -> LabDefinition:
    folder = getattr(current_app.config["LOSSGRADER"], "labs", None)
    if folder:
        path = Path(folder) / lab_id
        if not (path / "lab.toml").is_file():
            raise LabError(f"unknown lab {lab_id!r} in {folder}")
        return load_lab(path)
    return find_lab(lab_id)


def public_fixtures(definition: LabDefinition) -> list[dict[str, Any]]:
    """The public fixtures as plain data: inputs, expected value, points (for the JSON download)."""
    from grader.grading.fixtures import build

    documents = []
    for fixture in build(definition, ("public",), 0):
        spec = fixture.spec
        documents.append(
            {
                "name": spec.name,
                "function": spec.function,
                "category": spec.category,
                "description": spec.description,
                "points": spec.points,
                "args": [plain(arg) for arg in fixture.args],
                "expected": plain(fixture.expected),
                "rtol": spec.policy.rtol,
                "atol": spec.policy.atol,
            }
        )
    return documents


def plain(value: Any) -> Any:
    """JSON-ready data: arrays as ``{"array": ..., "dtype": ...}``, non-finite floats as strings."""
    import math

    import numpy as np

    if isinstance(value, np.ndarray):
        data = value.tolist()
        return {"array": _finite(data), "dtype": str(value.dtype)} if value.ndim else _finite(data)
    if isinstance(value, np.generic):
        return _finite(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _finite(data: Any) -> Any:
    import math

    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, list):
        return [_finite(v) for v in data]
    return data
