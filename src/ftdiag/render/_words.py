"""Short phrases shared by the report renderers and the plots (plain text, unescaped).

Callers escape for their medium (Markdown, HTML, matplotlib text).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..advice import Recommendation
    from ..api import RunResult

VERDICT_WORDS = {
    "overfit": "OVERFIT",
    "underfit": "UNDERFIT",
    "good_fit": "GOOD FIT",
    "inconclusive": "INCONCLUSIVE",
}


def verdict(label: str) -> str:
    return VERDICT_WORDS.get(label, label.replace("_", " ").upper())


def number(v: object) -> str:
    """A compact number: 4 significant digits, integers without a decimal point."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "n/a"
        if v == int(v) and abs(v) < 1e9:
            return str(int(v))
        return f"{v:.4g}"
    return str(v)


def is_fraction_metric(name: str | None, higher_is_better: bool) -> bool:
    """Accuracy-like metrics stored as fractions print as percents."""
    from ..run import looks_like_task_metric

    return bool(name) and higher_is_better and looks_like_task_metric(str(name))


def metric_value(v: float | None, as_percent: bool, difference: bool = False) -> str:
    """A metric value (``83.6%`` for an accuracy) or a difference of two (``23.0%``)."""
    if v is None or not math.isfinite(v):
        return "n/a"
    lo = -1.0 if difference else 0.0
    if as_percent and lo <= v <= 1.0:
        return f"{100 * v:.1f}%"
    return f"{v:.4g}"


def change(rec: Recommendation) -> str:
    """``decrease n_epochs: 12 -> 5`` or ``keep n_epochs = 6``."""
    name = rec.platform_parameter or rec.parameter
    if rec.action == "keep":
        return f"keep {name}" + (f" = {number(rec.current)}" if rec.current is not None else "")
    if rec.current is None or rec.suggested is None:
        # the current value is unknown: the relative change (x0.5, +1..2) instead
        return f"{rec.action} {name}" + (f" ({rec.change})" if rec.change else "")
    return f"{rec.action} {name}: {number(rec.current)} -> {number(rec.suggested)}"


def top_recommendation(r: RunResult) -> str:
    if not r.recommendations:
        return ""
    rec = r.recommendations[0]
    return f"{change(rec)} ({rec.reason})"


def best_validation(r: RunResult) -> str:
    """``83.6% val_accuracy at epoch 5`` (the point the verdict used)."""
    val = r.features.val
    if val is None:
        return "n/a"
    pct = is_fraction_metric(val.name, val.sign > 0)
    unit = "epoch" if r.run.x_unit == "epoch" else "step"
    return f"{metric_value(val.best, pct)} {val.name} at {unit} {number(val.best_step)}"


_SLUG_BAD = re.compile(r"[^A-Za-z0-9_-]+")


def slug(name: str, taken: set[str] | None = None, limit: int = 60) -> str:
    """A file-name-safe, URL-safe stem for a run name, unique within ``taken``."""
    base = _SLUG_BAD.sub("_", name).strip("_")[:limit] or "run"
    out = base
    i = 2
    while taken is not None and out.lower() in taken:
        out = f"{base}-{i}"
        i += 1
    if taken is not None:
        taken.add(out.lower())
    return out
