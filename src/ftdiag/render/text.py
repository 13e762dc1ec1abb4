"""A short, readable verdict for a terminal; colour only when asked (on a TTY)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ._safe import term

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Failure, RunResult

COLOURS = {"overfit": "red", "underfit": "yellow", "good_fit": "green", "inconclusive": "magenta"}


def _value(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v:g}"


def title(r: RunResult) -> str:
    """The run's source, and its name when the source does not say it (a
    file holding several runs: W&B and TensorBoard exports, a console log of
    several ``train()`` calls, merged one-metric files)."""
    source, name = r.run.source, r.run.name
    if name and name != source and not source.endswith(name):
        return f"{term(source)}, run {term(name)}"
    return term(source)


def render(results: list[RunResult], failures: list[Failure], color: bool = False) -> str:
    lines: list[str] = []
    for i, r in enumerate(results):
        if i:
            lines.append("")
        label = r.label.replace("_", " ").upper()
        head = click.style(label, fg=COLOURS.get(r.label), bold=True) if color else label
        lines.append(f"{title(r)} ({r.run.format}): {head}  confidence {r.confidence:.2f}")
        for e in r.evidence:
            lines.append(f"  - {term(e)}")
        if r.recommendations:
            lines.append("  next run:")
            for j, rec in enumerate(r.recommendations):
                name = rec.platform_parameter or rec.parameter
                if rec.action == "keep":
                    change = f"keep {name} = {_value(rec.current)}"
                elif rec.current is None or rec.suggested is None:
                    change = f"{rec.action} {name}" + (f" ({rec.change})" if rec.change else "")
                else:
                    change = f"{rec.action} {name}: {_value(rec.current)} -> {_value(rec.suggested)}"
                tag = "*" if j == 0 else " "
                lines.append(f"   {tag} {change}  ({term(rec.reason)})")
        if r.findings:
            lines.append("  findings:")
            for fnd in r.findings:
                lines.append(f"    [{fnd.severity}] {fnd.name}: {term(fnd.message)}")
        for w in r.warnings:
            lines.append(f"  warning: {term(w)}")
    return "\n".join(lines) + ("\n" if lines else "")
