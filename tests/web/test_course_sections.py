"""A student's section is their enrolment's in each course: the roster page (rows, counts,
section filter), the student page, the gradebook and its CSV exports of one course never show
the section of another course, nor the user's own roster field."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from grader.db.models import Enrolment, User
from grader.db.session import session_scope
from grader.service.courses import add_lab, create_course, enrol, get_course
from tests.web.conftest import COURSE, csrf_token, login

LAB = "lab01-mse"
OTHER = "ml202"


@pytest.fixture
def sections(services: Any, make_user: Any) -> dict[str, int]:
    """sam: section A1 in the test course, B7 in ml202, and "U" as his user field (from some
    older import); pat: A1 in the test course only; quinn: ml202 without a section there (his user
    field says A1). ines teaches the test course, tia ml202."""
    sam = make_user("sam", display_name="Sam", student_number="1001", section="U")
    pat = make_user("pat", display_name="Pat", section="A1")
    quinn = make_user("quinn", course=None, display_name="Quinn", student_number="1003", section="A1")
    make_user("ines", "instructor")
    tia = make_user("tia", course=None, display_name="Tia")
    with session_scope(services.sessions) as session:
        course = get_course(session, COURSE)
        other = create_course(session, OTHER, "Machine learning", "2026 fall")
        add_lab(session, other, LAB)
        enrol(session, course, session.get(User, sam.id), "student", "A1")
        enrol(session, other, session.get(User, sam.id), "student", "B7")
        enrol(session, other, session.get(User, quinn.id), "student")
        enrol(session, other, session.get(User, tia.id), "instructor")
    return {"sam": sam.id, "pat": pat.id, "quinn": quinn.id}


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def roster_sections(html: str) -> dict[str, str]:
    """Name -> the Section cell of each row of the roster table."""
    rows = re.findall(r'<th scope="row"><a [^>]*>([^<]+)</a></th>.*?<td data-label="Section">([^<]*)</td>', html, re.S)
    return dict(rows)


def section_options(html: str) -> list[str]:
    select_html = re.search(r'<select id="section" name="section">(.*?)</select>', html, re.S)
    assert select_html
    return [value for value in re.findall(r'<option value="([^"]*)"', select_html.group(1)) if value]


def counts(html: str) -> list[str]:
    found = re.search(r'<ul class="counts" aria-label="Counts">(.*?)</ul>', html, re.S)
    assert found
    return re.findall(r"<li>((?:Section [^<]+|No section): \d+)</li>", found.group(1))


def test_each_courses_roster_shows_the_section_of_its_own_enrolment(app: Flask, sections: dict[str, int]) -> None:
    ines, tia = signed_in(app, "ines"), signed_in(app, "tia")
    roster = f"/courses/{COURSE}/instructor/roster"
    html = page(ines, roster)
    assert roster_sections(html) == {"Pat": "A1", "Sam": "A1"}
    assert counts(html) == ["Section A1: 2"] and section_options(html) == ["A1"]
    assert roster_sections(page(ines, f"{roster}?section=A1")) == {"Pat": "A1", "Sam": "A1"}
    assert "No students match." in page(ines, f"{roster}?section=B7")
    assert "No students match." in page(ines, f"{roster}?section=U")  # the user field is no section here

    roster = f"/courses/{OTHER}/instructor/roster"
    html = page(tia, roster)
    assert roster_sections(html) == {"Quinn": "—", "Sam": "B7"}  # quinn's user field (A1) is not his section here
    assert counts(html) == ["Section B7: 1", "No section: 1"] and section_options(html) == ["B7"]
    assert roster_sections(page(tia, f"{roster}?section=B7")) == {"Sam": "B7"}
    assert "No students match." in page(tia, f"{roster}?section=A1")

    sam = sections["sam"]
    assert "<dt>Section</dt><dd>A1</dd>" in page(ines, f"/courses/{COURSE}/instructor/students/{sam}")
    assert "<dt>Section</dt><dd>B7</dd>" in page(tia, f"/courses/{OTHER}/instructor/students/{sam}")


def test_gradebook_and_exports_give_each_course_its_own_sections(app: Flask, sections: dict[str, int]) -> None:
    ines, tia = signed_in(app, "ines"), signed_in(app, "tia")
    for client, code, expected in (
        (ines, COURSE, {"pat": "A1", "sam": "A1"}),
        (tia, OTHER, {"quinn": "", "sam": "B7"}),
    ):
        book = f"/courses/{code}/instructor/gradebook"
        wanted = sorted({section for section in expected.values() if section})
        assert section_options(page(client, book)) == wanted
        for section in wanted:
            filtered = page(client, f"{book}?section={section}")
            shown = {name for name, value in expected.items() if value == section}
            assert {name for name in expected if f"<td>{name}</td>" in filtered} == shown, (code, section)
        long = list(csv.DictReader(io.StringIO(page(client, f"/courses/{code}/instructor/export/long.csv"))))
        assert {row["username"]: row["section"] for row in long} == expected
        canvas = list(csv.reader(io.StringIO(page(client, f"/courses/{code}/instructor/export/canvas.csv"))))
        by_name = {row[0]: row[4] for row in canvas[2:]}
        assert by_name == {name.title(): section for name, section in expected.items()}


def test_a_roster_import_sets_the_section_in_its_course_only(
    app: Flask, services: Any, sections: dict[str, int]
) -> None:
    tia = signed_in(app, "tia")
    roster = f"/courses/{OTHER}/instructor/roster"

    def upload(body: str) -> str:
        data = {"csrf_token": csrf_token(tia, roster), "file": (io.BytesIO(body.encode()), "ml202.csv")}
        response = tia.post(roster, data=data, content_type="multipart/form-data")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_data(as_text=True)

    def enrolled(username: str) -> dict[str, str | None]:
        with services.sessions() as session:
            rows = session.execute(
                select(Enrolment.course_id, Enrolment.section)
                .join(User, User.id == Enrolment.user_id)
                .where(User.username == username)
            ).all()
            codes = {get_course(session, code).id: code for code in (COURSE, OTHER)}
            return {codes[course_id]: section for course_id, section in rows}

    # A blank cell keeps sam's ml202 section, and pat (new to ml202) gets none: not A1 from the other course.
    html = upload("student_id,username,section\n1001,sam,\n1002,pat,\n")
    assert roster_sections(html) == {"Pat": "—", "Quinn": "—", "Sam": "B7"}
    assert enrolled("sam") == {COURSE: "A1", OTHER: "B7"} and enrolled("pat") == {COURSE: "A1", OTHER: None}

    html = upload("student_id,username,section\n1001,sam,B9\n")  # a section given: in ml202 only
    assert roster_sections(html) == {"Pat": "—", "Quinn": "—", "Sam": "B9"}
    assert enrolled("sam") == {COURSE: "A1", OTHER: "B9"}
    assert roster_sections(page(signed_in(app, "ines"), f"/courses/{COURSE}/instructor/roster"))["Sam"] == "A1"
