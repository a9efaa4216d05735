"""Where a student's score for a lab stands: the counted attempt, the best one, and the
attempts that could not be loaded (which count only if the lab says so). For the lab
page's warnings and the attempts list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import Lab, Score, Submission
from grader.service.policies import CoursePolicy, apply_penalty


@dataclass(frozen=True)
class Standing:
    """The counted score and the best attempt's; scores are final (after a late penalty)."""

    counting: str  # last | best
    unloadable_counts: bool
    max_score: float | None = None
    counted_id: int | None = None
    counted_attempt: int | None = None
    counted: float | None = None
    best_attempt: int | None = None
    best: float | None = None
    unloadable: frozenset[int] = field(default_factory=frozenset)  # submission ids

    @property
    def warn_before_submitting(self) -> bool:
        """Whether a new attempt would replace a counted score worth keeping (last attempt counts)."""
        return self.counting == "last" and bool(self.counted)

    def is_counted(self, submission: Submission) -> bool:
        """Whether ``submission`` is the attempt whose score counts."""
        return submission.id == self.counted_id

    def not_counted_unloadable(self, submission: Submission) -> bool:
        """Whether ``submission`` could not be loaded and therefore does not count."""
        return not self.unloadable_counts and submission.id in self.unloadable


def unloadable_ids(db: Session, user_id: int, lab_id: str) -> frozenset[int]:
    """The student's graded attempts at ``lab_id`` that are files that could not be loaded."""
    from grader.service.submissions import unloadable_clause

    query = select(Submission.id).where(Submission.user_id == user_id, Submission.lab_id == lab_id, unloadable_clause())
    return frozenset(db.scalars(query))


def standing(
    db: Session,
    lab: Lab,
    user_id: int,
    attempts: Sequence[Submission],
    score: Score | None,
    extension_due: dt.datetime | None = None,
) -> Standing:
    """The counted attempt (from the gradebook cell ``score``) and the best countable one of ``attempts``."""
    policy = CoursePolicy.from_lab(lab)
    unloadable = unloadable_ids(db, user_id, lab.id) if attempts else frozenset()
    best: tuple[float, dt.datetime, int] | None = None
    for attempt in attempts:
        if attempt.status != "graded" or (attempt.id in unloadable and not policy.unloadable_counts):
            continue
        final = apply_penalty(policy, attempt.score or 0.0, attempt.submitted_at, extension_due).final
        key = (final, attempt.submitted_at, attempt.attempt)
        best = key if best is None or key > best else best
    by_id = {a.id: a for a in attempts}
    counted = by_id.get(score.submission_id) if score is not None and score.submission_id else None
    return Standing(
        counting=policy.counting,
        unloadable_counts=policy.unloadable_counts,
        max_score=score.max_score if score is not None else lab.max_score,
        counted_id=counted.id if counted else None,
        counted_attempt=counted.attempt if counted else None,
        counted=score.final if counted and score is not None else None,
        best_attempt=best[2] if best else None,
        best=best[0] if best else None,
        unloadable=unloadable,
    )
