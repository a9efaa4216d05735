"""What changed between two attempts: the code, hunk by hunk, and which fixtures changed
verdict, shown next to the hunks that changed their function."""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

CONTEXT_LINES = 3
SHOWN_PER_HUNK = 6  # fixture names listed beside a hunk; the rest are counted


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk: ``add``, ``del`` or ``same``, with its numbers in the old and new file."""

    kind: str
    old_no: int | None
    new_no: int | None
    text: str


@dataclass(frozen=True)
class VerdictChange:
    """A fixture that passed in one attempt and failed in the other."""

    name: str
    function: str
    category: str
    visibility: str
    now_passes: bool


@dataclass
class Hunk:
    """Changed lines with some context, the functions they change and those functions' verdict changes."""

    lines: list[DiffLine]
    functions: list[str] = field(default_factory=list)
    changes: list[VerdictChange] = field(default_factory=list)

    @property
    def new_lines(self) -> tuple[int, int] | None:
        """First and last line of the hunk in the newer file (None if it only removes lines)."""
        numbers = [line.new_no for line in self.lines if line.new_no is not None]
        return (numbers[0], numbers[-1]) if numbers else None

    @property
    def shown_changes(self) -> list[VerdictChange]:
        """The verdict changes listed beside the hunk (the first few)."""
        return self.changes[:SHOWN_PER_HUNK]


@dataclass
class AttemptDiff:
    """Everything the diff page shows."""

    hunks: list[Hunk]
    changes: list[VerdictChange]
    comparable: bool  # both attempts graded: their verdicts can be compared

    @property
    def fixed(self) -> list[VerdictChange]:
        """Fixtures that failed before and pass now."""
        return [c for c in self.changes if c.now_passes]

    @property
    def broken(self) -> list[VerdictChange]:
        """Fixtures that passed before and fail now."""
        return [c for c in self.changes if not c.now_passes]


def function_spans(source: str) -> dict[str, tuple[int, int]]:
    """Top-level functions of ``source`` → (first line with decorators, last line); {} if it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    spans = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            spans[node.name] = (first, node.end_lineno or node.lineno)
    return spans


def _owner(spans: dict[str, tuple[int, int]], line: int | None) -> str | None:
    if line is None:
        return None
    return next((name for name, (first, last) in spans.items() if first <= line <= last), None)


def hunks(old: str, new: str, context: int = CONTEXT_LINES) -> list[Hunk]:
    """The changed regions of ``old`` → ``new`` with ``context`` lines around them, and the
    top-level functions whose lines they add or remove (in either file)."""
    a, b = old.splitlines(), new.splitlines()
    old_spans, new_spans = function_spans(old), function_spans(new)
    found = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        lines: list[DiffLine] = []
        touched: list[str] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(DiffLine("same", i + 1, j1 + (i - i1) + 1, a[i]) for i in range(i1, i2))
                continue
            for i in range(i1, i2):
                lines.append(DiffLine("del", i + 1, None, a[i]))
                touched.append(_owner(old_spans, i + 1) or "")
            for j in range(j1, j2):
                lines.append(DiffLine("add", None, j + 1, b[j]))
                touched.append(_owner(new_spans, j + 1) or "")
        found.append(Hunk(lines, functions=list(dict.fromkeys(name for name in touched if name))))
    return found


def verdict_changes(before: Iterable[Any], after: Iterable[Any]) -> list[VerdictChange]:
    """Fixtures (results with ``name``, ``function``, ``category``, ``visibility``, ``passed``)
    whose verdict differs, in the newer attempt's order; fixtures in only one are left out."""
    old = {r.name: bool(r.passed) for r in before}
    return [
        VerdictChange(r.name, r.function, r.category, r.visibility, bool(r.passed))
        for r in after
        if r.name in old and old[r.name] != bool(r.passed)
    ]


def attempt_diff(old: Any, new: Any, lab_functions: Sequence[str] = ()) -> AttemptDiff:
    """The diff page of two submissions (``source``, ``status``, ``results``).

    A hunk lists the verdict changes of the lab functions it changes (``lab_functions``;
    any function with fixtures when empty).
    """
    comparable = old.status == "graded" and new.status == "graded"
    changes = verdict_changes(old.results, new.results) if comparable else []
    found = hunks(old.source, new.source)
    known = set(lab_functions) or {c.function for c in changes}
    for hunk in found:
        hunk.functions = [name for name in hunk.functions if name in known]
        hunk.changes = [c for c in changes if c.function in hunk.functions]
    return AttemptDiff(found, changes, comparable)
