"""Course policy as pure functions: due dates, lateness, penalties, limits, counting.

Nothing here touches the database; :class:`CoursePolicy` is a plain snapshot of a
lab's policy columns, so every rule can be tested with literal datetimes.

Conventions: a submission made exactly at the due date is on time; each started day
after it is one late day; a submission made exactly at the hard deadline is accepted.
An extension replaces the due date, and moves the hard deadline out to the extended
date if that is later (an extension must let the student submit).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class CoursePolicy:
    """The policy columns of one lab (see :class:`grader.db.models.Lab`)."""

    due_at: dt.datetime | None = None
    hard_deadline_at: dt.datetime | None = None
    late_policy: str = "none"  # none | percent_per_day | zero_after_deadline
    late_percent_per_day: float = 0.0
    max_submissions: int | None = None
    min_interval_seconds: int | None = None
    counting: str = "last"  # last | best
    unloadable_counts: bool = False  # a file that cannot be loaded uses an attempt and may count

    @classmethod
    def from_lab(cls, lab: Any) -> CoursePolicy:
        """The policy of a :class:`~grader.db.models.Lab` row (or anything with those attributes)."""
        return cls(
            due_at=lab.due_at,
            hard_deadline_at=lab.hard_deadline_at,
            late_policy=lab.late_policy or "none",
            late_percent_per_day=float(lab.late_percent_per_day or 0.0),
            max_submissions=lab.max_submissions,
            min_interval_seconds=lab.min_interval_seconds,
            counting=lab.counting or "last",
            unloadable_counts=bool(getattr(lab, "unloadable_counts", False)),
        )


@dataclass(frozen=True)
class Attempt:
    """A graded submission, as far as counting is concerned."""

    submission_id: int
    attempt: int
    submitted_at: dt.datetime
    final: float
    unloadable: bool = False  # see :func:`is_unloadable`


# --- deadlines and lateness ------------------------------------------------------------


def effective_due(due_at: dt.datetime | None, extension_due: dt.datetime | None) -> dt.datetime | None:
    """The student's due date: the extension's when there is one, else the lab's."""
    return extension_due if extension_due is not None else due_at


def effective_hard_deadline(
    hard_deadline_at: dt.datetime | None, extension_due: dt.datetime | None
) -> dt.datetime | None:
    """The last moment the student may submit (an extension past the hard deadline moves it)."""
    if hard_deadline_at is None or extension_due is None:
        return hard_deadline_at
    return max(hard_deadline_at, extension_due)


def late_days(submitted_at: dt.datetime, due: dt.datetime | None) -> int:
    """Whole days late, rounded up: 1 second late is 1 day; exactly at the due date is 0."""
    if due is None or submitted_at <= due:
        return 0
    return math.ceil((submitted_at - due) / DAY)


def penalty_fraction(policy: CoursePolicy, days_late: int) -> float:
    """The share of the raw score taken off, between 0 and 1."""
    if days_late <= 0 or policy.late_policy == "none":
        return 0.0
    if policy.late_policy == "zero_after_deadline":
        return 1.0
    if policy.late_policy == "percent_per_day":
        return min(100.0, max(0.0, days_late * policy.late_percent_per_day)) / 100.0
    raise ValueError(f"unknown late policy {policy.late_policy!r}")


@dataclass(frozen=True)
class Penalised:
    """A raw score after the late policy."""

    raw: float
    late_days: int
    penalty: float  # points taken off
    final: float


def apply_penalty(
    policy: CoursePolicy, raw: float, submitted_at: dt.datetime, extension_due: dt.datetime | None = None
) -> Penalised:
    """Late days, penalty points and final score of one submission."""
    days = late_days(submitted_at, effective_due(policy.due_at, extension_due))
    penalty = round(raw * penalty_fraction(policy, days), 9)
    return Penalised(raw=raw, late_days=days, penalty=penalty, final=max(0.0, round(raw - penalty, 9)))


# --- submission limits -----------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """``200`` → ``"3 min 20 s"``; ``7500`` → ``"2 h 5 min"``; ``90061`` → ``"1 d 1 h"`` (rounded up to a second)."""
    total = max(0, math.ceil(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    while len(units) > 1 and units[0][0] == 0:
        units.pop(0)
    shown = units[:2]
    if len(shown) == 2 and shown[1][0] == 0:
        shown = shown[:1]
    return " ".join(f"{value} {unit}" for value, unit in shown)


def format_moment(at: dt.datetime, now: dt.datetime, *, date: bool = False) -> str:
    """``14:05 UTC`` (seconds only when not zero; the date too when not today, or if ``date``)."""
    at = at.astimezone(dt.timezone.utc)
    clock = at.strftime("%H:%M" if at.second == 0 else "%H:%M:%S")
    if date or at.date() != now.astimezone(dt.timezone.utc).date():
        return f"{at:%Y-%m-%d} {clock} UTC"
    return f"{clock} UTC"


def submission_refusal(
    policy: CoursePolicy,
    *,
    now: dt.datetime,
    previous: int,
    last_submitted_at: dt.datetime | None,
    extension_due: dt.datetime | None = None,
) -> str | None:
    """Why a new submission is refused now, or None when it is accepted.

    ``previous`` counts the student's earlier submissions that count towards the
    limit; ``last_submitted_at`` is the time of their latest submission.
    """
    hard = effective_hard_deadline(policy.hard_deadline_at, extension_due)
    if hard is not None and now > hard:
        return f"Submissions for this lab closed at {format_moment(hard, now, date=True)} (the hard deadline)."
    if policy.max_submissions is not None and previous >= policy.max_submissions:
        noun = "submission" if policy.max_submissions == 1 else "submissions"
        return f"You have used all {policy.max_submissions} {noun} allowed for this lab."
    if policy.min_interval_seconds and last_submitted_at is not None:
        next_at = last_submitted_at + dt.timedelta(seconds=policy.min_interval_seconds)
        if now < next_at:
            wait = format_duration((next_at - now).total_seconds())
            return (
                f"You can submit again at {format_moment(next_at, now)} (in {wait}): "
                f"this lab allows one submission every {format_duration(policy.min_interval_seconds)}."
            )
    return None


# --- files that cannot be loaded -----------------------------------------------------


def is_unloadable(score: float | None, submission_error: str | None, stages: Sequence[str]) -> bool:
    """Whether a graded submission is a file that could not be loaded.

    That is: no points, and either the file itself was refused (it does not parse, or it
    raised while loading: ``submission_error``), or every fixture failed because its
    function is missing (the file defines none of the lab's functions). A file that loads
    and defines a function that fails every fixture is an ordinary, counted attempt.
    ``stages`` are its fixture results' stages.
    """
    if score:
        return False
    if submission_error:
        return True
    return bool(stages) and all(stage == "missing" for stage in stages)


def attempts_used(policy: CoursePolicy, submitted: int, unloadable: int) -> int:
    """How many of the attempts allowed are used: ``submitted`` (grader errors left out),
    less the ``unloadable`` among them unless the lab counts those (``unloadable_counts``)."""
    return submitted if policy.unloadable_counts else max(0, submitted - unloadable)


def countable(policy: CoursePolicy, attempts: Sequence[Attempt]) -> list[Attempt]:
    """The attempts that may become the counted score (unloadable files only if the lab says so)."""
    return [a for a in attempts if policy.unloadable_counts or not a.unloadable]


# --- counting --------------------------------------------------------------------------


def counted_attempt(counting: str, attempts: Sequence[Attempt]) -> Attempt | None:
    """The attempt that counts: the latest (``last``) or the best final score (``best``; ties → latest).

    Filter with :func:`countable` first: this looks at every attempt it is given.
    """
    if not attempts:
        return None

    def latest(a: Attempt) -> tuple[dt.datetime, int]:
        return (a.submitted_at, a.attempt)

    if counting == "last":
        return max(attempts, key=latest)
    if counting == "best":
        return max(attempts, key=lambda a: (a.final, *latest(a)))
    raise ValueError(f"unknown counting rule {counting!r}")
