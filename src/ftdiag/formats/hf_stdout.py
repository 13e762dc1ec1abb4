"""Hugging Face Trainer console output (what ``trainer.train()`` prints).

The Trainer prints each log as a Python dict literal:
``{'loss': 0.51, 'learning_rate': 2e-05, 'epoch': 1.0}`` (training),
``{'eval_loss': 0.4, 'eval_f1': 0.9, ..., 'epoch': 1.0}`` (evaluation) and a
final ``{'train_runtime': ..., 'train_loss': ..., 'epoch': 3.0}`` (summary).
Around them: tqdm bars (the dicts can be glued to a bar, padded with spaces,
or sit between ``\\r`` updates), warnings, tracebacks, mojibake. Recent
transformers releases quote every value (``{'loss': '0.1162', ...}``), and
numpy 2 prints ``np.float64(0.87)``; both are understood.

Parsing is safe and streaming: the file is read once, line by line, with
bounded memory; each candidate ``{...}`` (flat, at most ``MAX_DICT``
characters) goes to :func:`ast.literal_eval`, never ``eval``.

**x axis.** The console prints no step numbers, only ``epoch``, so the run is
put on an epoch axis (``x_unit="epoch"``). Older releases round the epoch to
two decimals, so several training logs can print the same epoch; they are
spread evenly back towards the previous printed epoch, so no point is lost
and the last of them keeps the printed value. A log with no ``epoch`` at all
is put on the running index of its metric dicts (``x_unit="step"``, with a
warning saying so).

**Several runs.** One console log can hold several ``Trainer.train()`` calls.
A new run starts after a summary dict (except an evaluation at the summary's
epoch: that is the usual ``trainer.evaluate()`` after training), or when the
epoch goes backwards (a restart; said in a warning). Each run is its own
:class:`Run`, named ``<file>#run<k>`` when there are several.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import NoDataError
from ..hyperparams import Hyperparameters
from ..run import Run, Series, XUnit, looks_like_task_metric, make_series
from . import CERTAIN, Reader
from ._lines import LineStats, head_text, iter_segments
from ._source import Source

MAX_DICT = 16384  # characters in one candidate dict literal
# a flat dict literal: no braces inside, bounded length, on one segment
_CANDIDATE = re.compile(r"\{['\"][^{}\r\n]{0,MAX}\}".replace("MAX", str(MAX_DICT)))
# where metric dicts begin (used both for the fast scan and for sniffing)
_FIND = re.compile(r"\{['\"]")
_METRIC_START = re.compile(
    r"\{'(loss|eval_[A-Za-z0-9_./-]+|train_runtime|train_loss|grad_norm|learning_rate)'\s*:"
)
# HF messages that say "this is a Trainer console log" even before any metric
_MARKERS = re.compile(
    r"\*{5} Running training \*{5}|`use_cache=True` is incompatible with gradient checkpointing"
    r"|transformers/trainer\.py|TrainOutput\(global_step=|Num examples = |Total optimization steps = "
)
_NUMPY = re.compile(r"\b(?:np|numpy)\.(?:float|int|uint)\d*\(\s*([^()]{1,64}?)\s*\)")
_TENSOR = re.compile(r"\btensor\(\s*([-+0-9.eE]+|nan|inf|-inf)\s*(?:,[^()]*)?\)")
_BARE = re.compile(r"(:\s*)(-?(?:nan|inf|NaN|Infinity))(?=\s*[,}])")
_EVAL_SKIP = re.compile(r"^eval_(runtime|samples_per_second|steps_per_second|model_preparation_time)$")
_PREFERRED = ("eval_accuracy", "eval_acc", "eval_f1", "eval_macro_f1", "eval_mean_token_accuracy")


def sniff(source: Source) -> float:
    text = head_text(source)
    if _METRIC_START.search(text):
        return CERTAIN
    if _MARKERS.search(text):
        return 0.4  # a Trainer log whose metrics (if any) start later
    return 0.0


def to_number(v: Any) -> float | None:
    """A dict value as a float: numbers, numeric strings ('4.927e-05', 'nan')."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        try:
            return float(v)
        except OverflowError:
            return None
    if isinstance(v, str) and len(v) < 64:
        try:
            return float(v.strip().rstrip("%"))
        except ValueError:
            return None
    return None


# The usual dict, {'loss': 0.51, 'learning_rate': '2e-05', ...}, read by two
# regular expressions instead of ast.literal_eval (~15x faster; a gigabyte log
# holds millions): plain keys, and values that are decimal literals or short
# quoted strings. Anything else (True, None, nested values, escapes, leading
# zeros, ...) goes to literal_eval, so the result is always literal_eval's.
_KEY = r"'[A-Za-z_][A-Za-z0-9_./\-]{0,127}'"
_VALUE = (
    r"-?(?:0|[1-9][0-9]{0,29})(?:\.[0-9]{0,30})?(?:[eE][-+]?[0-9]{1,3})?"
    r"|-?\.[0-9]{1,30}(?:[eE][-+]?[0-9]{1,3})?"
    r"|'[^'\\\n]{0,63}'"
)
_PAIR_SHAPE = _KEY + r"\s*:\s*(?:" + _VALUE + ")"
_FLAT_DICT = re.compile(r"\{\s*" + _PAIR_SHAPE + r"(?:\s*,\s*" + _PAIR_SHAPE + r")*\s*,?\s*\}")
_PAIR = re.compile("(" + _KEY + r")\s*:\s*(" + _VALUE + ")")


def _parse_flat(text: str) -> dict[str, float] | None:
    if _FLAT_DICT.fullmatch(text) is None:
        return None
    pairs = _PAIR.findall(text)
    if len({k for k, _ in pairs}) != len(pairs):
        return None  # a repeated key: literal_eval's order rules apply
    out: dict[str, float] = {}
    for key, raw in pairs:
        if raw[0] == "'":
            n = to_number(raw[1:-1])
        elif "." in raw or "e" in raw or "E" in raw:
            n = float(raw)
        else:
            n = float(int(raw))  # an int literal: -0 is 0, as literal_eval has it
        if n is not None:
            out[key[1:-1]] = n
    return out


def parse_dict(text: str) -> dict[str, float] | None:
    """A metric dict literal as ``{key: float}``, or None. Never evaluates code."""
    if len(text) > MAX_DICT + 2:
        return None
    if "(" in text:
        text = _NUMPY.sub(r"\1", text)
        text = _TENSOR.sub(r"\1", text)
    text = _BARE.sub(r"\1'\2'", text)
    flat = _parse_flat(text)
    if flat is not None:
        return flat
    return _parse_literal(text)


def _parse_literal(text: str) -> dict[str, float] | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    out: dict[str, float] = {}
    for k, v in value.items():
        if isinstance(k, str):
            n = to_number(v)
            if n is not None:
                out[k] = n
    return out


def kind_of(d: dict[str, float]) -> str | None:
    if any(k.startswith("eval_") for k in d):
        return "eval"
    if "train_runtime" in d or ("train_loss" in d and "loss" not in d):
        return "summary"
    if "loss" in d:
        return "train"
    return None


@dataclass
class _Run:
    first_line: int
    train: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    evals: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    summary: dict[str, float] | None = None
    last_epoch: float = -math.inf
    index: int = 0  # running index of metric dicts

    def empty(self) -> bool:
        return not self.train and not self.evals


def _spread_ties(epochs: list[float]) -> list[float]:
    """Strictly increasing x from printed (rounded) epochs: a group of k equal
    epochs e after a previous distinct epoch p becomes e-(e-p)(k-1)/k ... e."""
    out: list[float] = []
    i, prev = 0, 0.0
    while i < len(epochs):
        j = i
        while j + 1 < len(epochs) and epochs[j + 1] == epochs[i]:
            j += 1
        e, k = epochs[i], j - i + 1
        lo = prev if prev < e else e - 1.0 / k
        for n in range(k):
            out.append(e - (e - lo) * (k - 1 - n) / k)
        prev = e
        i = j + 1
    return out


def _choose_eval_metric(evals: list[dict[str, float]]) -> str | None:
    keys: dict[str, int] = {}
    for e in evals:
        for k in e:
            if k.startswith("eval_") and not k.endswith("loss") and not _EVAL_SKIP.match(k) and k != "eval_epoch":
                keys[k] = keys.get(k, 0) + 1
    for k in _PREFERRED:
        if k in keys:
            return k
    task = [k for k in keys if looks_like_task_metric(k)]
    return max(task, key=lambda k: keys[k]) if task else None


def _build(r: _Run, source: Source, name: str, warnings: list[str]) -> Run:
    entries = sorted(r.train + r.evals, key=lambda e: e[1]["_index"])
    has_epoch = any("epoch" in d for _, d in entries)
    has_step = all("step" in d for _, d in entries)
    if has_epoch:
        # an evaluation before training prints no epoch: it is at epoch 0;
        # any other dict without one is where the previous one was
        last = 0.0
        for _, d in entries:
            last = d.setdefault("epoch", last)
    x_unit: XUnit
    if has_step:
        x_unit = "step"

        def xs_of(entries: list[tuple[int, dict[str, float]]]) -> list[float]:
            return [d["step"] for _, d in entries]

        train_x = xs_of(r.train)
    elif has_epoch:
        x_unit = "epoch"
        train_x = _spread_ties([d["epoch"] for _, d in r.train])
    else:
        x_unit = "step"
        warnings.append(
            f"{source.display}: the metric lines carry no 'epoch': the x axis is the "
            "running count of logged dicts, not optimizer steps"
        )
        train_x = [float(d["_index"]) for _, d in r.train]

    def eval_x(d: dict[str, float]) -> float:
        if has_step:
            return d["step"]
        if has_epoch:
            return d["epoch"]
        return d["_index"]

    def series(entries: list[tuple[int, dict[str, float]]], xs: list[float], key: str) -> Series | None:
        pts = [(x, d[key], d.get("epoch", math.nan)) for x, (_, d) in zip(xs, entries, strict=True) if key in d]
        if not pts:
            return None
        arr = np.asarray(pts, dtype=np.float64)
        return make_series(key, arr[:, 0], arr[:, 1], arr[:, 2])

    ev = [d for _, d in r.evals]
    ev_x = [eval_x(d) for d in ev]
    metric = _choose_eval_metric(ev)
    train_metric = next((k for k in ("mean_token_accuracy", "accuracy", "train_accuracy") if any(k in d for _, d in r.train)), None)
    extra: dict[str, Series] = {}
    for key in ("learning_rate", "grad_norm"):
        s = series(r.train, train_x, key)
        if s is not None:
            extra[key] = s
    other_losses = sorted({k for d in ev for k in d if k.startswith("eval_") and k.endswith("_loss") and k != "eval_loss"})
    for key in other_losses:
        s = series(r.evals, ev_x, key)
        if s is not None:
            extra[key] = s
    val_loss = series(r.evals, ev_x, "eval_loss")
    if val_loss is None and other_losses:
        val_loss = extra.pop(other_losses[0])
        warnings.append(
            f"{source.display}: no plain eval_loss; validation loss is {other_losses[0]} "
            f"(of {', '.join(other_losses)})"
        )
    lrs = [d["learning_rate"] for _, d in r.train if "learning_rate" in d and math.isfinite(d["learning_rate"])]
    hp_values: dict[str, float] = {}
    if lrs:
        hp_values["learning_rate"] = max(lrs)
    summary = r.summary or {}
    return Run(
        source=source.display,
        format="hf_stdout",
        name=name,
        train_loss=series(r.train, train_x, "loss"),
        val_loss=val_loss,
        train_metric=series(r.train, train_x, train_metric) if train_metric else None,
        val_metric=series(r.evals, ev_x, metric) if metric else None,
        extra=extra,
        hyperparameters=Hyperparameters(**hp_values, sources={k: "log" for k in hp_values}),
        platform="huggingface",
        x_unit=x_unit,
        steps_per_epoch=1.0 if x_unit == "epoch" else None,
        metadata={
            "first_line": r.first_line,
            "summary_train_loss": summary.get("train_loss"),
            "summary_epoch": summary.get("epoch"),
            "finished": r.summary is not None,
        },
        warnings=tuple(warnings),
    )


def read(source: Source) -> list[Run]:
    stats = LineStats()
    runs: list[_Run] = []
    cur: _Run | None = None
    restarts: list[str] = []
    n_dicts = 0
    for lineno, seg in iter_segments(source, _FIND, stats):
        for m in _CANDIDATE.finditer(seg):
            d = parse_dict(m.group())
            if d is None:
                continue
            kind = kind_of(d)
            if kind is None:
                continue
            n_dicts += 1
            ep = d.get("epoch")
            if kind == "summary":
                # a second summary (the TrainOutput repr a script prints) or
                # one with no curve before it adds nothing
                if cur is not None and cur.summary is None:
                    cur.summary = d
                continue
            new = cur is None
            if cur is not None and cur.summary is not None:
                sep = cur.summary.get("epoch")
                if kind == "eval" and ep is not None and sep is not None and ep == sep:
                    # trainer.evaluate() after training: keep the in-training
                    # value when one exists at this epoch
                    if not any(e.get("epoch") == ep for _, e in cur.evals):
                        d["_index"] = cur.index = cur.index + 1
                        cur.evals.append((lineno, d))
                    continue
                new = True
            elif cur is not None and ep is not None and ep < cur.last_epoch - 1e-9:
                restarts.append(f"line {lineno} (epoch {cur.last_epoch:g} -> {ep:g})")
                new = True
            if new:
                cur = _Run(first_line=lineno)
                runs.append(cur)
            assert cur is not None
            cur.index += 1
            d["_index"] = float(cur.index)
            if ep is not None and math.isfinite(ep):
                cur.last_epoch = max(cur.last_epoch, ep)
            (cur.train if kind == "train" else cur.evals).append((lineno, d))
    warnings: list[str] = []
    if stats.truncated:
        warnings.append(
            f"{source.display}: {len(stats.truncated)} over-long line(s) were cut "
            f"(first at line {stats.truncated[0]})"
        )
    if restarts:
        warnings.append(
            f"{source.display}: the epoch went backwards at {', '.join(restarts[:3])}: "
            "read as a new run each time (a restarted training)"
        )
    kept = [r for r in runs if not r.empty()]
    if not kept:
        last_bar = re.findall(r"(\d+)/(\d+) \[", stats.tail)
        where = f" (the last progress bar shows {last_bar[-1][0]}/{last_bar[-1][1]})" if last_bar else ""
        raise NoDataError(
            source.display,
            "no Trainer metric lines ({'loss': ...} or {'eval_loss': ...}) in this console log: "
            f"the run stopped before its first logging step{where}, or logging went elsewhere",
        )
    out = []
    for i, r in enumerate(kept, 1):
        suffix = "" if len(kept) == 1 else f"#run{i}"
        w = list(warnings) if i == 1 else []  # file-level warnings once
        if r.summary is None and i == len(kept):
            w.append(
                f"{source.display}{suffix}: no end-of-training summary line: the run was "
                "interrupted or is still running"
            )
        out.append(_build(r, source, source.name + suffix, w))
    return out


READER = Reader(
    name="hf_stdout",
    description="Hugging Face Trainer console output (dict lines such as {'loss': 0.51, 'epoch': 1.0} among progress bars)",
    detects="a line holding {'loss': ...}, {'eval_...': ...} or {'train_runtime': ...} in the first 64 KB, "
    "or Trainer banner messages",
    example="ftdiag analyze train_log.txt",
    sniff=sniff,
    read=read,
)
