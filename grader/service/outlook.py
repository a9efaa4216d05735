"""When a client should ask again about a submission that is being graded.

At a deadline most of a server's requests are status polls: a few hundred pending
submissions, each polled every second by its page or script, cost more CPU than
grading them, and slow the grading they wait for. So every answer about a pending
submission says how many unfinished submissions are ahead of it and when its result
is likely: its place in the queue over the rate at which the server has been grading
lately. The API sends that as ``Retry-After``; the submission page waits that long.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from grader.db.models import Submission, utcnow

PENDING = ("queued", "running")
#: How far back the grading rate is measured.
RATE_WINDOW = dt.timedelta(seconds=30)
#: Never ask a client to wait longer than this: estimates go stale.
MAX_WAIT_SECONDS = 5
#: Ask again three quarters of the way to the estimate: a little early, as the rate
#: measured at the start of a rush is often low, but not so early that most clients
#: ask twice (halfway took 1.4–1.9 polls per submission against 1.3, and no sooner a result).
EARLY = 0.75
#: The wait while too little has been graded lately to tell a rate.
UNKNOWN_RATE_WAIT_SECONDS = 2
#: Fewer recent results than this are no rate: the first two or three of a rush, over
#: a fraction of a second, would read as a trickle and send every client away for
#: the longest wait.
MIN_RATE_SAMPLE = 5
#: The shortest span a rate is measured over, so that a burst does not read as infinite.
MIN_RATE_SECONDS = 0.25


_RECENT = Submission.graded_at >= bindparam("since", type_=Submission.graded_at.type)
# One statement, built once (status polls are frequent); each part goes by an index
# (status; graded_at) and touches only unfinished or recent rows.
_STANDING = select(
    select(func.count())
    .where(Submission.status.in_(PENDING), Submission.id < bindparam("submission"))
    .scalar_subquery(),
    select(func.count()).where(_RECENT).scalar_subquery(),
    select(func.min(Submission.graded_at)).where(_RECENT).scalar_subquery(),
)


@dataclass(frozen=True)
class Outlook:
    """Where a pending submission stands."""

    ahead: int  # unfinished submissions (any student, any lab) that came before it
    wait_seconds: int  # when to ask again

    def to_dict(self) -> dict[str, int]:
        """JSON-ready fields."""
        return {"ahead": self.ahead, "retry_after": self.wait_seconds}


def outlook(session: Session, submission: Submission, now: dt.datetime | None = None) -> Outlook | None:
    """Where ``submission`` stands in the queue; None once it is graded (or failed)."""
    if submission.status not in PENDING:
        return None
    if submission.status == "running":
        return Outlook(0, 1)
    now = now or utcnow()
    params = {"submission": submission.id, "since": now - RATE_WINDOW}
    ahead, graded, first = session.execute(_STANDING, params).one()
    if not ahead:
        return Outlook(0, 1)
    if graded < MIN_RATE_SAMPLE or first is None:
        return Outlook(ahead, UNKNOWN_RATE_WAIT_SECONDS)
    if first.tzinfo is None:  # SQLite hands aggregates back naive
        first = first.replace(tzinfo=dt.timezone.utc)
    # Over the time since the first of them, not the whole window: a rush that began
    # ten seconds ago is graded at its own rate, not a sixth of it.
    seconds = max((now - first).total_seconds(), MIN_RATE_SECONDS)
    rate = graded / seconds
    wait = math.floor(EARLY * ahead / rate)
    return Outlook(ahead, max(1, min(MAX_WAIT_SECONDS, wait)))
