"""Template helpers: time left, dates, points, Markdown."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from grader.web.filters import late_policy_text, markdown, points, time_left, time_left_text, value, when
from grader.web.student.queries import Deadline

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    "delta, text",
    [
        (dt.timedelta(days=2, hours=3), "2 days 3 h left"),
        (dt.timedelta(days=2, hours=3, minutes=30), "2 days 3 h left"),
        (dt.timedelta(days=1), "1 day left"),
        (dt.timedelta(hours=5, minutes=12), "5 h 12 min left"),
        (dt.timedelta(hours=5), "5 h left"),
        (dt.timedelta(minutes=40), "40 min left"),
        (dt.timedelta(seconds=10), "1 min left"),
        (dt.timedelta(0), "closed"),
        (dt.timedelta(hours=-1), "closed"),
    ],
)
def test_time_left(delta, text):
    assert time_left(NOW + delta, NOW) == text


def test_time_left_without_deadline():
    assert time_left(None, NOW) == "no deadline"


def test_time_left_text_follows_due_date_then_hard_deadline():
    due, hard = NOW + dt.timedelta(hours=2), NOW + dt.timedelta(days=1, hours=2)
    assert time_left_text(Deadline(due, hard), NOW) == "2 h left"
    later = NOW + dt.timedelta(hours=3)
    assert time_left_text(Deadline(due, hard), later) == "past due: late work accepted, 23 h left"
    assert time_left_text(Deadline(due, None), later) == "past due: late work accepted"
    assert time_left_text(Deadline(due, hard), hard + dt.timedelta(seconds=1)) == "closed"
    assert time_left_text(Deadline(None, None), NOW) == "no deadline"
    assert time_left_text(Deadline(None, hard), NOW) == "1 day 2 h left"


def test_late_policy_text():
    assert late_policy_text(SimpleNamespace(late_policy="none", late_percent_per_day=0)) == "no penalty"
    assert late_policy_text(SimpleNamespace(late_policy="percent_per_day", late_percent_per_day=12.5)) == (
        "12.5% off per day late"
    )
    assert late_policy_text(SimpleNamespace(late_policy="zero_after_deadline", late_percent_per_day=0)) == "scores 0"


def test_when_and_points():
    assert when(NOW) == "2025-03-01 12:00 UTC"
    assert when(None) == "—"
    assert points(3.0) == "3" and points(2.5) == "2.5" and points(None) == "—"
    assert value([1.0, 2.5]) == "[1.0, 2.5]"
    assert value("x" * 3000).endswith("…") and len(value("x" * 3000)) == 2000


def test_markdown_renders_commonmark_and_tables():
    html = markdown("# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n`code` and *em*\n\n###### Six")
    assert "<h2>Title</h2>" in html and "<h1" not in html  # under the page's own h1
    assert "<h6>Six</h6>" in html
    assert "<table>" in html
    assert "<code>code</code>" in html


def test_markdown_does_not_pass_raw_html_or_unsafe_links():
    html = markdown('<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">\n\n[x](javascript:alert(3))')
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html
    assert 'href="javascript:' not in html
