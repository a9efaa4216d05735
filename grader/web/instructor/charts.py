"""Server-rendered bar charts: the numbers and coordinates; ``instructor/_charts.html`` draws the SVG.

No JavaScript: each chart is an ``<svg role="img">`` with a title, a description, axis
labels, a ``<title>`` per bar, and the same numbers as a table for screen readers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 56


@dataclass
class Bar:
    """One bar: position and size in the SVG, and what it stands for."""

    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    highlight: bool = False


@dataclass
class Tick:
    """An axis tick: where, and its text."""

    at: float
    label: str


@dataclass
class Chart:
    """A bar chart ready to draw."""

    id: str
    title: str
    description: str
    x_label: str
    y_label: str
    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    marker: Tick | None = None  # a vertical line, e.g. the due date
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: int = WIDTH - LEFT - RIGHT
    plot_height: int = HEIGHT - TOP - BOTTOM
    rows: list[tuple[str, int]] = field(default_factory=list)  # the data, for the table
    note: str = ""  # said after the caption, e.g. where the due date is when it is outside the chart
    empty_text: str = "No data yet."  # shown instead of the chart when there is nothing to draw: what will appear

    @property
    def baseline(self) -> int:
        """The y of the x axis."""
        return self.top + self.plot_height

    @property
    def empty(self) -> bool:
        """No data at all."""
        return not any(b.value for b in self.bars)


def _nice_max(value: int) -> int:
    """A round upper bound for the y axis (at least 1)."""
    if value <= 5:
        return max(1, value)
    magnitude = 10 ** int(math.log10(value))
    for step in (1, 1.5, 2, 2.5, 5, 10):
        top = int(math.ceil(value / (magnitude * step)) * magnitude * step)
        if top / value < 1.5 and any(top % k == 0 for k in (2, 3, 4, 5)):  # ticks at whole numbers
            return top
    return value + value % 2


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    x_label: str,
    y_label: str,
    values: Sequence[tuple[str, int]],
    tick_every: int = 1,
    highlight: Sequence[bool] | None = None,
    tick_labels: Sequence[str] | None = None,
) -> Chart:
    """Bars of ``values`` (label, count), labelled every ``tick_every`` bars (``tick_labels``: shorter
    labels for the axis than the table's)."""
    top = _nice_max(max((v for _, v in values), default=0))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / max(1, len(values))
    gap = min(2.0, slot * 0.15)
    bars = []
    x_ticks = []
    for i, (label, value) in enumerate(values):
        height = plot_height * value / top
        x = LEFT + i * slot
        bars.append(
            Bar(
                round(x + gap / 2, 2),
                round(TOP + plot_height - height, 2),
                round(slot - gap, 2),
                round(height, 2),
                label,
                value,
                bool(highlight[i]) if highlight else False,
            )
        )
        if i % tick_every == 0:
            x_ticks.append(Tick(round(x + slot / 2, 2), tick_labels[i] if tick_labels else label))
    y_ticks = []
    steps = next(k for k in (4, 5, 3, 2, 1) if k <= top and top % k == 0)  # whole numbers of students or submissions
    for k in range(steps + 1):
        value = top * k / steps
        y_ticks.append(Tick(round(TOP + plot_height - plot_height * k / steps, 2), f"{value:g}"))
    return Chart(chart_id, title, description, x_label, y_label, bars, x_ticks, y_ticks, rows=list(values))


def histogram(chart_id: str, lab_title: str, fractions: Sequence[float], bins: int = 10) -> Chart:
    """Students per score band (percent of the maximum), ``bins`` bands; 100 % falls in the last."""
    counts = [0] * bins
    for fraction in fractions:
        index = min(bins - 1, max(0, int(fraction * bins)))
        counts[index] += 1
    width = 100 // bins
    values = [
        (f"{i * width}–{(i + 1) * width}%" if i < bins - 1 else f"{i * width}–100%", c) for i, c in enumerate(counts)
    ]
    total = len(fractions)
    description = (
        f"Final scores of {total} student{'s' if total != 1 else ''} with a score in {lab_title}, "
        f"in bands of {width}% of the maximum: " + ", ".join(f"{label}: {count}" for label, count in values) + "."
    )
    chart = bar_chart(
        chart_id, f"Score distribution: {lab_title}", description, "final score (% of maximum)", "students", values
    )
    chart.empty_text = (
        "No scores yet. Once students' submissions to this lab are graded, the spread of their final scores"
        " will appear here in bands of 10% of the maximum."
    )
    return chart


#: Bin sizes the submissions chart picks from: the smallest that needs at most MAX_BINS bins.
BIN_STEPS = (
    dt.timedelta(hours=1),
    dt.timedelta(hours=2),
    dt.timedelta(hours=3),
    dt.timedelta(hours=6),
    dt.timedelta(hours=12),
    dt.timedelta(days=1),
    dt.timedelta(days=7),
)
MAX_BINS = 36
MIN_BINS = 6  # a lone submission still gets a few bars of context, not one bar as wide as the chart


@dataclass
class Bins:
    """The submissions chart's bins: ``count`` bins of ``step`` from ``origin`` (aware UTC)."""

    origin: dt.datetime
    step: dt.timedelta
    count: int

    @property
    def end(self) -> dt.datetime:
        """Where the last bin ends."""
        return self.origin + self.step * self.count

    @property
    def unit(self) -> str:
        """``hour``, ``2 hours``, ``day``, ``week``."""
        hours = int(self.step.total_seconds() // 3600)
        if hours == 24 * 7:
            return "week"
        if hours == 24:
            return "day"
        return "hour" if hours == 1 else f"{hours} hours"


def _floor(moment: dt.datetime, step: dt.timedelta, zone: dt.tzinfo) -> dt.datetime:
    """The start of the bin holding ``moment``: a whole number of steps into the local day, local
    midnight for days, Monday's midnight for weeks; aware UTC."""
    local = moment.astimezone(zone)
    if step >= dt.timedelta(days=1):
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if step >= dt.timedelta(days=7):
            local -= dt.timedelta(days=local.weekday())
    else:
        hours = int(step.total_seconds() // 3600)
        local = local.replace(hour=local.hour - local.hour % hours, minute=0, second=0, microsecond=0)
    # Through the wall clock again: the offset of the bin's start may differ from the moment's (DST).
    return local.replace(tzinfo=None).replace(tzinfo=zone).astimezone(dt.timezone.utc)


def timeline_bins(first: dt.datetime, last: dt.datetime, zone: dt.tzinfo = dt.timezone.utc) -> Bins:
    """Bins from the first to the last submission: the smallest step of :data:`BIN_STEPS` that needs at
    most :data:`MAX_BINS` bins (weeks beyond that), aligned on the course's clock, at least :data:`MIN_BINS`.

    Bins are fixed lengths of time, so after a daylight-saving change a day's bin starts an hour off.
    """
    for step in BIN_STEPS:
        origin = _floor(first, step, zone)
        count = int((last - origin) // step) + 1
        if count <= MAX_BINS:
            break
    return Bins(origin, step, max(count, MIN_BINS))


def timeline(
    chart_id: str,
    lab_title: str,
    bins: Bins,
    counts: Sequence[int],
    due: dt.datetime | None,
    zone: dt.tzinfo = dt.timezone.utc,
    zone_text: str = "UTC",
) -> Chart:
    """Submissions per bin; a marker at ``due`` when it falls inside the bins, and bins after it highlighted.

    ``zone`` is the course's time zone (labels and bins follow its clock); ``zone_text`` names it.
    """
    starts = [(bins.origin + bins.step * i).astimezone(zone) for i in range(len(counts))]
    hourly = bins.step < dt.timedelta(days=1)
    tick_format, row_format = ("%m-%d %H:%M", "%Y-%m-%d %H:%M") if hourly else ("%m-%d", "%Y-%m-%d")
    prefix = "week of " if bins.unit == "week" else ""
    rows = [(prefix + f"{start:{row_format}}", count) for start, count in zip(starts, counts, strict=True)]
    ticks = [f"{start:{tick_format}}" for start in starts]
    due_inside = due is not None and bins.origin <= due < bins.origin + bins.step * len(counts)
    highlight = [due_inside and bins.origin + bins.step * (i + 1) > due for i in range(len(counts))]
    total = sum(counts)
    last_end = (bins.origin + bins.step * len(counts)).astimezone(zone)
    description = (
        f"Submissions to {lab_title} per {bins.unit} ({zone_text}), from {starts[0]:%Y-%m-%d %H:%M} "
        f"to {last_end:%Y-%m-%d %H:%M}: {total} in all"
    )
    note = ""
    if due is not None:
        due_text = f"{due.astimezone(zone):%Y-%m-%d %H:%M}"
        if due_inside:
            description += f"; the due date {due_text} is marked, and bars from it on may hold late work"
            note = "bars from the due date on, in orange, may hold late work"
        else:
            where = "after the last" if due >= bins.origin else "before the first"
            note = f"the due date, {due_text}, is {where} submission"
            description += f"; {note}"
    chart = bar_chart(
        chart_id,
        f"Submissions over time: {lab_title}",
        description + ".",
        f"time ({zone_text})",
        "submissions",
        rows,
        tick_every=max(1, math.ceil(len(counts) / 8)),
        highlight=highlight,
        tick_labels=ticks,
    )
    chart.note = note
    chart.empty_text = (
        "No submissions yet. Each submission to this lab will be counted here by the hour, day or week,"
        " with the due date marked."
    )
    if due_inside and due is not None:
        slot = chart.plot_width / len(counts)
        chart.marker = Tick(round(LEFT + (due - bins.origin) / bins.step * slot, 2), "due")
    return chart


#: The gradebook's colour scale: score bands (lower bound, as a fraction of the maximum), lightest first.
#: One hue from light to dark (ColorBrewer "Blues"), so it reads by lightness for colour-blind readers and
#: in greyscale; the score is always written in the cell too. Colours are in style.css (.band-0 … .band-4).
SCORE_BANDS = (0.0, 0.2, 0.4, 0.6, 0.8)


def score_band(score: float | None, maximum: float | None) -> int | None:
    """The band (0–4) of ``score`` out of ``maximum`` on :data:`SCORE_BANDS`; None without a score."""
    if score is None or not maximum:
        return None
    fraction = max(0.0, min(1.0, score / maximum))
    return max(i for i, lower in enumerate(SCORE_BANDS) if fraction >= lower)


def band_legend() -> list[tuple[int, str]]:
    """(band, ``"40–59%"``) for each band, for the legend beside the gradebook."""
    bounds = [round(lower * 100) for lower in SCORE_BANDS] + [101]
    return [(i, f"{bounds[i]}–{bounds[i + 1] - 1}%") for i in range(len(SCORE_BANDS))]
