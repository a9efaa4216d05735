"""Jupyter notebooks (``.ipynb``, nbformat 4) as programs the grader can run.

The code cells, in order, become the program; IPython magics (``%…``, ``%%…``) and
shell escapes (``!…``) are dropped, each listed as a note; outputs stored in the
notebook are ignored. Every program line keeps the cell and the line in the cell it
came from, so that messages can say "cell 3, line 2". Cells are counted from the top
of the notebook, Markdown cells included, as a student scrolling through it counts.

Runs in the trusted process only. ``nbformat`` is imported when a notebook arrives,
never for a ``.py`` file.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

#: Largest notebook file accepted: stored outputs (plots, logs) make notebooks far larger
#: than their code, which is held to the ``.py`` limit once extracted.
MAX_NOTEBOOK_BYTES = 4 * 1024 * 1024
#: Cell magics whose body is Python and runs as usual without the magic.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# A line IPython would treat as a magic or shell escape: "%cmd", "!cmd", "x = !cmd", "x = %cmd".
_MAGIC_LINE = re.compile(r"^\s*(?:[%!]|[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[%!](?!=))")
_MAX_NOTE_CODE = 60


@dataclass
class Notebook:
    """A notebook's program: ``code`` (None when unusable, then ``problem`` says why),
    where each of its lines came from (``origins[line - 1] == (cell, line in cell)``)
    and the notes on what was dropped."""

    code: str | None
    problem: str | None = None
    origins: list[tuple[int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def where(self, line: int) -> str:
        """``"cell 3, line 2"`` for a line of the program."""
        if 1 <= line <= len(self.origins):
            cell, in_cell = self.origins[line - 1]
            return f"cell {cell}, line {in_cell}"
        return f"line {line}"


def looks_like_notebook(data: bytes | str) -> bool:
    """Whether a submission is a notebook by its content: a JSON object that parses as
    one, or that names notebook fields (a broken notebook is still told it is one).
    A Python file never starts with ``{`` and mentions ``"nbformat"`` or ``"cells"``."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.lstrip("\ufeff \t\r\n")
    if not text.startswith("{"):
        return False
    return '"nbformat"' in text[: 1 << 20] or '"cells"' in text[: 1 << 20] or _is_json_object(text)


def is_notebook_name(filename: str | None) -> bool:
    """Whether a file name says notebook (``.ipynb``)."""
    return bool(filename) and str(filename).lower().endswith(".ipynb")


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def read_notebook(data: bytes | str) -> Notebook:
    """The program of a notebook; never raises for bad input (``problem`` says what is wrong)."""
    raw = data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else data
    if len(raw) > MAX_NOTEBOOK_BYTES:
        size_kb = -(-len(raw) // 1024)
        return Notebook(
            None, f"the notebook is {size_kb} KB ({len(raw):,} bytes); the limit is {MAX_NOTEBOOK_BYTES // 1024} KB."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Notebook(None, "the notebook is not UTF-8 text; save it again from Jupyter or Colab.")
    cells, problem = _cells(text)
    if problem:
        return Notebook(None, problem)
    return _program(cells)


def code_cells_text(data: bytes | str) -> str | None:
    """A notebook's code cells as one text for people to read, each under a ``# cell N``
    line (numbered as messages number them); None when ``data`` is not a usable notebook."""
    raw = data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else data
    try:
        cells, problem = _cells(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None
    if problem:
        return None
    parts = [
        f"# cell {number}\n{_source(cell).rstrip()}\n"
        for number, cell in enumerate(cells, 1)
        if cell.get("cell_type") == "code" and _source(cell).strip()
    ]
    return "\n".join(parts) if parts else None


def _cells(text: str) -> tuple[list[Any], str | None]:
    """The notebook's cells (as nbformat 4 reads them) or one sentence on why there are none."""
    import nbformat  # only when a notebook is given: it takes some 0.1 s to import

    try:
        document = json.loads(text)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        return [], f"the notebook is not valid JSON{where}; save it again from Jupyter or Colab."
    except RecursionError:
        return [], "the notebook is not valid JSON (nested too deeply)."
    if not isinstance(document, dict) or "nbformat" not in document:
        return [], 'the file is JSON but not a Jupyter notebook (it has no "nbformat" field).'
    version = document.get("nbformat")
    if not isinstance(version, int) or isinstance(version, bool) or not 3 <= version <= 4:
        return [], f"the notebook's format (nbformat {str(version)[:10]}) is not supported; save it as nbformat 4."
    try:
        # Validation errors are captured, not raised: what matters is that the cells read.
        # nbformat also warns (on stderr) of cells without ids, which notebooks of format
        # 4.5 should have and hand-made ones lack: nothing the student needs to fix.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4, capture_validation_error={})
        cells = list(notebook.get("cells") or [])
    except Exception as exc:  # nbformat's own errors for a broken structure
        return [], f"the notebook cannot be read ({type(exc).__name__}); save it again from Jupyter or Colab."
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or not isinstance(cell.get("source", ""), (str, list)):
            return [], f"cell {number} of the notebook is malformed; save it again from Jupyter or Colab."
    return cells, None


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(str(part) for part in source) if isinstance(source, list) else source


def _program(cells: list[Any]) -> Notebook:
    lines: list[str] = []
    origins: list[tuple[int, int]] = []
    notes: list[str] = []
    for number, cell in enumerate(cells, 1):
        if cell.get("cell_type") != "code":
            continue
        cell_lines = _LINE_BREAK.split(_source(cell))
        while cell_lines and not cell_lines[-1].strip():
            cell_lines.pop()
        cell_lines = _drop_magics(number, cell_lines, notes)
        for in_cell, text in enumerate(cell_lines, 1):
            lines.append(text)
            origins.append((number, in_cell))
    code = "\n".join(lines) + "\n" if lines else ""
    if not code.strip():
        return Notebook(None, "the notebook has no code: its code cells are empty.", notes=notes)
    problem = _syntax_problem(cells, lines, origins)
    return Notebook(code if problem is None else None, problem, origins, notes)


def _drop_magics(cell: int, lines: list[str], notes: list[str]) -> list[str]:
    """The cell's lines with magics and shell escapes turned into ``pass`` (same line
    numbers, same indentation, so that blocks stay blocks); each one noted."""
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].strip()
        name = magic[2:].split(maxsplit=1)[0] if len(magic) > 2 else ""
        if name in PYTHON_CELL_MAGICS:
            notes.append(f"cell {cell}: the cell magic `{_short(magic)}` was dropped; the cell's code runs without it.")
            return ["pass", *lines[1:]]
        notes.append(f"cell {cell}: the whole cell was dropped: `{_short(magic)}` is an IPython cell magic.")
        return ["pass"] + [""] * (len(lines) - 1)
    source = "\n".join(lines)
    if _parses(source):  # valid Python has no magics (a line may still start with "%" or "!" inside brackets)
        return lines
    kept = []
    for number, text in enumerate(lines, 1):
        if _MAGIC_LINE.match(text):
            kind = "a shell command" if text.split("=", 1)[-1].lstrip().startswith("!") else "an IPython magic"
            notes.append(f"cell {cell}, line {number}: `{_short(text.strip())}` was dropped ({kind}).")
            text = text[: len(text) - len(text.lstrip())] + "pass"
        kept.append(text)
    return kept


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _syntax_problem(cells: list[Any], lines: list[str], origins: list[tuple[int, int]]) -> str | None:
    """A syntax error, named by cell: each code cell must parse on its own, as in Jupyter."""
    start = 0
    while start < len(lines):
        cell = origins[start][0]
        end = start
        while end < len(lines) and origins[end][0] == cell:
            end += 1
        try:
            ast.parse("\n".join(lines[start:end]) + "\n")
        except SyntaxError as exc:
            where = f"cell {cell}, line {exc.lineno}" if exc.lineno else f"cell {cell}"
            return f"syntax error in {where}: {exc.msg}."
        except (ValueError, RecursionError, MemoryError) as exc:
            return f"cell {cell} cannot be parsed ({type(exc).__name__})."
        start = end
    return None


def _short(text: str) -> str:
    text = " ".join(text.split()).replace("`", "'")
    return text if len(text) <= _MAX_NOTE_CODE else text[: _MAX_NOTE_CODE - 1] + "…"
