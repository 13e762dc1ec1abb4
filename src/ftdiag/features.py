"""Curve statistics: smoothing, noise band, best validation point, gaps, trends.

The statistics are plain Python on lists of floats (no scipy: importing
scipy.stats costs seconds; and no numpy: importing it costs more than
``ftdiag analyze`` on one small file may take). Long series are first reduced
to at most ``MAX_POINTS`` bin means (with numpy, imported only then), which
keeps the cost independent of the log's length and removes per-step noise; the
pairwise statistics (Theil-Sen, Mann-Kendall) look at no more than
``PAIR_POINTS`` evenly spaced points, so their cost is bounded too.

The few computations over every raw point of a long series (the spike count
and its noise estimate) are written once, over four primitives
(:func:`_finite`, :func:`_diff`, :func:`_absdev`, :func:`median` and the
running median in :func:`_spike_count`) that take a list, or a numpy array when
the series is longer than ``MAX_POINTS`` (see :func:`_column`).

Conventions: a curve is always turned into "higher is better" (losses are
negated) before trends are judged, so "improving" means a positive slope and
"worse since best" a positive ``loss_since_best``. Changes are judged against
an estimated noise band (``noise``, the standard deviation of one raw point
around the curve; ``noise_smoothed``, that of one smoothed point), never
against raw point-to-point differences.
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .run import Run, Series, epoch_at, interp

if TYPE_CHECKING:  # pragma: no cover
    from typing import TypeAlias

    import numpy as np

    from .run import Floats

    # a list (the statistics) or, for the raw points of a long series, numpy
    Column: TypeAlias = "list[float] | np.ndarray"

MAX_POINTS = 2000
# Theil-Sen and Mann-Kendall look at all pairs of points: at most this many
# points, evenly spaced (79,800 pairs)
PAIR_POINTS = 400
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


def _floats(x: Sequence[float] | Floats) -> list[float]:
    """A list of Python floats (exact) from a list, tuple, ``array('d')`` or numpy array."""
    if isinstance(x, list):
        return x
    tolist = getattr(x, "tolist", None)
    return tolist() if tolist is not None else [float(v) for v in x]


def _column(x: Sequence[float] | Floats) -> Column:
    """The raw points of a series for the primitives below: a list, or, for a
    series column (numpy or ``array('d')``) longer than ``MAX_POINTS``, a
    numpy array (Python's per-point cost would then dominate, and binning
    such a series has imported numpy anyway). A list stays a list: Theil-Sen's
    slopes of a small file never import numpy."""
    if len(x) > MAX_POINTS and not isinstance(x, (list, tuple)):
        import numpy as np

        return np.asarray(x, dtype=np.float64)
    return _floats(x)


def _finite(v: Column) -> Column:
    if isinstance(v, list):
        isfinite = math.isfinite
        return v if all(map(isfinite, v)) else [x for x in v if isfinite(x)]
    import numpy as np

    ok = np.isfinite(v)
    return v if ok.all() else v[ok]


def _diff(v: Column) -> Column:
    """Successive differences (``numpy.diff``)."""
    if isinstance(v, list):
        return [b - a for a, b in zip(v, v[1:], strict=False)]
    import numpy as np

    return np.diff(v)


def _absdev(v: Column, m: float) -> Column:
    """``|v - m|`` for every point."""
    if isinstance(v, list):
        return [abs(x - m) for x in v]
    import numpy as np

    return np.abs(v - m)


def median(a: Sequence[float] | Floats) -> float:
    """The median, as ``numpy.median`` computes it (NaN if any value is NaN;
    the mean of the two middle values for an even count)."""
    v = _column(a)
    n = len(v)
    if n == 0:
        return math.nan
    m = n // 2
    if isinstance(v, list):
        if any(map(math.isnan, v)):
            return math.nan
        lo = m if n % 2 else m - 1  # the middle ranks: lo and m
        s, start = _around(v, lo, m)
        return s[m - start] if n % 2 else (s[lo - start] + s[m - start]) / 2.0
    # a long numpy column: partitioning (np.median imports numpy.ma, ~10 ms)
    import numpy as np

    if np.isnan(v).any():
        return math.nan
    if n % 2:
        return float(np.partition(v, m)[m])
    part = np.partition(v, (m - 1, m))
    return float((part[m - 1] + part[m]) / 2.0)


def _around(v: list[float], lo: int, hi: int) -> tuple[list[float], int]:
    """Sorted values of ``v`` covering the ranks ``lo..hi`` (0-based, in
    sorted order), and the rank of the first value returned.

    A long list (the ~80,000 pairwise slopes of Theil-Sen) is not sorted
    whole: a sorted sample brackets the ranks, one pass counts the values
    below the bracket and keeps those inside, and only those are sorted. The
    values at the ranks are exactly those of a full sort (which is the
    fallback when the bracket misses)."""
    n = len(v)
    if n <= 4096:
        return sorted(v), 0
    sample = sorted(v[:: n // 1024])
    k = len(sample)
    margin = 64
    a = sample[max(0, lo * k // n - margin)]
    b = sample[min(k - 1, hi * k // n + margin)]
    below = sum(map(a.__gt__, v))
    inside = sorted([x for x in v if a <= x <= b])
    if below <= lo and hi < below + len(inside):
        return inside, below
    return sorted(v), 0


def ema_debiased(values: Sequence[float] | Floats, weight: float = DEFAULT_SMOOTHING) -> list[float]:
    """TensorBoard's debiased exponential moving average (causal).

    Non-finite points are passed over (they keep the previous smoothed value)
    exactly as TensorBoard's scalar dashboard does.
    """
    out: list[float] = []
    last = 0.0
    n = 0
    prev = math.nan
    w = float(weight)
    for v in _floats(values):
        if not math.isfinite(v):
            out.append(prev)
            continue
        last = last * w + (1.0 - w) * v
        n += 1
        debias = 1.0 - w**n if w > 0 else 1.0
        prev = last / debias
        out.append(prev)
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


def bin_means(
    steps: Sequence[float] | Floats, values: Sequence[float] | Floats, max_points: int = MAX_POINTS
) -> tuple[list[float], list[float]]:
    """Reduce a long series to ``max_points`` equal-count bins (means of
    finite values); a short one comes back as it is (as lists)."""
    n = len(steps)
    if n <= max_points:
        return _floats(steps), _floats(values)
    import numpy as np  # a long series only

    s = np.asarray(steps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    edges = np.linspace(0, n, max_points + 1).astype(np.int64)
    counts = np.diff(edges)
    fin = np.isfinite(v)
    v0 = np.where(fin, v, 0.0)
    sums = np.add.reduceat(v0, edges[:-1])
    nfin = np.add.reduceat(fin.astype(np.float64), edges[:-1])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        means = np.where(nfin > 0, sums / nfin, np.nan)
        s_means = np.add.reduceat(s, edges[:-1]) / counts
    return s_means.tolist(), means.tolist()


def _even_indices(n: int, k: int) -> list[int]:
    """``numpy.linspace(0, n - 1, k).astype(int)``: ``k`` evenly spaced indices of ``n``."""
    step = (n - 1) / (k - 1)
    return [int(i * step) for i in range(k - 1)] + [n - 1]


def granularity(values: Sequence[float] | Floats, max_n: int = 2000) -> float | None:
    """The quantum of an accuracy measured on N examples (1/N), when the values
    are all multiples of one (e.g. 0.18, 0.41, 0.5 -> 0.01); None otherwise.

    Values logged as float32 or rounded to 5 decimals are accepted: the test
    tolerates each value's own rounding error, scaled by N.
    """
    v = [x for x in _floats(values) if 0 < x < 1]
    # distinct values at 6 decimals (numpy.round: scale, round half to even)
    if len({round(x * 1e6) for x in v}) < 2:
        return None
    # 20 distinct values decide it as well as all of them, at a bounded cost;
    # value by value, each N that failed is dropped (the first value leaves
    # a few candidates: a third of the cost of testing every N on every value)
    ns = [float(k) for k in range(2, max_n + 1)]
    for x in sorted(set(v))[:20]:
        ns = [k for k in ns if abs(x * k - round(x * k)) <= 1e-5 * k + 1e-6]
        if not ns:
            return None
    return 1.0 / ns[0]


def robust_noise(values: Sequence[float] | Floats, stride: int = 1) -> float:
    """Noise of one point around the curve: 1.4826 * MAD of differences.

    Second differences remove a linear trend (for white noise of standard
    deviation s their MAD-based scale is s*sqrt(6)); with fewer than 5 points
    first differences are used (scale s*sqrt(2)). The MAD ignores spikes and
    the odd fast early drop. ``stride`` > 1 takes the MAD over every
    ``stride``-th difference (the differences are still those of adjacent
    points): the same estimate, within sampling error, at a fraction of the cost.
    """
    v = _finite(_column(values))
    n = len(v)
    if n < 3:
        return 0.0
    if n >= 5:
        d = _diff(_diff(v))
        scale = math.sqrt(6.0)
    else:
        d = _diff(v)
        scale = math.sqrt(2.0)
    if stride > 1:
        d = d[::stride]
    mad = median(_absdev(d, median(d)))
    return 1.4826 * mad / scale


def noise_band(
    values: Sequence[float] | Floats, accuracy_like: bool, quantum: float | None = -1.0, stride: int = 1
) -> tuple[float, str]:
    """The noise of one raw point, never zero for a curve that has a scale.

    Three estimates, the largest wins: the robust difference-based estimate;
    half the quantum of an accuracy measured on few examples (flipping one
    example moves it by 1/N, so smaller changes cannot be told from rounding;
    without this floor a flat 0.16, 0.16, 0.16 curve has zero noise and any
    later change is "infinitely" significant); and ``REL_NOISE_FLOOR`` of the
    curve's typical size. ``quantum`` is the accuracy's known quantum (None:
    none), computed here when not given. ``stride``: see :func:`robust_noise`.
    """
    v = _finite(_column(values))
    if len(v) == 0:
        return 0.0, "none"
    est = robust_noise(v, stride)
    source = "differences"
    if accuracy_like:
        q = granularity(v) if quantum is not None and quantum < 0 else quantum
        # Half a quantum, not the binomial sampling noise sqrt(p(1-p)/N):
        # successive evaluations on the same N examples are strongly
        # correlated, so what moves a point from one evaluation to the next
        # is a few flipped examples, not a fresh sample.
        if q is not None and q / 2.0 > est:
            est, source = q / 2.0, f"quantization of an accuracy on {round(1 / q)} examples"
    typical = median(_absdev(v[::stride] if stride > 1 else v, 0.0))
    floor = REL_NOISE_FLOOR * (typical if typical > 0 else 1.0)
    if accuracy_like:
        floor = max(floor, REL_NOISE_FLOOR)
    if floor > est:
        est, source = floor, "floor"
    return est, source


def _pair_points(x: list[float], y: list[float]) -> tuple[list[float], list[float]]:
    """At most ``PAIR_POINTS`` evenly spaced points of (x, y)."""
    n = len(x)
    if n <= PAIR_POINTS:
        return x, y
    idx = _even_indices(n, PAIR_POINTS)
    return [x[i] for i in idx], [y[i] for i in idx]


# above this many points, Theil-Sen's slopes are computed with numpy when it
# is imported anyway
_NUMPY_PAIRS = 48


def _theil_sen_numpy(xs: list[float], ys: list[float]) -> float:
    import numpy as np

    x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    i, j = np.triu_indices(x.shape[0], k=1)
    with np.errstate(all="ignore"):  # inf - inf is NaN, as in Python
        dx = x[j] - x[i]
        ok = dx != 0
        if not ok.any():
            return 0.0
        slopes = (y[j] - y[i])[ok] / dx[ok]
    return median(slopes)


def theil_sen(x: Sequence[float] | Floats, y: Sequence[float] | Floats) -> float:
    """Median of pairwise slopes (robust to outliers); 0 for fewer than 2 points."""
    xs, ys = _pair_points(_floats(x), _floats(y))
    if len(xs) > _NUMPY_PAIRS and "numpy" in sys.modules:
        # numpy is loaded already (a long series was binned with it): the
        # ~80,000 slopes of 400 points in C, not Python (~50 ms a call, eight
        # calls a run); the same slopes, so the same median
        return _theil_sen_numpy(xs, ys)
    slopes: list[float] = []
    extend = slopes.extend
    for i in range(len(xs) - 1):
        xi, yi = xs[i], ys[i]
        extend([(yj - yi) / (xj - xi) for xj, yj in zip(xs[i + 1 :], ys[i + 1 :], strict=False) if xj != xi])
    if not slopes:
        return 0.0
    return median(slopes)


def mann_kendall(y: Sequence[float] | Floats) -> tuple[float, float]:
    """Mann-Kendall trend test: (Kendall's tau, two-sided p-value).

    Normal approximation with continuity correction and the tie-corrected
    variance; fine from n >= 4 and good from n >= 10. (0, 1) for fewer than 3
    points or an all-tied series.
    """
    v = [x for x in _floats(y) if math.isfinite(x)]
    if len(v) < 3:
        return 0.0, 1.0
    _, v = _pair_points(v, v)
    n = len(v)
    # S = sum over pairs i < j of sign(y_j - y_i): for each point, the earlier
    # points below it minus those above it (a sorted prefix: n log n)
    s = 0
    seen: list[float] = []
    for yj in v:
        lo, hi = bisect_left(seen, yj), bisect_right(seen, yj)
        s += lo - (len(seen) - hi)
        seen.insert(hi, yj)
    ties = sum(c * (c - 1) * (2 * c + 5) for c in Counter(v).values())
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


def _sum(a: list[float], lo: int = 0, n: int = -1) -> float:
    """``numpy.sum`` of a list, the same rounding: numpy's pairwise summation
    (eight accumulators over blocks of at most 128 values, halves above)."""
    if n < 0:
        return 0.0 + _sum(a, 0, len(a))
    if n < 8:
        r = 0.0
        for x in a[lo : lo + n]:
            r += x
        return r
    if n <= 128:
        m = n - n % 8
        acc = []
        for j in range(8):
            r = a[lo + j]
            for x in a[lo + j + 8 : lo + m : 8]:
                r += x
            acc.append(r)
        res = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
        for x in a[lo + m : lo + n]:
            res += x
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _sum(a, lo, n2) + _sum(a, lo + n2, n - n2)


def project_tail(x: Sequence[float] | Floats, y: Sequence[float] | Floats, extra: float, unit: str) -> Projection | None:
    """Fit ``y = a + b*log(x)`` to the last half of (x, y) and extrapolate by ``extra``."""
    isfinite = math.isfinite
    pts = [(a, b) for a, b in zip(_floats(x), _floats(y), strict=False) if isfinite(a) and isfinite(b) and a > 0]
    n = len(pts)
    if n < 3:
        return None
    k = max(3, n // 2)
    tx = [math.log(a) for a, _ in pts[-k:]]
    ty = [b for _, b in pts[-k:]]
    xm = _sum(tx) / k
    ym = _sum(ty) / k
    sxx = _sum([(t - xm) * (t - xm) for t in tx])
    if sxx <= 0:
        return None
    b = _sum([(t - xm) * (u - ym) for t, u in zip(tx, ty, strict=False)]) / sxx
    a = ym - b * xm
    resid = [u - (a + b * t) for t, u in zip(tx, ty, strict=False)]
    df = k - 2
    s2 = _sum([r * r for r in resid]) / df if df > 0 else math.nan
    se_b = math.sqrt(s2 / sxx) if df > 0 else math.nan
    xe = pts[-1][0]
    factor = math.log((xe + extra) / xe)
    gain = b * factor
    half = t975(df) * se_b * factor if df > 0 else math.inf
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


def _first_gl_exceeded(steps: list[float], values: list[float], threshold: float) -> float | None:
    """First step where GL(t) = 100 * (E(t) / min_{t'<=t} E(t') - 1) > threshold."""
    pts = [(s, v) for s, v in zip(steps, values, strict=False) if math.isfinite(v)]
    if len(pts) < 2 or any(v <= 0 for _, v in pts):
        return None
    low = math.inf
    for s, v in pts:
        low = min(low, v)
        if 100.0 * (v / low - 1.0) > threshold:
            return s
    return None


def _patience_stop(steps: list[float], oriented: list[float], patience: int = PATIENCE) -> float | None:
    """Step at which early stopping with ``patience`` evaluations would stop."""
    best = -math.inf
    wait = 0
    for st, v in zip(steps, oriented, strict=True):
        if not math.isfinite(v):
            continue
        if v > best:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= patience:
                return float(st)
    return None


def _nanargmax(v: list[float]) -> int:
    """``numpy.nanargmax``: the first index of the largest value, NaN counted as -inf."""
    w = [x if x == x else -math.inf for x in v]
    if len(w) == 0 or all(x != x for x in v):
        raise ValueError("All-NaN slice encountered")
    return w.index(max(w))


def curve_stats(
    s: Series, run_end: float, run_start: float = 0.0, accuracy_like: bool | None = None
) -> CurveStats | None:
    fin = s.finite
    if len(fin) == 0:
        return None
    steps, raw = bin_means(fin.steps, fin.values)
    n = len(raw)
    sign = 1.0 if s.higher_is_better else -1.0
    if accuracy_like is not None:
        acc = accuracy_like
    else:
        known = [x for x in raw if x == x]
        acc = bool(s.higher_is_better and known and min(known) >= 0 and max(known) <= 1)
    w = judge_weight(n)
    sm = ema_debiased(raw, w) if w > 0 else list(raw)
    oriented_raw = [sign * x for x in raw]
    bi = _nanargmax([sign * x for x in sm])
    best, last, first = sm[bi], sm[-1], sm[0]
    span = max(run_end - run_start, 1e-12)
    best_pos = (steps[bi] - run_start) / span if n > 1 else 1.0
    quantum = granularity(raw) if acc else None
    noise, noise_source = noise_band(raw, acc, quantum)
    # noise of a smoothed point: an EMA with weight w keeps (1-w)/(1+w) of the
    # variance of white noise
    sm_noise = noise * math.sqrt((1 - w) / (1 + w)) if w > 0 else noise
    unit = sm_noise if sm_noise > 0 else math.inf
    lsb = sign * (best - last)
    improvement = sign * (best - first)
    gl = None
    gl_step = None
    if sign < 0 and best > 0:
        gl = 100.0 * (last / best - 1.0)
        gl_step = _first_gl_exceeded(steps, sm, GL_STOP)
    # tail: last third of the points (at least 3)
    k = max(3, n // 3)
    ty = oriented_raw[-k:]
    units = [(x - run_start) / span for x in steps[-k:]]
    slope = theil_sen(units, ty) if n >= 3 else 0.0
    tail_len = units[-1] - units[0] if len(units) > 1 else 0.0
    tsn = slope * tail_len / unit if n >= 3 else 0.0
    tau, p = mann_kendall(ty) if n >= 4 else (0.0, 1.0)
    after = oriented_raw[bi:]
    atau, ap = mann_kendall(after) if len(after) >= 4 else (0.0, 1.0)
    aslope = theil_sen([(x - run_start) / span for x in steps[bi:]], after) if len(after) >= 3 else 0.0
    rbi = _nanargmax(oriented_raw)
    return CurveStats(
        name=s.name,
        sign=sign,
        n=len(fin),
        n_nonfinite=len(s) - len(fin),
        first_step=steps[0],
        last_step=steps[-1],
        first=first,
        last=last,
        best=best,
        best_step=steps[bi],
        best_index=bi,
        best_position=best_pos,
        raw_best=raw[rbi],
        raw_best_step=steps[rbi],
        raw_last=raw[-1],
        noise=noise,
        noise_source=noise_source,
        noise_smoothed=sm_noise,
        smoothing_weight=w,
        improvement=improvement,
        improvement_noise=improvement / unit,
        loss_since_best=lsb,
        loss_since_best_noise=lsb / unit,
        generalization_loss=gl,
        gl_exceeded_step=gl_step,
        patience_stop_step=_patience_stop(steps, oriented_raw),
        tail_slope=slope,
        tail_slope_noise=tsn,
        tail_tau=tau,
        tail_p=p,
        after_best_n=len(after),
        after_best_tau=atau,
        after_best_p=ap,
        after_best_slope=aslope,
        quantum=quantum,
        smoothed=tuple(sm),
        steps=tuple(steps),
        raw=tuple(raw),
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
    pts = [(x, y) for x, y in zip(stats.steps, stats.smoothed, strict=False) if math.isfinite(y)]
    if not pts:
        return math.nan
    return interp(step, [x for x, _ in pts], [y for _, y in pts])


def _spike_count(v: Column, threshold: float) -> int:
    """Points more than ``threshold`` above the median of the 5 points before
    them (the first point stands in for the points before the start)."""
    k = 5
    if isinstance(v, list):
        before = [v[0]] * k + v
        return sum(1 for i, x in enumerate(v) if x - sorted(before[i : i + k])[2] > threshold)
    import numpy as np

    n = v.shape[0]
    pad = np.concatenate([np.full(k, v[0]), v])
    # The median of 5 values is at least the smallest of any 3 of them (only
    # 2 can lie strictly above it), and subtraction rounds monotonically, so a
    # point with v - min(3 points before it) <= threshold is no spike: only
    # the few others get the exact median of their window (a million-step log
    # spent a third of its analysis on every window's median).
    lo3 = np.minimum(np.minimum(pad[2 : 2 + n], pad[3 : 3 + n]), pad[4 : 4 + n])
    idx = np.flatnonzero((v - lo3) > threshold)
    if idx.size == 0:
        return 0
    med = np.sort(pad[idx[:, None] + np.arange(k)], axis=1)[:, 2]
    return int(((v[idx] - med) > threshold).sum())


SPIKE_NOISE_POINTS = 100_000


def _count_spikes(s: Series | None) -> int:
    """Training-loss spikes: points more than 6 noise units above the running median."""
    if s is None:
        return 0
    v = _column(s.finite.values)
    if len(v) < 10:
        return 0
    # the noise of a raw point from at most ~SPIKE_NOISE_POINTS differences: on
    # a million-step log the three exact medians took 0.1 s, a tenth of the
    # whole analysis, for a threshold a 100,000-point sample estimates to
    # within about 0.5% (the MAD's standard error); the count itself still
    # looks at every point
    stride = max(1, len(v) // SPIKE_NOISE_POINTS)
    noise, _ = noise_band(v, accuracy_like=False, stride=stride)
    if noise <= 0:
        return 0
    return _spike_count(v, 6 * noise)


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
            steps, epochs = s.epoch_points()
            # the last point with a positive epoch
            for i in range(len(epochs) - 1, -1, -1):
                if epochs[i] > 0:
                    return float(steps[i] / epochs[i])
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
        st = s.first_nonfinite_step
        if st is not None:
            nonfinite = st if nonfinite is None else min(nonfinite, st)
    best_epoch = epoch_at(run, val.best_step) if val is not None else None
    spe = steps_per_epoch(run)
    hp = run.hyperparameters
    proj = proj2 = None
    if val is not None and val.n >= 3:
        ys = [val.sign * y for y in val.raw]
        if spe:
            xs = [x / spe for x in val.steps]
            proj = project_tail(xs, ys, 1.0, "epoch")
            proj2 = project_tail(xs, ys, 2.0, "epoch")
        elif end > 0:
            xs = [x / end for x in val.steps]
            proj = project_tail(xs, ys, 0.25, "run")
            proj2 = project_tail(xs, ys, 0.5, "run")
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
