"""Checks on a submitted file before anything runs it.

A file that is not Python source text (binary, not UTF-8, NUL bytes), is empty, is
too large or does not parse is graded 0 with one clear sentence. Parsing happens in
the trusted process with :func:`ast.parse`, which never executes the code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

MAX_SOURCE_BYTES = 256 * 1024


@dataclass
class SourceCheck:
    """The decoded text (when usable), the problem (when not), and defined names."""

    text: str | None
    problem: str | None = None
    defined: list[str] = field(default_factory=list)
    line: int | None = None  # where the problem is, when it is a place in the file
    column: int | None = None  # 1-based
    code: str | None = None  # that line quoted, with a caret under the column


def check_source(data: bytes | str, max_bytes: int = MAX_SOURCE_BYTES) -> SourceCheck:
    """Decode and parse a submission; never raises for bad input."""
    raw = data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else data
    if not raw.strip():
        return SourceCheck(None, "the file is empty.")
    if len(raw) > max_bytes:
        size_kb = -(-len(raw) // 1024)  # rounded up: a file over the limit never reads as "at" it
        return SourceCheck(None, f"the file is {size_kb} KB ({len(raw):,} bytes); the limit is {max_bytes // 1024} KB.")
    if b"\0" in raw:
        return SourceCheck(None, "the file contains NUL bytes; it is not a Python source file.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)  # utf-8-sig counts after the BOM
        line = raw[:start].count(b"\n") + 1
        return SourceCheck(
            None, f"the file is not UTF-8 text (byte 0x{raw[start]:02x} on line {line}); save it as UTF-8."
        )
    try:
        tree = ast.parse(text, filename="submission.py")
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "an unknown line"
        problem = sentence(f"syntax error on {where}: {exc.msg}")
        return SourceCheck(
            None, problem, line=exc.lineno, column=exc.offset, code=quote_line(text, exc.lineno, exc.offset)
        )
    except (ValueError, RecursionError, MemoryError) as exc:
        return SourceCheck(None, f"the file cannot be parsed ({type(exc).__name__}).")
    return SourceCheck(text, None, defined_names(tree))


def defined_names(tree: ast.Module) -> list[str]:
    """Top-level functions, classes, assignments and imports, in order."""
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.extend((a.asname or a.name).split(".")[0] for a in node.names)
    return list(dict.fromkeys(names))


def sentence(text: str) -> str:
    """``text`` ending in one full stop (none added after ``.``, ``?`` or ``!``: no "a comma?.")."""
    text = text.rstrip()
    return text if text.endswith((".", "?", "!", "…")) else text + "."


MAX_QUOTE_CHARS = 160


def quote_line(text: str, line: int | None, column: int | None = None) -> str | None:
    """Line ``line`` of ``text`` as ``"  4 | code"`` with a caret line under ``column``
    (1-based), or under the whole statement when the column is unknown; None when there
    is no such line. Long lines are cut, tabs become spaces so that the caret lines up."""
    lines = text.splitlines()
    if not line or not 1 <= line <= len(lines):
        return None
    code = lines[line - 1].expandtabs(4).rstrip()
    if not code.strip():
        return None
    if len(code) > MAX_QUOTE_CHARS:
        code = code[: MAX_QUOTE_CHARS - 1] + "…"
    gutter = f"{line} | "
    indent = len(code) - len(code.lstrip())
    if column and 1 <= column <= len(code) + 1:
        marks = " " * (column - 1) + "^"
    else:
        marks = " " * indent + "^" * max(1, len(code) - indent)
    return f"{gutter}{code}\n{' ' * (len(gutter) - 2)}| {marks}"
