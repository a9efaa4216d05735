"""Course policy rules, at their boundaries (pure functions, no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from grader.service.policies import (
    Attempt,
    CoursePolicy,
    apply_penalty,
    attempts_used,
    countable,
    counted_attempt,
    effective_due,
    effective_hard_deadline,
    format_duration,
    format_moment,
    is_unloadable,
    late_days,
    penalty_fraction,
    submission_refusal,
)

UTC = dt.timezone.utc
DUE = dt.datetime(2025, 3, 1, 23, 59, tzinfo=UTC)
S = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)


def test_extension_overrides_the_due_date_even_when_earlier() -> None:
    later, earlier = DUE + 3 * DAY, DUE - DAY
    assert effective_due(DUE, None) == DUE
    assert effective_due(DUE, later) == later
    assert effective_due(DUE, earlier) == earlier
    assert effective_due(None, later) == later
    assert effective_due(None, None) is None


def test_extension_past_the_hard_deadline_moves_it() -> None:
    hard = DUE + 2 * DAY
    assert effective_hard_deadline(hard, None) == hard
    assert effective_hard_deadline(hard, DUE + 5 * DAY) == DUE + 5 * DAY
    assert effective_hard_deadline(hard, DUE + DAY) == hard
    assert effective_hard_deadline(None, DUE + 5 * DAY) is None


@pytest.mark.parametrize(
    ("offset", "days"),
    [
        (-DAY, 0),
        (dt.timedelta(0), 0),  # exactly at the due date: on time
        (S, 1),  # one second late: one day
        (DAY, 1),
        (DAY + S, 2),
        (3 * DAY - S, 3),
    ],
)
def test_late_days_are_whole_days_rounded_up(offset: dt.timedelta, days: int) -> None:
    assert late_days(DUE + offset, DUE) == days


def test_no_due_date_is_never_late() -> None:
    assert late_days(DUE + 100 * DAY, None) == 0


def test_percent_per_day_is_capped_at_100() -> None:
    policy = CoursePolicy(due_at=DUE, late_policy="percent_per_day", late_percent_per_day=30)
    assert penalty_fraction(policy, 0) == 0
    assert penalty_fraction(policy, 1) == pytest.approx(0.3)
    assert penalty_fraction(policy, 3) == pytest.approx(0.9)
    assert penalty_fraction(policy, 4) == 1.0
    assert penalty_fraction(policy, 40) == 1.0


def test_zero_after_deadline_and_none() -> None:
    zero = CoursePolicy(due_at=DUE, late_policy="zero_after_deadline")
    assert penalty_fraction(zero, 0) == 0.0
    assert penalty_fraction(zero, 1) == 1.0
    assert penalty_fraction(CoursePolicy(due_at=DUE), 10) == 0.0
    with pytest.raises(ValueError, match="late policy"):
        penalty_fraction(CoursePolicy(late_policy="lenient"), 1)


def test_apply_penalty_points() -> None:
    policy = CoursePolicy(due_at=DUE, late_policy="percent_per_day", late_percent_per_day=10)
    on_time = apply_penalty(policy, 20.0, DUE)
    assert (on_time.late_days, on_time.penalty, on_time.final) == (0, 0.0, 20.0)
    late = apply_penalty(policy, 20.0, DUE + DAY + S)
    assert (late.late_days, late.penalty, late.final) == (2, 4.0, 16.0)
    # the extension makes the same moment on time
    assert apply_penalty(policy, 20.0, DUE + DAY + S, extension_due=DUE + 2 * DAY).final == 20.0
    zero = apply_penalty(CoursePolicy(due_at=DUE, late_policy="zero_after_deadline"), 20.0, DUE + S)
    assert (zero.penalty, zero.final) == (20.0, 0.0)


def test_hard_deadline_boundary_and_extension() -> None:
    policy = CoursePolicy(due_at=DUE, hard_deadline_at=DUE + DAY)
    assert submission_refusal(policy, now=DUE + DAY, previous=0, last_submitted_at=None) is None
    refusal = submission_refusal(policy, now=DUE + DAY + S, previous=0, last_submitted_at=None)
    assert refusal is not None and "closed" in refusal and "hard deadline" in refusal
    assert "2025-03-02 23:59 UTC" in refusal
    assert (
        submission_refusal(policy, now=DUE + 2 * DAY, previous=0, last_submitted_at=None, extension_due=DUE + 3 * DAY)
        is None
    )


def test_max_submissions() -> None:
    policy = CoursePolicy(max_submissions=3)
    assert submission_refusal(policy, now=DUE, previous=2, last_submitted_at=DUE - DAY) is None
    refusal = submission_refusal(policy, now=DUE, previous=3, last_submitted_at=DUE - DAY)
    assert refusal == "You have used all 3 submissions allowed for this lab."
    one = submission_refusal(CoursePolicy(max_submissions=1), now=DUE, previous=1, last_submitted_at=None)
    assert one == "You have used all 1 submission allowed for this lab."


def test_min_interval_says_when_to_come_back() -> None:
    policy = CoursePolicy(min_interval_seconds=600)
    last = dt.datetime(2025, 3, 1, 13, 55, tzinfo=UTC)
    now = dt.datetime(2025, 3, 1, 14, 1, 40, tzinfo=UTC)
    refusal = submission_refusal(policy, now=now, previous=1, last_submitted_at=last)
    assert refusal is not None
    assert refusal.startswith("You can submit again at 14:05 UTC (in 3 min 20 s)")
    assert "one submission every 10 min" in refusal
    # exactly when the interval has passed: accepted
    assert submission_refusal(policy, now=last + dt.timedelta(seconds=600), previous=1, last_submitted_at=last) is None
    # the first submission is never limited by the interval
    assert submission_refusal(policy, now=now, previous=0, last_submitted_at=None) is None


def test_min_interval_across_midnight_shows_the_date() -> None:
    policy = CoursePolicy(min_interval_seconds=3600)
    last = dt.datetime(2025, 3, 1, 23, 30, 15, tzinfo=UTC)
    refusal = submission_refusal(policy, now=last + dt.timedelta(minutes=1), previous=1, last_submitted_at=last)
    assert refusal is not None
    assert "at 2025-03-02 00:30:15 UTC (in 59 min)" in refusal


def test_hard_deadline_is_checked_before_limits() -> None:
    policy = CoursePolicy(hard_deadline_at=DUE, max_submissions=1)
    refusal = submission_refusal(policy, now=DUE + S, previous=5, last_submitted_at=DUE)
    assert refusal is not None and "closed" in refusal


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (0.2, "1 s"),
        (45, "45 s"),
        (60, "1 min"),
        (200, "3 min 20 s"),
        (7500, "2 h 5 min"),
        (90061, "1 d 1 h"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_moment() -> None:
    now = dt.datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert format_moment(dt.datetime(2025, 3, 1, 14, 5, tzinfo=UTC), now) == "14:05 UTC"
    assert format_moment(dt.datetime(2025, 3, 1, 14, 5, 7, tzinfo=UTC), now) == "14:05:07 UTC"
    other = dt.datetime(2025, 3, 1, 15, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_moment(other, now) == "14:05 UTC"
    assert format_moment(dt.datetime(2025, 3, 4, 8, 0, tzinfo=UTC), now) == "2025-03-04 08:00 UTC"


def _attempt(number: int, final: float) -> Attempt:
    return Attempt(submission_id=100 + number, attempt=number, submitted_at=DUE + number * S, final=final)


def test_counting_last_and_best() -> None:
    attempts = [_attempt(1, 10.0), _attempt(2, 25.0), _attempt(3, 5.0)]
    last = counted_attempt("last", attempts)
    best = counted_attempt("best", attempts)
    assert last is not None and last.attempt == 3
    assert best is not None and best.attempt == 2
    assert counted_attempt("best", []) is None
    assert counted_attempt("last", []) is None
    with pytest.raises(ValueError, match="counting"):
        counted_attempt("median", attempts)


def test_best_ties_go_to_the_latest() -> None:
    attempts = [_attempt(1, 20.0), _attempt(3, 20.0), _attempt(2, 20.0)]
    best = counted_attempt("best", attempts)
    assert best is not None and best.attempt == 3


def test_policy_from_lab_row_defaults() -> None:
    class Row:
        due_at = DUE
        hard_deadline_at = None
        late_policy = None
        late_percent_per_day = None
        max_submissions = 2
        min_interval_seconds = None
        counting = None

    policy = CoursePolicy.from_lab(Row())
    assert policy == CoursePolicy(due_at=DUE, max_submissions=2)


# --- files that cannot be loaded (issue 13) ------------------------------------------------


def test_unloadable_means_no_points_and_a_load_error_or_no_function_of_the_lab() -> None:
    assert is_unloadable(0.0, "syntax error on line 3: invalid syntax.", ["not_run"] * 3)
    assert is_unloadable(None, "your file raised ImportError (line 1) when loaded.", [])
    assert is_unloadable(0.0, None, ["missing", "missing"])  # defines none of the lab's functions
    # A file that loads and calls its function counts, however badly it does.
    assert not is_unloadable(0.0, None, ["value", "value"])
    assert not is_unloadable(0.0, None, ["missing", "raised"])  # one function of two is there
    assert not is_unloadable(0.0, None, [])  # nothing graded: nothing known
    # Points mean the shown part loaded (a hidden part that raised on load does not undo that).
    assert not is_unloadable(5.0, "your file raised an exception when loaded.", ["value", "not_run"])


def test_unloadable_files_use_no_attempt_unless_the_lab_says_so() -> None:
    assert attempts_used(CoursePolicy(max_submissions=3), submitted=3, unloadable=2) == 1
    assert attempts_used(CoursePolicy(max_submissions=3, unloadable_counts=True), submitted=3, unloadable=2) == 3
    assert attempts_used(CoursePolicy(), submitted=0, unloadable=0) == 0
    policy = CoursePolicy(max_submissions=1)
    used = attempts_used(policy, submitted=2, unloadable=1)
    assert submission_refusal(policy, now=DUE, previous=used, last_submitted_at=None) is not None
    used = attempts_used(policy, submitted=1, unloadable=1)
    assert submission_refusal(policy, now=DUE, previous=used, last_submitted_at=None) is None


def test_unloadable_attempts_never_become_the_counted_score() -> None:
    good = _attempt(1, 20.0)
    broken = Attempt(submission_id=2, attempt=2, submitted_at=DUE + DAY, final=0.0, unloadable=True)
    for counting in ("last", "best"):
        counted = counted_attempt(counting, countable(CoursePolicy(counting=counting), [good, broken]))
        assert counted is not None and counted.attempt == 1
    assert countable(CoursePolicy(), [broken]) == []
    counted = counted_attempt("last", countable(CoursePolicy(unloadable_counts=True), [good, broken]))
    assert counted is not None and counted.attempt == 2


def test_policy_from_lab_reads_the_unloadable_setting() -> None:
    class Row:
        due_at = hard_deadline_at = late_policy = late_percent_per_day = None
        max_submissions = min_interval_seconds = counting = None
        unloadable_counts = True

    assert CoursePolicy.from_lab(Row()).unloadable_counts is True
    del Row.unloadable_counts  # a row from before the setting existed
    assert CoursePolicy.from_lab(Row()).unloadable_counts is False
