"""What the grader runs from what a student handed in, and what it says about loading it.

:func:`prepare` turns a submission (a ``.py`` file or a Jupyter notebook) into a
:class:`Program`: the checked source to run, the notebook's notes, and where each line
came from. After a run, the program explains the load in the student's terms: the
statements a forgiving load skipped (as warnings naming the line, or the cell and the
line, and the code), an import the grader does not have (naming what it does have),
and a function that fails because it uses a name a skipped statement would have made.

Runs in the trusted process. What the child reported is untrusted: a skipped line
counts only if a top-level statement starts there; the code quoted comes from the
source, never from the child; its error texts are cut short and stripped of markup.
Only a run of the shown fixtures is explained in words from the child (see
:meth:`Program.explain`): a run with hidden inputs never adds to what students read.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from grader.grading.notebook import Notebook, looks_like_notebook, read_notebook
from grader.grading.runner import RunReport, SkippedStatement
from grader.grading.source import SourceCheck, check_source

#: What an import the grader does not have is told (then "; `torch` is not.").
PROVIDED = "only NumPy and the Python standard library are available to your code"
PROVIDED_MODULES = frozenset({"numpy", *sys.stdlib_module_names})
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
_NAME_ERROR = re.compile(r"^NameError: name '(\w+)' is not defined")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
_MAX_CODE_CHARS = 60
_MAX_ERROR_CHARS = 200


@dataclass
class Program:
    """A submission ready to run: ``check`` (its source text, or the problem that
    stops it) and, for a notebook, the notebook it came from."""

    check: SourceCheck
    notebook: Notebook | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def is_notebook(self) -> bool:
        """Whether the submission was a notebook."""
        return self.notebook is not None

    def where(self, line: int) -> str:
        """``"line 5"``, or ``"cell 3, line 2"`` in a notebook."""
        return self.notebook.where(line) if self.notebook is not None else f"line {line}"

    @functools.cached_property
    def _statements(self) -> dict[int, ast.stmt]:
        """Top-level statements by the line they start on (where a forgiving load skips)."""
        tree = self._tree
        return {s.lineno: s for s in tree.body} if tree is not None else {}

    @functools.cached_property
    def _tree(self) -> ast.Module | None:
        if self.check.text is None:
            return None
        try:
            return ast.parse(self.check.text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None

    def _code(self, statement: ast.stmt) -> str:
        """The statement's first line, short, as a code span's content (without a comment after it)."""
        segment = ast.get_source_segment(self.check.text or "", statement) or ""
        first, _, rest = segment.partition("\n")
        return _snippet(first + (" …" if rest else ""))

    def load_message(self, report: RunReport) -> str | None:
        """What a student reads when the file raised while loading (None when it loaded)."""
        if not report.load_error:
            return None
        line = report.load_error_line
        where = f" ({self.where(line)})" if line else ""
        text = f"your file raised {report.load_error}{where} when loaded."
        module = self._unavailable(report.load_error, self._imports_at(line))
        return f"{text} {PROVIDED[0].upper()}{PROVIDED[1:]}; `{module}` is not." if module else text

    def load_warnings(self, report: RunReport) -> list[dict[str, Any]]:
        """The statements a forgiving load skipped, as warnings for the student: ``line``,
        ``where``, ``code`` (from the source), ``error`` and ``message`` (Markdown).

        Only for a run of the shown fixtures: its load happened before any hidden input
        existed."""
        warnings = []
        skipped = self._skipped(report)
        for statement, item in skipped:
            where = self.where(statement.lineno)
            error = _clean(item.error)
            module = self._unavailable(item.error, self._imports_in(statement))
            source = self._skipped_source(item.error, skipped, before=statement)
            if module:
                reason = f"{PROVIDED}; `{module}` is not."
            elif source is not None:  # that statement's own warning, above, says why: not again here
                name, earlier = source
                reason = f"it uses `{name}`, which {self.where(earlier.lineno)} would have defined."
            else:
                reason = f"it raised {_code_span(error)}."
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                reason += f" So `{statement.name}` was not defined."  # its decorator or a default raised
            code = self._code(statement)
            warnings.append(
                {
                    "line": statement.lineno,
                    "where": where,
                    "code": code,
                    "error": error,
                    "message": f"{where} (`{code}`) was skipped when your file loaded: {reason}",
                }
            )
        if report.skipped_more:
            n = report.skipped_more
            warnings.append(
                {
                    "line": None,
                    "where": "",
                    "code": "",
                    "error": "",
                    "message": f"{n} more statement{'s' if n != 1 else ''} {'were' if n != 1 else 'was'} skipped.",
                }
            )
        return warnings

    def explain(self, report: RunReport, *, shown: bool) -> None:
        """Say the errors of a run in the student's terms, in place: a notebook's lines
        as cell and line; for a run of the shown fixtures also an import the grader does
        not have, and a name that a skipped statement would have defined."""
        skipped = self._skipped(report) if shown else []
        for outcome in report.outcomes:
            if outcome.status != "raised" or not outcome.error:
                continue
            extra = ""
            if shown:
                because = self._because(outcome.error, skipped)
                module = self._unavailable(outcome.error, self._imports_at(outcome.line))
                if module:
                    because = f"{PROVIDED}; `{module}` is not"
                extra = f" — {because}" if because else ""
            if (extra or self.is_notebook) and outcome.line:
                outcome.error = f"{outcome.error} ({self.where(outcome.line)}){extra}"
                outcome.line = None
            elif extra:
                outcome.error += extra

    # -- helpers ---------------------------------------------------------------------

    def _skipped(self, report: RunReport) -> list[tuple[ast.stmt, SkippedStatement]]:
        """The skipped statements the source has (a line where none starts is forged)."""
        statements = self._statements
        seen: set[int] = set()
        found = []
        for item in report.skipped:
            statement = statements.get(item.line)
            if statement is not None and item.line not in seen:
                seen.add(item.line)
                found.append((statement, item))
        return found

    def _because(
        self, error: str, skipped: list[tuple[ast.stmt, SkippedStatement]], before: ast.stmt | None = None
    ) -> str:
        """``"`plt` was not defined because line 5 (`…`) was skipped when your file
        loaded"`` for a NameError of a name that a skipped statement binds, else ``""``."""
        source = self._skipped_source(error, skipped)
        if source is None:
            return ""
        name, statement = source
        where, code = self.where(statement.lineno), self._code(statement)
        return f"`{name}` was not defined because {where} (`{code}`) was skipped when your file loaded"

    @staticmethod
    def _skipped_source(
        error: str, skipped: list[tuple[ast.stmt, SkippedStatement]], before: ast.stmt | None = None
    ) -> tuple[str, ast.stmt] | None:
        """For a NameError, the name and the skipped statement (before ``before``) that binds it."""
        match = _NAME_ERROR.match(error)
        if not match:
            return None
        name = match.group(1)
        for statement, _ in skipped:
            if before is not None and statement.lineno >= before.lineno:
                break
            if name in bound_names(statement):
                return name, statement
        return None

    def _imports_at(self, line: int | None) -> list[str]:
        """Modules imported by import statements on ``line`` (nested ones too)."""
        tree = self._tree
        if not line or tree is None:
            return []
        return [name for node in ast.walk(tree) if getattr(node, "lineno", None) == line for name in _imported(node)]

    def _imports_in(self, statement: ast.stmt) -> list[str]:
        return [name for node in ast.walk(statement) for name in _imported(node)]

    @staticmethod
    def _unavailable(error: str | None, imported: list[str]) -> str | None:
        """The module an import failed on, when the grader does not have it (named from
        the source, checked against the error: never a name only the child chose)."""
        if not error or not error.startswith(("ModuleNotFoundError", "ImportError")) or not imported:
            return None
        tops = [name.split(".")[0] for name in imported]
        match = _NO_MODULE.search(error)
        named = match.group(1).split(".")[0] if match else None
        if named in tops and named not in PROVIDED_MODULES:
            return named
        missing = [top for top in tops if top not in PROVIDED_MODULES]
        return missing[0] if missing else None


def prepare(data: bytes | str, *, notebook: bool | None = None) -> Program:
    """The program of a submission: a notebook (``notebook=True``, or by its content
    when None, see :func:`~grader.grading.notebook.looks_like_notebook`) or Python
    source; the same checks apply to the code either way. Never raises for bad input."""
    if not (looks_like_notebook(data) if notebook is None else notebook):
        return Program(check_source(data))
    book = read_notebook(data)
    if book.code is None:
        return Program(SourceCheck(None, book.problem), book, list(book.notes))
    checked = check_source(book.code)
    if checked.problem:
        # The limits and checks of a .py file hold for the code; a place in it is a cell's.
        problem = re.sub(r"\bon line (\d+)", lambda m: f"in {book.where(int(m.group(1)))}", checked.problem)
        checked = SourceCheck(None, problem)
    return Program(checked, book, list(book.notes))


def bound_names(statement: ast.stmt) -> set[str]:
    """The names a top-level statement binds (not those bound inside functions it defines)."""
    names: set[str] = set()
    pending: list[ast.AST] = [statement]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            pending.extend(node.decorator_list)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return names


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and not node.level and node.module:
        return [node.module]
    return []


def _clean(text: str, limit: int = _MAX_ERROR_CHARS) -> str:
    """Untrusted text made safe to put in a message: one line, no control or
    direction characters, short."""
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _snippet(code: str) -> str:
    """Code for inside a code span: no backticks (they would end it), one line, short."""
    return _clean(code.replace("`", "'"), _MAX_CODE_CHARS)


def _code_span(text: str) -> str:
    return f"`{text.replace('`', chr(39))}`"
