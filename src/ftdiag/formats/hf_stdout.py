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
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, NoDataError
from ..hyperparams import Hyperparameters
from ..run import Run, Series, XUnit, looks_like_task_metric, make_series
from . import CERTAIN, LINES, Reader
from ._lines import LineStats, Rows, head_text, iter_segments, to_number
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
# documents and code can quote Trainer banners; they are not logs
_NOT_LOGS = (".md", ".rst", ".html", ".htm", ".py", ".ipynb", ".json", ".yaml", ".yml", ".toml", ".cfg", ".ini")
_NUMPY = re.compile(r"\b(?:np|numpy)\.(?:float|int|uint)\d*\(\s*([^()]{1,64}?)\s*\)")
_TENSOR = re.compile(r"\btensor\(\s*([-+0-9.eE]+|nan|inf|-inf)\s*(?:,[^()]*)?\)")
_BARE = re.compile(r"(:\s*)(-?(?:nan|inf|NaN|Infinity))(?=\s*[,}])")
_EVAL_SKIP = re.compile(r"^eval_(runtime|samples_per_second|steps_per_second|model_preparation_time)$")
_PREFERRED = ("eval_accuracy", "eval_acc", "eval_f1", "eval_macro_f1", "eval_mean_token_accuracy")


def sniff(source: Source) -> float:
    text = head_text(source)
    if _METRIC_START.search(text):
        return CERTAIN
    if _MARKERS.search(text) and not source.name.lower().endswith(_NOT_LOGS):
        return 0.4  # a Trainer log whose metrics (if any) start later
    return 0.0


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
        # a bad escape in a string ('\8') makes the compiler warn (a
        # SyntaxWarning on the user's terminal from Python 3.12): not news
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
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


MAX_GROUPS = 32  # distinct key sets of metric dicts kept per run


@dataclass
class _Run:
    """One Trainer run's dicts, columnar: one :class:`Rows` per distinct key
    set (dicts from one logger share their keys, so within a group a NaN is
    a logged NaN, never a missing key)."""

    first_line: int
    train: dict[frozenset[str], Rows] = field(default_factory=dict)
    evals: dict[frozenset[str], Rows] = field(default_factory=dict)
    eval_epochs: set[float] = field(default_factory=set)
    summary: dict[str, float] | None = None
    last_epoch: float = -math.inf
    index: int = 0  # running index of metric dicts
    dropped: int = 0  # dicts with yet another key set

    def empty(self) -> bool:
        return not self.train and not self.evals

    def add(self, kind: str, d: dict[str, float]) -> None:
        self.index += 1
        d["_index"] = float(self.index)
        groups = self.train if kind == "train" else self.evals
        sig = frozenset(d)
        rows = groups.get(sig)
        if rows is None:
            if len(self.train) + len(self.evals) >= MAX_GROUPS:
                self.dropped += 1
                return
            rows = groups[sig] = Rows()
        rows.add(d)
        if kind == "eval" and "epoch" in d:
            self.eval_epochs.add(d["epoch"])


def _spread_ties(e: np.ndarray) -> np.ndarray:
    """Strictly increasing x from printed (rounded) epochs: a group of k equal
    epochs e after a previous distinct epoch p becomes e-(e-p)(k-1)/k, ..., e."""
    if e.size == 0:
        return e
    start = np.r_[True, e[1:] != e[:-1]]
    starts = np.flatnonzero(start)
    gid = np.cumsum(start) - 1
    k = np.diff(np.r_[starts, e.size])[gid].astype(np.float64)
    n = np.arange(e.size) - starts[gid]
    prev = np.r_[0.0, e[starts][:-1]][gid]
    lo = np.where(prev < e, prev, e - 1.0 / k)
    return e - (e - lo) * (k - 1 - n) / k


def _ffill(values: np.ndarray, first: float) -> np.ndarray:
    ok = np.isfinite(values)
    pos = np.where(ok, np.arange(values.size), -1)
    np.maximum.accumulate(pos, out=pos)
    return np.where(pos >= 0, values[np.maximum(pos, 0)], first)


@dataclass
class _Cols:
    """Rows of one kind (train or eval), all groups concatenated in log order."""

    groups: list[Rows]
    index: np.ndarray
    epoch: np.ndarray
    step: np.ndarray
    x: np.ndarray = field(default_factory=lambda: np.empty(0))

    @classmethod
    def of(cls, groups: dict[frozenset[str], Rows]) -> _Cols:
        rows = list(groups.values())

        def cat(key: str) -> np.ndarray:
            return np.concatenate([g.column(key) for g in rows]) if rows else np.empty(0)

        return cls(rows, cat("_index"), cat("epoch"), cat("step"))

    def values(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """x, values and epochs of ``key`` (only from groups that log it), in log order."""
        xs, vs, es = [], [], []
        at = 0
        for g in self.groups:
            n = len(g)
            if key in g.cols:
                xs.append(self.x[at : at + n])
                vs.append(g.column(key))
                es.append(self.epoch[at : at + n])
            at += n
        if not xs:
            return None
        return np.concatenate(xs), np.concatenate(vs), np.concatenate(es)

    def keys(self) -> set[str]:
        return {k for g in self.groups for k in g.cols}


def _choose_eval_metric(keys: set[str]) -> str | None:
    cands = {k for k in keys if k.startswith("eval_") and not k.endswith("loss") and not _EVAL_SKIP.match(k) and k != "eval_epoch"}
    for k in _PREFERRED:
        if k in cands:
            return k
    task = sorted(k for k in cands if looks_like_task_metric(k))
    return task[0] if task else None


def _build(r: _Run, source: Source, name: str, warnings: list[str]) -> Run:
    tr, ev = _Cols.of(r.train), _Cols.of(r.evals)
    index = np.concatenate([tr.index, ev.index])
    epoch = np.concatenate([tr.epoch, ev.epoch])
    has_epoch = bool(np.isfinite(epoch).any())
    has_step = index.size > 0 and bool(np.isfinite(np.concatenate([tr.step, ev.step])).all())
    if has_epoch:
        # an evaluation before training prints no epoch: it is at epoch 0;
        # any other dict without one is where the previous one was
        order = np.argsort(index, kind="stable")
        filled = np.empty_like(epoch)
        filled[order] = _ffill(epoch[order], 0.0)
        tr.epoch, ev.epoch = filled[: tr.index.size], filled[tr.index.size :]
    x_unit: XUnit
    if has_step:
        x_unit = "step"
        tr.x, ev.x = tr.step, ev.step
    elif has_epoch:
        x_unit = "epoch"
        order = np.argsort(tr.index, kind="stable")
        tr.x = np.empty_like(tr.epoch)
        tr.x[order] = _spread_ties(tr.epoch[order])
        ev.x = ev.epoch
    else:
        x_unit = "step"
        warnings.append(
            f"{source.display}: the metric lines carry no 'epoch': the x axis is the "
            "running count of logged dicts, not optimizer steps"
        )
        tr.x, ev.x = tr.index, ev.index
    for rows in list(r.train.values()) + list(r.evals.values()):
        if rows.stride > 1:
            warnings.append(
                f"{source.display}: {rows.total:,} metric lines of one kind: averaged in groups of "
                f"{rows.stride} to bound memory"
            )
            break
    if r.dropped:
        warnings.append(f"{source.display}: {r.dropped} metric line(s) with unusual keys were left out")

    def series(cols: _Cols, key: str) -> Series | None:
        got = cols.values(key)
        if got is None:
            return None
        x, v, e = got
        return make_series(key, x, v, e)

    ev_keys, tr_keys = ev.keys(), tr.keys()
    metric = _choose_eval_metric(ev_keys)
    train_metric = next((k for k in ("mean_token_accuracy", "accuracy", "train_accuracy") if k in tr_keys), None)
    extra: dict[str, Series] = {}
    for key in ("learning_rate", "grad_norm"):
        s = series(tr, key)
        if s is not None:
            extra[key] = s
    other_losses = sorted(k for k in ev_keys if k.startswith("eval_") and k.endswith("_loss") and k != "eval_loss")
    for key in other_losses:
        s = series(ev, key)
        if s is not None:
            extra[key] = s
    val_loss = series(ev, "eval_loss")
    if val_loss is None and other_losses:
        val_loss = extra.pop(other_losses[0])
        prefix = other_losses[0][: -len("loss")]
        metric = _choose_eval_metric({k for k in ev_keys if k.startswith(prefix)}) or metric
        if len(other_losses) > 1:
            warnings.append(
                f"{source.display}: {len(other_losses)} evaluation sets ({', '.join(other_losses)}) and no "
                f"plain eval_loss: diagnosed on {other_losses[0]}; the others are kept as extra series"
            )
    lr = extra.get("learning_rate")
    hp_values: dict[str, float] = {}
    if lr is not None and np.isfinite(lr.values).any():
        hp_values["learning_rate"] = float(np.nanmax(np.where(np.isfinite(lr.values), lr.values, np.nan)))
    summary = r.summary or {}
    return Run(
        source=source.display,
        format="hf_stdout",
        name=name,
        train_loss=series(tr, "loss"),
        val_loss=val_loss,
        train_metric=series(tr, train_metric) if train_metric else None,
        val_metric=series(ev, metric) if metric else None,
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
    for lineno, seg in iter_segments(source, _FIND, stats):
        for m in _CANDIDATE.finditer(seg):
            d = parse_dict(m.group())
            if d is None:
                continue
            kind = kind_of(d)
            if kind is None:
                continue
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
                    if ep not in cur.eval_epochs:
                        cur.add(kind, d)
                    continue
                new = True
            elif cur is not None and ep is not None and ep < cur.last_epoch - 1e-9:
                restarts.append(f"line {lineno} (epoch {cur.last_epoch:g} -> {ep:g})")
                new = True
            if new:
                cur = _Run(first_line=lineno)
                runs.append(cur)
                if len(runs) > 10_000:
                    raise InputError(source.display, "more than 10,000 Trainer runs in one log; is this a console log?")
            assert cur is not None
            if ep is not None and math.isfinite(ep):
                cur.last_epoch = max(cur.last_epoch, ep)
            cur.add(kind, d)
    warnings: list[str] = []
    if stats.truncated:
        warnings.append(
            f"{source.display}: {len(stats.truncated)} over-long line(s) were cut "
            f"(first at line {stats.truncated[0]})"
        )
    if restarts:
        warnings.append(
            f"{source.display}: the epoch went backwards at {', '.join(restarts[:3])}"
            + (f" and {len(restarts) - 3} more" if len(restarts) > 3 else "")
            + ": read as a new run each time (a restarted training)"
        )
    kept = [r for r in runs if not r.empty()]
    if not kept:
        last_bar = re.findall(r"(?<!\d)(\d{1,12})/(\d{1,12}) \[", stats.tail)
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
    specificity=LINES,
)
