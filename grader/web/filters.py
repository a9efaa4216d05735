"""Template helpers: time left before a deadline, dates, points, Markdown handouts and feedback."""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from typing import Any

from flask import Flask
from markupsafe import Markup

from grader.db.models import utcnow


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def time_left(deadline: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """``"2 days 3 h left"``, ``"5 h 12 min left"``, ``"40 min left"``; ``"closed"`` once past."""
    if deadline is None:
        return "no deadline"
    now = now or utcnow()
    seconds = (deadline - now).total_seconds()
    if seconds <= 0:
        return "closed"
    minutes = math.ceil(seconds / 60)  # never say "0 min left" while it is still open
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{_plural(days, 'day')} {hours} h left" if hours else f"{_plural(days, 'day')} left"
    if hours:
        return f"{hours} h {minutes} min left" if minutes else f"{hours} h left"
    return f"{minutes} min left"


def time_left_text(deadline: Any, now: dt.datetime | None = None) -> str:
    """Time left for a student's :class:`~grader.web.student.queries.Deadline`, including late work."""
    now = now or utcnow()
    due, closes = deadline.due_at, deadline.closes_at()
    if due is not None and now < due:
        return time_left(due, now)
    if closes is not None and now > closes:
        return "closed"
    if due is None:
        return time_left(closes, now) if closes is not None else "no deadline"
    if closes is not None:
        return f"past due: late work accepted, {time_left(closes, now)}"
    return "past due: late work accepted"


def late_policy_text(lab: Any) -> str:
    """The lab's late policy in words."""
    if lab.late_policy == "percent_per_day":
        return f"{points(lab.late_percent_per_day)}% off per day late"
    if lab.late_policy == "zero_after_deadline":
        return "scores 0"
    return "no penalty"


def instructor_home() -> str | None:
    """The instructor pages' address, when that blueprint is installed."""
    from flask import current_app, url_for

    if "instructor" not in current_app.blueprints:
        return None
    for endpoint in ("instructor.index", "instructor.labs", "instructor.dashboard", "instructor.gradebook"):
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return None


def value(data: Any, limit: int = 2000) -> str:
    """An input, expected or returned value from a result's detail, as compact text."""
    import json

    if data is None:
        return "—"
    text = data if isinstance(data, str) else json.dumps(data, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def course_zone() -> dt.tzinfo:
    """The time zone of the request's course (``g.course``), else ``LOSSGRADER_TIMEZONE``; UTC outside an app."""
    from flask import current_app, g, has_app_context

    if has_app_context():
        course = g.get("course")
        if course is not None:
            from grader.service.courses import course_zone as zone_of

            return zone_of(course)
        config = current_app.config.get("LOSSGRADER")
        if config is not None:
            return config.zone
    return dt.timezone.utc


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def offset_text(value: dt.datetime) -> str:
    """The UTC offset of an aware time: ``UTC`` when zero, else ``UTC+01:00`` / ``UTC-05:30``."""
    offset = value.utcoffset() or dt.timedelta(0)
    if not offset:
        return "UTC"
    sign = "+" if offset > dt.timedelta(0) else "-"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def when(value: dt.datetime | None, zone: dt.tzinfo | None = None) -> str:
    """A date and time for people, in the course's time zone with its offset:
    ``2025-03-07 23:59 UTC``, ``2025-03-07 23:59 UTC+01:00``."""
    if value is None:
        return "—"
    local = _aware(value).astimezone(zone or course_zone())
    return f"{local:%Y-%m-%d %H:%M} {offset_text(local)}"


def local_input(value: dt.datetime | None, zone: dt.tzinfo | None = None) -> str:
    """The value of a date-and-time field: ISO 8601 ``2025-03-07T23:59`` in the course's time zone; blank for None."""
    if value is None:
        return ""
    return f"{_aware(value).astimezone(zone or course_zone()):%Y-%m-%dT%H:%M}"


def zone_label(zone: dt.tzinfo | None = None, at: dt.datetime | None = None) -> str:
    """The course's time zone for people, with its offset ``at`` a time (now by default):
    ``UTC``, ``Europe/Paris, UTC+01:00``."""
    zone = zone or course_zone()
    local = _aware(at or utcnow()).astimezone(zone)
    name = str(getattr(zone, "key", None) or zone)
    offset = offset_text(local)
    return offset if name in ("UTC", offset) else f"{name}, {offset}"


def parse_local(raw: str | None, zone: dt.tzinfo | None = None) -> dt.datetime | None:
    """An ISO 8601 date and time typed into a form (``2025-03-07T23:59`` or ``2025-03-07 23:59``, seconds
    optional) read in the course's time zone, or with its own offset (``+01:00``, ``Z``); aware UTC.

    None when blank; ValueError when it is not such a date and time.
    """
    text = (raw or "").strip()
    if not text:
        return None
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    if len(text) < 16 or text[10] not in "Tt ":  # a date alone is not a moment: say which minute
        raise ValueError(f"not a date and time: {raw!r}")
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone or course_zone())
    return parsed.astimezone(dt.timezone.utc)


def iso(value: dt.datetime | None) -> str:
    """ISO 8601 for ``<time datetime=...>``."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def points(value: float | None) -> str:
    """``3.0`` → ``3``, ``2.5`` → ``2.5``, None → ``—``."""
    if value is None:
        return "—"
    return f"{round(float(value), 4):g}"


def number(value: Any) -> str:
    """An error measure for people: ``1.5e-07``, ``0.25``; non-numbers as they are."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—" if value is None else str(value)
    return f"{value:.3g}"


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # CommonMark with tables and strikethrough; raw HTML in handouts is shown as text, not run.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.core.ruler.push("nest_headings", _nest_headings)
    return md


def _nest_headings(state: Any) -> None:
    """One level down (``#`` → ``<h2>``): a handout sits under its page's own ``<h1>``."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"


@lru_cache(maxsize=64)
def _render_markdown(text: str) -> str:
    # A code block wider than a phone scrolls: focusable, so that it can be scrolled from the keyboard.
    # (Raw HTML is off: every ``<pre>`` in the output is a code block's.)
    return _markdown().render(text).replace("<pre>", '<pre tabindex="0">')


def markdown(text: str | None) -> Markup:
    """Render a handout (raw HTML disabled; unsafe link schemes are refused by markdown-it)."""
    return Markup(_render_markdown(text or ""))


@lru_cache(maxsize=1)
def _feedback_markdown() -> Any:
    from markdown_it import MarkdownIt

    # Grader feedback (code spans, emphasis, lists) may quote a student's exception text:
    # raw HTML is escaped, and links and images are not rendered at all.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable(["link", "image", "autolink", "html_inline", "html_block", "heading", "lheading"])
    return md


@lru_cache(maxsize=512)
def _render_feedback(text: str) -> str:
    return _feedback_markdown().render(text)


def feedback_markdown(text: str | None) -> Markup:
    """Render grader feedback written in Markdown: code spans become ``<code>``, never raw
    backticks; HTML in it is shown as text."""
    return Markup(_render_feedback(text or ""))


def submitted_code(source: str | None, filename: str | None = None) -> str:
    """A submission's code as people read it: a notebook as its code cells, each under a
    ``# cell N`` line (the numbers feedback uses), not as its JSON; any other file as is."""
    from grader.grading.notebook import code_cells_text, is_notebook_name, looks_like_notebook

    source = source or ""
    if is_notebook_name(filename) or looks_like_notebook(source):
        return code_cells_text(source) or source
    return source


def init_app(app: Flask) -> None:
    """Register the filters."""
    app.jinja_env.filters.update(
        time_left=time_left,
        when=when,
        local_input=local_input,
        iso=iso,
        points=points,
        number=number,
        markdown=markdown,
        value=value,
        feedback_markdown=feedback_markdown,
        submitted_code=submitted_code,
    )
    app.jinja_env.globals.update(
        time_left_text=time_left_text,
        late_policy_text=late_policy_text,
        instructor_home=instructor_home,
        zone_label=zone_label,
    )
