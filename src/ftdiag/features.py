"""Curve statistics: smoothing, noise band, best validation point, gaps, trends.

Everything here is numpy only (no scipy: importing scipy.stats costs seconds,
and ``ftdiag analyze`` on one small file must answer at once). Long series are
first reduced to at most ``MAX_POINTS`` bin means, which keeps the cost
independent of the log's length and removes per-step noise.

Conventions: a curve is always turned into "higher is better" (losses are
negated) before trends are judged, so "improving" means a positive slope and
"worse since best" a positive ``loss_since_best``. Changes are judged against
an estimated noise band (``noise``, the standard deviation of one raw point
around the curve; ``noise_smoothed``, that of one smoothed point), never
against raw point-to-point differences.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from .run import Run, Series, epoch_at

MAX_POINTS = 2000
# TensorBoard's default smoothing weight is 0.6; ftdiag uses it for plots and
# adapts the weight for judging (see ``judge_weight``).
DEFAULT_SMOOTHING = 0.6
# Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom (for
# 95% intervals without importing scipy); above 30 the normal 1.96 is close.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)
# Prechelt (1998), "Early stopping - but when?": the GL5 criterion stops when
# the validation error is 5% above its minimum so far.
GL_STOP = 5.0
# Keras' EarlyStopping is most often used with patience 3 (evaluations without
# a new best before stopping); the baseline people compare with.
PATIENCE = 3
# Relative noise floor: a change smaller than 0.2% of the metric's typical size
# is below what logs print (3-4 significant digits) and what anyone acts on.
REL_NOISE_FLOOR = 0.002


def t975(df: int) -> float:
    if df < 1:
        return math.inf
    return _T975[df - 1] if df <= len(_T975) else 1.96


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

    A fixed weight over-smooths a 12-point epoch curve and under-smooths a
    1000-point per-step curve. An EMA with weight w averages about
    (1+w)/(1-w) points and lags about half of that; we average about 1/16 of
    the curve (so the lag stays near 3% of training), at most 30 points.
    Curves of up to 16 points (epoch-level logs, whose points are already
    epoch means) are judged raw, so "best at epoch 5" is the epoch a reader sees.
    """
    span = min(30.0, max(1.0, n / 16.0))
    if span <= 1.0:
        return 0.0
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
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:  # the usual case, without moveaxis' overhead (~20 us a call)
        n = a.shape[0]
        if n == 0:
            return np.asarray(np.nan)
        m = n // 2
        if n % 2:
            mid = np.partition(a, m)[m]
        else:
            part = np.partition(a, (m - 1, m))
            mid = (part[m - 1] + part[m]) / 2.0
        return np.asarray(np.nan if np.isnan(a).any() else mid)
    a = np.moveaxis(a, axis, -1)
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


def _unique_counts(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and their counts (numpy's own unique imports numpy.ma)."""
    s = np.sort(np.asarray(a, dtype=np.float64))
    if s.shape[0] == 0:
        return s, np.zeros(0, dtype=np.int64)
    start = np.concatenate([[True], s[1:] != s[:-1]])
    idx = np.flatnonzero(start)
    counts = np.diff(np.concatenate([idx, [s.shape[0]]]))
    return s[idx], counts


def granularity(values: np.ndarray, max_n: int = 2000) -> float | None:
    """The quantum of an accuracy measured on N examples (1/N), when the values
    are all multiples of one (e.g. 0.18, 0.41, 0.5 -> 0.01); None otherwise.

    Values logged as float32 or rounded to 5 decimals are accepted: the test
    tolerates each value's own rounding error, scaled by N.
    """
    v = values[np.isfinite(values)]
    v = v[(v > 0) & (v < 1)]
    u, _ = _unique_counts(np.round(v, 6))
    if u.shape[0] < 2:
        return None
    # 20 distinct values decide it as well as all of them, at a bounded cost;
    # value by value, each N that failed is dropped (the first value leaves
    # a few candidates: a third of the cost of testing every N on every value)
    ns = np.arange(2, max_n + 1, dtype=np.float64)
    for x in _unique_counts(v)[0][:20]:
        y = x * ns
        ns = ns[np.abs(y - np.round(y)) <= 1e-5 * ns + 1e-6]
        if not ns.size:
            return None
    return float(1.0 / ns[0])


def robust_noise(values: np.ndarray) -> float:
    """Noise of one point around the curve: 1.4826 * MAD of differences.

    Second differences remove a linear trend (for white noise of standard
    deviation s their MAD-based scale is s*sqrt(6)); with fewer than 5 points
    first differences are used (scale s*sqrt(2)). The MAD ignores spikes and
    the odd fast early drop.
    """
    v = values[np.isfinite(values)]
    n = v.shape[0]
    if n < 3:
        return 0.0
    if n >= 5:
        d = np.diff(v, 2)
        scale = math.sqrt(6.0)
    else:
        d = np.diff(v)
        scale = math.sqrt(2.0)
    mad = float(median(np.abs(d - median(d))))
    return 1.4826 * mad / scale


def noise_band(values: np.ndarray, accuracy_like: bool, quantum: float | None = -1.0) -> tuple[float, str]:
    """The noise of one raw point, never zero for a curve that has a scale.

    Three estimates, the largest wins: the robust difference-based estimate;
    half the quantum of an accuracy measured on few examples (flipping one
    example moves it by 1/N, so smaller changes cannot be told from rounding;
    without this floor a flat 0.16, 0.16, 0.16 curve has zero noise and any
    later change is "infinitely" significant); and ``REL_NOISE_FLOOR`` of the
    curve's typical size. ``quantum`` is the accuracy's known quantum (None:
    none), computed here when not given.
    """
    v = values[np.isfinite(values)]
    if v.shape[0] == 0:
        return 0.0, "none"
    est = robust_noise(v)
    source = "differences"
    if accuracy_like:
        q = granularity(v) if quantum is not None and quantum < 0 else quantum
        # Half a quantum, not the binomial sampling noise sqrt(p(1-p)/N):
        # successive evaluations on the same N examples are strongly
        # correlated, so what moves a point from one evaluation to the next
        # is a few flipped examples, not a fresh sample.
        if q is not None and q / 2.0 > est:
            est, source = q / 2.0, f"quantization of an accuracy on {round(1 / q)} examples"
    typical = float(median(np.abs(v)))
    floor = REL_NOISE_FLOOR * (typical if typical > 0 else 1.0)
    if accuracy_like:
        floor = max(floor, REL_NOISE_FLOOR)
    if floor > est:
        est, source = floor, "floor"
    return est, source


@functools.lru_cache(maxsize=32)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(n, k=1)``, computed once per n (read-only arrays):
    every curve of every run asks for the same few sizes."""
    i, j = np.triu_indices(n, k=1)
    i.setflags(write=False)
    j.setflags(write=False)
    return i, j


def theil_sen(x: np.ndarray, y: np.ndarray) -> float:
    """Median of pairwise slopes (robust to outliers); 0 for fewer than 2 points."""
    n = x.shape[0]
    if n < 2:
        return 0.0
    if n > 400:  # O(n^2) pairs: subsample evenly
        idx = np.linspace(0, n - 1, 400).astype(np.int64)
        x, y = x[idx], y[idx]
    i, j = _pairs(x.shape[0])
    dx = x[j] - x[i]
    ok = dx != 0
    if not ok.any():
        return 0.0
    return float(median((y[j] - y[i])[ok] / dx[ok]))


def mann_kendall(y: np.ndarray) -> tuple[float, float]:
    """Mann-Kendall trend test: (Kendall's tau, two-sided p-value).

    Normal approximation with continuity correction and the tie-corrected
    variance; fine from n >= 4 and good from n >= 10. (0, 1) for fewer than 3
    points or an all-tied series.
    """
    y = y[np.isfinite(y)]
    n = y.shape[0]
    if n < 3:
        return 0.0, 1.0
    if n > 400:
        y = y[np.linspace(0, n - 1, 400).astype(np.int64)]
        n = y.shape[0]
    i, j = _pairs(n)
    s = float(np.sign(y[j] - y[i]).sum())
    _, counts = _unique_counts(y)
    ties = float(np.sum(counts * (counts - 1) * (2 * counts + 5)))
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    tau = s / (n * (n - 1) / 2.0)
    if var <= 0:
        return 0.0, 1.0
    if s > 0:
        z = (s - 1) / math.sqrt(var)
    elif s < 0:
        z = (s + 1) / math.sqrt(var)
    else:
        z = 0.0
    p = math.erfc(abs(z) / math.sqrt(2.0))
    return tau, p


@dataclass(frozen=True)
class Projection:
    """What more training would bring, from a fit of the curve's tail.

    ``y = a + b*log(x)`` (diminishing returns, the usual shape of a learning
    curve) fitted by least squares to the last half of the points, x in epochs
    (or in fractions of the run when epochs are unknown); ``gain`` is the
    predicted oriented change of the curve after ``extra`` more units, with a
    95% interval from the slope's standard error.
    """

    unit: str  # "epoch" or "run"
    extra: float  # how many more units
    gain: float
    low: float
    high: float
    n_fit: int


def project_tail(x: np.ndarray, y: np.ndarray, extra: float, unit: str) -> Projection | None:
    """Fit ``y = a + b*log(x)`` to the last half of (x, y) and extrapolate by ``extra``."""
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0)
    x, y = x[ok], y[ok]
    n = x.shape[0]
    if n < 3:
        return None
    k = max(3, n // 2)
    tx, ty = np.log(x[-k:]), y[-k:]
    xm = float(tx.mean())
    sxx = float(((tx - xm) ** 2).sum())
    if sxx <= 0:
        return None
    b = float(((tx - xm) * (ty - ty.mean())).sum() / sxx)
    a = float(ty.mean()) - b * xm
    resid = ty - (a + b * tx)
    df = k - 2
    s2 = float((resid**2).sum() / df) if df > 0 else float("nan")
    se_b = math.sqrt(s2 / sxx) if df > 0 else float("nan")
    xe = float(x[-1])
    factor = math.log((xe + extra) / xe)
    gain = b * factor
    half = t975(df) * se_b * factor if df > 0 else float("inf")
    return Projection(unit, extra, gain, gain - half, gain + half, k)


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
    best_position: float  # 0 = start of the run, 1 = end of training
    raw_best: float
    raw_best_step: float
    raw_last: float
    noise: float  # noise of one raw point (own units)
    noise_source: str
    noise_smoothed: float  # noise of one smoothed point
    smoothing_weight: float
    improvement: float  # best - first, oriented (>0 = got better)
    improvement_noise: float
    loss_since_best: float  # best - last, oriented (>0 = got worse since best)
    loss_since_best_noise: float  # loss_since_best in noise units of a smoothed point
    generalization_loss: float | None  # Prechelt GL at the end, percent (losses only)
    gl_exceeded_step: float | None  # first step where GL exceeded GL_STOP (losses only)
    patience_stop_step: float | None  # where patience-3 early stopping would have stopped
    tail_slope: float  # oriented slope per unit of progress (fraction of the run)
    tail_slope_noise: float  # change over the tail in noise units of a smoothed point
    tail_tau: float
    tail_p: float
    after_best_n: int
    after_best_tau: float
    after_best_p: float
    after_best_slope: float  # oriented Theil-Sen slope after the best, per fraction of the run
    quantum: float | None  # 1/N when an accuracy is measured on N examples
    smoothed: tuple[float, ...] = field(repr=False, default=())
    steps: tuple[float, ...] = field(repr=False, default=())
    raw: tuple[float, ...] = field(repr=False, default=())


def _first_gl_exceeded(steps: np.ndarray, values: np.ndarray, threshold: float) -> float | None:
    """First step where GL(t) = 100 * (E(t) / min_{t'<=t} E(t') - 1) > threshold."""
    fin = np.isfinite(values)
    if fin.sum() < 2:
        return None
    s, v = steps[fin], values[fin]
    if np.any(v <= 0):
        return None
    gl = 100.0 * (v / np.minimum.accumulate(v) - 1.0)
    hit = np.nonzero(gl > threshold)[0]
    return float(s[hit[0]]) if hit.size else None


def _patience_stop(steps: np.ndarray, oriented: np.ndarray, patience: int = PATIENCE) -> float | None:
    """Step at which early stopping with ``patience`` evaluations would stop."""
    best = -math.inf
    wait = 0
    for st, v in zip(steps.tolist(), oriented.tolist(), strict=True):
        if not math.isfinite(v):
            continue
        if v > best:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= patience:
                return float(st)
    return None


def curve_stats(
    s: Series, run_end: float, run_start: float = 0.0, accuracy_like: bool | None = None
) -> CurveStats | None:
    fin = s.finite
    if len(fin) == 0:
        return None
    steps, raw = bin_means(fin.steps, fin.values)
    n = raw.shape[0]
    sign = 1.0 if s.higher_is_better else -1.0
    acc = accuracy_like if accuracy_like is not None else bool(
        s.higher_is_better and np.nanmin(raw) >= 0 and np.nanmax(raw) <= 1
    )
    w = judge_weight(n)
    sm = ema_debiased(raw, w) if w > 0 else raw.copy()
    oriented = sign * sm
    bi = int(np.nanargmax(oriented))
    best, last, first = float(sm[bi]), float(sm[-1]), float(sm[0])
    span = max(run_end - run_start, 1e-12)
    best_pos = float((steps[bi] - run_start) / span) if n > 1 else 1.0
    quantum = granularity(raw) if acc else None
    noise, noise_source = noise_band(raw, acc, quantum)
    # noise of a smoothed point: an EMA with weight w keeps (1-w)/(1+w) of the
    # variance of white noise
    sm_noise = noise * math.sqrt((1 - w) / (1 + w)) if w > 0 else noise
    unit = sm_noise if sm_noise > 0 else math.inf
    lsb = float(sign * (best - last))
    improvement = float(sign * (best - first))
    gl = None
    gl_step = None
    if sign < 0 and best > 0:
        gl = 100.0 * (last / best - 1.0)
        gl_step = _first_gl_exceeded(steps, sm, GL_STOP)
    # tail: last third of the points (at least 3)
    k = max(3, n // 3)
    tx, ty = steps[-k:], sign * raw[-k:]
    units = (tx - run_start) / span
    slope = theil_sen(units, ty) if n >= 3 else 0.0
    tail_len = float(units[-1] - units[0]) if tx.shape[0] > 1 else 0.0
    tsn = slope * tail_len / unit if n >= 3 else 0.0
    tau, p = mann_kendall(ty) if n >= 4 else (0.0, 1.0)
    after = sign * raw[bi:]
    atau, ap = mann_kendall(after) if after.shape[0] >= 4 else (0.0, 1.0)
    aslope = theil_sen((steps[bi:] - run_start) / span, after) if after.shape[0] >= 3 else 0.0
    rbi = int(np.nanargmax(sign * raw))
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
        raw_best=float(raw[rbi]),
        raw_best_step=float(steps[rbi]),
        raw_last=float(raw[-1]),
        noise=noise,
        noise_source=noise_source,
        noise_smoothed=sm_noise,
        smoothing_weight=w,
        improvement=improvement,
        improvement_noise=improvement / unit,
        loss_since_best=lsb,
        loss_since_best_noise=float(lsb / unit),
        generalization_loss=gl,
        gl_exceeded_step=gl_step,
        patience_stop_step=_patience_stop(steps, sign * raw),
        tail_slope=slope,
        tail_slope_noise=float(tsn),
        tail_tau=tau,
        tail_p=p,
        after_best_n=int(after.shape[0]),
        after_best_tau=atau,
        after_best_p=ap,
        after_best_slope=aslope,
        quantum=quantum,
        smoothed=tuple(sm.tolist()),
        steps=tuple(steps.tolist()),
        raw=tuple(raw.tolist()),
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
    gap_widening: float | None  # gap_final - gap_at_best, in noise units of the validation curve
    loss_gap_final: float | None  # log(val loss / train loss) at the end
    loss_gap_at_best: float | None  # the same at the validation loss's best point
    loss_metric_disagree: bool
    first_nonfinite_step: float | None
    train_spikes: int
    x_unit: str
    steps_per_epoch: float | None = None
    projection: Projection | None = None  # of the primary validation curve
    projection_2: Projection | None = None  # the same, two units ahead
    lrm: float | None = None  # learning-rate multiplier, when the user gave it
    n_epochs: float | None = None
    total_steps: float | None = None

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
    noise, _ = noise_band(v, accuracy_like=False)
    if noise <= 0:
        return 0
    k = 5
    pad = np.concatenate([np.full(k, v[0]), v])
    # the median of the 5 points before each: min/max of whole columns (the
    # same middle value as sorting each window, without a 5-wide copy to
    # partition: a million-step log spent a third of its analysis here)
    a, b, c, d, e = (pad[j : j + v.shape[0]] for j in range(k))
    lo = np.maximum(np.minimum(a, b), np.minimum(c, d))
    hi = np.minimum(np.maximum(a, b), np.maximum(c, d))
    med = np.maximum(np.minimum(e, lo), np.minimum(np.maximum(e, lo), hi))
    return int(((v - med) > 6 * noise).sum())


def steps_per_epoch(run: Run) -> float | None:
    """Optimizer steps in one epoch: from the log, else from the hyperparameters.

    OpenAI runs exactly ``n_epochs`` passes, so the last step over ``n_epochs``
    is one epoch; failing that, ceil(n_examples / batch_size).
    """
    if run.x_unit == "epoch":
        return 1.0
    if run.steps_per_epoch:
        return float(run.steps_per_epoch)
    for s in run.series().values():
        if s.epochs is not None:
            fin = np.isfinite(s.epochs) & (s.epochs > 0)
            if fin.any():
                i = int(np.nonzero(fin)[0][-1])
                return float(s.steps[i] / s.epochs[i])
    hp = run.hyperparameters
    if hp.n_epochs and run.last_step > 0:
        return run.last_step / hp.n_epochs
    if hp.n_examples and hp.batch_size:
        return float(math.ceil(hp.n_examples / hp.batch_size))
    return None


def _disagree(vl: CurveStats | None, vm: CurveStats | None) -> bool:
    """Validation loss clearly worse than its best while the task metric is not.

    The loss counts as worse when it rose more than 2 noise units and more than
    Prechelt's 5%; the metric counts as not worse when it is within one noise
    unit of its best or had its best in the last fifth of training.
    """
    if vl is None or vm is None or vl.n < 3 or vm.n < 3:
        return False
    loss_worse = vl.loss_since_best_noise > 2 and (vl.generalization_loss or 0) > GL_STOP
    metric_fine = vm.best_position > 0.8 or vm.loss_since_best_noise < 1
    return bool(loss_worse and metric_fine)


def _optimizer_steps(run: Run, end: float, epochs_seen: float | None) -> float | None:
    if run.x_unit == "step":
        return end
    hp = run.hyperparameters
    if epochs_seen and hp.n_examples and hp.batch_size:
        return epochs_seen * math.ceil(hp.n_examples / hp.batch_size)
    return None


def compute(run: Run) -> Features:
    end = run.last_step
    start = 0.0
    series = run.series()
    stats = {role: curve_stats(s, end, start) for role, s in series.items()}
    tl, vl = stats.get("train_loss"), stats.get("val_loss")
    tm, vm = stats.get("train_metric"), stats.get("val_metric")
    # prefer the task metric when validation logged one; but a metric that never
    # moved (token accuracy 0.0 at every evaluation) carries no information,
    # and then the loss decides
    metric_moved = vm is not None and max(vm.raw) > min(vm.raw)
    primary = "metric" if vm is not None and (vl is None or (metric_moved and (vm.n >= vl.n or vm.n >= 3))) else "loss"
    val = vm if primary == "metric" else vl
    train = tm if primary == "metric" else tl
    gap_final = gap_at_best = gap_first = widening = None
    if val is not None and train is not None:
        sign = val.sign
        gap_final = sign * (_value_at(train, val.last_step) - val.last)
        gap_at_best = sign * (_value_at(train, val.best_step) - val.best)
        gap_first = sign * (_value_at(train, val.first_step) - val.first)
        unit = max(val.noise_smoothed, 1e-12)
        widening = (gap_final - gap_at_best) / unit
    loss_gap_final = loss_gap_at_best = None
    if vl is not None and tl is not None:
        tr_end = _value_at(tl, vl.last_step)
        tr_best = _value_at(tl, vl.best_step)
        # (a ratio of extreme values can underflow to 0 or overflow to inf)
        if tr_end > 0 and vl.last > 0 and 0 < vl.last / tr_end < math.inf:
            loss_gap_final = math.log(vl.last / tr_end)
        if tr_best > 0 and vl.best > 0 and 0 < vl.best / tr_best < math.inf:
            loss_gap_at_best = math.log(vl.best / tr_best)
    nonfinite = None
    for s in series.values():
        bad = ~np.isfinite(s.values)
        if bad.any():
            st = float(s.steps[int(np.argmax(bad))])
            nonfinite = st if nonfinite is None else min(nonfinite, st)
    best_epoch = epoch_at(run, val.best_step) if val is not None else None
    spe = steps_per_epoch(run)
    hp = run.hyperparameters
    proj = proj2 = None
    if val is not None and val.n >= 3:
        xs = np.asarray(val.steps)
        ys = val.sign * np.asarray(val.raw)
        if spe:
            proj = project_tail(xs / spe, ys, 1.0, "epoch")
            proj2 = project_tail(xs / spe, ys, 2.0, "epoch")
        elif end > 0:
            proj = project_tail(xs / end, ys, 0.25, "run")
            proj2 = project_tail(xs / end, ys, 0.5, "run")
    epochs_seen = run.epochs_seen
    if epochs_seen is None and spe:
        epochs_seen = end / spe
    return Features(
        primary=primary,
        train_loss=tl,
        val_loss=vl,
        train_metric=tm,
        val_metric=vm,
        metric_name=run.val_metric.name if run.val_metric is not None else None,
        epochs_seen=epochs_seen,
        best_epoch=best_epoch if best_epoch is not None or not spe or val is None else val.best_step / spe,
        last_step=end,
        n_val_points=val.n if val is not None else 0,
        gap_final=gap_final,
        gap_at_best=gap_at_best,
        gap_first=gap_first,
        gap_widening=widening,
        loss_gap_final=loss_gap_final,
        loss_gap_at_best=loss_gap_at_best,
        loss_metric_disagree=_disagree(vl, vm),
        first_nonfinite_step=nonfinite,
        train_spikes=_count_spikes(run.train_loss),
        x_unit=run.x_unit,
        steps_per_epoch=spe,
        projection=proj,
        projection_2=proj2,
        lrm=hp.learning_rate_multiplier,
        n_epochs=hp.n_epochs if hp.n_epochs else (round(epochs_seen) if epochs_seen else None),
        total_steps=_optimizer_steps(run, end, epochs_seen),
    )
