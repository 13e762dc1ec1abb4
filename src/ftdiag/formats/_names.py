"""Metric names: which split (train / validation / test) and which quantity.

Loggers spell the same thing many ways: ``val_loss``, ``valid_loss``,
``validation/loss``, ``eval_loss``, ``loss/val``, ``val_loss_epoch`` (Lightning's
epoch aggregate), ``valid_loss_0`` (Lightning's dataloader index),
``epoch_loss`` under a ``validation`` run (Keras' TensorBoard callback),
``valLoss``. :func:`parse_name` splits a name into tokens, takes the split from
the last split token, notes the aggregation marker and the dataloader index,
and keeps the rest as the *base* (``loss``, ``accuracy``, ``f1_score``).

:func:`assign_roles` picks the four canonical series of a run (training and
validation loss, training and validation task metric) from named series and
leaves the others as extras. A name without a split token counts as training
(Keras' ``loss`` next to ``val_loss``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from ..run import Series, looks_like_task_metric

SPLITS = {
    "train": "train",
    "training": "train",
    "trn": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "vali": "val",
    "eval": "val",
    "evaluation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}
MARKERS = {"epoch": "epoch", "epochs": "epoch", "step": "step", "batch": "step", "iter": "step"}
ALIASES = {"acc": "accuracy", "err": "error"}
# quantities that are neither a loss nor a task metric, whatever their name says
NOT_METRICS = re.compile(
    r"^(lr|learning_rate|lr_pg\d*|pg\d+|grad_norm|gradient_norm|runtime|time|"
    r".*per_second|.*_runtime|elapsed.*|num_.*|total_flos|throughput|memory.*|"
    r"momentum|weight_decay|global_step|epoch|step|samples?|tokens?)$"
)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])")
_TOKEN = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Name:
    raw: str
    split: str | None  # "train", "val", "test" or None (unsplit)
    base: str  # the quantity, split and markers removed ("loss", "accuracy")
    marker: str | None = None  # "step" or "epoch" aggregation
    dataloader: bool = False  # a Lightning dataloader index suffix (``_0``)

    @property
    def role_split(self) -> str:
        return self.split or "train"

    @property
    def is_loss(self) -> bool:
        toks = self.base.split("_")
        return "loss" in toks or self.base in ("nll", "perplexity", "ppl", "xent", "mse", "mae", "rmse")

    @property
    def is_task_metric(self) -> bool:
        if self.is_loss or NOT_METRICS.match(self.base):
            return False
        return looks_like_task_metric(self.base)


def tokens(raw: str) -> list[str]:
    return [t for t in _TOKEN.split(_CAMEL.sub("_", raw).lower()) if t]


def parse_name(raw: str) -> Name:
    toks = tokens(raw)
    split: str | None = None
    marker: str | None = None
    dataloader = False
    rest: list[str] = []
    for i, t in enumerate(toks):
        if t in SPLITS:
            split = SPLITS[t]
            continue
        if t in MARKERS and len(toks) > 1:
            marker = MARKERS[t]
            continue
        if t in ("dataloader", "idx"):
            dataloader = True
            continue
        if t.isdigit() and i == len(toks) - 1 and i > 0:
            dataloader = True
            continue
        rest.append(ALIASES.get(t, t))
    base: list[str] = []
    for t in rest:
        if not base or base[-1] != t:
            base.append(t)
    return Name(raw=raw, split=split, base="_".join(base) or (toks[-1] if toks else raw), marker=marker, dataloader=dataloader)


def _metric_rank(base: str) -> int:
    """Which task metric decides when several are logged: accuracy first (the
    quantity people read), then F1, then mAP-style detection metrics, then the rest."""
    if "top5" in base:
        return 5
    if "acc" in base or "top1" in base:
        return 0
    if "f1" in base:
        return 1
    if "map" in base:
        return 2
    if "precision" in base or "recall" in base:
        return 4
    return 3


def _loss_rank(base: str) -> int:
    if base == "loss":
        return 0
    if base in ("total_loss", "loss_total", "objective_loss"):
        return 1
    return 2


class RoleFields(TypedDict):
    train_loss: Series | None
    val_loss: Series | None
    train_metric: Series | None
    val_metric: Series | None
    extra: dict[str, Series]


@dataclass
class Roles:
    train_loss: Series | None = None
    val_loss: Series | None = None
    train_metric: Series | None = None
    val_metric: Series | None = None
    extra: dict[str, Series] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_kwargs(self) -> RoleFields:
        """The Run fields these roles fill: ``Run(..., **roles.as_kwargs())``."""
        return {
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "train_metric": self.train_metric,
            "val_metric": self.val_metric,
            "extra": self.extra,
        }


def _pick(cands: list[tuple[Name, Series]], split: str) -> tuple[Name, Series] | None:
    """One variant of a quantity: validation prefers the epoch aggregate (or the
    plain name) to per-batch values; training prefers the densest series."""
    if not cands:
        return None
    if split == "val":
        return min(cands, key=lambda c: (c[0].marker == "step", c[0].dataloader, -len(c[1].finite), c[0].raw))
    return min(cands, key=lambda c: (-len(c[1].finite), c[0].dataloader, c[0].marker is not None, c[0].raw))


def assign_roles(series: Mapping[str, Series], display: str = "", test_as_validation: bool = True) -> Roles:
    """Choose training/validation loss and task metric among ``series`` (by name)."""
    parsed = [(parse_name(n), s) for n, s in series.items() if len(s.finite) > 0 or len(s) > 0]
    groups: dict[tuple[str, str], list[tuple[Name, Series]]] = {}
    for nm, s in parsed:
        groups.setdefault((nm.role_split, nm.base), []).append((nm, s))
    roles = Roles()
    used: set[str] = set()

    def take(split: str, base: str) -> Series | None:
        got = _pick(groups.get((split, base), []), split)
        if got is None:
            return None
        used.add(got[0].raw)
        return got[1]

    def choose(split_val: str) -> None:
        val_losses = sorted({b for (sp, b), c in groups.items() if sp == split_val and c[0][0].is_loss}, key=lambda b: (_loss_rank(b), b))
        train_losses = sorted({b for (sp, b), c in groups.items() if sp == "train" and c[0][0].is_loss}, key=lambda b: (_loss_rank(b), b))
        if val_losses:
            paired = [b for b in val_losses if b in train_losses]
            vb = paired[0] if paired and _loss_rank(paired[0]) <= _loss_rank(val_losses[0]) else val_losses[0]
            roles.val_loss = take(split_val, vb)
            if vb in train_losses:
                roles.train_loss = take("train", vb)
        if roles.train_loss is None and train_losses:
            roles.train_loss = take("train", train_losses[0])
        val_metrics = sorted(
            {b for (sp, b), c in groups.items() if sp == split_val and c[0][0].is_task_metric},
            key=lambda b: (_metric_rank(b), ("train", b) not in groups, b),
        )
        train_metrics = sorted(
            {b for (sp, b), c in groups.items() if sp == "train" and c[0][0].is_task_metric},
            key=lambda b: (_metric_rank(b), b),
        )
        if val_metrics:
            vm = val_metrics[0]
            roles.val_metric = take(split_val, vm)
            if ("train", vm) in groups:
                roles.train_metric = take("train", vm)
        elif train_metrics:
            roles.train_metric = take("train", train_metrics[0])

    choose("val")
    if roles.val_loss is None and roles.val_metric is None and test_as_validation:
        tests = [s for (sp, _), c in groups.items() if sp == "test" for _, s in c]
        if any(len(s.finite) >= 2 for s in tests):
            roles = Roles()
            used.clear()
            choose("test")
            names = [s.name for s in (roles.val_loss, roles.val_metric) if s is not None]
            if names:
                roles.notes.append(
                    f"{display}: no validation metric; the test metric(s) logged during training "
                    f"({', '.join(names)}) stand in for validation"
                )
    roles.extra = {n: s for n, s in series.items() if n not in used}
    return roles
