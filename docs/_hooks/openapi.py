"""MkDocs hook: publish the API's OpenAPI document and list its endpoints from it.

The document lives with the code (``grader/web/api/openapi.json``, served at
``/api/v1/openapi.json``); the site gets a copy at ``openapi.json``, and the marker
``<!-- openapi-endpoints -->`` in a page becomes a table of its operations, so the API page
cannot drift from what the server says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

SOURCE = Path(__file__).resolve().parents[2] / "grader" / "web" / "api" / "openapi.json"
MARKER = "<!-- openapi-endpoints -->"
METHODS = ("get", "post", "put", "patch", "delete")


def _document() -> dict[str, Any]:
    return json.loads(SOURCE.read_text(encoding="utf-8"))


def endpoint_table(document: dict[str, Any]) -> str:
    """A Markdown table of every operation: method, path, summary, response codes."""
    rows = ["| method | path | what it does | responses |", "|---|---|---|---|"]
    for path, operations in document["paths"].items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            codes = ", ".join(sorted(operation.get("responses", {})))
            summary = operation.get("summary", "").replace("|", "\\|")
            rows.append(f"| `{method.upper()}` | `{path}` | {summary} | {codes} |")
    return "\n".join(rows)


def on_files(files: Files, config: Any) -> Files:
    """Add the OpenAPI document to the site as ``openapi.json``."""
    files.append(File.generated(config, "openapi.json", content=SOURCE.read_bytes()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Replace the endpoints marker with the table built from the OpenAPI document."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, endpoint_table(_document()))
