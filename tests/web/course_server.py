"""A ``lossgrader serve`` with a small, seeded course, for the instructor browser and accessibility tests.

The server runs with ``LOSSGRADER_TIMEZONE=Europe/Paris`` (so pages print ``UTC+01:00``) on a
fresh SQLite file. Once it answers, :func:`seed_course` writes fourteen students in three
sections and their graded attempts straight into that file (no grading: scores are set), with
lab01's due date inside its submissions, a late-work penalty, and one student whose counted
(last) attempt is below their best. lab03 gets two real, correct files so that a regrade of it
runs for real and quickly.

Launching follows :mod:`tests.web.test_browser` (Debian chromium; skipped without it unless
``CI`` is set, when it fails).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import ACCOUNT_RE, _stop, start_server

ROOT = Path(__file__).resolve().parents[2]
TIMEZONE = "Europe/Paris"
LAB01, LAB02, LAB03 = "lab01-mse", "lab02-cross-entropy", "lab03-softmax-ce"
LAB03_CORRECT = ROOT / "tests" / "implementations" / LAB03 / "correct_vectorised.py"
SEED = 20261207
NAMES = (
    "Ada Lovelace", "Alan Turing", "Barbara Liskov", "Claude Shannon", "Donald Knuth", "Edsger Dijkstra",
    "Frances Allen", "Grace Hopper", "John Backus", "Katherine Johnson", "Leslie Lamport", "Margaret Hamilton",
    "Niklaus Wirth", "Radia Perlman",
)  # fmt: skip
BELOW_BEST = "Grace Hopper"  # her last attempt (counted) scores below her first


@dataclass
class Course:
    """The running server, the demo passwords it printed, and what was seeded."""

    url: str
    passwords: dict[str, str]
    log: Path
    database_url: str
    students: dict[str, int] = field(default_factory=dict)  # display name → user id
    submissions: dict[str, int] = field(default_factory=dict)  # lab id → how many were seeded


def seed_course(database_url: str, now: dt.datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Students and graded attempts (see the module's docstring); ({name: user id}, {lab id: submissions})."""
    from sqlalchemy import select

    from grader.db.models import CourseLab, Submission
    from grader.db.session import make_engine, make_sessionmaker, session_scope
    from grader.service.courses import enrol, get_course
    from grader.service.submissions import recompute_scores
    from grader.service.users import create_user

    rng = random.Random(SEED)
    engine = make_engine(database_url)
    students: dict[str, int] = {}
    counts = {LAB01: 0, LAB02: 0, LAB03: 0}
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            course = get_course(session, "demo")  # lossgrader serve's demo course: every lab, its students seeded here
            mine = (CourseLab.course_id == course.id, CourseLab.lab_id.in_(list(counts)))
            labs = {lab.id: lab for lab in session.scalars(select(CourseLab).where(*mine))}
            lab01 = labs[LAB01]
            lab01.due_at = (now - dt.timedelta(days=3)).replace(hour=22, minute=0, second=0, microsecond=0)
            lab01.late_policy, lab01.late_percent_per_day = "percent_per_day", 10.0
            lab01.max_submissions = 10
            correct03 = LAB03_CORRECT.read_text()

            def add(user_id: int, lab: CourseLab, attempt: int, at: dt.datetime, score: float, source: str) -> None:
                session.add(
                    Submission(
                        course_id=course.id, user_id=user_id, lab_id=lab.id, attempt=attempt, filename="mine.py",
                        source=source,
                        source_sha256=hashlib.sha256(source.encode()).hexdigest(), submitted_at=at,
                        status="graded", seed=rng.randrange(2**31), score=score, max_score=lab.max_score,
                        graded_at=at + dt.timedelta(seconds=5), lab_version=None,
                    )
                )  # fmt: skip
                counts[lab.id] += 1

            for index, name in enumerate(NAMES):
                first = name.split()[0].lower()
                user = create_user(
                    session, first, "student", password=None, display_name=name,
                    email=f"{first}@example.org", student_number=f"S{index + 1:04d}", section="ABC"[index % 3],
                )  # fmt: skip
                enrol(session, course, user, "student", user.section)
                students[name] = user.id
                top = lab01.max_score
                tries = 2 if name == BELOW_BEST else 1 + rng.randrange(4)
                base = rng.uniform(0.1, 0.75)
                times = sorted(lab01.due_at - dt.timedelta(hours=rng.uniform(-60, 8 * 24)) for _ in range(tries))
                for attempt, at in enumerate(times, 1):  # mostly before the due date, some late
                    if name == BELOW_BEST:
                        score = top if attempt == 1 else round(top * 0.6)
                        at = lab01.due_at - dt.timedelta(days=3 - attempt)
                    else:
                        score = round(top * min(1.0, base + 0.15 * (attempt - 1)))  # each try does better
                    add(user.id, lab01, attempt, at, score, f"# attempt {attempt} of {name}\n")
                if index % 2 == 0:
                    at = now - dt.timedelta(hours=rng.uniform(1, 40))
                    add(user.id, labs[LAB02], 1, at, round(labs[LAB02].max_score * rng.uniform(0, 1)), "# lab02\n")
                if index < 2:  # real files: a regrade of lab03 runs them
                    add(user.id, labs[LAB03], 1, now - dt.timedelta(hours=2 + index), labs[LAB03].max_score, correct03)
            session.flush()
            for lab_id in counts:
                recompute_scores(session, lab_id)
    finally:
        engine.dispose()
    return students, counts


def course_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Course]:
    """The body of a module-scoped ``course`` fixture: start, seed, yield, stop."""
    process, url, log, env = start_server(tmp_path_factory.mktemp("course"), LOSSGRADER_TIMEZONE=TIMEZONE)
    database_url = env["LOSSGRADER_DATABASE_URL"]
    try:
        passwords = {m.group(1): m.group(3) for m in ACCOUNT_RE.finditer(log.read_text(errors="replace"))}
        assert {"demo-instructor", "demo-student1"} <= passwords.keys(), log.read_text(errors="replace")[-4000:]
        now = dt.datetime.now(dt.timezone.utc)
        students, submissions = seed_course(database_url, now)
        yield Course(url, passwords, log, database_url, students, submissions)
    finally:
        _stop(process)
    assert process.returncode == 0, f"serve exited {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}"


def new_page(browser: Any, course: Course, *, javascript: bool = True) -> Any:
    """A fresh browser context on the course (CSP bypassed so that axe-core can be injected)."""
    context = browser.new_context(
        base_url=course.url,
        viewport={"width": 1280, "height": 900},
        accept_downloads=True,
        bypass_csp=True,
        java_script_enabled=javascript,
    )
    context.set_default_timeout(30_000)
    return context.new_page()


def sign_in(page: Any, course: Course, username: str) -> None:
    """Sign in through the form."""
    import re

    from playwright.sync_api import expect

    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", course.passwords[username])
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def sideways(page: Any) -> int:
    """How many pixels the page is wider than the window (0: nothing scrolls sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))
