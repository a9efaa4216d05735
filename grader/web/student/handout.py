"""A lab's handout as HTML for the lab page, with its formulas typeset as clean HTML.

Handouts write formulas in plain Unicode (``E = ½ · Σₖ (yₖ − tₖ)²``) in indented blocks,
so that they read well in a terminal too (``lossgrader handout``). On the web such a block
becomes a ``<div class="formula" role="math">``: subscript and superscript characters
become ``<sub>``/``<sup>`` (fonts often lack glyphs such as ``ⱼ``), one-letter variables
``<var>`` (italic), and each part separated by a wide gap may wrap on its own on a phone.
Nothing is loaded at run time: no script, no web font. Fenced code blocks stay code.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape
from typing import Any

from markupsafe import Markup

SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼᵣᵤᵥᵦᵧᵨᵩᵪ", "0123456789+−=()aeoxhklmnpstijruvβγρφχ", strict=True))
SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ", "0123456789+−=()ni", strict=True))
_SCRIPT_RUN = re.compile(f"([{''.join(SUBSCRIPTS)}]+)|([{''.join(SUPERSCRIPTS)}]+)")
_GREEK = "αβγδεζηθικλμνξοπρστυφχψωϕϵ"
#: Characters that make an indented block a formula rather than code.
_MATH = set(SUBSCRIPTS) | set(SUPERSCRIPTS) | set(_GREEK) | set("ΣΠ∑∏·−×÷±≈≠≤≥√∞½∂∇")
_CODE_LINE = re.compile(r"^\s*(def|class|import|from|return|for|while|if|print|>>>|\$)\b")
_TOKEN = re.compile(rf"(?P<word>[A-Za-z]+)|(?P<greek>[{_GREEK}])|(?P<op>[ΣΠ∑∏])|(?P<other>.)", re.DOTALL)
_GAP = re.compile(r"\s{3,}")


def is_formula(text: str) -> bool:
    """Whether an indented block is a formula: mathematical characters, and no line of code."""
    return any(c in _MATH for c in text) and not any(_CODE_LINE.match(line) for line in text.splitlines())


def _scripts(text: str, inner: Any, script: Any = None) -> str:
    """Escaped ``text`` with runs of sub/superscript characters as ``<sub>``/``<sup>``;
    ``inner(plain)`` renders the rest, ``script(plain)`` (default: ``inner``) the runs."""
    script = script or inner
    parts, position = [], 0
    for match in _SCRIPT_RUN.finditer(text):
        parts.append(inner(text[position : match.start()]))
        if match.group(1):
            parts.append(f"<sub>{script(''.join(SUBSCRIPTS[c] for c in match.group(1)))}</sub>")
        else:
            parts.append(f"<sup>{script(''.join(SUPERSCRIPTS[c] for c in match.group(2)))}</sup>")
        position = match.end()
    parts.append(inner(text[position:]))
    return "".join(parts)


def _math_tokens(text: str, indices: bool = False) -> str:
    """One-letter Latin and Greek names as ``<var>``; ``ln``, ``exp``, ``max`` upright; Σ larger.
    With ``indices`` (a subscript such as ``nk``), every letter is a variable of its own."""
    out = []
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group()
        if kind == "word" and indices:
            out.extend(f"<var>{letter}</var>" for letter in value)
        elif kind == "word":
            out.append(f"<var>{value}</var>" if len(value) == 1 else f'<span class="fn">{value}</span>')
        elif kind == "greek":
            out.append(f"<var>{value}</var>")
        elif kind == "op":
            out.append(f'<span class="op">{value}</span>')
        else:
            out.append(escape(value, quote=False))
    return "".join(out)


def formula_html(text: str) -> str:
    """A formula block as HTML (see the module's docstring)."""
    lines = []
    for line in text.strip("\n").splitlines():
        parts = [p for p in _GAP.split(line.strip()) if p]
        spans = "".join(
            f'<span class="formula-part">{_scripts(p, _math_tokens, lambda s: _math_tokens(s, indices=True))}</span>'
            for p in parts
        )
        lines.append(f'<span class="formula-line">{spans}</span>')
    label = escape(" ".join(_GAP.sub(" ", line.strip()) for line in text.strip().splitlines()))
    return f'<div class="formula" role="math" aria-label="{label}">{"".join(lines)}</div>\n'


def _code_block(renderer: Any, tokens: Any, index: int, options: Any, env: Any) -> str:
    content = tokens[index].content
    if is_formula(content):
        return formula_html(content)
    return f"<pre><code>{escape(content, quote=False)}</code></pre>\n"


def _text(renderer: Any, tokens: Any, index: int, options: Any, env: Any) -> str:
    return _scripts(tokens[index].content, lambda plain: escape(plain, quote=False))


def _nest_headings(state: Any) -> None:
    """One level down (``#`` → ``<h2>``): a handout sits under its page's own ``<h1>``."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # As the ``markdown`` filter: CommonMark with tables; raw HTML in a handout is shown as text.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.core.ruler.push("nest_headings", _nest_headings)
    md.add_render_rule("code_block", _code_block)
    md.add_render_rule("text", _text)
    return md


@lru_cache(maxsize=16)
def _render(text: str) -> str:
    # A code block wider than a phone scrolls: focusable, so that the keyboard can scroll it (axe-core's
    # scrollable-region-focusable). Raw HTML is off: every ``<pre>`` here is a code block's.
    return _markdown().render(text).replace("<pre>", '<pre tabindex="0">')


def render_handout(text: str | None, title: str | None = None) -> Markup:
    """The handout's Markdown as HTML, formulas typeset (raw HTML in it is escaped).

    A first line ``# {title}`` is left out: the page says the title already.
    """
    text = text or ""
    if title:
        first, _, rest = text.lstrip("\n").partition("\n")
        if first.strip() == f"# {title}".strip():
            text = rest
    return Markup(_render(without_check_section(text)))


def without_check_section(text: str) -> str:
    """The handout without its section on ``lossgrader check``: the lab page has a panel
    of its own for that, and a student should read the command once (the terminal's
    ``lossgrader lab handout`` keeps it)."""
    sections = re.split(r"(?m)^(?=## )", text)
    kept = [s for s in sections if not (s.startswith("## ") and "lossgrader check" in s)]
    return "".join(kept)


def check_command(lab_id: str, handout: str | None) -> str:
    """The command that checks a file locally, with the file name the handout uses
    (``lossgrader check lab01.py --lab lab01-mse``), so the page and the handout agree."""
    found = re.search(rf"lossgrader check (\S+\.py) --lab {re.escape(lab_id)}\b", handout or "")
    filename = found.group(1) if found else f"{lab_id.split('-')[0]}.py"
    return f"lossgrader check {filename} --lab {lab_id}"
