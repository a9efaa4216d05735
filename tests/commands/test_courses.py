"""``lossgrader course …`` and ``--course`` on the per-course commands, on a temporary SQLite file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.cli import run
from grader.db.models import AuditEvent, Course, CourseLab, Enrolment, Extension, Lab, Score, User
from tests.commands.conftest import Stored

UTC = dt.timezone.utc


@pytest.fixture
def stored(cli_database: Stored) -> Stored:
    """The CLI's database with lab01 and lab02 in the library and no course."""
    session = cli_database
    with session() as s:
        s.add_all([Lab(id="lab01", title="MSE", version="v1", max_score=10), Lab(id="lab02", title="CE", version="v1")])
    return session


def course(session: Session, code: str) -> Course:
    return session.scalars(select(Course).where(Course.code == code)).one()


def test_create_list_add_lab(stored: Stored, capsys) -> None:
    assert run(["course", "create", "dl101-s27", "--title", "Deep learning", "--term", "2027 spring",
                "--timezone", "Europe/Paris"]) == 0  # fmt: skip
    assert capsys.readouterr().out == "created course dl101-s27: Deep learning (2027 spring, Europe/Paris)\n"
    assert run(["course", "add-lab", "dl101-s27", "lab01", "--due", "2027-03-01T23:59:00+01:00"]) == 0
    assert run(["course", "add-lab", "dl101-s27", "lab02"]) == 0
    capsys.readouterr()
    assert run(["course", "list"]) == 0
    assert capsys.readouterr().out == "dl101-s27  2027 spring  Europe/Paris  2 labs  0 students  Deep learning\n"
    with stored() as session:
        found = course(session, "dl101-s27")
        rows = session.scalars(select(CourseLab).where(CourseLab.course_id == found.id).order_by(CourseLab.position))
        assert [(r.lab_id, r.due_at) for r in rows] == [
            ("lab01", dt.datetime(2027, 3, 1, 22, 59, tzinfo=UTC)),
            ("lab02", None),
        ]
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.course_id == found.id)).all()
        assert actions == ["course_create", "course_add_lab", "course_add_lab"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["course", "create", "bad code", "--title", "x"], "is not a course code"),
        (["course", "create", "dl2", "--title", "x", "--timezone", "Mars/Olympus"], "unknown time zone"),
        (["course", "add-lab", "nope", "lab01"], "no course 'nope'"),
        (["course", "add-lab", "dl", "lab99"], "no lab 'lab99'"),
        (["course", "add-lab", "dl", "lab01", "--due", "tomorrow"], "is not an ISO 8601 time"),
        (["course", "copy", "dl", "dl", "--term", "t"], "already exists"),
    ],
)
def test_bad_input_is_one_line(stored: Stored, capsys, argv: list[str], message: str) -> None:
    with stored() as session:
        session.add(Course(code="dl", title="DL"))
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_copy_takes_labs_and_policies_not_people(stored: Stored, capsys) -> None:
    run(["course", "create", "dl-f26", "--title", "DL", "--term", "fall 2026"])
    run(["course", "add-lab", "dl-f26", "lab01", "--due", "2026-10-01T12:00:00Z"])
    run(["lab", "set", "lab01", "--course", "dl-f26", "--counting", "best", "--max-submissions", "3"])
    with stored() as session:
        ann = User(username="ann", student_number="S1")
        session.add(ann)
        session.flush()
        old = course(session, "dl-f26")
        session.add(Enrolment(course_id=old.id, user_id=ann.id))
        session.add(Score(course_id=old.id, user_id=ann.id, lab_id="lab01", final=5))
    capsys.readouterr()
    assert run(["course", "copy", "dl-f26", "dl-s27", "--term", "spring 2027"]) == 0
    assert "copied dl-f26 to dl-s27 (spring 2027): 1 labs" in capsys.readouterr().out
    with stored() as session:
        new = course(session, "dl-s27")
        row = session.get(CourseLab, (new.id, "lab01"))
        assert row is not None and (row.counting, row.max_submissions, row.due_at) == (
            "best", 3, dt.datetime(2026, 10, 1, 12, tzinfo=UTC)
        )  # fmt: skip
        assert (new.title, new.term) == ("DL", "spring 2027")
        assert session.scalars(select(Enrolment).where(Enrolment.course_id == new.id)).all() == []
        assert session.scalars(select(Score).where(Score.course_id == new.id)).all() == []


def test_several_courses_need_course(stored: Stored, tmp_path: Path, capsys) -> None:
    for code in ("one", "two"):
        run(["course", "create", code, "--title", code])
        run(["course", "add-lab", code, "lab01"])
    capsys.readouterr()
    assert run(["lab", "set", "lab01", "--counting", "best"]) == 2
    assert "several courses: name one with --course CODE" in capsys.readouterr().err
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,username,section\nS1,ann,A\nS2,ben,B\n")
    assert run(["roster", "import", str(roster), "--course", "two"]) == 0
    assert capsys.readouterr().out.endswith("; enrolled in two\n")
    assert run(["lab", "set", "lab01", "--course", "two", "--counting", "best"]) == 0
    assert run(["extension", "grant", "ann", "lab01", "--course", "two", "--until", "2027-01-01T00:00:00Z"]) == 0
    assert run(["extension", "grant", "ann", "lab01", "--course", "one", "--until", "2027-01-01T00:00:00Z"]) == 2
    assert "ann is not a student of one" in capsys.readouterr().err
    with stored() as session:
        one, two = course(session, "one"), course(session, "two")
        assert session.get(CourseLab, (one.id, "lab01")).counting == "last"
        assert session.get(CourseLab, (two.id, "lab01")).counting == "best"
        enrolled = session.execute(select(Enrolment.course_id, Enrolment.section).order_by(Enrolment.section)).all()
        assert [tuple(e) for e in enrolled] == [(two.id, "A"), (two.id, "B")]
        assert [e.course_id for e in session.scalars(select(Extension))] == [two.id]


def test_roster_import_sets_the_section_in_its_course_only(stored: Stored, tmp_path: Path, capsys) -> None:
    for code in ("one", "two"):
        run(["course", "create", code, "--title", code])
        run(["course", "add-lab", code, "lab01"])
    roster = tmp_path / "roster.csv"

    def imported(text: str, code: str) -> list[tuple[str, str | None]]:
        roster.write_text(text)
        assert run(["roster", "import", str(roster), "--course", code]) == 0
        with stored() as session:
            found = session.execute(select(Course.code, Enrolment.section).join(Enrolment).order_by(Course.code))
            return [(row.code, row.section) for row in found]

    assert imported("student_id,username,section\nS1,ann,A\n", "one") == [("one", "A")]
    # a blank cell: ann has no section in course two yet, not course one's
    assert imported("student_id,username,section\nS1,ann,\n", "two") == [("one", "A"), ("two", None)]
    assert imported("student_id,username,section\nS1,ann,B\n", "two") == [("one", "A"), ("two", "B")]
    assert imported("student_id,username,section\nS1,ann,C\n", "one") == [("one", "C"), ("two", "B")]
    assert imported("student_id,username\nS1,ann\n", "two") == [("one", "C"), ("two", "B")]  # no column: kept
    capsys.readouterr()
    assert run(["export", "grades", "--format", "long", "--course", "two"]) == 0
    assert "S1,ann,,B,lab01," in capsys.readouterr().out


def test_export_shows_one_course_only(stored: Stored, tmp_path: Path, capsys) -> None:
    for code in ("one", "two"):
        run(["course", "create", code, "--title", code])
        run(["course", "add-lab", code, "lab01"])
    for code, name in (("one", "ann"), ("two", "ben")):
        path = tmp_path / f"{code}.csv"
        path.write_text(f"student_id,username\n{name.upper()},{name}\n")
        assert run(["roster", "import", str(path), "--course", code]) == 0
    with stored() as session:
        for code, name, final in (("one", "ann", 7.0), ("two", "ben", 3.0)):
            user_id = session.scalar(select(User.id).where(User.username == name))
            session.add(Score(course_id=course(session, code).id, user_id=user_id, lab_id="lab01", final=final))
    capsys.readouterr()
    assert run(["export", "grades", "--format", "long", "--course", "one"]) == 0
    printed = capsys.readouterr().out
    assert "ann" in printed and ",7," in printed and "ben" not in printed
    assert run(["export", "grades"]) == 2
    assert "--course" in capsys.readouterr().err


def test_enrol_gives_a_role_per_course(stored: Stored, capsys) -> None:
    run(["course", "create", "one", "--title", "one"])
    run(["course", "create", "two", "--title", "two"])
    with stored() as session:
        session.add(User(username="tia"))
    assert run(["course", "enrol", "one", "tia"]) == 0
    assert run(["course", "enrol", "two", "tia", "--role", "grader"]) == 0
    assert "two: tia is a grader" in capsys.readouterr().out
    with stored() as session:
        roles = session.execute(select(Course.code, Enrolment.role).join(Enrolment).order_by(Course.code)).all()
        assert [tuple(r) for r in roles] == [("one", "student"), ("two", "grader")]


def test_edit_changes_each_field_and_audits_it(stored: Stored, capsys) -> None:
    run(["course", "create", "dl", "--title", "Deep learning", "--term", "2027 spring"])
    capsys.readouterr()
    assert run(["course", "edit", "dl", "--title", "Deep learning I"]) == 0
    assert capsys.readouterr().out == "dl: title: 'Deep learning' → 'Deep learning I'\n"
    assert run(["course", "edit", "dl", "--term", " 2027 fall ", "--timezone", "Europe/Paris"]) == 0
    assert capsys.readouterr().out == "dl: term: '2027 spring' → '2027 fall'\ndl: timezone: 'UTC' → 'Europe/Paris'\n"
    with stored() as session:
        found = course(session, "dl")
        assert (found.title, found.term, found.timezone) == ("Deep learning I", "2027 fall", "Europe/Paris")
        edits = session.scalars(
            select(AuditEvent).where(AuditEvent.course_id == found.id, AuditEvent.action == "course_edit")
        ).all()
        assert [(e.old, e.new) for e in edits] == [
            ({"title": "Deep learning"}, {"title": "Deep learning I"}),
            ({"term": "2027 spring", "timezone": "UTC"}, {"term": "2027 fall", "timezone": "Europe/Paris"}),
        ]
        assert all(e.actor_label.startswith("cli:") for e in edits)


def test_edit_to_the_same_values_changes_nothing(stored: Stored, capsys) -> None:
    run(["course", "create", "dl", "--title", "DL", "--term", "t1"])
    capsys.readouterr()
    assert run(["course", "edit", "dl", "--title", "DL", "--term", "t1", "--timezone", "UTC"]) == 0
    assert capsys.readouterr().out == "dl: nothing changed\n"
    with stored() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "course_edit")).all() == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["course", "edit", "nope", "--title", "x"], "error: no course 'nope' (see `lossgrader course list`)"),
        (
            ["course", "edit", "dl", "--title", "New", "--timezone", "Mars/Olympus"],
            "error: unknown time zone 'Mars/Olympus'",
        ),
        (["course", "edit", "dl", "--term", "t2", "--title", "  "], "error: a course's title cannot be empty"),
        (["course", "edit", "dl"], "error: nothing to change: give --title, --term or --timezone"),
    ],
)
def test_edit_bad_input_is_one_line_and_stores_nothing(stored: Stored, capsys, argv: list[str], message: str) -> None:
    run(["course", "create", "dl", "--title", "DL", "--term", "t1", "--timezone", "Europe/Berlin"])
    capsys.readouterr()
    assert run(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(message) and captured.err.count("\n") == 1 and captured.out == ""
    with stored() as session:
        found = course(session, "dl")
        assert (found.title, found.term, found.timezone) == ("DL", "t1", "Europe/Berlin")
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "course_edit")).all() == []
