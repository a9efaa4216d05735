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
    note: str = ""  # said after the caption, e.g. data that the chart leaves out

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
    for step in (1, 2, 2.5, 5, 10):
        top = int(math.ceil(value / (magnitude * step)) * magnitude * step)
        if top / value < 1.5:
            return top
    return value


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    x_label: str,
    y_label: str,
    values: Sequence[tuple[str, int]],
    tick_every: int = 1,
    highlight: Sequence[bool] | None = None,
) -> Chart:
    """Bars of ``values`` (label, count), labelled every ``tick_every`` bars."""
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
            x_ticks.append(Tick(round(x + slot / 2, 2), label))
    y_ticks = []
    steps = min(top, 4)
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
    return bar_chart(
        chart_id, f"Score distribution: {lab_title}", description, "final score (% of maximum)", "students", values
    )


def timeline(
    chart_id: str,
    lab_title: str,
    start: dt.datetime,
    step: dt.timedelta,
    counts: Sequence[int],
    due: dt.datetime | None,
    before: int = 0,
    after: int = 0,
) -> Chart:
    """Submissions per time bucket from ``start``; a marker at ``due``; buckets after it highlighted."""
    hours = step.total_seconds() / 3600
    label_format = "%m-%d %H:%M" if hours < 24 else "%m-%d"
    labels = [(start + step * i).strftime(label_format) for i in range(len(counts))]
    highlight = [due is not None and start + step * i >= due for i in range(len(counts))]
    tick_every = max(1, len(counts) // 8)
    size = f"{hours:g} hour" + ("s" if hours != 1 else "") if hours < 24 else f"{hours / 24:g} day"
    description = f"Submissions to {lab_title} per {size} (UTC), {sum(counts)} in all in the chart"
    if due is not None:
        description += f"; the due date {due.strftime('%Y-%m-%d %H:%M')} UTC is marked, later bars are late work"
    outside = ""
    if before or after:
        description += f"; {before} earlier and {after} later submissions are outside the chart"
        counted = [f"{n} {word}" for n, word in ((before, "earlier"), (after, "later")) if n]
        outside = " and ".join(counted) + f" submission{'s' if before + after != 1 else ''} outside the chart"
    chart = bar_chart(
        chart_id,
        f"Submissions over time: {lab_title}",
        description + ".",
        "time (UTC)",
        "submissions",
        list(zip(labels, counts, strict=True)),
        tick_every=tick_every,
        highlight=highlight,
    )
    chart.note = outside
    if due is not None and counts:
        offset = (due - start) / step
        slot = chart.plot_width / len(counts)
        chart.marker = Tick(round(LEFT + offset * slot, 2), "due")
    return chart
