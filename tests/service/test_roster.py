"""Roster import (grader.service.roster): all rows checked first, then all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.db.models import AuditEvent, Base, User
from grader.db.session import make_engine, make_sessionmaker
from grader.service.roster import RosterError, import_roster
from grader.service.users import create_user


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    with make_sessionmaker(engine)() as s:
        yield s
    engine.dispose()


def students(session: Session) -> dict[str, User]:
    return {u.student_number: u for u in session.scalars(select(User).where(User.role == "student"))}


ROSTER = "student_id,username,name,email,section\nS1,ann,Ann Lee,ann@uni.edu,A\nS2,ben,Ben Ode,ben@uni.edu,B\n"


def test_creates_students(session: Session) -> None:
    report = import_roster(session, ROSTER)
    assert (report.created, report.updated, report.unchanged, report.errors) == (2, 0, 0, [])
    ann = students(session)["S1"]
    assert (ann.username, ann.display_name, ann.email, ann.section, ann.role) == (
        "ann",
        "Ann Lee",
        "ann@uni.edu",
        "A",
        "student",
    )


def test_username_defaults_to_student_id(session: Session) -> None:
    import_roster(session, "student_id,name\nS9,Zed\n")
    assert students(session)["S9"].username == "S9"


def test_second_import_updates_by_student_id(session: Session) -> None:
    import_roster(session, ROSTER)
    report = import_roster(session, ROSTER.replace("Section A", "").replace(",A\n", ",C\n"))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert students(session)["S1"].section == "C"


def test_update_is_audited_with_old_values(session: Session) -> None:
    import_roster(session, ROSTER)
    import_roster(session, ROSTER.replace(",A\n", ",C\n"), actor="cli:root")
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.action, event.actor_label) == ("roster_import", "cli:root")
    assert event.old["students"] == {"S1": {"section": "A"}}
    assert event.new["students"] == {"S1": {"section": "C"}}


def test_blank_cell_keeps_stored_value(session: Session) -> None:
    import_roster(session, ROSTER)
    import_roster(session, "student_id,email\nS1,\n")
    assert students(session)["S1"].email == "ann@uni.edu"


def test_header_aliases_bom_blank_lines_and_whitespace(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    text = "\ufeff Student Number ,E-Mail, Full Name \n\n  S1 , ann@uni.edu ,  Ann Lee \n\n"
    path.write_bytes(text.encode("utf-8"))
    report = import_roster(session, path)
    assert (report.source, report.created) == ("roster.csv", 1)
    assert (students(session)["S1"].email, students(session)["S1"].display_name) == ("ann@uni.edu", "Ann Lee")


def test_unknown_columns_are_ignored_and_reported(session: Session) -> None:
    report = import_roster(session, "student_id,favourite colour\nS1,blue\n")
    assert report.ignored_columns == ["favourite colour"]


def test_bad_email_reported_by_row_and_nothing_imported(session: Session) -> None:
    report = import_roster(session, "student_id,email\nS1,a@uni.edu\nS2,x@\n")
    assert report.errors == ["row 3: email 'x@' is not an email address"]
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_duplicate_student_id_names_both_rows(session: Session) -> None:
    text = "student_id,username\nS1,a\nS2,b\nS123,c\nS4,d\nS5,e\n\nS6,f\nS123,g\n"
    report = import_roster(session, text)
    assert report.errors == ["row 9: student_id S123 appears twice (rows 4 and 9)"]


def test_repeated_student_id_used_as_username_is_reported_once(session: Session) -> None:
    report = import_roster(session, "student_id,name\nS1,Ann\nS1,Ann again\n")
    assert report.errors == ["row 3: student_id S1 appears twice (rows 2 and 3)"]


def test_every_bad_row_is_reported(session: Session) -> None:
    report = import_roster(session, "student_id,email\n,a@uni.edu\nS2,nope\nS3,c@uni.edu,extra\n")
    assert [e.split(":")[0] for e in report.errors] == ["row 2", "row 3", "row 4"]


def test_username_of_instructor_is_refused(session: Session) -> None:
    create_user(session, "ann", "instructor")
    report = import_roster(session, ROSTER)
    assert report.errors == ["row 2: username ann belongs to an instructor, not a student"]
    assert students(session) == {}


def test_hand_added_student_is_linked_by_username(session: Session) -> None:
    ben = create_user(session, "ben", "student")
    report = import_roster(session, ROSTER)
    assert (report.created, report.updated) == (1, 1)
    assert ben.student_number == "S2"


def test_non_utf8_file_is_one_clear_error(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes("student_id,name\nS1,Jos\u00e9\n".encode("latin-1"))
    with pytest.raises(RosterError, match=r"^roster.csv is not UTF-8 text \(byte 0xe9 on line 2\)"):
        import_roster(session, path)


def test_missing_student_id_column(session: Session) -> None:
    with pytest.raises(RosterError, match=r"the header has no student_id column \(found: name, email\)"):
        import_roster(session, "name,email\nAnn,a@uni.edu\n")


def test_empty_roster(session: Session) -> None:
    with pytest.raises(RosterError, match="is empty"):
        import_roster(session, "\n\n")
