"""Hugging Face Trainer ``trainer_state.json``.

The curve is in ``log_history``: training entries (``loss``), evaluation
entries (``eval_loss`` and ``eval_<metric>``) and a final summary entry
(``train_loss``, ``train_runtime``), told apart only by their keys. Python's
json module writes bare ``NaN``/``Infinity``, which are accepted here.
"""

from __future__ import annotations

import json
import math
import re
from itertools import compress, repeat
from typing import Any

from ..errors import InputError, NoDataError
from ..hyperparams import Hyperparameters
from ..run import Run, Series, is_finite_number, looks_like_task_metric, make_series
from . import CERTAIN, Reader
from ._json import _parse_int, depth_exceeds, loads_document
from ._source import Source, decode

_EVAL_SKIP = re.compile(r"^eval_(runtime|samples_per_second|steps_per_second|loss)$")
_PREFERRED = ("eval_accuracy", "eval_acc", "eval_f1", "eval_macro_f1", "eval_mean_token_accuracy")


def sniff(source: Source) -> float:
    head = source.head_text.lstrip()
    if head.startswith("{") and '"log_history"' in source.head_text:
        return CERTAIN
    return 0.0


def _num(v: Any) -> float | None:
    if is_finite_number(v) or (isinstance(v, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


_ONLY_FLOAT = frozenset({float})
_ONLY_INT = frozenset({int})
_ONLY_DICT = frozenset({dict})


def _column(entries: list[dict[str, Any]], key: str) -> list[float | None]:
    """``_num(e.get(key))`` for every entry; plain floats pass at C speed."""
    raw: list[Any] = list(map(dict.get, entries, repeat(key)))
    if _ONLY_FLOAT.issuperset(map(type, raw)):
        return raw
    if _ONLY_INT.issuperset(map(type, raw)):
        return list(map(float, raw))
    return [v if type(v) is float else float(v) if type(v) is int else _num(v) for v in raw]


def _choose_metric(evals: list[dict[str, Any]], best_hint: str | None) -> str | None:
    # each eval metric with the number of entries where it is a number, in the
    # order of its first numeric occurrence (entry by entry, key by key)
    found: list[tuple[int, int, str, int]] = []
    for k in {k for keys in {tuple(e) for e in evals} for k in keys}:
        if not k.startswith("eval_") or _EVAL_SKIP.match(k):
            continue
        col = _column(evals, k)
        count = len(col) - col.count(None)
        if count:
            first = next(i for i, v in enumerate(col) if v is not None)
            found.append((first, list(evals[first]).index(k), k, count))
    keys = {k: count for _, _, k, count in sorted(found)}
    if not keys:
        return None
    for k in _PREFERRED:
        if k in keys:
            return k
    if best_hint and f"eval_{best_hint}" in keys:
        return f"eval_{best_hint}"
    task = [k for k in keys if looks_like_task_metric(k)]
    return sorted(task, key=lambda k: -keys[k])[0] if task else None


def _kind(keys: tuple[str, ...]) -> str:
    """What a log_history entry is, from its keys alone."""
    has_eval = any(k.startswith("eval_") for k in keys)
    if "loss" in keys and not has_eval:
        return "train"
    if has_eval:
        return "eval"
    if "train_runtime" in keys or "train_loss" in keys:
        return "summary"
    return ""


def runs_from_state(
    state: dict[str, Any],
    display: str,
    name: str,
    fmt: str = "hf_trainer_state",
    extra_warnings: tuple[str, ...] = (),
) -> list[Run]:
    history = state.get("log_history")
    if not isinstance(history, list):
        raise InputError(display, "expected a 'log_history' list in trainer_state.json")
    if not history:
        raise NoDataError(
            display,
            "log_history is empty: nothing was logged (logging_steps "
            f"{state.get('logging_steps', '?')} vs max_steps {state.get('max_steps', '?')})",
        )
    # an entry's kind follows from its keys, and entries from one logger share
    # their keys: classify each distinct key tuple once
    entries = history if _ONLY_DICT.issuperset(map(type, history)) else [e for e in history if isinstance(e, dict)]
    key_tuples = list(map(tuple, entries))
    kinds = {keys: _kind(keys) for keys in set(key_tuples)}

    def of_kind(kind: str) -> list[dict[str, Any]]:
        flags = {keys: k == kind for keys, k in kinds.items()}
        return list(compress(entries, map(flags.__getitem__, key_tuples)))

    train, evals, summaries = of_kind("train"), of_kind("eval"), of_kind("summary")
    summary: dict[str, Any] = summaries[-1] if summaries else {}

    # step and epoch of every entry, computed once per group (200,000 entries
    # make this the reader's main cost)
    axes: dict[int, tuple[list[float], list[float]]] = {}

    def axis(entries: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
        if id(entries) not in axes:
            st_col, ep_col = _column(entries, "step"), _column(entries, "epoch")
            steps: list[float] = (
                [st if st is not None else float(i + 1) for i, st in enumerate(st_col)]
                if None in st_col
                else st_col  # type: ignore[assignment]
            )
            epochs: list[float] = (
                [ep if ep is not None else float("nan") for ep in ep_col]
                if None in ep_col
                else ep_col  # type: ignore[assignment]
            )
            axes[id(entries)] = (steps, epochs)
        return axes[id(entries)]

    def series(
        entries: list[dict[str, Any]], key: str, name: str | None = None, col: list[float | None] | None = None
    ) -> Series | None:
        vals = _column(entries, key) if col is None else col
        n_ok = len(vals) - vals.count(None)
        if not n_ok:
            return None
        steps, epochs = axis(entries)
        if n_ok == len(vals):
            return make_series(name or key, steps, vals, epochs)  # type: ignore[arg-type]
        keep = [i for i, v in enumerate(vals) if v is not None]
        values = [v for v in vals if v is not None]
        return make_series(name or key, [steps[i] for i in keep], values, [epochs[i] for i in keep])

    best_hint = None
    ckpt = state.get("best_model_checkpoint")
    metric_key = _choose_metric(evals, best_hint)
    train_metric_key = None
    train_keys = [keys for keys, kind in kinds.items() if kind == "train"]
    for k in ("mean_token_accuracy", "accuracy", "train_accuracy"):
        if any(k in keys for keys in train_keys):
            train_metric_key = k
            break
    hp_values: dict[str, float] = {}
    for src, dst in (("num_train_epochs", "n_epochs"), ("train_batch_size", "batch_size")):
        v = _num(state.get(src))
        if v is not None and is_finite_number(v) and v > 0:
            hp_values[dst] = v
    lr_col = _column(train, "learning_rate")
    present: list[float] = [x for x in lr_col if x is not None] if None in lr_col else lr_col  # type: ignore[assignment]
    lrs = list(filter(math.isfinite, present))
    if lrs:
        hp_values["learning_rate"] = max(lrs)
    hp = Hyperparameters(**hp_values, sources={k: "log" for k in hp_values})
    extra: dict[str, Series] = {}
    for k in ("learning_rate", "grad_norm"):
        s = series(train, k, col=lr_col if k == "learning_rate" else None)
        if s is not None:
            extra[k] = s
    other_evals = {
        k
        for keys, kind in kinds.items()
        if kind == "eval"
        for k in keys
        if k.startswith("eval_") and k.endswith("_loss") and k != "eval_loss"
    }
    for k in sorted(other_evals):
        s = series(evals, k)
        if s is not None:
            extra[k] = s
    max_steps = _num(state.get("max_steps"))
    n_ep = _num(state.get("num_train_epochs"))
    spe = max_steps / n_ep if max_steps and n_ep else None
    val_loss = series(evals, "eval_loss")
    warnings: list[str] = list(extra_warnings)
    if val_loss is None:
        # several evaluation sets (eval_<set>_loss) and no plain eval_loss:
        # judge on the first with numbers (one logged only as null is not in
        # extra), and take the task metric of that same set
        first = next((k for k in sorted(other_evals) if k in extra), None)
        if first is not None:
            val_loss = extra.pop(first)
            prefix = first[: -len("loss")]
            same_set = _choose_metric([{k: v for k, v in e.items() if k.startswith(prefix)} for e in evals], None)
            if same_set is not None:
                metric_key = same_set
            if len(other_evals) > 1:
                warnings.append(
                    f"{display}: {len(other_evals)} evaluation sets ({', '.join(sorted(other_evals))}) "
                    f"and no plain eval_loss: diagnosed on {first}; the others are kept as extra series"
                )
    run = Run(
        source=display,
        format=fmt,
        name=name,
        train_loss=series(train, "loss"),
        val_loss=val_loss,
        train_metric=series(train, train_metric_key) if train_metric_key else None,
        val_metric=series(evals, metric_key) if metric_key else None,
        extra=extra,
        hyperparameters=hp,
        platform="huggingface",
        x_unit="step",
        steps_per_epoch=spe,
        planned_steps=max_steps,
        metadata={
            "best_model_checkpoint": ckpt,
            "best_metric": _num(state.get("best_metric")),
            "summary_train_loss": _num(summary.get("train_loss")),
        },
        warnings=tuple(warnings),
    )
    if run.train_loss is None and run.val_loss is None and run.val_metric is None:
        raise NoDataError(display, "log_history holds no loss or evaluation metric")
    return [run]


_LOG_HISTORY = re.compile(r'"log_history"\s*:\s*\[')
# a top-level scalar of an indented trainer_state.json ("  \"max_steps\": 300,")
_TOP_SCALAR = re.compile(r'^ {0,2}"(\w+)"\s*:\s*(-?[0-9][0-9.eE+-]*|null|true|false|"[^"\n]*")\s*,?\s*$', re.M)


def salvage(text: str) -> dict[str, Any] | None:
    """The complete entries of a cut-short trainer_state.json (a run still
    being written, a copy interrupted): every ``log_history`` object that
    parses, in order, up to the first that does not, plus the top-level
    scalars that can be read. None when there is no ``log_history``."""
    m = _LOG_HISTORY.search(text)
    if m is None:
        return None
    decoder = json.JSONDecoder(parse_int=_parse_int)
    entries: list[Any] = []
    pos = m.end()
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError, ValueError):
            break
        if isinstance(obj, dict) and not depth_exceeds(obj):
            entries.append(obj)
    state: dict[str, Any] = {}
    for km in _TOP_SCALAR.finditer(text):
        try:
            state.setdefault(km.group(1), json.loads(km.group(2), parse_int=_parse_int))
        except (ValueError, RecursionError):  # also a 5,000-digit integer
            pass
    state["log_history"] = entries
    return state


def read(source: Source) -> list[Run]:
    data = source.read_bytes()
    warnings: tuple[str, ...] = ()
    try:
        state = loads_document(data, source.display, source.encoding, hint="; is the file truncated or still being written?")
    except InputError as e:
        saved = salvage(decode(data, source.display)) if "invalid JSON" in e.detail else None
        if not saved or not saved["log_history"]:
            raise
        state = saved
        why = re.search(r"invalid JSON \((.*?)\)(?:;|$)", e.detail)
        warnings = (
            f"{source.display}{', ' + e.where if e.where else ''}: the JSON is cut short or broken here "
            f"({why.group(1) if why else e.detail}; a run still being written?): read the "
            f"{len(saved['log_history'])} complete log_history entries before it",
        )
    if not isinstance(state, dict):
        raise InputError(source.display, "expected a JSON object with 'log_history'")
    return runs_from_state(state, source.display, source.name, extra_warnings=warnings)


READER = Reader(
    name="hf_trainer_state",
    description="Hugging Face Trainer trainer_state.json",
    detects="a JSON object with a 'log_history' key",
    example="ftdiag analyze output/checkpoint-500/trainer_state.json",
    sniff=sniff,
    read=read,
)
