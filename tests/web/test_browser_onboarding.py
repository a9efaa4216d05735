"""Getting students in, end to end in a real browser: ``lossgrader serve`` with a real SMTP server
(aiosmtpd) and a real OpenID Connect provider (Authlib's server), both on 127.0.0.1, driven by
headless Debian chromium.

* An invitation: ``lossgrader roster import --invitations`` writes the link (and mails it); the
  student opens it, chooses a password and lands on the labs.
* A reset: "Forgot your password?" mails a link; the student opens it, chooses a new password,
  lands on the labs, and signs in with it later.
* Single sign-on: "Sign in with your institution", the provider's page, back on the labs.
* The instructor's invitations page, with the student who has not accepted yet.

Screenshots go to ``docs/screenshots/onboarding-*.png``. Launching follows
:mod:`tests.web.test_browser` (fails in CI without chromium or playwright, skips elsewhere).
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.mailserver import MailCatcher, smtp_server, text_and_html
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Person, Provider, oidc_provider
from tests.web.test_browser import ACCOUNT_RE, _stop, browser, start_server  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
LOSSGRADER = str(Path(sys.executable).with_name("lossgrader"))
LINK_RE = re.compile(r"https?://\S+/(?:welcome|reset)/[A-Za-z0-9_-]+")
ROSTER = """student_id,username,name,email,section
S1001,ada,Ada Lovelace,ada@example.org,A
S1002,grace,Grace Hopper,grace@example.org,A
S1003,alan,Alan Turing,alan.turing@example.org,B
S1004,mary,Mary Somerville,mary@example.org,B
"""
COURSE = "dl101"
PEOPLE = [Person("uni-3", "uni-pass", "alan.turing@example.org", "Alan Turing")]

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]


@dataclass
class Service:
    """The running service and what it talks to."""

    url: str
    env: dict[str, str]
    passwords: dict[str, str]
    mail: MailCatcher
    provider: Provider
    folder: Path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """``lossgrader serve`` on a fresh SQLite file, with mail and single sign-on configured."""
    folder = tmp_path_factory.mktemp("onboarding")
    with smtp_server(login=("grader", "mail-secret")) as mail, oidc_provider(PEOPLE) as provider:
        process, url, log, env = start_server(
            folder,
            LOSSGRADER_SMTP_URL=mail.url,
            LOSSGRADER_MAIL_FROM="Deep Learning 101 <dl101@example.edu>",
            LOSSGRADER_OIDC_ISSUER=provider.issuer,
            LOSSGRADER_OIDC_CLIENT_ID=CLIENT_ID,
            LOSSGRADER_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        )
        try:
            passwords = {m.group(1): m.group(3) for m in ACCOUNT_RE.finditer(log.read_text(errors="replace"))}
            assert "demo-instructor" in passwords, log.read_text(errors="replace")[-4000:]
            yield Service(url, env, passwords, mail, provider, folder)
        finally:
            _stop(process)
        assert process.returncode == 0, f"serve exited {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}"


@pytest.fixture(scope="module")
def invitations(service: Service) -> dict[str, str]:
    """``lossgrader roster import --invitations``: username → link (mailed too)."""
    for step in (
        ["course", "create", COURSE, "--title", "Deep Learning 101", "--term", "2027 spring"],
        *(
            ["course", "add-lab", COURSE, lab, "--due", _days_ahead(days)]
            for lab, days in (("lab01-mse", 10), ("lab02-cross-entropy", 24))
        ),
        ["course", "enrol", COURSE, "demo-instructor", "--role", "instructor"],
    ):
        _run(service, step)
    roster = service.folder / "roster.csv"
    roster.write_text(ROSTER)
    out = service.folder / "invitations.csv"
    done = _run(service, ["roster", "import", str(roster), "--course", COURSE, "--invitations", str(out)])
    assert "4 invitations written" in done.stdout and "4 mailed" in done.stdout, done.stdout
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["username"] for r in rows] == ["ada", "grace", "alan", "mary"]
    return {r["username"]: r["link"] for r in rows}


def _days_ahead(days: int) -> str:
    """A due date ``days`` from now, at 23:59 UTC (ISO 8601)."""
    import datetime as dt

    day = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)
    return day.strftime("%Y-%m-%dT23:59Z")


def _run(service: Service, arguments: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``lossgrader ARGUMENTS`` on the service's database; it must succeed."""
    done = subprocess.run([LOSSGRADER, *arguments], env=service.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"lossgrader {' '.join(arguments)}: {done.stdout}{done.stderr}"
    return done


def _page(browser: Any, service: Service, width: int = 1280) -> Any:  # noqa: F811
    context = browser.new_context(base_url=service.url, viewport={"width": width, "height": 800})
    context.set_default_timeout(30_000)
    return context.new_page()


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"onboarding-{name}.png"), full_page=True)


def _mail_to(service: Service, address: str, subject: str) -> Any:
    messages = service.mail.wait_for(lambda ms: any(m["To"] == address and m["Subject"] == subject for m in ms))
    return [m for m in messages if m["To"] == address and m["Subject"] == subject][-1]


def _choose_password(page: Any, password: str) -> None:
    page.get_by_role("textbox", name="New password").fill(password)
    page.get_by_role("textbox", name="Type it again").fill(password)
    page.get_by_role("button", name="Save password and sign in").click()


def _expect_labs(page: Any, name: str) -> None:
    from playwright.sync_api import expect

    expect(page).to_have_url(re.compile(r"/labs$"))
    expect(page.locator(".nav-user")).to_contain_text(name)
    expect(page.locator("a[href$='/labs/lab01-mse']").first).to_be_visible()


def test_a_student_accepts_the_invitation_and_lands_on_the_labs(browser: Any, service: Service, invitations) -> None:  # noqa: F811
    from playwright.sync_api import expect

    mail = _mail_to(service, "ada@example.org", "Your lossgrader account for Deep Learning 101")
    text, html = text_and_html(mail)
    assert LINK_RE.findall(text) == [invitations["ada"]]  # the mailed link is the exported one
    page = _page(browser, service, width=700)
    page.set_content(html)
    _shot(page, "invitation-mail")
    page.context.close()

    page = _page(browser, service)
    page.goto(invitations["ada"])
    expect(page).to_have_url(re.compile(r"/welcome$"))  # the token is gone from the address bar
    expect(page.locator("h1")).to_have_text("Welcome to lossgrader")
    expect(page.locator("main")).to_contain_text("Your username is ada")
    _shot(page, "choose-password")
    _choose_password(page, "ada's own passphrase")
    _expect_labs(page, "Ada Lovelace")
    expect(page.locator(".flash")).to_contain_text("Welcome! Your password is saved")
    _shot(page, "labs-after-invitation")

    again = _page(browser, service)
    again.goto(invitations["ada"])
    expect(again.locator("[role=alert]")).to_contain_text("used already")
    again.context.close()
    page.context.close()


def test_a_student_resets_a_forgotten_password(browser: Any, service: Service, invitations) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = _page(browser, service)
    page.goto(invitations["grace"])
    _choose_password(page, "first choice")
    _expect_labs(page, "Grace Hopper")
    page.get_by_role("button", name="Sign out").click()

    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Your email address").fill("GRACE@example.org")
    _shot(page, "forgot")
    page.get_by_role("button", name="Send me a reset link").click()
    expect(page.locator(".flash")).to_contain_text("If an account has this address")
    mail = _mail_to(service, "grace@example.org", "Reset your lossgrader password")  # sent by the service's thread
    (link,) = LINK_RE.findall(text_and_html(mail)[0])
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/reset$"))
    expect(page.locator("h1")).to_have_text("Choose a new password")
    _shot(page, "reset")
    _choose_password(page, "second choice")
    _expect_labs(page, "Grace Hopper")
    page.get_by_role("button", name="Sign out").click()

    page.fill("#username", "grace")
    page.fill("#password", "second choice")
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    _expect_labs(page, "Grace Hopper")
    page.context.close()


def test_a_student_signs_in_with_the_institution(browser: Any, service: Service, invitations) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = _page(browser, service)
    page.goto("/login")
    _shot(page, "login")
    page.get_by_role("link", name="Sign in with your institution").click()
    expect(page.locator("h1")).to_have_text("University sign-in")
    page.get_by_label("Email").fill("alan.turing@example.org")
    page.get_by_label("Password").fill("uni-pass")
    page.get_by_role("button", name="Sign in").click()
    _expect_labs(page, "Alan Turing")
    assert service.provider.token_requests >= 1 and service.provider.jwks_requests >= 1
    page.context.close()


def test_the_instructor_sees_who_has_not_accepted_and_resends(browser: Any, service: Service, invitations) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = _page(browser, service)
    page.goto("/login")
    page.fill("#username", "demo-instructor")
    page.fill("#password", service.passwords["demo-instructor"])
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.goto("/invitations")
    expect(page.locator("h1")).to_have_text("Invitations")
    table = page.locator("table").first
    expect(table).to_contain_text("Mary Somerville")
    first = _mail_to(service, "mary@example.org", "Your lossgrader account for Deep Learning 101")
    page.get_by_role("button", name="Resend invitation to mary").click()
    expect(page.locator(".flash")).to_contain_text("A new invitation for mary is on its way to mary@example.org")
    messages = service.mail.wait_for(lambda ms: sum(m["To"] == "mary@example.org" for m in ms) == 2)
    page.reload()
    expect(page.locator("main")).to_contain_text("No mail has failed")
    _shot(page, "invitations")
    second = [m for m in messages if m["To"] == "mary@example.org"][-1]
    (old,) = LINK_RE.findall(text_and_html(first)[0])
    (new,) = LINK_RE.findall(text_and_html(second)[0])
    assert old == invitations["mary"] and new != old
    page.context.close()


def test_the_onboarding_pages_pass_axe(browser: Any, service: Service, invitations) -> None:  # noqa: F811
    from tests.web.test_accessibility import VIEWPORTS, serious_violations

    context = browser.new_context(base_url=service.url, bypass_csp=True)  # so that axe-core can be injected
    context.set_default_timeout(30_000)
    page = context.new_page()
    link = _run(service, ["user", "reset-link", "mary"]).stdout.strip()
    failures: dict[str, Any] = {}
    for path in ("/login", "/forgot", link, "/reset", "/invitations"):
        if path == "/invitations":
            page.goto("/login")
            page.fill("#username", "demo-instructor")
            page.fill("#password", service.passwords["demo-instructor"])
            page.locator("form button[type=submit], form input[type=submit]").first.click()
        for viewport in VIEWPORTS:
            page.set_viewport_size(viewport)
            if path != link:
                page.goto(path)
            elif viewport is VIEWPORTS[0]:
                page.goto(link)  # once: it redirects to /reset, which keeps the link in the session
            found = serious_violations(page)
            if found:
                failures[f"{page.url} at {viewport['width']} px"] = found
    context.close()
    assert not failures, failures
