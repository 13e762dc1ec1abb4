"""Neutralizing strings that came from logs or paths before they are shown."""

from __future__ import annotations

import html
import re

# C0/C1 control characters (ESC starts terminal escape sequences), except tab
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def term(s: object) -> str:
    """Safe for a terminal: control characters and escape sequences become '?'."""
    return _CONTROL.sub("?", str(s)).replace("\n", " ")


def md(s: object) -> str:
    """Safe inside Markdown text and table cells: no markup, no raw HTML."""
    text = _CONTROL.sub("?", str(s)).replace("\n", " ")
    text = html.escape(text, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text).replace("&lt;", "\\<").replace("&gt;", "\\>")


def html_text(s: object) -> str:
    return html.escape(_CONTROL.sub("?", str(s)), quote=True)
