"""End-to-end load test of the web service: many students submit lab01 at once through the HTTP API.

Starts ``lossgrader serve`` (gunicorn, embedded grading, SQLite, the sandbox) on a free
port and a fresh database, creates N students with API tokens, has them POST a correct
lab01 file concurrently (threads, stdlib urllib), then polls until every accepted
submission is graded: each when the server's Retry-After says (as clients should), or
every ``--poll-interval`` seconds to compare with clients that ignore it. Prints
throughput (accepted → graded), p50/p95 time to graded (the server's own
submitted_at/graded_at), status polls, errors, lost submissions and PASS/FAIL.

    .venv/bin/python bench/web_bench.py                       # 300 submissions by 100 students
    .venv/bin/python bench/web_bench.py --submissions 600 --students 200 --grading-threads 4
    .venv/bin/python bench/web_bench.py --poll-interval 1      # clients that poll every second

Not a test: run it by hand. Each token may submit 20 times a minute (the API's rate
limit), so keep submissions/students at most 20.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORRECT = ROOT / "tests" / "implementations" / "lab01-mse" / "correct_vectorised.py"
LAB = "lab01-mse"
DONE = ("graded", "error")


@dataclass
class Accepted:
    """One submission the server accepted (202)."""

    id: int
    url: str
    token: str
    accepted_at: float
    next_poll: float  # monotonic time of the next status poll
    document: dict[str, Any] | None = None
    seen_done_at: float | None = None
    polls: int = 0


@dataclass
class Tally:
    """What happened, shared by the submitting and polling threads."""

    accepted: list[Accepted] = field(default_factory=list)
    submit_errors: list[str] = field(default_factory=list)
    poll_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, token: str, body: dict[str, Any] | None = None, timeout: float = 60) -> Any:
    """(status, JSON document, Retry-After in seconds or None) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null"), _seconds(response.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw), _seconds(exc.headers)
        except ValueError:
            return exc.code, {"message": raw[:200].decode(errors="replace")}, _seconds(exc.headers)


def _seconds(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    return float(value) if value and value.isdigit() else None


def start_server(folder: Path, port: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOSSGRADER_")}
    env.update(
        LOSSGRADER_DATABASE_URL=f"sqlite:///{folder / 'bench.db'}",
        LOSSGRADER_INSTANCE_PATH=str(folder / "instance"),
        LOSSGRADER_WORKERS=str(args.grading_threads),
        PYTHONUNBUFFERED="1",
    )
    if os.environ.get("LOSSGRADER_INSECURE_SANDBOX"):
        env["LOSSGRADER_INSECURE_SANDBOX"] = os.environ["LOSSGRADER_INSECURE_SANDBOX"]
    command = [
        str(Path(sys.executable).with_name("lossgrader")),
        "serve",
        "--port",
        str(port),
        "--workers",
        str(args.web_workers),
        "--threads",
        str(args.web_threads),
    ]
    log = (folder / "serve.log").open("wb")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(url: str, process: subprocess.Popen[bytes], folder: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit("FAIL: lossgrader serve did not start:\n" + (folder / "serve.log").read_text(errors="replace")[-3000:])


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_students(database_url: str, count: int) -> list[str]:
    """``count`` students (bench-0001…) enrolled in the demo course ``serve`` made, with one API
    token each; returns the tokens."""
    import grader.cli  # noqa: F401  (before grader.commands.*: importing those first is a circular import)
    from grader.commands.web import DEMO_COURSE
    from grader.config import Config
    from grader.db.session import session_scope
    from grader.service.context import open_services
    from grader.service.courses import enrol, find_course
    from grader.service.users import create_token, create_user

    services = open_services(Config(database_url=database_url))
    try:
        with session_scope(services.sessions) as session:
            course = find_course(session, DEMO_COURSE)
            if course is None:
                sys.exit(f"FAIL: lossgrader serve made no demo course ({DEMO_COURSE!r}) to enrol the students in")
            tokens = []
            for i in range(1, count + 1):
                user = create_user(session, f"bench-{i:04d}", "student", password=None, display_name=f"Bench {i}")
                enrol(session, course, user)  # a submission goes to a lab of one of the student's courses
                tokens.append(create_token(session, user, "bench"))
            return tokens
    finally:
        services.close()


def submit_all(
    url: str, tokens: list[str], total: int, concurrency: int, tally: Tally, interval: float | None
) -> float:
    """POST ``total`` submissions round-robin over the tokens; returns the seconds it took.

    Each is first polled when the 202's Retry-After says, or ``interval`` seconds later
    when it is given (the server's advice ignored)."""
    source = CORRECT.read_text(encoding="utf-8")
    endpoint = f"{url}/api/v1/labs/{LAB}/submissions"

    def one(index: int) -> None:
        token = tokens[index % len(tokens)]
        try:
            status, document, retry_after = http("POST", endpoint, token, {"source": source, "filename": "mse.py"})
        except OSError as exc:
            with tally.lock:
                tally.submit_errors.append(f"POST: {exc}")
            return
        if status != 202:
            with tally.lock:
                tally.submit_errors.append(f"POST {status}: {(document or {}).get('message')}")
            return
        now = time.monotonic()
        wait = interval if interval is not None else (retry_after if retry_after is not None else 1.0)
        with tally.lock:
            tally.accepted.append(Accepted(document["id"], document["url"], token, now, now + wait))

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(total)))
    return time.monotonic() - started


def poll_until_done(tally: Tally, timeout: float, interval: float | None, concurrency: int) -> None:
    """Poll every pending submission until all are done or ``timeout`` seconds pass: each
    when its last answer's Retry-After says (1 s without one), or every ``interval`` s."""
    deadline = time.monotonic() + timeout

    def check(item: Accepted) -> None:
        item.polls += 1
        try:
            status, document, retry_after = http("GET", item.url, item.token, timeout=30)
        except OSError as exc:
            item.next_poll = time.monotonic() + 1.0
            with tally.lock:
                tally.poll_errors.append(f"GET: {exc}")
            return
        now = time.monotonic()
        wait = interval if interval is not None else (retry_after if retry_after is not None else 1.0)
        item.next_poll = now + wait
        if status != 200:
            with tally.lock:
                tally.poll_errors.append(f"GET {status}")
            return
        if document.get("status") in DONE:
            item.document = document
            item.seen_done_at = now

    with ThreadPoolExecutor(concurrency) as pool:
        while time.monotonic() < deadline:
            pending = [item for item in tally.accepted if item.document is None]
            if not pending:
                return
            now = time.monotonic()
            list(pool.map(check, [item for item in pending if item.next_poll <= now]))
            soonest = min(item.next_poll for item in pending)
            time.sleep(min(max(0.0, soonest - time.monotonic()), 0.5) or 0.01)


def parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat (0, 0 elsewhere)."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


def process_cpu(root: int) -> dict[str, float]:
    """CPU seconds of ``lossgrader serve``'s process tree: the gunicorn master, its web workers
    (HTTP, SQLite, grading threads) and everything below them (the sandboxed runs), reaped ones included."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, tuple[float, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = ((float(fields[11]) + float(fields[12])) / tick, (float(fields[13]) + float(fields[14])) / tick)

    def depth(pid: int) -> int | None:
        level = 0
        while pid != root:
            pid = parents.get(pid, 0)
            if pid <= 1:
                return None
            level += 1
        return level

    totals = {"master": 0.0, "web workers": 0.0, "sandbox": 0.0}
    for pid, (own, reaped) in times.items():
        level = depth(pid)
        if level == 0:
            totals["master"] += own  # its reaped children are web workers, none during the run
        elif level == 1:
            totals["web workers"] += own
            totals["sandbox"] += reaped
        elif level is not None:
            totals["sandbox"] += own + reaped
    return totals


def server_breakdown(database: Path, ids: list[int]) -> float | None:
    """Where the time went, from the database's own timestamps (microseconds) and the sandbox's run times."""
    import sqlite3

    if not ids:
        return None
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT submitted_at, graded_at, execution_time FROM submissions WHERE id IN ({})".format(
                ",".join("?" * len(ids))
            ),
            ids,
        ).fetchall()
    stamps = [(dt.datetime.fromisoformat(s), dt.datetime.fromisoformat(g)) for s, g, _ in rows if s and g]
    waits = [(g - s).total_seconds() for s, g in stamps]
    runs = [e for _, _, e in rows if e is not None]
    if not waits or not runs:
        return None
    span = (max(g for _, g in stamps) - min(s for s, _ in stamps)).total_seconds()
    busy = sum(runs)
    print(
        f"server clock: {len(stamps)} graded in {span:.2f} s (first submitted_at → last graded_at) = "
        f"{len(stamps) / span:.1f} submissions/s; time to graded p50 {percentile(waits, 0.5):.2f} s, "
        f"p95 {percentile(waits, 0.95):.2f} s, max {max(waits):.2f} s"
    )
    print(
        f"sandbox run per submission mean {statistics.fmean(runs):.3f} s (p95 {percentile(runs, 0.95):.3f} s), "
        f"{busy:.1f} s of sandbox time in {span:.1f} s = {busy / span:.2f} sandboxes busy on average"
    )
    return span


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32, help="client threads submitting at once")
    parser.add_argument("--web-workers", type=int, default=1, help="gunicorn worker processes (serve --workers)")
    parser.add_argument("--web-threads", type=int, default=8, help="threads per gunicorn worker (serve --threads)")
    parser.add_argument("--grading-threads", type=int, default=2, help="LOSSGRADER_WORKERS: in-process graders")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for grading after submitting")
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="poll every this many seconds, ignoring the server's Retry-After (default: follow it, as clients should)",
    )
    parser.add_argument("--target", type=float, default=50.0, help="submissions/s needed to PASS")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (database, serve.log)")
    args = parser.parse_args()
    if args.submissions > 20 * args.students:
        parser.error("at most 20 submissions per student (the API's per-token rate limit is 20/minute)")

    folder = Path(tempfile.mkdtemp(prefix="lossgrader-web-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    print(
        f"lossgrader serve on {url}: {args.web_workers} web worker(s) × {args.web_threads} threads, "
        f"{args.grading_threads} grading thread(s) per worker, SQLite at {folder / 'bench.db'}"
    )
    process = start_server(folder, port, args)
    try:
        wait_healthy(url, process, folder)
        tokens = make_students(f"sqlite:///{folder / 'bench.db'}", args.students)
        tally = Tally()
        print(f"{args.students} students, {args.submissions} submissions of {CORRECT.name}, {args.concurrency} clients")
        cpu_before = cpu_times()
        server_before = process_cpu(process.pid)
        client_before = time.process_time()
        submit_seconds = submit_all(url, tokens, args.submissions, args.concurrency, tally, args.poll_interval)
        accepted = len(tally.accepted)
        print(f"accepted {accepted} in {submit_seconds:.2f} s ({accepted / submit_seconds:.1f}/s accepted)")
        poll_until_done(tally, args.timeout, interval=args.poll_interval, concurrency=4)
        cpu_after = cpu_times()
        server_after = process_cpu(process.pid)
        client_cpu = time.process_time() - client_before
    finally:
        stop_server(process)

    done = [item for item in tally.accepted if item.document is not None]
    graded = [item for item in done if item.document["status"] == "graded"]
    grading_errors = [item for item in done if item.document["status"] == "error"]
    wrong = [item for item in graded if item.document["score"] != item.document["max_score"]]
    lost = len(tally.accepted) - len(done)
    # Client clock: 202 received → first poll that saw it graded.
    latencies = [item.seen_done_at - item.accepted_at for item in graded if item.seen_done_at is not None]
    first = min((item.accepted_at for item in tally.accepted), default=0.0)
    last = max((item.seen_done_at or 0.0 for item in graded), default=0.0)
    span = last - first if graded else float("nan")
    rate = len(graded) / span if graded and span > 0 else 0.0
    errors = len(tally.submit_errors) + len(tally.poll_errors) + len(grading_errors) + len(wrong)
    server_cpu = {key: server_after[key] - server_before[key] for key in server_after}

    print(f"graded {len(graded)} of {len(tally.accepted)} accepted; first accepted → last graded {span:.2f} s")
    how = f"polling every {args.poll_interval:g} s" if args.poll_interval else "polling when Retry-After says"
    polls = sum(item.polls for item in tally.accepted)
    print(f"client clock: {rate:.1f} submissions/s (202 received → seen graded, {how})")
    print(f"status polls: {polls} ({polls / max(1, len(tally.accepted)):.1f} per submission)")
    if latencies:
        print(
            f"time to graded: p50 {percentile(latencies, 0.5):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, "
            f"max {max(latencies):.2f} s"
        )
    server_span = server_breakdown(folder / "bench.db", [item.id for item in graded])
    if server_span:  # the headline: the server's own accepted → graded, not the client's polling
        rate = len(graded) / server_span
    busy, total = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
    if total > 0:
        print(
            f"CPU: {100 * busy / total:.0f}% of {os.cpu_count()} cores busy while submitting and grading "
            f"(≈ {busy / 100 / max(len(graded), 1) * 1000:.0f} ms of CPU per graded submission, all processes)"
        )
    per = max(len(graded), 1) / 1000
    parts = [f"{name} {seconds:.1f} s ({seconds / per:.0f} ms each)" for name, seconds in server_cpu.items()]
    parts.append(f"this client {client_cpu:.1f} s ({client_cpu / per:.0f} ms each)")
    if total > 0:
        machine = busy / 100  # /proc/stat counts USER_HZ (100) ticks
        rest = machine - sum(server_cpu.values()) - client_cpu
        parts.append(
            f"elsewhere {rest:.1f} s ({rest / per:.0f} ms each: other processes on the machine, e.g. other "
            "test runs, and the kernel)"
        )
    print("CPU by process: " + ", ".join(parts))
    print(f"end to end: {rate:.1f} submissions/s (target ≥ {args.target:g})")
    print(
        f"errors: {errors} (submit {len(tally.submit_errors)}, poll {len(tally.poll_errors)}, "
        f"grading errors {len(grading_errors)}, wrong scores {len(wrong)}); lost: {lost}"
    )
    for message in (tally.submit_errors + tally.poll_errors)[:5]:
        print(f"  {message}")
    for item in grading_errors[:3]:
        print(f"  submission {item.id}: status error")
    if args.keep:
        print(f"kept {folder}")
    else:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    ok = rate >= args.target and errors == 0 and lost == 0 and len(graded) == args.submissions
    print(f"{'PASS' if ok else 'FAIL'}: {rate:.1f} submissions/s, {errors} errors, {lost} lost")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
