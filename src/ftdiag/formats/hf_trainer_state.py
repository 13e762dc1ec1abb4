"""Hugging Face Trainer ``trainer_state.json``.

The curve is in ``log_history``: training entries (``loss``), evaluation
entries (``eval_loss`` and ``eval_<metric>``) and a final summary entry
(``train_loss``, ``train_runtime``), told apart only by their keys. Python's
json module writes bare ``NaN``/``Infinity``, which are accepted here.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InputError, NoDataError
from ..hyperparams import Hyperparameters
from ..run import Run, Series, is_finite_number, looks_like_task_metric, make_series
from . import CERTAIN, Reader
from ._json import loads
from ._source import Source

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


def _choose_metric(evals: list[dict[str, Any]], best_hint: str | None) -> str | None:
    keys: dict[str, int] = {}
    for e in evals:
        for k, v in e.items():
            if k.startswith("eval_") and not _EVAL_SKIP.match(k) and _num(v) is not None:
                keys[k] = keys.get(k, 0) + 1
    if not keys:
        return None
    for k in _PREFERRED:
        if k in keys:
            return k
    if best_hint and f"eval_{best_hint}" in keys:
        return f"eval_{best_hint}"
    task = [k for k in keys if looks_like_task_metric(k)]
    return sorted(task, key=lambda k: -keys[k])[0] if task else None


def runs_from_state(state: dict[str, Any], display: str, name: str, fmt: str = "hf_trainer_state") -> list[Run]:
    history = state.get("log_history")
    if not isinstance(history, list):
        raise InputError(display, "expected a 'log_history' list in trainer_state.json")
    if not history:
        raise NoDataError(
            display,
            "log_history is empty: nothing was logged (logging_steps "
            f"{state.get('logging_steps', '?')} vs max_steps {state.get('max_steps', '?')})",
        )
    train: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for entry in history:
        if not isinstance(entry, dict):
            continue
        if "loss" in entry and not any(k.startswith("eval_") for k in entry):
            train.append(entry)
        elif any(k.startswith("eval_") for k in entry):
            evals.append(entry)
        elif "train_runtime" in entry or "train_loss" in entry:
            summary = entry

    def series(entries: list[dict[str, Any]], key: str, name: str | None = None) -> Series | None:
        steps, values, epochs = [], [], []
        for i, e in enumerate(entries):
            v = _num(e.get(key))
            if v is None:
                continue
            st = _num(e.get("step"))
            steps.append(st if st is not None else float(i + 1))
            values.append(v)
            ep = _num(e.get("epoch"))
            epochs.append(ep if ep is not None else float("nan"))
        if not values:
            return None
        return make_series(name or key, steps, values, epochs)

    best_hint = None
    ckpt = state.get("best_model_checkpoint")
    metric_key = _choose_metric(evals, best_hint)
    train_metric_key = None
    for k in ("mean_token_accuracy", "accuracy", "train_accuracy"):
        if any(k in e for e in train):
            train_metric_key = k
            break
    hp_values: dict[str, float] = {}
    for src, dst in (("num_train_epochs", "n_epochs"), ("train_batch_size", "batch_size")):
        v = _num(state.get(src))
        if v is not None and is_finite_number(v) and v > 0:
            hp_values[dst] = v
    lrs = [lr for e in train if (lr := _num(e.get("learning_rate"))) is not None and is_finite_number(lr)]
    if lrs:
        hp_values["learning_rate"] = max(lrs)
    hp = Hyperparameters(**hp_values, sources={k: "log" for k in hp_values})
    extra: dict[str, Series] = {}
    for k in ("learning_rate", "grad_norm"):
        s = series(train, k)
        if s is not None:
            extra[k] = s
    other_evals = {
        k for e in evals for k in e if k.startswith("eval_") and k.endswith("_loss") and k != "eval_loss"
    }
    for k in sorted(other_evals):
        s = series(evals, k)
        if s is not None:
            extra[k] = s
    max_steps = _num(state.get("max_steps"))
    n_ep = _num(state.get("num_train_epochs"))
    spe = max_steps / n_ep if max_steps and n_ep else None
    val_loss = series(evals, "eval_loss")
    if val_loss is None and other_evals:
        first = sorted(other_evals)[0]
        val_loss = extra.pop(first)
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
    )
    if run.train_loss is None and run.val_loss is None and run.val_metric is None:
        raise NoDataError(display, "log_history holds no loss or evaluation metric")
    return [run]


def read(source: Source) -> list[Run]:
    state = loads(
        source.read_text(), source.display, hint="; is the file truncated or still being written?"
    )
    if not isinstance(state, dict):
        raise InputError(source.display, "expected a JSON object with 'log_history'")
    return runs_from_state(state, source.display, source.name)


READER = Reader(
    name="hf_trainer_state",
    description="Hugging Face Trainer trainer_state.json",
    detects="a JSON object with a 'log_history' key",
    example="ftdiag analyze output/checkpoint-500/trainer_state.json",
    sniff=sniff,
    read=read,
)
