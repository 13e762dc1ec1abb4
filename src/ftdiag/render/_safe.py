"""Neutralizing strings that came from logs or paths before they are shown.

Run names, metric names, file names and messages quoting a log's content are
data, never markup or terminal commands. Every renderer passes them through
one of these functions:

* :func:`term` for a terminal or stderr: one line; control characters
  (including ESC, which starts ANSI escape sequences), Unicode bidi overrides,
  zero-width and line-separator characters, and undecodable bytes are shown as
  visible escapes (``\\x1b``, ``\\u202e``), and the text is cut at a length limit;
* :func:`md` for Markdown text and table cells, :func:`md_code` for code spans;
* :func:`html_text` for HTML text and attribute values, :func:`html_json` for
  JSON embedded in a ``<script>`` element.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0/C1 controls (ESC starts terminal escape sequences) except tab and newline;
# bidi embeddings/overrides/isolates (they reorder what is shown: "Trojan
# Source"); zero-width characters; line/paragraph separators; BOM; lone
# surrogates (undecodable bytes in file names).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
_MD_LINK_START = re.compile(r"(?i)\b(https?|ftp|www)(:|\.)")
DEFAULT_LIMIT = 2000
ELLIPSIS = "…"


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def visible(s: object, limit: int | None = DEFAULT_LIMIT) -> str:
    """One line: unsafe characters as escapes, newlines and tabs as spaces, cut at ``limit``."""
    text = str(s)
    if limit is not None and len(text) > limit:
        text = text[:limit] + ELLIPSIS
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return _UNSAFE.sub(_escape, text)


def term(s: object, limit: int | None = DEFAULT_LIMIT) -> str:
    """Safe for a terminal: one line, no control characters or escape sequences."""
    return visible(s, limit)


def md(s: object, limit: int | None = DEFAULT_LIMIT) -> str:
    """Safe inside Markdown text and table cells: no markup, no raw HTML, no autolinks."""
    text = visible(s, limit)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = text.replace("&", "&amp;")
    # "http://x" and "www.x" become links on GitHub; a zero-width joiner would
    # hide in copies, so break the pattern with an escaped colon/dot instead
    return _MD_LINK_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)


def md_code(s: object, limit: int | None = DEFAULT_LIMIT, in_table: bool = False) -> str:
    """A Markdown code span showing ``s`` literally (backslashes do not escape inside one)."""
    text = visible(s, limit)
    longest = max((len(r) for r in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`") or not text.strip():
        text = f" {text} "
    if in_table:  # GFM splits table cells on "|" even inside code spans
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def html_text(s: object, limit: int | None = DEFAULT_LIMIT) -> str:
    """Safe as HTML text or a quoted attribute value."""
    import html  # HTML reports only (html.entities: ~2 ms at start-up)

    return html.escape(visible(s, limit), quote=True)


def json_text(serialized: str) -> str:
    """JSON text with the characters :func:`term` escapes written as ``\\uXXXX``
    (valid JSON: they can only occur inside strings), so printing a report to a
    terminal cannot send it escape sequences."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", serialized)


def html_json(obj: Any) -> str:
    """JSON to embed in a ``<script>`` element: ``<``, ``>`` and ``&`` are escaped
    as ``\\u003c`` etc., so no string in it can close the element."""
    text = json_text(json.dumps(obj, allow_nan=False, ensure_ascii=False))
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(a, b)
    return text
