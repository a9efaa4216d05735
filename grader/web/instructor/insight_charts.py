"""The share of students showing each of a lab's commonest causes, per attempt number: a line
chart as numbers and coordinates; ``instructor/_misconceptions.html`` draws the SVG.

No JavaScript: an ``<svg role="img">`` with a title and a description, a ``<title>`` per
point, a legend in HTML and the same numbers as a table. Lines differ by colour (a palette
that colour-blind readers can tell apart, each at least 3:1 against white), marker shape
and dash pattern, so no line depends on its colour alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from grader.service.insight import Misconceptions
from grader.web.instructor.charts import Tick

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 48
#: (colour, marker, dash pattern) per line, in order: Okabe–Ito hues darkened to ≥ 3:1 on white.
STYLES = (
    ("#0072b2", "circle", ""),
    ("#c75400", "square", "6 3"),
    ("#007a5a", "triangle", "2 3"),
    ("#a3487e", "diamond", "8 3 2 3"),
    ("#1b1f24", "cross", "1 4"),
)
MARKER = 4.5


@dataclass
class Point:
    """One point: where, and what it stands for."""

    x: float
    y: float
    attempt: int
    count: int
    students: int

    @property
    def share(self) -> float:
        """``count / students``."""
        return self.count / self.students if self.students else 0.0


@dataclass
class Series:
    """One cause's line."""

    key: str
    label: str
    colour: str
    marker: str
    dash: str
    points: list[Point]

    @property
    def path(self) -> str:
        """The line through the points (SVG path data)."""
        return " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(self.points))

    def marker_path(self, x: float, y: float, size: float = MARKER) -> str:
        """The marker's shape at (x, y) (SVG path data)."""
        r = size
        if self.marker == "square":
            return f"M{x - r:.1f},{y - r:.1f}h{2 * r:.1f}v{2 * r:.1f}h{-2 * r:.1f}Z"
        if self.marker == "triangle":
            return (
                f"M{x:.1f},{y - r * 1.2:.1f}L{x + r * 1.1:.1f},{y + r * 0.9:.1f}L{x - r * 1.1:.1f},{y + r * 0.9:.1f}Z"
            )
        if self.marker == "diamond":
            d = r * 1.3
            return f"M{x:.1f},{y - d:.1f}L{x + d:.1f},{y:.1f}L{x:.1f},{y + d:.1f}L{x - d:.1f},{y:.1f}Z"
        if self.marker == "cross":
            return f"M{x - r:.1f},{y - r:.1f}L{x + r:.1f},{y + r:.1f}M{x - r:.1f},{y + r:.1f}L{x + r:.1f},{y - r:.1f}"
        return f"M{x - r:.1f},{y:.1f}a{r:.1f},{r:.1f} 0 1,0 {2 * r:.1f},0a{r:.1f},{r:.1f} 0 1,0 {-2 * r:.1f},0Z"


@dataclass
class LineChart:
    """A line chart ready to draw, with its data as table rows."""

    id: str
    title: str
    description: str
    x_label: str
    y_label: str
    series: list[Series]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    rows: list[tuple[int, int, list[int]]] = field(default_factory=list)  # attempt, students, count per series
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: int = WIDTH - LEFT - RIGHT
    plot_height: int = HEIGHT - TOP - BOTTOM

    @property
    def baseline(self) -> int:
        """The y of the x axis."""
        return self.top + self.plot_height

    @property
    def empty(self) -> bool:
        """Nothing to draw."""
        return not self.series or not self.rows


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def share_by_attempt(chart_id: str, found: Misconceptions, labels: dict[str, str]) -> LineChart:
    """The share of the students with a graded attempt of each number who show each of the
    lab's commonest causes there (``found.trend``); ``labels``: a short name per cause key."""
    points = found.trend
    keys: Sequence[str] = found.trend_keys
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_share = max((p.share(k) for p in points for k in keys), default=0.0)
    y_max = min(1.0, max(0.1, (int(top_share * 10) + 1) / 10))  # the next tenth above the data
    last = max((p.attempt for p in points), default=1)
    span = max(1, last - 1)

    def x_of(attempt: int) -> float:
        return LEFT + (plot_width * (attempt - 1) / span if last > 1 else plot_width / 2)

    def y_of(share: float) -> float:
        return TOP + plot_height - plot_height * share / y_max

    series = []
    for index, key in enumerate(keys):
        colour, marker, dash = STYLES[index % len(STYLES)]
        line = [Point(x_of(p.attempt), y_of(p.share(key)), p.attempt, p.counts.get(key, 0), p.students) for p in points]
        series.append(Series(key, labels.get(key, key), colour, marker, dash, line))
    every = max(1, (last + 11) // 12)
    x_ticks = [Tick(round(x_of(p.attempt), 2), str(p.attempt)) for p in points if (p.attempt - 1) % every == 0]
    tenths = round(y_max * 10)
    steps = tenths // 2 if tenths > 5 and tenths % 2 == 0 else tenths  # gridlines every 10 or 20 %
    y_ticks = [Tick(round(y_of(y_max * k / steps), 2), _percent(y_max * k / steps)) for k in range(steps + 1)]
    rows = [(p.attempt, p.students, [p.counts.get(k, 0) for k in keys]) for p in points]
    described = "; ".join(
        f"{s.label}: " + ", ".join(f"attempt {p.attempt} {_percent(p.share)}" for p in s.points) for s in series
    )
    description = (
        f"Share of the students at each attempt number whose attempt shows each of the {len(series)} causes "
        f"most students showed in {found.lab_title}. {described or 'No causes yet.'}"
    )
    return LineChart(
        chart_id,
        "Causes over the attempts",
        description,
        "attempt number",
        "students showing it",
        series,
        x_ticks,
        y_ticks,
        rows,
    )
