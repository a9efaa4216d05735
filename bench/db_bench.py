"""Benchmark the gradebook queries on SQLite and PostgreSQL with a synthetic course.

Builds ``--students`` students × ``--labs`` labs × ``--attempts`` graded attempts, each
with ``--fixtures`` fixture results (defaults: 2,000 × 3 × 10 = 60,000 submissions and
2,040,000 fixture results), the students spread over ``--courses`` courses (default 4,
every course running every lab; student n is in course ``(n - 1) % courses + 1``), in a
SQLite file and in a fresh PostgreSQL database, then times, side by side, for the first
course (``bench-1``: its students, scores and pages only, among the others' rows):

* the students × labs gradebook (``grader.service.gradebook.gradebook``), target ≤ 100 ms;
* the per-fixture pass rates of one lab (``pass_rates``), target ≤ 200 ms;
* the Canvas CSV export to a file (``export_canvas``), target ≤ 1 s;
* the long CSV export (``export_long``), for information;
* the instructor's dashboard, grade matrix and misconceptions pages (a lab's causes over
  the counted submissions, and over all attempts), whole requests through the Flask app
  (server time, no network), target ≤ 300 ms.

Every failed fixture result is explained by a synthetic cause (a few mistakes each
student shows at first and mostly fixes over their attempts), stored as the grader
stores them: ``submissions.causes`` and one ``submission_causes`` row per cause.

and prints the median and 95th percentile of ``--runs`` runs (after two warm-up runs)
with PASS/FAIL against the targets. Exit status 1 if a target is missed.

The schema is the models' (``Base.metadata.create_all``). Bulk loading goes around the
ORM: ``executemany`` on the sqlite3 connection, ``COPY`` through psycopg on PostgreSQL
(foreign-key triggers off while loading); indexes on the two big tables are built after
loading, then the databases are analysed (``ANALYZE`` / ``VACUUM ANALYZE``).

Usage::

    .venv/bin/python bench/db_bench.py                  # full size, both databases
    .venv/bin/python bench/db_bench.py --students 200   # a quick run
    .venv/bin/python bench/db_bench.py --only sqlite --explain

PostgreSQL: ``--pg-admin`` (default ``$LOSSGRADER_TEST_PG`` or
``postgresql://postgres@127.0.0.1:5432/test``) is used to drop and create the database
``--pg-db`` (default ``lossgrader_bench``), which is dropped again afterwards unless
``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, Index, insert, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from grader.db.models import (  # noqa: E402
    Base,
    Course,
    CourseLab,
    Enrolment,
    FixtureResult,
    Lab,
    Score,
    Submission,
    SubmissionCause,
    User,
)
from grader.db.session import make_engine, make_sessionmaker  # noqa: E402
from grader.service.gradebook import export_canvas, export_long, gradebook, pass_rates  # noqa: E402

UTC = dt.timezone.utc
START = dt.datetime(2025, 2, 3, 9, 0, tzinfo=UTC)
CATEGORIES = ("basic", "batch", "python lists", "shapes", "large values", "edge cases")
VISIBILITIES = ("public", "hidden", "randomised")
SOURCE = "import numpy as np\n\n\ndef mse(y, t):\n    return 0.5 * np.sum((np.asarray(y) - np.asarray(t)) ** 2)\n"
SOURCE_SHA = hashlib.sha256(SOURCE.encode()).hexdigest()

SUBMISSION_COLUMNS = (
    "id",
    "user_id",
    "lab_id",
    "attempt",
    "filename",
    "source",
    "source_sha256",
    "submitted_at",
    "status",
    "seed",
    "lab_version",
    "grading_attempts",
    "score",
    "max_score",
    "graded_at",
    "execution_time",
    "output",
    "causes",
    "course_id",
)
CAUSE_COLUMNS = (
    "submission_id",
    "key",
    "lab_id",
    "user_id",
    "attempt",
    "submitted_at",
    "kind",
    "mistake",
    "points_lost",
    "fixtures",
    "course_id",
)
#: (key, kind, catalogue id, message, how likely a student shows it at the first attempt).
CAUSES = (
    ("mistake:mse_no_half", "mistake", "mse_no_half", "Your value matches Σ(y−t)² without the ½.", 0.40),
    ("mistake:mse_mean", "mistake", "mse_mean", "Your value matches the mean of the squared differences.", 0.25),
    ("pattern:mean_squared_error:factor-2", "pattern", None, "Your value is twice the expected one.", 0.15),
    ("mistake:mse_batch_mean", "mistake", "mse_batch_mean", "Your value matches ½·Σ(y−t)² over N.", 0.10),
    ("exception:mean_squared_error:ValueError", "exception", None, "`mean_squared_error` raised `ValueError`.", 0.08),
    ("shape:mean_squared_error", "shape", None, "The result has the wrong shape.", 0.05),
)
UNEXPLAINED = ("value:mean_squared_error", "value", None, "`mean_squared_error` returns wrong values here.")
FIX_CHANCE = 0.25  # per attempt, for each cause a student shows
RESULT_COLUMNS = (
    "id",
    "submission_id",
    "lab_id",
    "position",
    "name",
    "function",
    "category",
    "visibility",
    "passed",
    "stage",
    "score",
    "max_score",
    "feedback",
    "detail",
    "elapsed",
)


@dataclass
class Size:
    students: int
    labs: int
    attempts: int
    fixtures: int
    seed: int = 7
    courses: int = 4

    @property
    def lab_ids(self) -> list[str]:
        return [f"lab{i + 1:02d}-bench" for i in range(self.labs)]

    def course_of(self, user_id: int) -> int:
        """The course (id 1…) a student is in."""
        return (user_id - 1) % self.courses + 1

    def in_course(self, course_id: int = 1, active_only: bool = False) -> int:
        """How many students the course has (the active ones only, if asked)."""
        return sum(
            1
            for n in range(1, self.students + 1)
            if self.course_of(n) == course_id and (not active_only or n % 97 != 0)
        )


# --- synthetic data -------------------------------------------------------------------


def small_tables(size: Size) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Labs and users (students, plus one instructor)."""
    labs = [
        dict(id=lab, title=f"Bench lab {i + 1}", version="v1", max_score=float(size.fixtures), position=i)
        for i, lab in enumerate(size.lab_ids)
    ]
    users = [
        dict(
            id=n,
            username=f"s{n:05d}",
            display_name=f"Student {n:05d}",
            email=f"s{n:05d}@uni.example",
            role="student",
            student_number=f"S{n:07d}",
            sis_user_id=f"SIS{n:07d}",
            sis_login_id=f"s{n:05d}@uni.example",
            section=f"S{n % 8 + 1:02d}",
            active=n % 97 != 0,  # a few dropped students
            created_at=START,
        )
        for n in range(1, size.students + 1)
    ]
    return labs, users


def batches(
    size: Size, per_batch: int = 100
) -> Iterator[tuple[list[tuple], list[tuple], list[dict[str, Any]], list[tuple]]]:
    """(submission rows, fixture result rows, score rows, cause rows) for ``per_batch`` students at a time."""
    import json

    rng = random.Random(size.seed)
    difficulty = {lab: [rng.uniform(0.25, 0.9) for _ in range(size.fixtures)] for lab in size.lab_ids}
    fixture_meta = [
        (f"fixture-{k:02d}", CATEGORIES[k % len(CATEGORIES)], VISIBILITIES[k % len(VISIBILITIES)])
        for k in range(size.fixtures)
    ]
    sub_id = 0
    result_id = 0
    subs: list[tuple] = []
    results: list[tuple] = []
    scores: list[dict[str, Any]] = []
    causes: list[tuple] = []
    for user_id in range(1, size.students + 1):
        for lab_index, lab in enumerate(size.lab_ids):
            base = START + dt.timedelta(days=7 * lab_index)
            last: tuple[int, float, dt.datetime] | None = None
            showing = [c for c in CAUSES if rng.random() < c[4]]
            for attempt in range(1, size.attempts + 1):
                sub_id += 1
                submitted = base + dt.timedelta(hours=attempt * 3, seconds=user_id)
                passed_points = 0
                explained: dict[tuple, list[str]] = {}
                for position, (name, category, visibility) in enumerate(fixture_meta):
                    result_id += 1
                    passed = rng.random() < min(0.98, difficulty[lab][position] + 0.05 * attempt)
                    passed_points += passed
                    if not passed:
                        cause = showing[position % len(showing)] if showing else UNEXPLAINED
                        explained.setdefault(cause, []).append(name)
                    results.append(
                        (
                            result_id,
                            sub_id,
                            lab,
                            position,
                            name,
                            "mse",
                            category,
                            visibility,
                            passed,
                            "value",
                            1.0 if passed else 0.0,
                            1.0,
                            "" if passed else "your value matches Σ(y−t)² without the ½",
                            "{}",
                            0.002,
                        )
                    )
                stored = []
                if not explained:  # a result with nothing wrong has the row that says so
                    causes.append(
                        (sub_id, "", lab, user_id, attempt, submitted, "none", None, 0.0, "[]", size.course_of(user_id))
                    )
                for (key, kind, mistake, message, *_), names in explained.items():
                    fixtures = json.dumps(names)
                    pts = float(len(names))
                    course = size.course_of(user_id)
                    causes.append((sub_id, key, lab, user_id, attempt, submitted, kind, mistake, pts, fixtures, course))
                    stored.append(
                        dict(
                            key=key,
                            kind=kind,
                            message=message,
                            fixtures=names,
                            points_lost=float(len(names)),
                            mistake=mistake,
                            code=None,
                        )
                    )
                score = float(passed_points)
                subs.append(
                    (
                        sub_id,
                        user_id,
                        lab,
                        attempt,
                        "submission.py",
                        SOURCE,
                        SOURCE_SHA,
                        submitted,
                        "graded",
                        rng.randrange(2**31),
                        "v1",
                        1,
                        score,
                        float(size.fixtures),
                        submitted + dt.timedelta(seconds=2),
                        0.4,
                        "",
                        json.dumps(sorted(stored, key=lambda c: -c["points_lost"])),
                        size.course_of(user_id),
                    )
                )
                last = (sub_id, score, submitted)
                showing = [c for c in showing if rng.random() >= FIX_CHANCE]
            if last is not None:
                penalty = 1.0 if user_id % 10 == 0 else 0.0
                scores.append(
                    dict(
                        course_id=size.course_of(user_id),
                        user_id=user_id,
                        lab_id=lab,
                        submission_id=last[0],
                        raw=last[1],
                        penalty=penalty,
                        final=max(0.0, last[1] - penalty),
                        max_score=float(size.fixtures),
                        late_days=1 if penalty else 0,
                        attempts=size.attempts,
                        submitted_at=last[2],
                        updated_at=last[2],
                    )
                )
        if user_id % per_batch == 0 or user_id == size.students:
            yield subs, results, scores, causes
            subs, results, scores, causes = [], [], [], []


# --- loading --------------------------------------------------------------------------

BULK_INDEXED = (Submission.__table__, FixtureResult.__table__, SubmissionCause.__table__)


def _bulk_indexes() -> list[Index]:
    return [index for table in BULK_INDEXED for index in table.indexes]


def _sqlite_time(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def load(engine: Engine, size: Size) -> dict[str, float]:
    """Create the schema and load the synthetic course; returns phase timings (seconds)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        for index in _bulk_indexes():
            index.drop(conn)
        labs, users = small_tables(size)
        conn.execute(insert(Lab), labs)
        conn.execute(insert(User), users)
        conn.execute(insert(User), [dict(id=size.students + 1, username="prof", role="instructor", created_at=START)])
        conn.execute(
            insert(Course),
            [
                dict(id=c, code=f"bench-{c}", title=f"Bench course {c}", term="bench", timezone="UTC", created_at=START)
                for c in range(1, size.courses + 1)
            ],
        )
        conn.execute(
            insert(CourseLab),
            [
                dict(course_id=c, lab_id=lab, position=i, created_at=START, updated_at=START)
                for c in range(1, size.courses + 1)
                for i, lab in enumerate(size.lab_ids)
            ],
        )
        enrolled = [
            dict(
                course_id=size.course_of(u["id"]),
                user_id=u["id"],
                role="student",
                section=u["section"],
                created_at=START,
            )
            for u in users
        ]
        conn.execute(insert(Enrolment), enrolled)
    sqlite = engine.dialect.name == "sqlite"
    raw = engine.raw_connection()
    score_rows: list[dict[str, Any]] = []
    counts = {"submissions": 0, "fixture_results": 0, "submission_causes": 0}
    try:
        driver = raw.driver_connection
        if sqlite:
            driver.execute("PRAGMA foreign_keys=OFF")
            driver.execute("PRAGMA synchronous=OFF")
            sub_sql = (
                f"INSERT INTO submissions ({', '.join(SUBMISSION_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(SUBMISSION_COLUMNS))})"
            )
            res_sql = (
                f"INSERT INTO fixture_results ({', '.join(RESULT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(RESULT_COLUMNS))})"
            )
            cause_sql = (
                f"INSERT INTO submission_causes ({', '.join(CAUSE_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(CAUSE_COLUMNS))})"
            )
            for subs, results, scores, causes in batches(size):
                driver.executemany(
                    sub_sql, [(*s[:7], _sqlite_time(s[7]), *s[8:14], _sqlite_time(s[14]), *s[15:]) for s in subs]
                )
                driver.executemany(res_sql, results)
                driver.executemany(cause_sql, [(*c[:5], _sqlite_time(c[5]), *c[6:]) for c in causes])
                counts["submissions"] += len(subs)
                counts["fixture_results"] += len(results)
                counts["submission_causes"] += len(causes)
                score_rows.extend(scores)
            driver.commit()
        else:
            with driver.cursor() as cur:
                cur.execute("SET session_replication_role = replica")  # no FK triggers while loading
                with (
                    cur.copy(f"COPY submissions ({', '.join(SUBMISSION_COLUMNS)}) FROM STDIN") as copy_subs,
                ):
                    pending_results: list[list[tuple]] = []
                    pending_causes: list[list[tuple]] = []
                    for subs, results, scores, causes in batches(size):
                        for row in subs:
                            copy_subs.write_row(row)
                        pending_results.append(results)
                        pending_causes.append(causes)
                        counts["submissions"] += len(subs)
                        score_rows.extend(scores)
                with cur.copy(f"COPY fixture_results ({', '.join(RESULT_COLUMNS)}) FROM STDIN") as copy_results:
                    for results in pending_results:
                        for row in results:
                            copy_results.write_row(row)
                        counts["fixture_results"] += len(results)
                    pending_results.clear()
                with cur.copy(f"COPY submission_causes ({', '.join(CAUSE_COLUMNS)}) FROM STDIN") as copy_causes:
                    for causes in pending_causes:
                        for row in causes:
                            copy_causes.write_row(row)
                        counts["submission_causes"] += len(causes)
                    pending_causes.clear()
                cur.execute("SET session_replication_role = origin")
            driver.commit()
    finally:
        raw.close()
    timings["load rows"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(Score), score_rows)
        for index in _bulk_indexes():
            index.create(conn)
        if not sqlite:
            for table in ("users", "submissions", "fixture_results"):  # submission_causes has no serial id
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
    timings["scores + indexes"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    if sqlite:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.commit()
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    timings["analyze"] = time.perf_counter() - t2
    timings["rows"] = counts  # type: ignore[assignment]
    return timings


# --- timing ---------------------------------------------------------------------------


@dataclass
class Measure:
    database: str
    name: str
    target_ms: float | None
    times_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def verdict(self) -> str:
        if self.target_ms is None:
            return "info"
        return "PASS" if self.p95 <= self.target_ms else "FAIL"


def time_operations(database: str, engine: Engine, size: Size, runs: int, workdir: Path) -> list[Measure]:
    """Median/p95 of each operation over ``runs`` runs (two warm-ups first), each in a new session."""
    sessions = make_sessionmaker(engine)
    lab = size.lab_ids[0]
    csv_path = workdir / f"export-{database}.csv"
    expected_students = size.in_course(1, active_only=True)
    course = 1  # the benchmarked course, among the others

    def book(s: Session) -> None:
        rows = gradebook(s, course_id=course)
        assert len(rows) == expected_students and len(rows.labs) == size.labs, (len(rows), len(rows.labs))

    def rates(s: Session) -> None:
        found = pass_rates(s, lab, course_id=course)
        assert len(found) == size.fixtures and found[0].total == size.in_course(course), (len(found), found[:1])

    def canvas(s: Session) -> None:
        with csv_path.open("w", encoding="utf-8", newline="") as handle:
            assert export_canvas(s, handle, course_id=course) == expected_students

    def long(s: Session) -> None:
        with csv_path.open("w", encoding="utf-8", newline="") as handle:
            assert export_long(s, handle, course_id=course) == expected_students * size.labs

    operations: list[tuple[str, float | None, Callable[[Session], None]]] = [
        (f"gradebook ({size.in_course(course)} of {size.students} × {size.labs})", 100.0, book),
        (f"pass rates (1 lab, {size.fixtures} fixtures)", 200.0, rates),
        ("Canvas CSV export", 1000.0, canvas),
        ("long CSV export", None, long),
    ]
    measures = []
    for name, target, operation in operations:
        times = []
        for run in range(runs + 2):
            with sessions() as s:
                t0 = time.perf_counter()
                operation(s)
                elapsed = (time.perf_counter() - t0) * 1000
            if run >= 2:
                times.append(elapsed)
        measures.append(Measure(database, name, target, times))
    return measures


class _NoDispatch:
    """The pages never grade: nothing to dispatch."""

    def dispatch(self, submission_id: int) -> None:
        raise AssertionError(f"the benchmark dispatched submission {submission_id}")


def time_pages(database: str, url: str, runs: int, lab: str) -> list[Measure]:
    """Server time of the instructor's dashboard, grade matrix and ``lab``'s misconceptions
    pages (Flask test client: the whole request — routing, sign-in check, queries,
    templates — without a network), signed in as an instructor through the login form."""
    import re

    from grader.config import Config
    from grader.grading.runner import SubprocessRunner
    from grader.service.context import open_services
    from grader.service.users import create_user
    from grader.web import create_app

    password = "bench instructor password"
    config = Config(database_url=url, secret_key="bench", instance_path=tempfile.mkdtemp(prefix="lossgrader-bench-"))
    services = open_services(config, migrate=False, dispatcher=_NoDispatch(), runner_factory=SubprocessRunner)
    try:
        with services.sessions() as s, s.begin():
            if s.scalar(text("SELECT id FROM users WHERE username = 'bench-instructor'")) is None:
                from grader.service.courses import enrol, get_course

                instructor = create_user(s, "bench-instructor", "instructor", password=password)
                enrol(s, get_course(s, "bench-1"), instructor, "instructor")  # the first course's pages
        app = create_app({"LOSSGRADER": config, "SERVICES": services, "RATELIMIT_ENABLED": False})
        client = app.test_client()
        form = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        account = {"username": "bench-instructor", "password": password, "csrf_token": token}
        signed_in = client.post("/login", data=account)
        assert signed_in.status_code == 302, signed_in.status_code
        measures = []
        pages = (
            ("dashboard page", "/courses/bench-1/instructor/"),
            ("grade matrix page", "/courses/bench-1/instructor/gradebook"),
            ("misconceptions page", f"/courses/bench-1/instructor/labs/{lab}/misconceptions"),
            ("misconceptions page, all attempts", f"/courses/bench-1/instructor/labs/{lab}/misconceptions?scope=all"),
        )
        for name, path in pages:
            times = []
            for run in range(runs + 2):
                t0 = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - t0) * 1000
                assert response.status_code == 200, (path, response.status_code)
                if run >= 2:
                    times.append(elapsed)
            measures.append(Measure(database, name, 300.0, times))
        return measures
    finally:
        services.close()


def explain(engine: Engine, size: Size) -> None:
    """Print the query plans of the gradebook and pass-rate queries."""
    from sqlalchemy.dialects import postgresql, sqlite

    import grader.service.gradebook as gb

    captured: list[Any] = []

    class Spy(Session):
        def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
            captured.append(statement)
            return super().execute(statement, *args, **kwargs)

    with Spy(engine) as s:
        gb.gradebook(s, course_id=1)
        gb.pass_rates(s, size.lab_ids[0], course_id=1)
    dialect = sqlite.dialect() if engine.dialect.name == "sqlite" else postgresql.psycopg.dialect()
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    with engine.connect() as conn:
        for statement in captured[1:]:  # the first is the short list of labs
            sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            print(f"\n[{engine.dialect.name}] {sql}\n")
            for row in conn.exec_driver_sql(prefix + sql):
                print("   ", " | ".join(str(c) for c in row))


# --- PostgreSQL database --------------------------------------------------------------


def pg_recreate(admin_url: str, name: str, drop_only: bool = False) -> str:
    """Drop (and unless ``drop_only`` create) database ``name``; returns its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop_only:
            admin.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


# --- main -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--labs", type=int, default=3)
    parser.add_argument("--attempts", type=int, default=10)
    parser.add_argument("--fixtures", type=int, default=34, help="fixture results per submission")
    parser.add_argument("--courses", type=int, default=4, help="courses the students are spread over")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per operation")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    parser.add_argument("--sqlite", type=Path, default=None, help="SQLite file (default: a temporary one)")
    parser.add_argument(
        "--pg-admin", default=os.environ.get("LOSSGRADER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--pg-db", default="lossgrader_bench")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--explain", action="store_true", help="print query plans")
    parser.add_argument(
        "--reuse", action="store_true", help="time the databases a --keep run left (needs --sqlite PATH for SQLite)"
    )
    args = parser.parse_args(argv)
    size = Size(args.students, args.labs, args.attempts, args.fixtures, courses=max(1, args.courses))
    print(
        f"synthetic courses: {size.students} students in {size.courses} courses (timed: bench-1, "
        f"{size.in_course(1)} students) × {size.labs} labs × {size.attempts} attempts = "
        f"{size.students * size.labs * size.attempts:,} submissions, "
        f"{size.students * size.labs * size.attempts * size.fixtures:,} fixture results"
    )
    workdir = Path(tempfile.mkdtemp(prefix="lossgrader-bench-"))
    databases: list[tuple[str, str]] = []
    if args.only in (None, "sqlite"):
        path = args.sqlite or workdir / "bench.db"
        if not args.reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        databases.append(("sqlite", f"sqlite:///{path}"))
    if args.only in (None, "postgresql"):
        if args.reuse:
            base = args.pg_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            databases.append(("postgresql", f"{base}/{args.pg_db}"))
        else:
            databases.append(("postgresql", pg_recreate(args.pg_admin, args.pg_db)))

    measures: list[Measure] = []
    try:
        for name, url in databases:
            if not args.reuse:
                engine = make_engine(url)
                t0 = time.perf_counter()
                timings = load(engine, size)
                engine.dispose()
                rows = timings.pop("rows")
                phases = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
                print(f"{name}: loaded {rows} in {time.perf_counter() - t0:.1f} s ({phases})", flush=True)
            engine = make_engine(url)
            if args.explain:
                explain(engine, size)
            measures.extend(time_operations(name, engine, size, args.runs, workdir))
            engine.dispose()
            measures.extend(time_pages(name, url, args.runs, size.lab_ids[0]))
    finally:
        if not args.keep and not args.reuse:
            if any(name == "postgresql" for name, _ in databases):
                pg_recreate(args.pg_admin, args.pg_db, drop_only=True)
            for child in workdir.iterdir():
                child.unlink()
            workdir.rmdir()

    loadavg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{args.runs} runs per operation after 2 warm-ups; PASS when p95 ≤ target")
    print(f"{os.cpu_count()} CPUs; load average now {loadavg} (other work on the machine inflates the times)\n")
    header = f"{'database':<11} {'operation':<34} {'target':>8} {'median':>10} {'p95':>10}  result"
    print(header)
    print("-" * len(header))
    for m in measures:
        target = "-" if m.target_ms is None else f"{m.target_ms:.0f} ms"
        print(f"{m.database:<11} {m.name:<34} {target:>8} {m.median:>7.1f} ms {m.p95:>7.1f} ms  {m.verdict}")
    failed = [m for m in measures if m.verdict == "FAIL"]
    print(f"\n{'FAIL: ' + str(len(failed)) + ' target(s) missed' if failed else 'PASS: every target met'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
