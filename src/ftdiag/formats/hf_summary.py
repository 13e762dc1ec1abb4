"""Hugging Face end-of-run summaries (``all_results.json``,
``train_results.json``, ``eval_results.json``): recognised and refused.

Such a file is one flat JSON object with one number per metric
(``train_loss``, ``eval_loss``, ``eval_<metric>``, runtimes). There is no
curve, and its ``train_loss`` is the *average* over the whole run, not the
final training loss, so even the train/validation gap it suggests is biased
(an average over a falling curve is higher than where training ended). No
honest fit verdict can be drawn from it: it is refused with a message that
quotes its numbers and points at the file that holds the curve
(``trainer_state.json`` in the same output directory or its checkpoints).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InputError, NoDataError
from ..run import Run
from . import CERTAIN, Reader
from ._json import loads
from ._source import Source

_KEY = re.compile(r'"(train_runtime|train_loss|eval_loss|eval_runtime|train_samples_per_second)"\s*:')


def sniff(source: Source) -> float:
    text = source.head_text.lstrip()
    if not text.startswith("{") or '"log_history"' in text or len(source.head) > 32 * 1024:
        return 0.0
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 and lines[0].rstrip().endswith("}") and lines[1].lstrip().startswith("{"):
        return 0.0  # JSON Lines (one object per line), not one summary object
    if len(set(_KEY.findall(text))) >= 2:
        return CERTAIN
    return 0.0


def describe(summary: dict[str, Any]) -> str:
    parts = []
    for k in ("epoch", "train_loss", "eval_loss"):
        v = summary.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            parts.append(f"{k} {v:.4g}")
    for k, v in summary.items():
        if (
            k.startswith("eval_")
            and k != "eval_loss"
            and not re.search(r"runtime|per_second|samples$|preparation|gen_len", k)
            and isinstance(v, (int, float))
            and len(parts) < 5
        ):
            parts.append(f"{k} {v:.4g}")
    return ", ".join(parts)


def refusal(display: str, summary: dict[str, Any]) -> NoDataError:
    nums = describe(summary)
    return NoDataError(
        display,
        "an end-of-run summary (all_results.json style): one number per metric"
        + (f" ({nums})" if nums else "")
        + ", and train_loss is the average over the whole run, so there is no curve to "
        "diagnose; analyze trainer_state.json from the same output directory (or its "
        "latest checkpoint-*/) instead",
    )


def read(source: Source) -> list[Run]:
    data = loads(source.read_text(), source.display)
    if not isinstance(data, dict):
        raise InputError(source.display, "expected a JSON object of end-of-run metrics")
    raise refusal(source.display, data)


READER = Reader(
    name="hf_summary",
    description="Hugging Face all_results.json / train_results.json / eval_results.json (refused: one number per metric, no curve)",
    detects="a small flat JSON object with train_runtime/train_loss/eval_loss keys and no log_history",
    example="ftdiag analyze output/  (reads trainer_state.json, not all_results.json)",
    sniff=sniff,
    read=read,
)
