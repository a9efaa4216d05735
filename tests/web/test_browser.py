"""End to end in a real browser: ``lossgrader serve`` (gunicorn, SQLite, sandbox) driven by headless chromium.

A demo student signs in, uploads a correct lab01 file, watches it get graded and reads the
results, and at a phone's width its labs and attempts still show the score on screen;
the demo instructor finds it in the gradebook, regrades it and downloads the Canvas CSV.
Screenshots of the main pages (and of three at phone width) go to
``test-artifacts/screenshots/``.

Needs Debian's chromium (``scripts/install-browser.sh``) and the ``playwright`` package
(never ``playwright install``): without them the test fails when ``CI`` is set, else skips.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CORRECT = ROOT / "tests" / "implementations" / "lab01-mse" / "correct_vectorised.py"
LAB = "lab01-mse"
STARTUP_SECONDS = 90
GRADING_MS = 120_000
ACCOUNT_RE = re.compile(r"(demo-[\w-]+)\s*[│|]\s*(instructor|student)\s*[│|]\s*(\S+)")

pytestmark = pytest.mark.slow


def _unavailable(reason: str) -> None:
    """Fail in CI (the browser tests must run there), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run: {reason} (run scripts/install-browser.sh)", pytrace=False)
    pytest.skip(reason)


@dataclass
class Server:
    """A running ``lossgrader serve``."""

    url: str
    passwords: dict[str, str]
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of its workers
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _serve(folder: Path, env: dict[str, str], attempt: int) -> tuple[subprocess.Popen[bytes], str, Path] | None:
    """Start ``lossgrader serve`` on a free port; (process, url, log) once it answers, None if the
    port was taken between choosing and binding it (the caller tries another). ``env`` gets the
    database, instance folder and base URL it was started with."""
    port = _free_port()
    folder = folder / f"try{attempt}"  # a fresh database each time: the demo passwords are printed only once
    folder.mkdir()
    url = f"http://127.0.0.1:{port}"
    env.update(
        LOSSGRADER_DATABASE_URL=f"sqlite:///{folder / 'serve.db'}",
        LOSSGRADER_INSTANCE_PATH=str(folder / "instance"),
        LOSSGRADER_BASE_URL=url,  # the links in its mails
    )
    log = folder / "serve.log"
    command = [str(Path(sys.executable).with_name("lossgrader")), "serve", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--workers", "1", "--threads", "8"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + STARTUP_SECONDS
    # Ours once it says it runs (said after binding): until then the port may be someone else's.
    while f"running at {url}/" not in (text := log.read_text(errors="replace")) or not _healthy(url):
        if "Connection in use" in text:
            _stop(process)
            return None
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"lossgrader serve did not start:\n{text[-4000:]}")
        time.sleep(0.3)
    return process, url, log


def start_server(folder: Path, **settings: str) -> tuple[subprocess.Popen[bytes], str, Path, dict[str, str]]:
    """``lossgrader serve`` on a fresh SQLite file under ``folder``, with none of this process's
    LOSSGRADER_ settings but ``settings`` (and an insecure sandbox where asked for); (process, url,
    log, its environment) once it answers, on another port if one was taken."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOSSGRADER_")}
    if os.environ.get("LOSSGRADER_INSECURE_SANDBOX"):  # only for machines where the sandbox cannot run
        env["LOSSGRADER_INSECURE_SANDBOX"] = os.environ["LOSSGRADER_INSECURE_SANDBOX"]
    env.update(COLUMNS="200", PYTHONUNBUFFERED="1", **settings)  # the demo-accounts table must not wrap
    for attempt in range(5):
        started = _serve(folder, env, attempt)
        if started:
            return (*started, env)
    pytest.fail("lossgrader serve found every free port taken before it could bind it, five times")


def _start(folder: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """:func:`start_server` with no settings of its own: (process, url, log)."""
    process, url, log, _ = start_server(folder)
    return process, url, log


def _passwords(log: Path) -> dict[str, str]:
    """The demo accounts' passwords, as ``lossgrader serve`` printed them: {user name: password}."""
    return {m.group(1): m.group(3) for m in ACCOUNT_RE.finditer(log.read_text(errors="replace"))}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``lossgrader serve`` on a free port and a fresh SQLite file; the demo passwords it printed."""
    process, url, log = _start(tmp_path_factory.mktemp("serve"))
    try:
        passwords = _passwords(log)
        assert {"demo-instructor", "demo-student1"} <= passwords.keys(), log.read_text(errors="replace")[-4000:]
        yield Server(url, passwords, log)
    finally:
        _stop(process)
    assert process.returncode == 0, (
        f"serve exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}"
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium through Playwright."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def _page(browser: Any, server: Server) -> Any:
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(30_000)
    return context.new_page()


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _sideways(page: Any) -> int:
    """How many pixels the page is wider than the window (0: nothing scrolls sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def _sign_in(page: Any, server: Server, username: str, screenshot: bool = False) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    if screenshot:
        _shot(page, "login")
    page.locator("form input[type=submit], form button[type=submit]").first.click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def test_student_submits_and_instructor_regrades(browser: Any, server: Server) -> None:
    """The whole loop through the browser: submit, grade, results; gradebook, regrade, Canvas CSV."""
    from playwright.sync_api import expect

    # --- the student -------------------------------------------------------------------------
    page = _page(browser, server)
    _sign_in(page, server, "demo-student1", screenshot=True)
    expect(page).to_have_url(re.compile(r"/labs$"))
    _shot(page, "labs")

    page.locator(f"a[href$='/labs/{LAB}']").first.click()
    expect(page).to_have_url(re.compile(rf"/labs/{LAB}$"))
    expect(page.locator("h1").first).to_contain_text("Lab01")
    _shot(page, "lab")

    page.set_input_files("#file", str(CORRECT))
    page.get_by_role("button", name="Submit for grading").click()
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    submission_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    # The page polls and reloads itself once grading is done; nobody refreshes it here.
    expect(page.locator("#status.status-graded")).to_be_visible(timeout=GRADING_MS)
    expect(page.locator("#status")).to_contain_text("Graded")
    _shot(page, "submission")

    results = page.locator("ol.results > li.result")
    assert results.count() > 0
    assert page.locator("ol.results > li.result.failed").count() == 0, page.locator("ol.results").inner_text()

    public = page.locator("li.result:has(.tag-public)").first
    expect(public).to_have_class(re.compile(r"\bpassed\b"))
    expect(public.locator(".verdict")).to_have_text("Passed")
    expect(public.locator("dl.detail")).to_contain_text("Expected")
    expect(public.locator("dl.detail")).to_contain_text("Got")

    hidden = page.locator("li.result:has(.tag-hidden)")
    assert hidden.count() > 0, "lab01 has hidden fixtures"
    for index in range(hidden.count()):
        row = hidden.nth(index)
        expect(row.locator(".verdict")).to_have_text(re.compile(r"^(Passed|Failed)$"))
        assert row.locator("dl.detail").count() == 0, row.inner_html()  # no inputs, expected or got
        text = row.inner_text()
        assert "Expected" not in text and "Inputs" not in text and "Got" not in text, text

    # On a phone the student's tables turn into one block per row: the score is on screen.
    page.set_viewport_size({"width": 375, "height": 800})
    for path, name in (("/labs", "labs-phone"), (f"/labs/{LAB}/attempts", "attempts-phone")):
        page.goto(path)
        wrap = page.locator(".table-wrap").first
        overflow = wrap.evaluate("element => element.scrollWidth - element.clientWidth")
        assert overflow <= 0, f"{path}: the table is {overflow} px wider than a phone's screen"
        score = page.locator("td[data-label='Score']").first
        expect(score).to_be_in_viewport()
        expect(score).to_contain_text(re.compile(r"\d+ / \d+"))
        _shot(page, name)
    page.context.close()

    # --- the instructor ------------------------------------------------------------------------
    page = _page(browser, server)
    _sign_in(page, server, "demo-instructor")
    expect(page).to_have_url(re.compile(r"/instructor/?$"))
    expect(page.locator("h1").first).to_be_visible()
    _shot(page, "dashboard")
    page.set_viewport_size({"width": 375, "height": 800})  # the labs summary stacks on a phone too
    overflow = page.locator(".table-wrap").first.evaluate("element => element.scrollWidth - element.clientWidth")
    assert overflow <= 0, f"the dashboard's labs table is {overflow} px wider than a phone's screen"
    expect(page.locator("td[data-label='Mean score']").first).to_be_in_viewport()
    _shot(page, "dashboard-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("link", name="Gradebook").first.click()
    expect(page).to_have_url(re.compile(r"/instructor/gradebook"))
    row = page.locator("tbody tr", has=page.get_by_text("demo-student1", exact=True))
    expect(row).to_have_count(1)
    _shot(page, "gradebook")
    row.locator("th a").click()
    expect(page).to_have_url(re.compile(r"/instructor/students/\d+"))
    article = page.locator(f"#submission-{submission_id}")
    expect(article).to_be_visible()
    expect(article).to_contain_text("graded")
    _shot(page, "student")

    article.get_by_role("button", name="Regrade this attempt").click()
    expect(page.locator("h1").first).to_have_text(f"Regrade of submission {submission_id}", timeout=GRADING_MS)
    change = page.locator("td.regrade-change")
    expect(change).to_have_count(1)
    expect(change).to_contain_text(re.compile(r"\d[\d.]* → \d[\d.]*"))
    expect(page.locator("tbody")).to_contain_text("graded")
    _shot(page, "regrade")

    with page.expect_download() as info:
        page.get_by_role("link", name="Canvas CSV").first.click()
    download = info.value
    assert download.suggested_filename.startswith("lossgrader-canvas-")
    lines = Path(download.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("Student,ID,SIS User ID,SIS Login ID,Section,"), lines[0]
    assert f"({LAB})" in lines[0], lines[0]
    assert lines[1].startswith("Points Possible,"), lines[1]
    assert any(line.startswith("Demo Student 1,") for line in lines[2:]), lines
    page.context.close()
