"""A graded result in the terminal, laid out like the result page.

A verdict line coloured by outcome, a short table of the fixtures, then "What went
wrong": each cause once, most points lost first, with the fixtures it covers and, for
the first fixture of it that ran where the student may see it, the call and the value
(every failed fixture's detail with ``details``). Markdown in feedback is shown
plainly: code spans styled (plain text when redirected), no backticks; text is wrapped
to the console by words, so numbers are never cut in two.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from grader.grading.compare import fmt_array
from grader.grading.result import STATUS_GRADED, Cause, Result, TestResult, fmt_points

#: The table's word for a failed check (by the comparison's stage).
STAGE_WORDS = {
    "missing": "missing",
    "raised": "exception",
    "type": "wrong type",
    "shape": "wrong shape",
    "finite": "not finite",
    "value": "wrong value",
    "unmodified": "input changed",
    "not_run": "not run",
}
#: The same by cause kind, for results whose stages are unknown (the API's student view).
KIND_WORDS = {
    "exception": "exception",
    "missing": "missing",
    "type": "wrong type",
    "shape": "wrong shape",
    "non_finite": "not finite",
    "modified": "input changed",
    "load": "not run",
    "limit": "stopped",
    "mistake": "wrong value",
    "pattern": "wrong value",
    "value": "wrong value",
    "convention": "targets",
}
#: Fixtures beyond which the table has a row per kind of fixture, not per fixture
#: (and, with details, passed fixtures are folded into one row).
SUMMARISE_OVER = 12
HEADLINE_WIDTH = 110
OUTPUT_LINES = 20  # of the submission's printed output
OUTPUT_WIDTH = 500  # characters of one printed line
CODE_STYLE = "bold cyan"
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_STRONG = re.compile(r"\*\*(.+?)\*\*")


def markdown_text(markdown: str) -> Text:
    """Feedback Markdown as rich Text: code spans styled without their backticks,
    ``**strong**`` in bold, everything else as written (no markup is interpreted)."""
    text = Text()
    position = 0
    for match in _CODE_SPAN.finditer(markdown):
        _append_prose(text, markdown[position : match.start()])
        code = match.group(2)
        text.append(code.strip() if code.strip() else code, style=CODE_STYLE)
        position = match.end()
    _append_prose(text, markdown[position:])
    return text


def _append_prose(text: Text, prose: str) -> None:
    position = 0
    for match in _STRONG.finditer(prose):
        text.append(prose[position : match.start()])
        text.append(match.group(1), style="bold")
        position = match.end()
    text.append(prose[position:])


def plain(markdown: str) -> str:
    """Feedback Markdown as plain text (code spans without backticks)."""
    return markdown_text(markdown).plain


def verdict(result: Result) -> tuple[str, str]:
    """(colour, sentence) of the submission-level verdict: green when every fixture
    passed, yellow when some did, red when none did or the file could not be loaded."""
    score = f"{fmt_points(result.score)} / {fmt_points(result.max_score)} points"
    total = len(result.tests)
    failed = sum(not t.passed for t in result.tests)
    if result.status != STATUS_GRADED:
        return "red", "not graded: the grader failed (not your file's fault)."
    if result.submission_error:
        return "red", f"{score}: the file could not be loaded."
    if not failed:
        return "green", f"{score}: all {total} fixtures passed."
    if failed == total:
        return "red", f"{score}: all {total} fixtures failed." if total > 1 else f"{score}: the fixture failed."
    return "yellow", f"{score}: {failed} of {total} fixtures failed."


def headline(result: Result) -> Text:
    """A few lines for a table of many results: how many fixtures failed and the first
    sentence of the cause that cost most (``+ N more causes``), cut at ``HEADLINE_WIDTH``."""
    _, sentence = verdict(result)
    text = Text(sentence.split(": ", 1)[1])
    causes = result.causes or group_by_feedback(result)
    if causes and not result.submission_error:
        message = markdown_text(causes[0].message)
        first = re.match(r".+?[.!?](?=\s|$)", message.plain)
        text.append(" ")
        text.append_text(message[: first.end()] if first else message)
        if len(causes) > 1:
            text.append(f" (+ {len(causes) - 1} more cause{'s' if len(causes) > 2 else ''})", style="dim")
    elif result.submission_error:
        text.append(" " + plain(result.submission_error))
    if len(text.plain) > HEADLINE_WIDTH:  # cut between words, never inside a number
        text = text[: text.plain.rfind(" ", 0, HEADLINE_WIDTH)]
        text.append(" …")
    return text


def print_result(
    console: Console,
    result: Result,
    title: str,
    *,
    instructor: bool = False,
    details: bool = False,
    reproduce: str | None = None,
) -> None:
    """The whole result: title, verdict, table, causes, details, printed output.

    ``instructor`` shows hidden fixtures' calls and the comparison's own messages;
    ``reproduce`` is the command that runs the randomised fixtures again (``{seed}``
    is filled in).
    """
    colour, sentence = verdict(result)
    if len(title) > console.width:  # one part a line rather than a line broken anywhere
        title = title.replace(" · ", "\n")
    console.print(Text(title, style="bold"))
    console.print(Text(sentence, style=f"bold {colour}"))
    causes = result.causes or group_by_feedback(result)
    numbers = {name: i for i, cause in enumerate(causes, 1) for name in cause.fixtures}
    console.print()
    if _table_says_something(result, causes):
        if len(result.tests) > SUMMARISE_OVER and not details:
            console.print(summary_table(result, numbers))
        else:
            console.print(fixture_table(console, result, numbers, causes))
        console.print()
    if causes:
        console.print(Text("What went wrong", style="bold"))
        for number, cause in enumerate(causes, 1):
            console.print(cause_block(result, cause, number, instructor=instructor, details=details))
            console.print()
    notes = result.student_notes()
    if notes:  # about the file itself: a notebook's dropped magics, statements the load skipped
        console.print(Text("About your file", style="bold"))
        items = Table.grid(padding=(0, 1, 0, 0))  # a hanging indent: each note's lines under its text
        items.add_column(width=1)
        items.add_column()
        for note in notes:
            items.add_row("-", markdown_text(note))
        console.print(Padding(items, (0, 0, 0, 2)))
        console.print()
    if details:
        print_details(console, result, instructor=instructor)
    if result.output.strip() and not instructor:
        print_output(console, result.output)
    if reproduce and any(_ran(t) and not t.passed for t in result.tests if t.visibility == "randomised"):
        console.print(Text(f"Randomised fixtures used seed {result.seed}; to run the same ones again:"))
        # One line, whatever its length: the terminal wraps it, and a copy pastes as one command.
        console.print(Text("  " + reproduce.format(seed=result.seed), style=CODE_STYLE), soft_wrap=True)


def print_output(console: Console, output: str) -> None:
    """What the submission printed, indented under a heading and cut at
    ``OUTPUT_LINES`` lines, so that it cannot pass for the grader's own words."""
    lines = output.rstrip().splitlines()
    shown = lines[:OUTPUT_LINES]
    heading = "Your code printed" + (f" ({len(shown)} of {len(lines)} lines):" if len(lines) > len(shown) else ":")
    console.print(Text(heading, style="dim"))
    console.print(Padding(Text("\n".join(line[:OUTPUT_WIDTH] for line in shown)), (0, 0, 0, 2)))
    console.print()


def _ran(test: TestResult) -> bool:
    """Whether the fixture's call was made (a limit stopped it at worst)."""
    return test.stage not in ("not_run", "missing") or _stopped(test)


def _stopped(test: TestResult) -> bool:
    """A fixture stopped while it ran (time or memory limit, a crash), unlike the ones after it."""
    return test.stage == "not_run" and not test.message.lower().startswith(("not run", "the file could not be loaded"))


def _table_says_something(result: Result, causes: list[Cause]) -> bool:
    """No table when nothing ran (the file could not be loaded, or one cause such as a
    missing function explains every fixture): a row per fixture would repeat it."""
    if result.submission_error or not result.tests:
        return False
    return not (len(causes) == 1 and causes[0].kind in ("load", "missing") and not any(t.passed for t in result.tests))


def summary_table(result: Result, numbers: dict[str, int]) -> Table:
    """One row per kind of fixture (public, hidden, randomised): how many, how many
    passed and failed, and the numbered causes of the failures."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, show_edge=False)
    table.add_column("fixtures", no_wrap=True)
    for header in ("total", "passed", "failed"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("causes")
    for visibility in dict.fromkeys(t.visibility for t in result.tests):
        tests = [t for t in result.tests if t.visibility == visibility]
        failed = [t for t in tests if not t.passed]
        causes = sorted({numbers[t.name] for t in failed if t.name in numbers})
        table.add_row(
            visibility,
            str(len(tests)),
            f"[green]{len(tests) - len(failed)}[/green]",
            f"[red]{len(failed)}[/red]" if failed else "0",
            " ".join(f"({n})" for n in causes),
        )
    return table


def fixture_table(console: Console, result: Result, numbers: dict[str, int], causes: list[Cause]) -> Table:
    """One row per fixture (passed ones folded into a line when there are many): name,
    category, visibility, verdict and the numbered cause it failed by. The category
    is left out when the console is too narrow for it (long hidden fixture names)."""
    kinds = {name: causes[n - 1].kind for name, n in numbers.items()}
    fold = len(result.tests) > SUMMARISE_OVER
    passed = sum(t.passed for t in result.tests)
    rows = []
    for test in result.tests:
        if test.passed and fold:
            continue
        mark = "[green]passed[/green]" if test.passed else "[red]FAILED[/red]"
        cause = "" if test.passed else _cause_cell(test, numbers.get(test.name), kinds.get(test.name, ""))
        rows.append((escape(test.name), escape(test.category), test.visibility, mark, escape(cause)))
    if fold and passed:
        rows.append((f"… {passed} more", "", "", "[green]passed[/green]", ""))
    return _table(rows, with_category=_narrowest(rows, with_category=True) <= console.width)


def _narrowest(rows: list[tuple[str, ...]], *, with_category: bool) -> int:
    """The fewest columns the table fits in with every cell but the categories whole
    (those wrap between words), two spaces between columns."""
    headers = ("fixture", "category", "kind", "result", "cause")
    plain_rows = [[Text.from_markup(cell).plain for cell in row] for row in rows]
    widths = []
    for index, header in enumerate(headers):
        if index == 1 and not with_category:
            continue
        cells = [header, *(row[index] for row in plain_rows)]
        wraps = index == 1
        widths.append(max(len(w) for cell in cells for w in (cell.split() if wraps else [cell]) if w))
    return sum(widths) + 2 * (len(widths) - 1)


def _table(rows: list[tuple[str, ...]], *, with_category: bool) -> Table:
    longest_word = max((len(w) for row in rows for w in row[1].split()), default=0)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, show_edge=False)
    table.add_column("fixture", no_wrap=True)
    if with_category:
        table.add_column("category", min_width=longest_word)
    table.add_column("kind", no_wrap=True)
    table.add_column("result", no_wrap=True)
    with_cause = any(row[4] for row in rows)
    if with_cause:
        table.add_column("cause")  # may wrap rather than be cut, at worst
    for row in rows:
        cells = row if with_category else row[:1] + row[2:]
        table.add_row(*(cells if with_cause else cells[:-1]))
    return table


def _cause_cell(test: TestResult, number: int | None, kind: str) -> str:
    """``(1) wrong value``: the cause's number in "What went wrong" and a word for it."""
    word = "stopped" if _stopped(test) else STAGE_WORDS.get(test.stage) or KIND_WORDS.get(kind, "failed")
    return f"({number}) {word}" if number else word


def cause_block(result: Result, cause: Cause, number: int, *, instructor: bool, details: bool) -> Table:
    """One cause: its number, the fixtures and points it covers, its message, the line
    of code it points at, and an example call (unless ``details`` lists every call)."""
    lost = fmt_points(cause.points_lost)
    heading = Text(fixtures_phrase(cause, [t.name for t in result.tests]), style="bold")
    if cause.points_lost:
        heading.append(f" · {lost} point{'' if cause.points_lost == 1 else 's'} lost", style="bold")
    parts: list[Any] = [heading, markdown_text(cause.message)]
    if cause.code:
        parts.append(Padding(Text(cause.code.rstrip("\n"), no_wrap=True, overflow="ellipsis"), (0, 0, 0, 2)))
    example = None if details else example_fixture(result, cause, instructor=instructor)
    if example is not None:
        parts.append(example_text(example, cause.message))
    grid = Table.grid(padding=(0, 1, 0, 0))
    grid.add_column(no_wrap=True)
    grid.add_column()
    grid.add_row(Text(f"({number})", style="bold"), Group(*parts))
    return grid


def fixtures_phrase(cause: Cause, names: list[str]) -> str:
    """``all 30 fixtures``, ``fixture a``, ``24 fixtures: all but b`` or ``3 fixtures: a, b, c``
    (every name: with many fixtures the table has none)."""
    count = len(cause.fixtures)
    if count == 0:
        return "the file"
    if count == len(names) and count > 1:
        return f"all {count} fixtures"
    if count == 1:
        return f"fixture {cause.fixtures[0]}"
    others = [n for n in names if n not in set(cause.fixtures)]
    if count > 6 and len(others) <= 3:
        return f"{count} fixtures: all but {', '.join(others)}"
    return f"{count} fixtures: {', '.join(cause.fixtures)}"


def example_fixture(result: Result, cause: Cause, *, instructor: bool = False) -> TestResult | None:
    """The first fixture of ``cause`` whose call may be shown and that ran, preferring
    one whose expected and returned values are small enough to have been kept."""
    by_name = {t.name: t for t in result.tests}
    shown = [
        t
        for t in (by_name.get(name) for name in cause.fixtures)
        if t is not None and t.inputs and _ran(t) and (instructor or t.visibility != "hidden")
    ]
    with_values = [t for t in shown if t.expected is not None and t.got is not None]
    return (with_values or shown or [None])[0]


def example_text(test: TestResult, message: str = "") -> Text:
    """``For example, NAME:`` (or the fixture a limit stopped) then the call and, when
    kept and not already in the cause's ``message``, what came back."""
    text = Text()
    text.append("Stopped while running " if _stopped(test) else "For example, ", style="dim")
    text.append(test.name, style="bold")
    text.append(":\n", style="dim")
    text.append(call(test), style=CODE_STYLE)
    if test.expected is not None and test.got is not None:
        values = f"expected {format_value(test.expected)}, got {format_value(test.got)}"
        if values not in message:
            text.append("\n" + values)
    return text


def call(test: TestResult) -> str:
    """``f(arg, arg)`` as the fixture called it."""
    return f"{test.function}({', '.join(test.inputs or [])})"


def format_value(value: Any) -> str:
    """An expected or returned value as the comparison words it (10 significant digits)."""
    if isinstance(value, dict) and "array" in value:  # the API's arrays
        value = value["array"]
    try:
        return fmt_array(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        return str(value)


def print_details(console: Console, result: Result, *, instructor: bool) -> None:
    """Every failed fixture the reader may see in full: its call and the comparison's
    message (expected, got, errors, tolerance), once each."""
    failed = [t for t in result.tests if not t.passed and (instructor or t.visibility != "hidden")]
    if not failed:
        return
    console.print(Text("Details", style="bold"))
    for test in failed:
        body = Text()
        if test.inputs and _ran(test):
            body.append(call(test) + "\n", style=CODE_STYLE)
        body.append_text(markdown_text(test.message))
        grid = Table.grid(padding=(0, 0, 0, 2))
        grid.add_column()
        grid.add_row(Group(Text(test.name, style="bold"), Padding(body, (0, 0, 0, 2))))
        console.print(grid)
    console.print()


def group_by_feedback(result: Result) -> list[Cause]:
    """Causes for a result that carries none (a server older than causes): failed
    fixtures whose feedback is word for word the same, most points lost first."""
    causes: dict[str, Cause] = {}
    for test in result.tests:
        if test.passed:
            continue
        feedback = test.feedback()
        if feedback not in causes:
            causes[feedback] = Cause(f"feedback:{len(causes)}", "feedback", feedback, fixtures=[], points_lost=0.0)
        cause = causes[feedback]
        cause.fixtures.append(test.name)
        cause.points_lost += test.max_score - test.score
    return sorted(causes.values(), key=lambda c: -c.points_lost)  # stable: ties keep the fixtures' order
