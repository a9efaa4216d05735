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
        return SourceCheck(None, f"syntax error on {where}: {exc.msg}.")
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
