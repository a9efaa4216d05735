"""Isolation between courses, for every route of the app (``app.url_map``): a student and an
instructor of course B, signed in (cookie, with a valid CSRF token) and with API tokens, request
every rule with course A's ids (its code, its student, submission, extension) and with B's code
and A's ids; nothing of A's students, submissions or scores may appear, and nothing of A changes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from grader.db.models import AuditEvent, Extension, Score, Submission, User, utcnow
from grader.db.session import session_scope
from grader.service.courses import add_lab, create_course, enrol, get_course
from grader.service.users import create_token
from tests.web.conftest import COURSE, csrf_token, login

LAB = "lab01-mse"
OTHER = "ml202"
SECRET_NAME = "Alicia Zebulon-Quartz"  # course A's student: her name must never show in B's answers
SECRET_NUMBER = "S-77123-A"
SECRET_SCORE_MARK = "alice-source-marker-5150"  # in her submission's source


@pytest.fixture
def two_courses(services: Any, make_user: Any) -> dict[str, Any]:
    """Course A (the template's) with alice's graded submission, score and extension; course B
    (``ml202``, the same lab) with its own student bob and instructor tia."""
    from grader.service.submissions import recompute_scores

    alice = make_user("alice", display_name=SECRET_NAME, student_number=SECRET_NUMBER, section="A1")
    make_user("ines", "instructor")
    bob = make_user("bob", course=None, display_name="Bob B")
    tia = make_user("tia", course=None, display_name="Tia B")
    with session_scope(services.sessions) as session:
        course_b = create_course(session, OTHER, "Machine learning", "2026 fall")
        add_lab(session, course_b, LAB)
        enrol(session, course_b, session.get(type(bob), bob.id), "student")
        enrol(session, course_b, session.get(type(tia), tia.id), "instructor")
        course_a = get_course(session, COURSE)
        found = Submission(
            course_id=course_a.id, user_id=alice.id, lab_id=LAB, attempt=1, source=f"# {SECRET_SCORE_MARK}\n",
            source_sha256="0" * 64, seed=1, status="graded", score=17.25, max_score=25.0, submitted_at=utcnow(),
        )  # fmt: skip
        session.add(found)
        session.flush()
        extension = Extension(course_id=course_a.id, user_id=alice.id, lab_id=LAB, due_at=utcnow(), reason="ill")
        session.add(extension)
        session.flush()
        recompute_scores(session, LAB, user_id=alice.id, course_id=course_a.id)
        ids = {"submission_id": found.id, "user_id": alice.id, "extension_id": extension.id}
        tokens = {
            name: create_token(session, session.get(type(bob), uid)) for name, uid in (("bob", bob.id), ("tia", tia.id))
        }
    return {"ids": ids, "tokens": tokens, "course_a": course_a.id}


def _urls(app: Flask, ids: dict[str, int]) -> list[tuple[str, str]]:
    """(method, URL) for every rule, with course A's ids, once with A's code and once with B's."""
    values = {"lab_id": LAB, "mail_id": 1, "token": "x" * 20, "filename": "app.css", **ids}
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for code in (COURSE, OTHER) if "course" in rule.arguments else (None,):
            args = {name: values.get(name, 1) for name in rule.arguments if name != "course"}
            if code is not None:
                args["course"] = code
            url = rule.build(args, append_unknown=False)[1]  # type: ignore[index]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, url))
    return found


def _state(services: Any, course_a: int, alice: int) -> tuple[Any, ...]:
    """What a request could change of course A: its scores, extensions, submissions and audit trail."""
    with services.sessions() as session:
        return (
            tuple(session.execute(select(Score.final, Score.submission_id).where(Score.course_id == course_a)).all()),
            tuple(session.execute(select(Extension.id, Extension.due_at).where(Extension.course_id == course_a)).all()),
            session.scalar(select(func.count()).select_from(Submission).where(Submission.course_id == course_a)),
            session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.course_id == course_a)),
            session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.user_id == alice)),
        )


def _leaks(body: str) -> list[str]:
    return [secret for secret in (SECRET_NAME, SECRET_NUMBER, SECRET_SCORE_MARK, "17.25", "alice") if secret in body]


@pytest.mark.parametrize("who", ["bob", "tia"])
def test_no_route_shows_or_changes_another_courses_data(app: Flask, services: Any, two_courses: dict[str, Any], who):
    before = _state(services, two_courses["course_a"], two_courses["ids"]["user_id"])
    urls = _urls(app, two_courses["ids"])
    assert ("POST", f"/api/v1/courses/{COURSE}/labs/{LAB}/submissions") in urls
    assert any(url.startswith(f"/courses/{OTHER}/instructor/students/") for _, url in urls)

    cookie = app.test_client()
    assert login(cookie, who).status_code == 302
    token = csrf_token(cookie, f"/courses/{OTHER}/labs/{LAB}")
    bearer = {"Authorization": f"Bearer {two_courses['tokens'][who]}"}
    checked = 0
    for method, url in urls:
        if url in ("/logout",):
            continue  # would end the session the next requests use
        for client, headers in ((cookie, {"X-CSRFToken": token}), (app.test_client(), bearer)):
            data = {"csrf_token": token, "user_id": two_courses["ids"]["user_id"], "lab_id": LAB, "confirmed": "yes",
                    "due_at": "2031-01-01T00:00", "source": "x = 1\n"} if method == "POST" else None  # fmt: skip
            response = client.open(url, method=method, data=data, headers=headers)
            body = response.get_data(as_text=True)
            assert response.status_code < 500, (method, url, response.status_code)
            assert not _leaks(body), (who, method, url, response.status_code, _leaks(body))
            if url.startswith(f"/courses/{COURSE}/") or url.startswith(f"/api/v1/courses/{COURSE}/"):
                assert response.status_code in (302, 400, 401, 403, 404, 405, 422), (method, url, response.status_code)
            checked += 1
    assert checked > 100
    assert _state(services, two_courses["course_a"], two_courses["ids"]["user_id"]) == before


def test_own_course_still_works_and_shows_only_its_own(app: Flask, services: Any, two_courses: dict[str, Any]) -> None:
    client = app.test_client()
    assert login(client, "tia").status_code == 302
    book = client.get(f"/courses/{OTHER}/instructor/gradebook")
    assert book.status_code == 200 and "Bob B" in book.get_data(as_text=True)
    assert not _leaks(book.get_data(as_text=True))
    export = client.get(f"/courses/{OTHER}/instructor/export/long.csv").get_data(as_text=True)
    assert "bob" in export and not _leaks(export)
    api = client.get(
        f"/api/v1/courses/{OTHER}/labs", headers={"Authorization": f"Bearer {two_courses['tokens']['tia']}"}
    )
    assert [lab["course"] for lab in api.get_json()["labs"]] == [OTHER]
    ines = app.test_client()
    assert login(ines, "ines").status_code == 302
    page = ines.get(f"/courses/{COURSE}/instructor/gradebook").get_data(as_text=True)
    assert SECRET_NAME in page and "Bob B" not in page


def test_course_less_routes_work_for_one_course_and_name_the_course_for_several(
    app: Flask, services: Any, two_courses: dict[str, Any]
) -> None:
    bearer = {"Authorization": f"Bearer {two_courses['tokens']['bob']}"}
    client = app.test_client()
    created = client.post(f"/api/v1/labs/{LAB}/submissions", json={"source": "x = 1\n"}, headers=bearer)
    assert created.status_code == 202
    with services.sessions() as session:
        course_b = get_course(session, OTHER).id
        assert session.get(Submission, created.get_json()["id"]).course_id == course_b
        bob = session.scalars(select(Submission.user_id).where(Submission.id == created.get_json()["id"])).one()
        enrol(session, get_course(session, COURSE), _user(session, bob))  # now bob is in two courses with the lab
        session.commit()
    again = client.post(f"/api/v1/labs/{LAB}/submissions", json={"source": "x = 1\n"}, headers=bearer)
    assert again.status_code == 404 and "/api/v1/courses/<course>/" in again.get_json()["message"]
    named = client.post(f"/api/v1/courses/{COURSE}/labs/{LAB}/submissions", json={"source": "x = 1\n"}, headers=bearer)
    assert named.status_code == 202


def _user(session: Any, user_id: int) -> Any:
    from grader.db.models import User

    return session.get(User, user_id)


def test_links_inside_a_course_stay_in_it(app: Flask, two_courses: dict[str, Any]) -> None:
    client = app.test_client()
    assert login(client, "bob").status_code == 302
    html = client.get(f"/courses/{OTHER}/labs").get_data(as_text=True)
    assert f'href="/courses/{OTHER}/labs/{LAB}"' in html
    assert not re.search(rf'href="/courses/{COURSE}/', html)


def test_a_student_of_two_courses_picks_one(app: Flask, services: Any, two_courses: dict[str, Any]) -> None:
    with session_scope(services.sessions) as session:
        bob = session.scalars(select(User).where(User.username == "bob")).one()
        enrol(session, get_course(session, COURSE), bob)
    client = app.test_client()
    assert login(client, "bob").status_code == 302
    labs = client.get("/labs")
    assert labs.status_code == 302 and labs.headers["Location"].endswith("/courses")
    page = client.get("/courses").get_data(as_text=True)
    assert f'href="/courses/{COURSE}/labs"' in page and f'href="/courses/{OTHER}/labs"' in page
    assert "instructor pages" not in page  # a student in both
    assert client.get(f"/labs/{LAB}").status_code == 404  # the lab is in both: the course must be named
    assert client.get(f"/courses/{OTHER}/labs/{LAB}").status_code == 200
