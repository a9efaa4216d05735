"""``lossgrader roster|regrade|export|lab set|extension`` through grader.cli.run, on a temporary SQLite file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.cli import run
from grader.db.models import AuditEvent, Course, CourseLab, Enrolment, Extension, Lab, Score, User
from tests.commands.conftest import Stored

UTC = dt.timezone.utc


@pytest.fixture
def stored(cli_database: Stored) -> Stored:
    """The CLI's database (a SQLite file) holding lab01 and students ann (S1) and ben (S2)."""
    session = cli_database
    with session() as s:
        s.add(Lab(id="lab01", title="MSE", version="v1", max_score=10))
        s.add_all(
            [
                User(username="ann", display_name="Ann Lee", student_number="S1"),
                User(username="ben", display_name="Ben Ode", student_number="S2"),
            ]
        )
        s.add(Course(code="dl101", title="Deep learning"))
        s.flush()
        course = s.scalars(select(Course)).one()
        s.add(CourseLab(course_id=course.id, lab_id="lab01"))
        ann = s.scalar(select(User.id).where(User.username == "ann"))
        s.add_all([Enrolment(course_id=course.id, user_id=u, role="student") for u in s.scalars(select(User.id))])
        s.add(Score(course_id=course.id, user_id=ann, lab_id="lab01", final=7.5))
    return session


def policy(session: Session, lab_id: str, code: str = "dl101") -> CourseLab:
    """The course's policy row for a lab."""
    course = session.scalars(select(Course).where(Course.code == code)).one()
    found = session.get(CourseLab, (course.id, lab_id))
    assert found is not None
    return found


@pytest.fixture
def regrade_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """grader.service.submissions.regrade replaced by a stand-in reporting two submissions, one changed."""
    calls: list[tuple[Any, ...]] = []

    def regrade(services, lab_id, student=None, actor="cli", progress=None):
        calls.append((lab_id, student, actor))
        progress(0, 2)
        progress(2, 2)
        change = types.SimpleNamespace
        return [
            change(
                submission_id=4,
                username="ann",
                attempt=2,
                old_score=5.0,
                new_score=7.5,
                max_score=10.0,
                old_status="graded",
                new_status="graded",
                error=None,
                changed=True,
            ),
            change(
                submission_id=5,
                username="ben",
                attempt=1,
                old_score=10.0,
                new_score=10.0,
                max_score=10.0,
                old_status="graded",
                new_status="graded",
                error=None,
                changed=False,
            ),
        ]

    module = pytest.importorskip("grader.service.submissions")
    monkeypatch.setattr(module, "regrade", regrade)
    return calls


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_roster_import_prints_one_summary_line(stored: Stored, tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "student_id,name\nS2,Ben Okafor\nS3,Cy\n")
    assert run(["roster", "import", path]) == 0
    assert capsys.readouterr().out == "roster.csv: 2 students: 1 created, 1 updated, 0 unchanged; enrolled in dl101\n"


def test_roster_with_bad_rows_imports_nothing(stored: Stored, tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "student_id,email\nS3,c@uni.edu\nS4,x@\n")
    assert run(["roster", "import", path]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: row 3: email 'x@' is not an email address",
        "error: roster.csv: nothing imported: 1 problem",
    ]
    with stored() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 2


def test_roster_not_utf8_is_one_line(stored: Stored, tmp_path: Path, capsys) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(b"student_id,name\nS1,Jos\xe9\n")
    assert run(["roster", "import", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_export_canvas_to_stdout(stored: Stored, capsys) -> None:
    assert run(["export", "grades", "--format", "canvas"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][-1] == "MSE (lab01)" and rows[1][-1] == "10" and rows[2] == ["Ann Lee", "", "S1", "", "", "7.5"]


def test_export_long_to_file(stored: Stored, tmp_path: Path, capsys) -> None:
    target = tmp_path / "grades.csv"
    assert run(["export", "grades", "--format", "long", "-o", str(target)]) == 0
    assert len(list(csv.DictReader(target.open(encoding="utf-8")))) == 2
    assert capsys.readouterr().err.startswith("wrote 2 rows to")


def test_lab_set_records_old_and_new_and_recomputes(stored: Stored, capsys) -> None:
    assert run(["lab", "set", "lab01", "--due", "2025-03-01T23:59:00Z", "--late-policy", "zero_after_deadline"]) == 0
    printed = capsys.readouterr().out
    assert "lab01: due_at: None → 2025-03-01T23:59:00+00:00" in printed
    assert "recomputed scores:" in printed
    with stored() as session:
        lab = policy(session, "lab01")
        assert (lab.due_at, lab.late_policy) == (dt.datetime(2025, 3, 1, 23, 59, tzinfo=UTC), "zero_after_deadline")
        event = session.scalars(select(AuditEvent)).one()
        assert (event.action, event.old, event.new["late_policy"]) == (
            "lab_policy",
            {"due_at": None, "late_policy": "none"},
            "zero_after_deadline",
        )


def test_lab_set_switches_whether_unloadable_files_count(stored: Stored, capsys) -> None:
    assert run(["lab", "set", "lab01", "--unloadable-counts", "yes"]) == 0
    assert "lab01: unloadable_counts: False → True" in capsys.readouterr().out
    with stored() as session:
        assert policy(session, "lab01").unloadable_counts is True
    assert run(["lab", "set", "lab01", "--unloadable-counts", "no"]) == 0
    with stored() as session:
        assert policy(session, "lab01").unloadable_counts is False
    assert run(["lab", "set", "lab01", "--unloadable-counts", "maybe"]) == 2
    assert "maybe" in capsys.readouterr().err


def test_lab_set_without_timezone_is_refused(stored: Stored, capsys) -> None:
    assert run(["lab", "set", "lab01", "--due", "2025-03-01T23:59"]) == 2
    assert capsys.readouterr().err == (
        "error: --due: '2025-03-01T23:59' has no timezone: add Z (UTC) or an offset like +01:00\n"
    )


def test_lab_set_unknown_lab(stored: Stored, capsys) -> None:
    assert run(["lab", "set", "lab99", "--counting", "best"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no lab 'lab99' in the database (labs: lab01, ") and err.count("\n") == 1


def test_lab_set_percent_policy_needs_percent(stored: Stored, capsys) -> None:
    assert run(["lab", "set", "lab01", "--late-policy", "percent_per_day"]) == 2
    assert "needs --percent-per-day" in capsys.readouterr().err


def test_extension_grant_and_replace(stored: Stored, capsys) -> None:
    assert run(["extension", "grant", "S1", "lab01", "--until", "2025-03-05T12:00:00+01:00", "--reason", "ill"]) == 0
    assert run(["extension", "grant", "ann", "lab01", "--until", "2025-03-06T12:00:00Z"]) == 0
    with stored() as session:
        extension = session.scalars(select(Extension)).one()
        assert extension.due_at == dt.datetime(2025, 3, 6, 12, tzinfo=UTC)
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert events[1].old == {"due_at": "2025-03-05T11:00:00+00:00", "reason": "ill"}
    assert "recomputed scores:" in capsys.readouterr().out


def test_extension_for_unknown_student(stored: Stored, capsys) -> None:
    assert run(["extension", "grant", "zed", "lab01", "--until", "2025-03-06T12:00:00Z"]) == 2
    assert capsys.readouterr().err == "error: no student 'zed' (give a username or a student id)\n"


def test_regrade_prints_changes_and_summary(stored: Stored, regrade_calls, capsys) -> None:
    assert run(["regrade", "--lab", "lab01", "--student", "S1"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "ann attempt 2 (submission 4): 5 → 7.5/10",
        "regraded 2 of 2 submissions of lab01 for ann: 1 changed",
    ]
    assert regrade_calls[0][:2] == ("lab01", "ann")


def test_regrade_unknown_lab(stored: Stored, capsys) -> None:
    assert run(["regrade", "--lab", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: no lab 'nope'")


def test_regrade_failure_keeps_old_result_and_exits_1(stored: Stored, regrade_calls, monkeypatch, capsys) -> None:
    module = sys.modules["grader.service.submissions"]
    failing = types.SimpleNamespace(
        submission_id=4,
        username="ann",
        attempt=2,
        old_score=5.0,
        new_score=5.0,
        max_score=10.0,
        old_status="graded",
        new_status="graded",
        error="sandbox unavailable",
        changed=False,
    )
    monkeypatch.setattr(module, "regrade", lambda *a, **k: [failing])
    assert run(["regrade", "--lab", "lab01"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "error: ann attempt 2 (submission 4): not regraded, old result kept: sandbox unavailable\n"
    assert captured.out == "regraded 0 of 1 submission of lab01: 0 changed, 1 failed\n"


def test_lab_set_on_a_fresh_course_brings_in_the_lab_definitions(stored: Stored, capsys) -> None:
    assert run(["course", "add-lab", "dl101", "lab01-mse"]) == 0
    assert run(["lab", "set", "lab01-mse", "--counting", "best"]) == 0
    with stored() as session:
        assert session.get(Lab, "lab01-mse") is not None
        assert policy(session, "lab01-mse").counting == "best"
