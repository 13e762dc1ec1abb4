"""Renderers: turn analysed runs into text for a terminal, JSON or Markdown.

Each renderer takes ``(results, failures)`` and returns a string; the CLI
picks one by name. HTML and plots live beside them and import their heavy
dependencies lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Failure, RunResult

Renderer = Callable[["list[RunResult]", "list[Failure]", bool], str]


def get_renderer(name: str) -> Renderer:
    if name == "text":
        from .text import render
    elif name == "json":
        from .jsonfmt import render
    elif name == "markdown":
        from .markdown import render
    else:
        raise ValueError(name)
    return render


TEXT_FORMATS = ("text", "json", "markdown")
