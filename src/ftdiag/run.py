"""The normalized run: what every reader produces and every later stage reads.

A :class:`Run` holds up to four canonical series (training and validation loss,
training and validation task metric), any extra series a format logged, the
hyperparameters known from the log, and warnings collected while reading.
All arrays are float64 numpy arrays; steps are ascending.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from .hyperparams import Hyperparameters

XUnit = Literal["step", "epoch"]

_ACC_RE = re.compile(r"acc|f1|precision|recall|map|rouge|bleu|auc|iou|dice|exact|match|top", re.I)
_LOWER_BETTER_RE = re.compile(r"loss|wer|cer|error|perplexity|ppl|mse|mae|rmse", re.I)


def metric_higher_is_better(name: str) -> bool:
    """Guess a metric's direction from its name (losses and error rates go down)."""
    if _LOWER_BETTER_RE.search(name):
        return False
    return True


def looks_like_task_metric(name: str) -> bool:
    return bool(_ACC_RE.search(name)) or bool(re.search(r"wer|cer", name, re.I))


@dataclass(frozen=True, eq=False)
class Series:
    """One metric against training progress.

    ``steps`` are optimizer steps (or epochs when the run's x unit is epochs),
    ``epochs`` the (possibly fractional) epoch at each point when known.
    """

    name: str
    steps: np.ndarray
    values: np.ndarray
    epochs: np.ndarray | None = None
    higher_is_better: bool = False

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def finite(self) -> Series:
        """The same series without NaN/inf points."""
        mask = np.isfinite(self.values)
        if mask.all():
            return self
        return replace(
            self,
            steps=self.steps[mask],
            values=self.values[mask],
            epochs=None if self.epochs is None else self.epochs[mask],
        )

    @property
    def n_nonfinite(self) -> int:
        return int((~np.isfinite(self.values)).sum())


def make_series(
    name: str,
    steps: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    epochs: Sequence[float] | np.ndarray | None = None,
    higher_is_better: bool | None = None,
    percent_to_fraction: bool = True,
) -> Series:
    """Build a series: sort by step, keep the last value of a repeated step,
    and turn accuracy-like percentages (0-100) into fractions."""
    s = np.asarray(steps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    e = None if epochs is None else np.asarray(epochs, dtype=np.float64)
    if s.shape != v.shape or (e is not None and e.shape != s.shape):
        raise ValueError("steps, values and epochs must have the same length")
    if e is not None and not np.isfinite(e).all():
        # an epoch that is not a finite number (a damaged log) is unknown;
        # all finite: no copy (series of one log share its epoch column)
        e = np.where(np.isfinite(e), e, np.nan)
    keep = np.isfinite(s)
    if not keep.all():
        s, v = s[keep], v[keep]
        e = None if e is None else e[keep]
    if s.size and np.any(np.diff(s) <= 0):
        # stable sort, then keep the last occurrence of each step (a resumed
        # or re-logged step replaces the earlier value)
        order = np.argsort(s, kind="stable")
        s, v = s[order], v[order]
        e = None if e is None else e[order]
        last = np.ones(s.shape, dtype=bool)
        last[:-1] = s[1:] != s[:-1]
        s, v = s[last], v[last]
        e = None if e is None else e[last]
    hib = metric_higher_is_better(name) if higher_is_better is None else higher_is_better
    if percent_to_fraction and hib and looks_like_task_metric(name):
        fin = v[np.isfinite(v)]
        if fin.size and fin.max() > 1.0 and fin.max() <= 100.0 and fin.min() >= 0.0:
            v = v / 100.0
    return Series(name=name, steps=s, values=v, epochs=e, higher_is_better=hib)


@dataclass(frozen=True, eq=False)
class Run:
    """One training run, normalized."""

    source: str
    format: str
    name: str
    train_loss: Series | None = None
    val_loss: Series | None = None
    train_metric: Series | None = None
    val_metric: Series | None = None
    extra: Mapping[str, Series] = field(default_factory=dict)
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    platform: str | None = None
    x_unit: XUnit = "step"
    steps_per_epoch: float | None = None
    planned_steps: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def series(self) -> dict[str, Series]:
        """The canonical series that are present, by role."""
        out: dict[str, Series] = {}
        for role in ("train_loss", "val_loss", "train_metric", "val_metric"):
            s = getattr(self, role)
            if s is not None:
                out[role] = s
        return out

    @property
    def has_validation(self) -> bool:
        return any(
            s is not None and len(s.finite) > 0 for s in (self.val_loss, self.val_metric)
        )

    @property
    def last_step(self) -> float:
        ends = [float(s.steps[-1]) for s in self.series().values() if len(s)]
        return max(ends) if ends else 0.0

    @property
    def epochs_seen(self) -> float | None:
        """How many epochs the log covers, when it says."""
        if self.x_unit == "epoch":
            return self.last_step
        best: float | None = None
        for s in self.series().values():
            if s.epochs is not None and s.epochs.size:
                fin = s.epochs[np.isfinite(s.epochs)]
                if fin.size:
                    m = float(fin.max())
                    best = m if best is None else max(best, m)
        if best is None and self.steps_per_epoch:
            best = self.last_step / self.steps_per_epoch
        return best

    def with_warnings(self, more: Iterable[str]) -> Run:
        return replace(self, warnings=self.warnings + tuple(more))

    def with_hyperparameters(self, hp: Hyperparameters) -> Run:
        return replace(self, hyperparameters=hp)


def epoch_at(run: Run, step: float) -> float | None:
    """The epoch reached at ``step``, interpolated from the run's epoch data
    (None when unknown, or not a finite number in a damaged log)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = _epoch_at(run, step)
    return e if e is not None and math.isfinite(e) else None


def _epoch_at(run: Run, step: float) -> float | None:
    if run.x_unit == "epoch":
        return step
    for s in run.series().values():
        if s.epochs is not None and s.epochs.size >= 1:
            fin = np.isfinite(s.epochs)
            if fin.sum() >= 1:
                xs, ys = s.steps[fin], s.epochs[fin]
                if xs.size == 1:
                    return float(ys[0] * step / xs[0]) if xs[0] else None
                return float(np.interp(step, xs, ys, left=np.nan, right=np.nan)) if (
                    xs[0] <= step <= xs[-1]
                ) else float(step * ys[-1] / xs[-1])
    if run.steps_per_epoch:
        return step / run.steps_per_epoch
    return None


def is_finite_number(x: Any) -> bool:
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # an int too large for a float
        return False
