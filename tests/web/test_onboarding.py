"""Invitation and reset links in the web app, "forgot password" with a real SMTP server, and the invitations page."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from sqlalchemy import select

from grader.db.models import OutboxMail, User
from grader.db.session import session_scope
from grader.service.courses import enrol, ensure_course
from grader.service.signin import INVITATION, RESET, issue_link
from grader.service.users import check_password
from tests.mailserver import smtp_server, text_and_html
from tests.web.conftest import build_app, csrf_token, login

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
NEW_PASSWORD = "my own passphrase"
LINK_RE = re.compile(r"https?://[^\s\"<]+/(?:welcome|reset)/[A-Za-z0-9_-]+")


@pytest.fixture
def newcomer(make_user) -> User:
    """A student from the roster: no password yet."""
    return make_user("nora", password=None, display_name="Nora New", email="nora@example.org")


@pytest.fixture
def course(services, instructor, newcomer, student):
    """Course dl101 taught by ines, with nora and alice as students."""
    with session_scope(services.sessions) as session:
        course = ensure_course(session, "dl101", "Deep Learning 101")
        for user, role in ((instructor, "instructor"), (newcomer, "student"), (student, "student")):
            enrol(session, course, session.get(User, user.id), role)
        return course.code


def _link(services, config, user_id: int, purpose: str = INVITATION, **changes) -> str:
    with session_scope(services.sessions) as session:
        issued = issue_link(session, session.get(User, user_id), purpose, dataclasses.replace(config, **changes))
        return issued.token


def _choose(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    token = csrf_token(client, path)
    data = {"password": password, "confirm": password if confirm is None else confirm, "csrf_token": token}
    return client.post(path, data=data)


def _password_ok(services, username: str, password: str = NEW_PASSWORD) -> bool:
    with session_scope(services.sessions) as session:
        return check_password(session.scalar(select(User).where(User.username == username)), password)


def test_an_invitation_link_lets_the_student_choose_a_password_and_signs_them_in(client, services, config, newcomer):
    token = _link(services, config, newcomer.id)
    response = client.get(f"/welcome/{token}")
    assert response.status_code == 302 and response.headers["Location"] == "/welcome"  # the token leaves the URL
    page = client.get("/welcome").get_data(as_text=True)
    assert "Hello Nora New" in page and "<strong>nora</strong>" in page and token not in page
    assert 'autocomplete="new-password"' in page
    response = _choose(client, "/welcome", confirm="something else")
    assert response.status_code == 200 and "The two passwords differ" in response.get_data(as_text=True)
    response = _choose(client, "/welcome")
    assert response.status_code == 302 and response.headers["Location"].endswith("/labs")
    labs = client.get("/labs")
    assert labs.status_code == 200 and "Welcome! Your password is saved" in labs.get_data(as_text=True)
    assert _password_ok(services, "nora")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/labs")})
    again = client.get(f"/welcome/{token}")
    assert again.status_code == 410 and "used already" in again.get_data(as_text=True)
    assert login(client, "nora", NEW_PASSWORD).status_code == 302


def test_an_expired_or_unknown_link_says_so(client, services, config, newcomer):
    with session_scope(services.sessions) as session:
        issued = issue_link(
            session,
            session.get(User, newcomer.id),
            INVITATION,
            config,
            now=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
        )
    response = client.get(f"/welcome/{issued.token}")
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    assert client.get("/welcome/" + "x" * 43).status_code == 410
    assert "Open the link" in client.get("/welcome").get_data(as_text=True)


def test_the_password_form_needs_its_csrf_token(client, services, config, newcomer):
    client.get(f"/welcome/{_link(services, config, newcomer.id)}")
    response = client.post("/welcome", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert not _password_ok(services, "nora")


def test_following_a_link_while_signed_in_as_someone_else_signs_them_out(student_client, services, config, newcomer):
    student_client.get(f"/welcome/{_link(services, config, newcomer.id)}")
    assert _choose(student_client, "/welcome").status_code == 302
    page = student_client.get("/labs").get_data(as_text=True)
    assert "Nora New" in page


def test_an_instructor_issues_a_reset_link_for_a_student_of_their_course(client, services, course, student):
    login(client, "ines")
    token = csrf_token(client, "/invitations")
    response = client.post(f"/students/{student.id}/reset-link", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get("/invitations").get_data(as_text=True)
    (url,) = LINK_RE.findall(page)
    assert "/reset/" in url and "Shown only now" in page
    assert LINK_RE.findall(client.get("/invitations").get_data(as_text=True)) == []  # shown once
    client.post("/logout", data={"csrf_token": csrf_token(client, "/invitations")})
    client.get(url.replace("http://localhost", ""))
    assert _choose(client, "/reset").headers["Location"].endswith("/labs")
    assert _password_ok(services, "alice")


def test_an_instructor_cannot_reach_students_of_other_courses(client, services, course, make_user):
    outsider = make_user("olga", password=None, email="olga@example.org", course=None)
    with session_scope(services.sessions) as session:
        enrol(session, ensure_course(session, "other", "Other"), session.get(User, outsider.id), "student")
    login(client, "ines")
    token = csrf_token(client, "/invitations")
    assert client.post(f"/students/{outsider.id}/reset-link", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/invitations/{outsider.id}/resend", data={"csrf_token": token}).status_code == 404
    page = client.get("/invitations").get_data(as_text=True)
    assert "nora" in page and "olga" not in page


def test_students_cannot_use_the_instructor_actions(student_client, newcomer):
    token = csrf_token(student_client, "/labs")
    assert student_client.get("/invitations").status_code == 403
    assert student_client.post(f"/students/{newcomer.id}/reset-link", data={"csrf_token": token}).status_code == 403


def test_the_invitations_page_resends_without_mail_by_showing_the_link(client, services, config, course, newcomer):
    old = _link(services, config, newcomer.id)
    login(client, "ines")
    page = client.get("/invitations").get_data(as_text=True)
    assert "Not accepted yet (1)" in page and "Resend invitation" in page and "does not send mail" in page
    client.post(f"/invitations/{newcomer.id}/resend", data={"csrf_token": csrf_token(client, "/invitations")})
    (url,) = LINK_RE.findall(client.get("/invitations").get_data(as_text=True))
    assert "/welcome/" in url and old not in url
    assert client.get(f"/welcome/{old}").status_code == 410  # replaced


def test_forgot_password_without_mail_points_to_the_instructor(client):
    page = client.get("/forgot").get_data(as_text=True)
    assert "Ask your instructor" in page and "<form" not in page.split("<main", 1)[1].split("</main>")[0]
    assert 'href="/forgot"' in client.get("/login").get_data(as_text=True)


def test_forgot_password_mails_a_link_and_never_says_whether_the_address_exists(config, services, newcomer, student):
    with session_scope(services.sessions) as session:
        session.get(User, student.id).email = "alice@example.org"
    with smtp_server() as server:
        app = build_app(dataclasses.replace(config, smtp_url=server.url, mail_from="grader@example.edu"), services)
        client = app.test_client()
        answers = []
        for address in ("ALICE@example.org", "nobody@example.org"):
            response = client.post("/forgot", data={"email": address, "csrf_token": csrf_token(client, "/forgot")})
            answers.append((response.status_code, response.headers.get("Location")))
            answers.append(client.get("/login").get_data(as_text=True).count("If an account has this address"))
        assert answers[0:2] == answers[2:4] == [(302, "/login"), 1]
        (message,) = server.wait_for(lambda messages: len(messages) == 1)
    assert message["To"] == "alice@example.org" and message["Subject"] == "Reset your lossgrader password"
    text, _html = text_and_html(message)
    (url,) = LINK_RE.findall(text)
    client.get(url.replace("http://localhost", ""))
    assert _choose(client, "/reset").status_code == 302
    assert _password_ok(services, "alice")


def test_resending_by_mail_and_failed_mails_shown_with_retry(config, services, course, newcomer):
    with smtp_server() as server:
        app = build_app(dataclasses.replace(config, smtp_url=server.url), services)
        client = app.test_client()
        login(client, "ines")
        server.refuse = 1
        client.post(f"/invitations/{newcomer.id}/resend", data={"csrf_token": csrf_token(client, "/invitations")})
        page = client.get("/invitations").get_data(as_text=True)
        assert "is on its way to nora@example.org" in page
        assert "Mails not delivered" in page and "451" in page and "Try again" in page
        with session_scope(services.sessions) as session:
            mail_id = session.scalars(select(OutboxMail.id)).one()
        client.post(f"/mails/{mail_id}/retry", data={"csrf_token": csrf_token(client, "/invitations")})
        (message,) = server.wait_for(lambda messages: len(messages) == 1)
        assert "No mail has failed" in client.get("/invitations").get_data(as_text=True)
    assert "/welcome/" in text_and_html(message)[0]


def test_reset_purpose_links_do_not_open_the_welcome_page(client, services, config, newcomer):
    token = _link(services, config, newcomer.id, RESET)
    assert client.get(f"/welcome/{token}").status_code == 410
    assert client.get(f"/reset/{token}").headers["Location"] == "/reset"


def test_a_reset_link_by_username_from_the_invitations_page(client, services, course, student, make_user):
    make_user("olga", password=None, course=None)  # a student of no course of ines
    login(client, "ines")
    cases = (("S-none", "No student S-none in your courses"), ("olga", "No student olga in"), ("alice", "/reset/"))
    for name, expected in cases:
        response = client.post(
            "/invitations/reset-link", data={"student": name, "csrf_token": csrf_token(client, "/invitations")}
        )
        assert response.status_code == 302
        assert expected in client.get("/invitations").get_data(as_text=True)


# --- the roster page ------------------------------------------------------------------------


def _upload(client, body: bytes, invite: bool = True):
    import io

    data = {"csrf_token": csrf_token(client, "/instructor/roster"), "file": (io.BytesIO(body), "roster.csv")}
    if invite:
        data["invite"] = "1"
    return client.post("/instructor/roster", data=data, content_type="multipart/form-data")


ROSTER = b'student_id,username,name,email\n1001,zed,Zed Zero,zed@example.org\n1002,yan,"Yan, Y",\n'


def test_a_web_roster_import_shows_the_invitation_links_without_mail(client, instructor, student):
    login(client, "ines")
    html = _upload(client, ROSTER).get_data(as_text=True)
    assert "2 one-time links to pass on yourself" in html and "Shown only now" in html
    csv_text = html.split("readonly>", 1)[1].split("</textarea>", 1)[0]
    lines = csv_text.strip().splitlines()
    assert lines[0] == "username,email,name,link"
    assert lines[1].startswith('zed,zed@example.org,"Zed Zero",http://localhost/welcome/')
    assert lines[2].startswith('yan,,"Yan, Y",http://localhost/welcome/')
    page = client.get("/instructor/roster").get_data(as_text=True)
    assert page.count("not accepted") == 2 and page.count("Resend invitation") == 2  # zed and yan
    assert "Reset link" in page  # alice has a password


def test_a_web_roster_import_without_the_box_invites_nobody(client, instructor):
    login(client, "ines")
    html = _upload(client, ROSTER, invite=False).get_data(as_text=True)
    assert "2 created" in html and "Shown only now" not in html and "on its way" not in html


def test_a_web_roster_import_mails_the_invitations(config, services, instructor):
    with smtp_server() as server:
        client = build_app(dataclasses.replace(config, smtp_url=server.url), services).test_client()
        login(client, "ines")
        html = _upload(client, ROSTER).get_data(as_text=True)
        assert "1 invitation on its way by mail" in html
        assert "1 one-time link to pass on yourself (not mailed: no address" in html  # yan has no address
        (message,) = server.wait_for(lambda messages: len(messages) == 1)
    assert message["To"] == "zed@example.org" and "/welcome/" in text_and_html(message)[0]


def test_the_invitations_page_of_one_course(client, services, course, make_user):
    other = make_user("olga", password=None, course=None)
    with session_scope(services.sessions) as session:
        enrol(session, ensure_course(session, "other", "Other"), session.get(User, other.id), "student")
    login(client, "ines")
    page = client.get(f"/courses/{course}/invitations").get_data(as_text=True)
    assert "<h1>Invitations: Deep " in page and "nora" in page and "olga" not in page
    assert client.get("/courses/other/invitations").status_code == 404  # not hers
    assert client.get("/courses/nope/invitations").status_code == 404


# --- the audit trail of issued links ---------------------------------------------------------


def _link_events(services) -> list[dict]:
    """Every column of the audit events of issued links, oldest first."""
    from grader.db.models import AuditEvent

    actions = ("invitation_issue", "reset_link_issue")
    with session_scope(services.sessions) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action.in_(actions)).order_by(AuditEvent.id))
        return [{c.name: getattr(e, c.name) for c in AuditEvent.__table__.columns} for e in events]


def _course_id(services, code: str) -> int:
    from grader.service.courses import get_course

    with session_scope(services.sessions) as session:
        return get_course(session, code).id


def _without_secrets(events: list[dict], urls: list[str]) -> bool:
    """No event holds a link, a token, or even the path of one."""
    text = repr(events)
    tokens = [url.rsplit("/", 1)[1] for url in urls]
    return all(token not in text for token in tokens) and "/welcome/" not in text and "/reset/" not in text


def test_an_instructor_issuing_links_is_audited_without_the_links(
    client, services, course, instructor, newcomer, student
):
    login(client, "ines")
    client.post(f"/invitations/{newcomer.id}/resend", data={"csrf_token": csrf_token(client, "/invitations")})
    urls = LINK_RE.findall(client.get("/invitations").get_data(as_text=True))
    client.post(f"/students/{student.id}/reset-link", data={"csrf_token": csrf_token(client, "/invitations")})
    urls += LINK_RE.findall(client.get("/invitations").get_data(as_text=True))
    assert len(urls) == 2
    events = _link_events(services)
    dl101 = _course_id(services, course)
    assert [
        (e["action"], e["actor_id"], e["actor_label"], e["course_id"], e["user_id"], e["old"], e["note"])
        for e in events
    ] == [
        ("invitation_issue", instructor.id, "web:ines", dl101, newcomer.id, None, ""),
        ("reset_link_issue", instructor.id, "web:ines", dl101, student.id, None, ""),
    ]
    assert [{key: value for key, value in e["new"].items() if key != "expires_at"} for e in events] == [
        {"kind": "invitation", "user": "nora", "mailed": False},
        {"kind": "reset", "user": "alice", "mailed": False},
    ]
    assert all(dt.datetime.fromisoformat(e["new"]["expires_at"]) > dt.datetime.now(dt.timezone.utc) for e in events)
    assert _without_secrets(events, urls)


def test_the_audited_course_of_a_link_is_the_page_s_when_the_student_has_several(client, services, course, newcomer):
    with session_scope(services.sessions) as session:
        other = ensure_course(session, "other", "Other")
        enrol(session, other, session.get(User, newcomer.id), "student")
        enrol(session, other, session.scalar(select(User).where(User.username == "ines")), "instructor")
        enrol(session, ensure_course(session, "third", "Not hers"), session.get(User, newcomer.id), "student")
    login(client, "ines")
    token = csrf_token(client, "/courses/other/invitations")
    for hint in ("other", None, "third", "nope"):  # hers, none, one she does not teach, no such course
        data = {"csrf_token": token, **({"course": hint} if hint else {})}
        assert client.post(f"/invitations/{newcomer.id}/resend", data=data).status_code == 302
    other_id = _course_id(services, "other")
    assert [e["course_id"] for e in _link_events(services)] == [other_id, None, None, None]
    page = client.get("/courses/other/invitations").get_data(as_text=True)
    assert '<input type="hidden" name="course" value="other">' in page  # what the page's buttons send


def test_invitations_of_a_web_roster_import_are_audited_in_its_course(client, services, instructor):
    login(client, "ines")
    html = _upload(client, ROSTER).get_data(as_text=True)
    events = _link_events(services)
    dl101 = _course_id(services, "dl101")
    assert [(e["action"], e["actor_id"], e["course_id"], e["new"]["user"]) for e in events] == [
        ("invitation_issue", instructor.id, dl101, "zed"),
        ("invitation_issue", instructor.id, dl101, "yan"),
    ]
    assert _without_secrets(events, LINK_RE.findall(html))


def test_a_forgotten_password_s_link_is_audited_as_self_service(config, services, student):
    with session_scope(services.sessions) as session:
        session.get(User, student.id).email = "alice@example.org"
    with smtp_server() as server:
        client = build_app(dataclasses.replace(config, smtp_url=server.url), services).test_client()
        client.post("/forgot", data={"email": "alice@example.org", "csrf_token": csrf_token(client, "/forgot")})
        (message,) = server.wait_for(lambda messages: len(messages) == 1)
    (event,) = _link_events(services)
    assert (event["action"], event["actor_id"], event["actor_label"], event["user_id"]) == (
        "reset_link_issue", None, "web:forgot", student.id
    )  # fmt: skip
    assert event["course_id"] == _course_id(services, "dl101") and event["new"]["mailed"] is True
    assert _without_secrets([event], LINK_RE.findall(text_and_html(message)[0]))
