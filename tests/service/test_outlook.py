"""Where a pending submission stands: its place in the queue and when to ask again."""

from __future__ import annotations

import datetime as dt
from itertools import count

import pytest

from grader.db.models import Submission
from grader.service.context import Services
from grader.service.outlook import (
    MAX_WAIT_SECONDS,
    MIN_RATE_SAMPLE,
    UNKNOWN_RATE_WAIT_SECONDS,
    Outlook,
    outlook,
)

from .conftest import LAB, T0, add_user, course_id

_attempts = count(1)


def add(services: Services, user: int, status: str, graded_at: dt.datetime | None = None) -> Submission:
    """A submission row as the lifecycle leaves it (ids grow in submission order)."""
    with services.sessions() as session:
        row = Submission(
            course_id=course_id(services),
            user_id=user,
            lab_id=LAB,
            attempt=next(_attempts),
            source="pass\n",
            source_sha256="0" * 64,
            seed=1,
            status=status,
            submitted_at=T0,
            graded_at=graded_at,
        )
        session.add(row)
        session.commit()
        return row


def standing(services: Services, submission: Submission, now: dt.datetime = T0) -> Outlook | None:
    with services.sessions() as session:
        return outlook(session, submission, now=now)


@pytest.fixture
def user(services: Services) -> int:
    return add_user(services)


def test_finished_submissions_have_no_outlook(services: Services, user: int) -> None:
    assert standing(services, add(services, user, "graded", T0)) is None
    assert standing(services, add(services, user, "error")) is None


def test_a_running_submission_asks_again_in_a_second(services: Services, user: int) -> None:
    assert standing(services, add(services, user, "running")) == Outlook(0, 1)


def test_what_is_ahead_is_unfinished_and_earlier(services: Services, user: int) -> None:
    for i in range(5):  # finished: not ahead (5 in 25 s: 0.2/s)
        add(services, user, "graded", T0 - dt.timedelta(seconds=25 - 5 * i))
    add(services, user, "running")
    mine = add(services, user, "queued")
    add(services, user, "queued")  # later: not ahead
    assert standing(services, mine) == Outlook(1, 3)  # 1 ahead at 0.2/s is 5 s; asked again at 3/4 of it


def test_first_queued_submission_has_nothing_ahead(services: Services, user: int) -> None:
    assert standing(services, add(services, user, "queued")) == Outlook(0, 1)


def test_without_a_recent_rate_the_wait_is_short_and_fixed(services: Services, user: int) -> None:
    add(services, user, "graded", T0 - dt.timedelta(minutes=5))  # too long ago to count
    for _ in range(3):
        add(services, user, "queued")
    last = add(services, user, "queued")
    assert standing(services, last) == Outlook(3, UNKNOWN_RATE_WAIT_SECONDS)


def test_the_wait_is_the_place_in_the_queue_over_the_recent_rate(services: Services, user: int) -> None:
    # 21 graded over the last 10 s: 2.1 a second (measured from the first of them).
    for i in range(21):
        add(services, user, "graded", T0 - dt.timedelta(seconds=10 * i / 20))
    for _ in range(10):
        add(services, user, "queued")
    mine = add(services, user, "queued")
    # 10 ahead at 2.1/s is 4.8 s; asked again at 3/4 of it: 3 s.
    assert standing(services, mine) == Outlook(10, 3)


def test_the_wait_is_capped(services: Services, user: int) -> None:
    for i in range(5):  # 5 in 20 s: 0.25/s
        add(services, user, "graded", T0 - dt.timedelta(seconds=20 - i))
    for _ in range(50):
        add(services, user, "queued")
    mine = add(services, user, "queued")
    assert standing(services, mine) == Outlook(50, MAX_WAIT_SECONDS)


def test_too_few_recent_results_are_no_rate(services: Services, user: int) -> None:
    # The first results of a rush, a fraction of a second ago, say nothing yet about its pace.
    for i in range(MIN_RATE_SAMPLE - 1):
        add(services, user, "graded", T0 - dt.timedelta(milliseconds=10 * i))
    for _ in range(100):
        add(services, user, "queued")
    assert standing(services, add(services, user, "queued")) == Outlook(100, UNKNOWN_RATE_WAIT_SECONDS)


def test_the_first_results_of_a_rush_are_not_read_as_a_trickle(services: Services, user: int) -> None:
    # 5 graded in the last 40 ms: measured over 0.25 s at least (20/s), not over a whole
    # second (5/s, which would send 100 waiting clients away for the longest wait).
    for i in range(MIN_RATE_SAMPLE):
        add(services, user, "graded", T0 - dt.timedelta(milliseconds=10 * i))
    for _ in range(100):
        add(services, user, "queued")
    assert standing(services, add(services, user, "queued")) == Outlook(100, 3)  # 100 at 20/s: 5 s; 3/4 of it


def test_a_rush_is_measured_from_its_start_not_over_the_whole_window(services: Services, user: int) -> None:
    for i in range(40):  # 40 in the last 4 s: 10/s, though the window is longer
        add(services, user, "graded", T0 - dt.timedelta(seconds=4 * i / 40))
    for _ in range(20):
        add(services, user, "queued")
    assert standing(services, add(services, user, "queued")) == Outlook(20, 1)


def test_to_dict_names_the_fields_clients_read() -> None:
    assert Outlook(7, 3).to_dict() == {"ahead": 7, "retry_after": 3}
