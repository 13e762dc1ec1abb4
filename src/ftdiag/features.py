"""Curve statistics: smoothing, best validation point, gaps, trends, noise.

Everything here is numpy only (no scipy: importing scipy.stats costs seconds,
and ``ftdiag analyze`` on one small file must answer at once). Long series are
first reduced to at most ``MAX_POINTS`` bin means, which keeps the cost
independent of the log's length and removes per-step noise.

Conventions: a curve is always turned into "higher is better" (losses are
negated) before trends are judged, so "improving" means a positive slope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .run import Run, Series, epoch_at

MAX_POINTS = 2000
# TensorBoard's default smoothing weight is 0.6; ftdiag uses it for plots and
# adapts the weight for judging (see ``judge_weight``).
DEFAULT_SMOOTHING = 0.6


def ema_debiased(values: np.ndarray, weight: float = DEFAULT_SMOOTHING) -> np.ndarray:
    """TensorBoard's debiased exponential moving average (causal).

    Non-finite points are passed over (they keep the previous smoothed value)
    exactly as TensorBoard's scalar dashboard does.
    """
    out = np.empty(values.shape[0], dtype=np.float64)
    last = 0.0
    n = 0
    prev = float("nan")
    w = float(weight)
    for i, v in enumerate(values.tolist()):
        if not math.isfinite(v):
            out[i] = prev
            continue
        last = last * w + (1.0 - w) * v
        n += 1
        debias = 1.0 - w**n if w > 0 else 1.0
        prev = last / debias
        out[i] = prev
    return out


def judge_weight(n: int) -> float:
    """Smoothing weight for judging a curve of ``n`` points.

    A fixed weight over-smooths a 3-point epoch curve and under-smooths a
    1000-point per-step curve; an EMA with weight w averages about
    (1+w)/(1-w) points, so we aim at ~5% of the curve, between 1 and 30 points.
    """
    if n <= 5:
        return 0.0
    span = min(30.0, max(1.0, 0.05 * n))
    return (span - 1.0) / (span + 1.0)


def bin_means(steps: np.ndarray, values: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a long series to ``max_points`` equal-count bins (means of finite values)."""
    n = steps.shape[0]
    if n <= max_points:
        return steps, values
    edges = np.linspace(0, n, max_points + 1).astype(np.int64)
    counts = np.diff(edges)
    fin = np.isfinite(values)
    v0 = np.where(fin, values, 0.0)
    sums = np.add.reduceat(v0, edges[:-1])
    nfin = np.add.reduceat(fin.astype(np.float64), edges[:-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(nfin > 0, sums / nfin, np.nan)
    s_means = np.add.reduceat(steps, edges[:-1]) / counts
    return s_means, means


def median(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """``np.median`` along ``axis``, with the same values (NaN if any NaN).

    ``np.median`` imports ``numpy.ma`` on its first call (~10 ms, a twentieth
    of ``ftdiag analyze`` on a small file); partitioning does not.
    """
    a = np.moveaxis(np.asarray(a, dtype=np.float64), axis, -1)
    n = a.shape[-1]
    if n == 0:
        return np.full(a.shape[:-1], np.nan)
    m = n // 2
    if n % 2:
        part = np.partition(a, m, axis=-1)
        out = part[..., m]
    else:
        part = np.partition(a, (m - 1, m), axis=-1)
        out = (part[..., m - 1] + part[..., m]) / 2.0
    nan = np.isnan(a).any(axis=-1)
    return np.where(nan, np.nan, out)


def robust_noise(values: np.ndarray) -> float:
    """Point-to-point noise: 1.4826 * MAD of first differences / sqrt(2).

    Differencing removes a smooth trend, the MAD ignores spikes; for white noise
    of standard deviation s this estimates s.
    """
    v = values[np.isfinite(values)]
    if v.shape[0] < 3:
        return 0.0
    d = np.diff(v)
    mad = float(median(np.abs(d - median(d))))
    return 1.4826 * mad / math.sqrt(2.0)


def theil_sen(x: np.ndarray, y: np.ndarray) -> float:
    """Median of pairwise slopes (robust to outliers); 0 for fewer than 2 points."""
    n = x.shape[0]
    if n < 2:
        return 0.0
    if n > 400:  # O(n^2) pairs: subsample evenly
        idx = np.linspace(0, n - 1, 400).astype(np.int64)
        x, y = x[idx], y[idx]
    i, j = np.triu_indices(x.shape[0], k=1)
    dx = x[j] - x[i]
    ok = dx != 0
    if not ok.any():
        return 0.0
    return float(median((y[j] - y[i])[ok] / dx[ok]))


def mann_kendall(y: np.ndarray) -> tuple[float, float]:
    """Mann-Kendall trend test: (Kendall's tau, two-sided p-value).

    Normal approximation with the no-ties variance; fine from n >= 4 and
    good from n >= 10. Returns (0, 1) for fewer than 3 points.
    """
    y = y[np.isfinite(y)]
    n = y.shape[0]
    if n < 3:
        return 0.0, 1.0
    if n > 400:
        y = y[np.linspace(0, n - 1, 400).astype(np.int64)]
        n = y.shape[0]
    i, j = np.triu_indices(n, k=1)
    s = float(np.sign(y[j] - y[i]).sum())
    var = n * (n - 1) * (2 * n + 5) / 18.0
    tau = s / (n * (n - 1) / 2.0)
    if s > 0:
        z = (s - 1) / math.sqrt(var)
    elif s < 0:
        z = (s + 1) / math.sqrt(var)
    else:
        z = 0.0
    p = math.erfc(abs(z) / math.sqrt(2.0))
    return tau, p


@dataclass(frozen=True)
class CurveStats:
    """Statistics of one curve, oriented so that higher is better (``sign``)."""

    name: str
    sign: float  # +1 if higher is better, -1 for losses
    n: int
    n_nonfinite: int
    first_step: float
    last_step: float
    first: float  # smoothed, in the metric's own units
    last: float
    best: float
    best_step: float
    best_index: int
    best_position: float  # 0 = start of the curve, 1 = end of training
    raw_best: float
    raw_best_step: float
    noise: float  # point-to-point noise of the raw curve (own units)
    improvement: float  # best - first, oriented (>0 = got better)
    loss_since_best: float  # best - last, oriented (>0 = got worse since best)
    loss_since_best_noise: float  # loss_since_best in noise units of a smoothed point
    generalization_loss: float | None  # Prechelt GL in percent, losses only
    tail_slope: float  # oriented slope per unit of progress (per epoch or per 100% of run)
    tail_slope_noise: float  # tail slope * tail length / noise: change over the tail in noise units
    tail_tau: float
    tail_p: float
    after_best_tau: float
    after_best_p: float
    smoothed: tuple[float, ...] = field(repr=False, default=())
    steps: tuple[float, ...] = field(repr=False, default=())


def curve_stats(s: Series, run_end: float, run_start: float = 0.0) -> CurveStats | None:
    fin = s.finite
    if len(fin) == 0:
        return None
    steps, raw = bin_means(fin.steps, fin.values)
    n = raw.shape[0]
    sign = 1.0 if s.higher_is_better else -1.0
    w = judge_weight(n)
    sm = ema_debiased(raw, w) if w > 0 else raw.copy()
    oriented = sign * sm
    bi = int(np.nanargmax(oriented))
    best = float(sm[bi])
    last = float(sm[-1])
    first = float(sm[0])
    span = max(run_end - run_start, 1e-12)
    best_pos = float((steps[bi] - run_start) / span) if n > 1 else 1.0
    noise = robust_noise(raw)
    # noise of a smoothed point: EMA with weight w has variance (1-w)/(1+w) of the raw
    sm_noise = noise * math.sqrt((1 - w) / (1 + w)) if w > 0 else noise
    lsb = float(sign * (best - last))
    lsb_noise = lsb / sm_noise if sm_noise > 0 else (math.inf if lsb > 0 else 0.0)
    gl = None
    if sign < 0 and best > 0:
        gl = 100.0 * (last / best - 1.0)
    # tail: last third of the points (at least 3)
    k = max(3, n // 3)
    tx, ty = steps[-k:], sign * raw[-k:]
    units = tx / span
    slope = theil_sen(units, ty) if n >= 3 else 0.0
    tail_len = float(units[-1] - units[0]) if tx.shape[0] > 1 else 0.0
    tsn = slope * tail_len / noise if noise > 0 else (math.inf * np.sign(slope) if slope else 0.0)
    tau, p = mann_kendall(ty) if n >= 4 else (0.0, 1.0)
    after = sign * raw[bi:]
    atau, ap = mann_kendall(after) if after.shape[0] >= 4 else (0.0, 1.0)
    return CurveStats(
        name=s.name,
        sign=sign,
        n=len(fin),
        n_nonfinite=s.n_nonfinite,
        first_step=float(steps[0]),
        last_step=float(steps[-1]),
        first=first,
        last=last,
        best=best,
        best_step=float(steps[bi]),
        best_index=bi,
        best_position=best_pos,
        raw_best=float(raw[int(np.nanargmax(sign * raw))]),
        raw_best_step=float(steps[int(np.nanargmax(sign * raw))]),
        noise=noise,
        improvement=float(sign * (best - first)),
        loss_since_best=lsb,
        loss_since_best_noise=float(lsb_noise),
        generalization_loss=gl,
        tail_slope=slope,
        tail_slope_noise=float(tsn),
        tail_tau=tau,
        tail_p=p,
        after_best_tau=atau,
        after_best_p=ap,
        smoothed=tuple(sm.tolist()),
        steps=tuple(steps.tolist()),
    )


@dataclass(frozen=True)
class Features:
    """Everything the diagnosis looks at, computed once per run."""

    primary: str  # "metric" or "loss": which pair decides the verdict
    train_loss: CurveStats | None
    val_loss: CurveStats | None
    train_metric: CurveStats | None
    val_metric: CurveStats | None
    metric_name: str | None
    epochs_seen: float | None
    best_epoch: float | None
    last_step: float
    n_val_points: int
    gap_final: float | None  # train minus val, oriented (>0: train better), primary pair
    gap_at_best: float | None
    gap_first: float | None
    loss_metric_disagree: bool
    first_nonfinite_step: float | None
    train_spikes: int
    x_unit: str

    @property
    def val(self) -> CurveStats | None:
        return self.val_metric if self.primary == "metric" else self.val_loss

    @property
    def train(self) -> CurveStats | None:
        return self.train_metric if self.primary == "metric" else self.train_loss


def _value_at(stats: CurveStats, step: float) -> float:
    xs = np.asarray(stats.steps)
    ys = np.asarray(stats.smoothed)
    ok = np.isfinite(ys)
    if not ok.any():
        return float("nan")
    return float(np.interp(step, xs[ok], ys[ok]))


def _count_spikes(s: Series | None) -> int:
    """Training-loss spikes: points more than 6 noise units above the running median."""
    if s is None:
        return 0
    v = s.finite.values
    if v.shape[0] < 10:
        return 0
    noise = robust_noise(v)
    if noise <= 0:
        return 0
    k = 5
    pad = np.concatenate([np.full(k, v[0]), v])
    windows = np.lib.stride_tricks.sliding_window_view(pad[:-1], k)
    med = median(windows, axis=1)
    return int(((v - med) > 6 * noise).sum())


def compute(run: Run) -> Features:
    end = run.last_step
    start = 0.0
    series = run.series()
    stats = {role: curve_stats(s, end, start) for role, s in series.items()}
    tl, vl = stats.get("train_loss"), stats.get("val_loss")
    tm, vm = stats.get("train_metric"), stats.get("val_metric")
    # prefer the task metric when validation logged one with enough points
    primary = "metric" if vm is not None and vm.n >= 2 else "loss"
    if vl is None and vm is not None:
        primary = "metric"
    val = vm if primary == "metric" else vl
    train = tm if primary == "metric" else tl
    gap_final = gap_at_best = gap_first = None
    if val is not None and train is not None:
        sign = val.sign
        gap_final = sign * (_value_at(train, val.last_step) - val.last)
        gap_at_best = sign * (_value_at(train, val.best_step) - val.best)
        gap_first = sign * (_value_at(train, val.first_step) - val.first)
    disagree = False
    if vl is not None and vm is not None and vl.n >= 3 and vm.n >= 3:
        loss_worse = vl.loss_since_best_noise > 2 and (vl.generalization_loss or 0) > 5
        metric_better = vm.best_position > 0.8 or vm.loss_since_best_noise < 1
        disagree = bool(loss_worse and metric_better)
    nonfinite = None
    for s in series.values():
        bad = ~np.isfinite(s.values)
        if bad.any():
            st = float(s.steps[int(np.argmax(bad))])
            nonfinite = st if nonfinite is None else min(nonfinite, st)
    best_epoch = epoch_at(run, val.best_step) if val is not None else None
    return Features(
        primary=primary,
        train_loss=tl,
        val_loss=vl,
        train_metric=tm,
        val_metric=vm,
        metric_name=run.val_metric.name if run.val_metric is not None else None,
        epochs_seen=run.epochs_seen,
        best_epoch=best_epoch,
        last_step=end,
        n_val_points=val.n if val is not None else 0,
        gap_final=gap_final,
        gap_at_best=gap_at_best,
        gap_first=gap_first,
        loss_metric_disagree=disagree,
        first_nonfinite_step=nonfinite,
        train_spikes=_count_spikes(run.train_loss),
        x_unit=run.x_unit,
    )
