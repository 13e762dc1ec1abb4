"""LLaMA-Factory ``trainer_log.jsonl``.

One JSON object per line: always ``current_steps``, ``total_steps``,
``percentage``, ``elapsed_time``, ``remaining_time``; usually ``loss``, a
learning rate (``lr`` in newer releases, ``learning_rate`` in older ones) and
``epoch``. Evaluation lines carry ``eval_loss`` (and ``eval_<metric>``)
instead of ``loss``, at the step of the preceding training line. The last
line is often a summary without ``loss``.

Quirks handled: a multi-GPU run writes every line once per process (the same
``current_steps`` twice in a row with slightly different values): the first
is kept, with a warning. A resumed run repeats steps after a higher one: the
later values win (with a warning). A last line cut short (a run still being
written) is skipped with a warning; so are other lines that are not JSON,
named by line number. Files with no ``loss`` anywhere (progress-only lines, a
single summary line) are refused with a message that says so. Streaming, one
pass.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict

import numpy as np

from ..errors import InputError, NoDataError
from ..hyperparams import Hyperparameters
from ..run import Run, Series, looks_like_task_metric, make_series
from . import CERTAIN, Reader
from ._json import _parse_int
from ._lines import Grouped, LineStats, head_text, iter_segments, to_number
from ._source import Source

_KEYS = re.compile(r'^\s*\{\s*"current_steps"\s*:|"current_steps"\s*:\s*\d+\s*,\s*"total_steps"')
# what a training line contributes (the rest are progress counters)
_TRAIN_KEYS = frozenset({"current_steps", "loss", "lr", "epoch", "grad_norm"})
_EVAL_SKIP = re.compile(r"^eval_(runtime|samples_per_second|steps_per_second|model_preparation_time)$")
_PREFERRED = ("eval_accuracy", "eval_acc", "eval_f1", "eval_mean_token_accuracy")
MAX_BAD = 20  # non-JSON lines tolerated (with a warning) before giving up


def sniff(source: Source) -> float:
    for line in head_text(source).splitlines():
        if line.strip():
            return CERTAIN if _KEYS.search(line) and '"total_steps"' in line else 0.0
    return 0.0


def read(source: Source) -> list[Run]:
    stats = LineStats()
    train, evals = Grouped(), Grouped()  # bounded: long logs are averaged in groups
    ev_keys: dict[str, int] = defaultdict(int)
    spe: float | None = None  # steps per epoch, from the last line that has both
    bad: list[int] = []
    last_bad_text = ""
    n_lines = 0
    last_line = 0
    dup_steps: list[float] = []
    back_steps: list[float] = []
    last_of = {"train": -math.inf, "eval": -math.inf}
    summary: dict[str, float] = {}
    total_steps: float | None = None
    for lineno, line in iter_segments(source, None, stats):
        last_line = lineno
        s = line.strip()
        if not s:
            continue
        n_lines += 1
        try:
            obj = json.loads(s, parse_int=_parse_int)
        except (json.JSONDecodeError, RecursionError, ValueError):
            obj = None
        if not isinstance(obj, dict):
            bad.append(lineno)
            last_bad_text = s[:60]
            if len(bad) > MAX_BAD and len(bad) > n_lines // 2:
                raise InputError(
                    source.display,
                    f"expected one JSON object per line (LLaMA-Factory trainer_log.jsonl); got {s[:60]!r}",
                    where=f"line {lineno}",
                )
            continue
        d = {k: n for k, v in obj.items() if isinstance(k, str) and (n := to_number(v)) is not None}
        step = d.get("current_steps")
        if step is None:
            bad.append(lineno)
            last_bad_text = s[:60]
            continue
        if d.get("total_steps") is not None:
            total_steps = d["total_steps"]
        if "learning_rate" in d and "lr" not in d:
            d["lr"] = d["learning_rate"]
        kind = "eval" if any(k.startswith("eval_") for k in d) else ("train" if "loss" in d else None)
        if kind is None:
            summary = d
            continue
        if step == last_of[kind]:
            dup_steps.append(step)
            continue
        if step < last_of[kind]:
            back_steps.append(step)
        last_of[kind] = step
        ep = d.get("epoch")
        if ep and ep > 0 and math.isfinite(ep) and math.isfinite(step):
            spe = step / ep
        row = {k: v for k, v in d.items() if k in _TRAIN_KEYS or (kind == "eval" and k.startswith("eval_"))}
        row["_seq"] = float(n_lines)  # log order, so a resumed run's later value of a step wins
        if kind == "train":
            train.add(row)
        else:
            evals.add(row)
            for k in d:
                if len(ev_keys) < 256 or k in ev_keys:
                    ev_keys[k] += 1
    warnings: list[str] = []
    if bad:
        if bad == [last_line]:
            warnings.append(
                f"{source.display}, line {last_line}: the last line is not complete JSON "
                "(a run still being written?); read the lines before it"
            )
        elif len(bad) >= n_lines:
            raise InputError(
                source.display,
                f"expected one JSON object per line with 'current_steps' (LLaMA-Factory trainer_log.jsonl); got {last_bad_text!r}",
                where=f"line {bad[0]}",
            )
        else:
            shown = ", ".join(str(b) for b in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            warnings.append(f"{source.display}: skipped {len(bad)} line(s) that are not LLaMA-Factory JSON objects: line {shown}")
    if dup_steps:
        warnings.append(
            f"{source.display}: {len(dup_steps)} line(s) repeat the step of the line before "
            f"(first at step {dup_steps[0]:g}; one line per process in a multi-GPU run?): kept the first of each"
        )
    if back_steps:
        warnings.append(
            f"{source.display}: the step went back {len(back_steps)} time(s) (first to step {back_steps[0]:g}; "
            "a resumed run?): the later values of a repeated step win"
        )
    if not len(train) and not len(evals):
        if n_lines <= 1 and summary:
            msg = "a single end-of-run line with no loss: this trainer_log.jsonl holds no training curve"
        elif n_lines:
            msg = (
                f"{n_lines} progress line(s) (current_steps, percentage, elapsed_time) but no 'loss' "
                "or 'eval_loss' on any of them: nothing to diagnose (read trainer_state.json from "
                "the same output directory if there is one)"
            )
        else:
            msg = "the file is empty"
        raise NoDataError(source.display, msg)

    def series(rows: Grouped, key: str) -> Series | None:
        got = rows.arrays3(key, "current_steps", "epoch")
        seq = rows.arrays(key, "_seq")
        if got is None or seq is None:
            return None
        order = np.argsort(seq[0], kind="stable")
        return make_series(key, got[0][order], got[1][order], got[2][order])

    metric_keys = {k: n for k, n in ev_keys.items() if not k.endswith("loss") and not _EVAL_SKIP.match(k) and k.startswith("eval_")}
    metric = next((k for k in _PREFERRED if k in metric_keys), None) or next(
        (k for k in sorted(metric_keys, key=lambda k: -metric_keys[k]) if looks_like_task_metric(k)), None
    )
    extra: dict[str, Series] = {}
    lr = series(train, "lr")
    if lr is not None:
        extra["learning_rate"] = lr
    others = sorted(k for k in ev_keys if k.startswith("eval_") and k.endswith("_loss") and k != "eval_loss")
    for k in others:
        other = series(evals, k)
        if other is not None:
            extra[k] = other
    val_loss = series(evals, "eval_loss")
    if val_loss is None and others:
        val_loss = extra.pop(others[0])
    for rows, what in ((train, "training lines"), (evals, "evaluation lines")):
        note = rows.bound_note(source.display, what)
        if note:
            warnings.append(note)
    hp: dict[str, float] = {}
    if lr is not None and np.isfinite(lr.values).any() and np.nanmax(np.where(np.isfinite(lr.values), lr.values, np.nan)) > 0:
        hp["learning_rate"] = float(np.nanmax(np.where(np.isfinite(lr.values), lr.values, np.nan)))
    if spe and total_steps:
        hp["n_epochs"] = round(total_steps / spe, 2)
    return [
        Run(
            source=source.display,
            format="llamafactory_jsonl",
            name=source.name,
            train_loss=series(train, "loss"),
            val_loss=val_loss,
            val_metric=series(evals, metric) if metric else None,
            extra=extra,
            hyperparameters=Hyperparameters(**hp, sources={k: "log" for k in hp}),
            platform="llamafactory",
            x_unit="step",
            steps_per_epoch=spe,
            planned_steps=total_steps,
            metadata={"summary": summary or None},
            warnings=tuple(warnings),
        )
    ]


READER = Reader(
    name="llamafactory_jsonl",
    description="LLaMA-Factory trainer_log.jsonl (one JSON object per line with current_steps, loss, eval_loss)",
    detects="first line a JSON object with 'current_steps' and 'total_steps'",
    example="ftdiag analyze saves/llama3-8b/lora/sft/trainer_log.jsonl",
    sniff=sniff,
    read=read,
)
