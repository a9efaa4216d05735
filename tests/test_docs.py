"""The documentation: the MkDocs site builds with ``--strict``, and what it shows exists.

``mkdocs build --strict`` fails on a broken link or anchor, a missing page and a page
left out of the navigation. The README is not part of the site, so its links are checked
here; and every ``lossgrader …`` command line in the README and the docs must name real
commands and options. mkdocs is in the ``dev`` extra: without it these tests fail, never skip.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))
LINK_RE = re.compile(r"\]\(([^)\s]+)\)")
HEADING_RE = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
FENCE_RE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE_RE = re.compile(r"`(lossgrader [^`]+)`")
SETTING_RE = re.compile(r"LOSSGRADER_[A-Z0-9_]*[A-Z0-9]")


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.fail(f"{module} is not installed: pip install -e '.[dev]'", pytrace=False)


def test_site_builds_strict(tmp_path: Path) -> None:
    """Every page builds without a warning; the pages by audience and the API document are there."""
    _require("mkdocs")
    _require("material")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about MkDocs 2, not about our docs
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml")]
    done = subprocess.run(
        [*command, "--site-dir", str(site)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    for page in PAGES:
        built = site / "index.html" if page.stem == "index" else site / page.stem / "index.html"
        assert built.is_file(), f"{page.name} was not built"
    assert (site / "openapi.json").read_bytes() == (ROOT / "grader" / "web" / "api" / "openapi.json").read_bytes()
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    assert "/api/v1/labs/{lab_id}/submissions" in api, "the endpoint table was not generated from openapi.json"
    assert "openapi-endpoints" not in api


def _anchors(markdown_file: Path) -> set[str]:
    from markdown.extensions.toc import slugify  # what MkDocs' toc uses for heading ids

    text = FENCE_RE.sub("", markdown_file.read_text(encoding="utf-8"))
    return {slugify(re.sub(r"[`*]", "", heading), "-") for heading in HEADING_RE.findall(text)}


def test_readme_links_lead_somewhere() -> None:
    """Each relative link of the README names a file of the repository, and a heading there if it says one."""
    _require("markdown")
    broken = []
    for target in LINK_RE.findall(README.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = ROOT / path if path else README
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and anchor not in _anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {path}")
    assert not broken, "README links that lead nowhere:\n" + "\n".join(broken)


def _command_lines() -> list[tuple[str, str]]:
    """``(file, command line)`` for every ``lossgrader …`` in code blocks and code spans."""
    found = []
    for file in [README, *PAGES]:
        text = file.read_text(encoding="utf-8")
        blocks = FENCE_RE.findall(text)
        lines = [line.strip().removeprefix("$ ") for block in blocks for line in block.splitlines()]
        spans = INLINE_RE.findall(FENCE_RE.sub("", text))
        found += [(file.name, line) for line in lines + spans if line.startswith("lossgrader ")]
    return found


def _check(line: str, root: click.Group) -> str | None:
    """What is wrong with one documented command line, or None."""
    words = [w.strip("[]") for w in shlex.split(line.split(" > ")[0].split(" | ")[0], comments=True)][1:]
    command: click.Command = root
    context = click.Context(root, info_name="lossgrader")
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        sub = command.get_command(context, words[0])
        if sub is None:
            return f"no command {context.command_path} {words[0]}"
        command, words = sub, words[1:]
        context = click.Context(command, info_name=command.name, parent=context)
    known = {option for param in command.params for option in (*param.opts, *param.secondary_opts)}
    unknown = [w.split("=")[0] for w in words if w.startswith("-") and w.split("=")[0] not in known]
    return f"{context.command_path} has no option {', '.join(unknown)}" if unknown else None


def test_documented_commands_exist() -> None:
    """Every ``lossgrader`` command and option the docs show is one the CLI has."""
    from grader.cli import main

    lines = _command_lines()
    assert len(lines) > 20, "the docs show lossgrader commands; finding none means this test lost them"
    wrong = [f"{file}: `{line}`: {problem}" for file, line in lines if (problem := _check(line, main))]
    assert not wrong, "documented commands the CLI does not have:\n" + "\n".join(wrong)


def _settings_in_code() -> set[str]:
    """Every ``LOSSGRADER_*`` name the code, tests and benchmarks read, including ``Config``'s fields."""
    import dataclasses

    from grader.config import Config

    names = {f"LOSSGRADER_{field.name.upper()}" for field in dataclasses.fields(Config)}
    for folder in ("grader", "tests", "bench"):
        for source in (ROOT / folder).rglob("*.py"):
            names |= set(SETTING_RE.findall(source.read_text(encoding="utf-8", errors="replace")))
    return names


def test_documented_settings_exist() -> None:
    """Every ``LOSSGRADER_*`` variable the README and the docs name is one something reads."""
    known = _settings_in_code()
    documented = {
        (file.name, name) for file in [README, *PAGES] for name in SETTING_RE.findall(file.read_text(encoding="utf-8"))
    }
    unknown = sorted(f"{file}: {name}" for file, name in documented if name not in known)
    assert not unknown, "settings the docs name but nothing reads:\n" + "\n".join(unknown)
