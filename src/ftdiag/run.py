"""The normalized run: what every reader produces and every later stage reads.

A :class:`Run` holds up to four canonical series (training and validation loss,
training and validation task metric), any extra series a format logged, the
hyperparameters known from the log, and warnings collected while reading.
Series hold float64 sequences (``array('d')`` or numpy arrays, see
:class:`Series`); steps are ascending. This module imports numpy only to work
on numpy columns: a small file is analysed without it.
"""

from __future__ import annotations

import math
import operator
import re
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from .hyperparams import Hyperparameters

if TYPE_CHECKING:  # pragma: no cover
    from typing import TypeAlias

    import numpy as np

    # a float64 column: array('d') (small files) or a numpy array (large files)
    Floats: TypeAlias = "np.ndarray | array[float]"

XUnit = Literal["step", "epoch"]
_NAN = float("nan")
# plain sequences longer than this become numpy columns (the Python path's
# per-point cost then exceeds importing numpy)
PLAIN_MAX = 100_000
# array('d') columns longer than this are scanned with numpy (Series.finite, ...)
LONG = 2000

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

    The three columns are float sequences of one of two kinds: ``array('d')``
    (small files, read without numpy so that ``ftdiag analyze`` on one small
    file never imports it) or ``np.ndarray`` (large files and the pandas-based
    readers). Both have ``len``, indexing, slicing and ``tolist()``; code that
    needs numpy's operations (masks, arithmetic) takes :attr:`np_values` /
    :attr:`np_steps` / :attr:`np_epochs` (a view, no copy), code that loops in
    Python takes :meth:`values_list` / :meth:`steps_list`.
    """

    name: str
    steps: Floats
    values: Floats
    epochs: Floats | None = None
    higher_is_better: bool = False

    def __len__(self) -> int:
        return len(self.values)

    @property
    def is_numpy(self) -> bool:
        """Whether the columns are numpy arrays (else ``array('d')``)."""
        return not isinstance(self.values, array)

    @property
    def _vectorized(self) -> bool:
        """Whether to scan the columns with numpy: numpy columns, and long
        ``array('d')`` ones (a long series is binned with numpy anyway)."""
        return not isinstance(self.values, array) or len(self.values) > LONG

    # plain Python lists (exact float64 values)
    def steps_list(self) -> list[float]:
        return self.steps.tolist()

    def values_list(self) -> list[float]:
        return self.values.tolist()

    def epochs_list(self) -> list[float] | None:
        return None if self.epochs is None else self.epochs.tolist()

    # numpy views (import numpy; no copy of an array('d'))
    @property
    def np_steps(self) -> np.ndarray:
        return _np(self.steps)

    @property
    def np_values(self) -> np.ndarray:
        return _np(self.values)

    @property
    def np_epochs(self) -> np.ndarray | None:
        return None if self.epochs is None else _np(self.epochs)

    def as_numpy(self) -> Series:
        """The same series with numpy columns."""
        if self.is_numpy:
            return self
        return replace(self, steps=self.np_steps, values=self.np_values, epochs=self.np_epochs)

    @property
    def finite(self) -> Series:
        """The same series without NaN/inf points."""
        if self._vectorized:
            import numpy as np

            mask = np.isfinite(self.np_values)
            if mask.all():
                return self
            return replace(
                self,
                steps=self.np_steps[mask],
                values=self.np_values[mask],
                epochs=None if self.epochs is None else self.np_epochs[mask],  # type: ignore[index]
            )
        if all(map(math.isfinite, self.values)):  # the usual case, at C speed
            return self
        vals = self.values.tolist()
        keep = [i for i, v in enumerate(vals) if math.isfinite(v)]
        steps, epochs = self.steps, self.epochs
        return replace(
            self,
            steps=array("d", [steps[i] for i in keep]),
            values=array("d", [vals[i] for i in keep]),
            epochs=None if epochs is None else array("d", [epochs[i] for i in keep]),
        )

    @property
    def n_nonfinite(self) -> int:
        if self._vectorized:
            import numpy as np

            return int((~np.isfinite(self.np_values)).sum())
        return len(self.values) - sum(map(math.isfinite, self.values))

    @property
    def first_nonfinite_step(self) -> float | None:
        """The step of the first NaN/inf value, None when every value is finite."""
        if self._vectorized:
            import numpy as np

            bad = ~np.isfinite(self.np_values)
            return float(self.steps[int(np.argmax(bad))]) if bad.any() else None
        if all(map(math.isfinite, self.values)):
            return None
        return next(float(st) for st, v in zip(self.steps, self.values, strict=True) if not math.isfinite(v))

    def epoch_points(self) -> tuple[Floats, Floats]:
        """(steps, epochs) where the epoch is a finite number (empty when unknown)."""
        if self.epochs is None:
            return array("d"), array("d")
        if self._vectorized:
            import numpy as np

            fin = np.isfinite(self.np_epochs)  # type: ignore[arg-type]
            if fin.all():
                return self.steps, self.epochs
            return self.np_steps[fin], self.np_epochs[fin]  # type: ignore[index]
        ep = self.epochs.tolist()
        keep = [i for i, e in enumerate(ep) if math.isfinite(e)]
        if len(keep) == len(ep):
            return self.steps, self.epochs
        steps = self.steps
        return array("d", [steps[i] for i in keep]), array("d", [ep[i] for i in keep])


def _np(x: Floats) -> np.ndarray:
    import numpy as np

    return np.asarray(x, dtype=np.float64)


def is_plain(x: object) -> bool:
    """A float sequence that is not numpy's (list, tuple, ``array('d')``, range)."""
    return isinstance(x, (array, list, tuple, range))


def make_series(
    name: str,
    steps: Sequence[float] | Floats,
    values: Sequence[float] | Floats,
    epochs: Sequence[float] | Floats | None = None,
    higher_is_better: bool | None = None,
    percent_to_fraction: bool = True,
) -> Series:
    """Build a series: sort by step, keep the last value of a repeated step,
    and turn accuracy-like percentages (0-100) into fractions.

    Plain sequences (lists, tuples, ``array('d')``) of up to ``PLAIN_MAX``
    points give ``array('d')`` columns without importing numpy; numpy arrays
    (and longer inputs) give numpy columns. The result is the same either way
    (``tests/test_series_kinds.py``).
    """
    hib = metric_higher_is_better(name) if higher_is_better is None else higher_is_better
    percent = percent_to_fraction and hib and looks_like_task_metric(name)
    if is_plain(steps) and is_plain(values) and (epochs is None or is_plain(epochs)) and len(values) <= PLAIN_MAX:
        s, v, e = _normalize_plain(steps, values, epochs, percent)  # type: ignore[arg-type]
    else:
        s, v, e = _normalize_numpy(steps, values, epochs, percent)
    return Series(name=name, steps=s, values=v, epochs=e, higher_is_better=hib)


def _normalize_plain(
    steps: Sequence[float], values: Sequence[float], epochs: Sequence[float] | None, percent: bool
) -> tuple[Floats, Floats, Floats | None]:
    def floats(x: Sequence[float]) -> list[float]:
        return x.tolist() if isinstance(x, array) else list(map(float, x))

    s, v = floats(steps), floats(values)
    e = None if epochs is None else floats(epochs)
    if len(s) != len(v) or (e is not None and len(e) != len(s)):
        raise ValueError("steps, values and epochs must have the same length")
    isfinite = math.isfinite
    changed = False
    if e is not None and not all(map(isfinite, e)):
        # an epoch that is not a finite number (a damaged log) is unknown
        e = [x if isfinite(x) else _NAN for x in e]
        changed = True
    if not all(map(isfinite, s)):
        keep = [i for i, x in enumerate(s) if isfinite(x)]
        s, v = [s[i] for i in keep], [v[i] for i in keep]
        e = None if e is None else [e[i] for i in keep]
        changed = True
    if any(map(operator.ge, s, s[1:])):  # a step not above the one before (C speed)
        # stable sort, then keep the last occurrence of each step (a resumed
        # or re-logged step replaces the earlier value)
        order = sorted(range(len(s)), key=s.__getitem__)
        last = [i for k, i in enumerate(order) if k + 1 == len(order) or s[order[k + 1]] != s[i]]
        s, v = [s[i] for i in last], [v[i] for i in last]
        e = None if e is None else [e[i] for i in last]
        changed = True
    if percent:
        fin = v if all(map(isfinite, v)) else [x for x in v if isfinite(x)]
        if fin and 1.0 < max(fin) <= 100.0 and min(fin) >= 0.0:
            v = [x / 100.0 for x in v]
            changed = True

    def out(new: list[float], given: Sequence[float]) -> Floats:
        # an array('d') that needed no change is kept (series of one file
        # share its step column), as the numpy path does
        return given if not changed and isinstance(given, array) and given.typecode == "d" else array("d", new)

    return out(s, steps), out(v, values), None if e is None or epochs is None else out(e, epochs)


def _normalize_numpy(
    steps: Sequence[float] | Floats, values: Sequence[float] | Floats, epochs: Sequence[float] | Floats | None,
    percent: bool,
) -> tuple[Floats, Floats, Floats | None]:
    import numpy as np

    s = np.asarray(steps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    e = None if epochs is None else np.asarray(epochs, dtype=np.float64)
    if s.shape != v.shape or (e is not None and e.shape != s.shape):
        raise ValueError("steps, values and epochs must have the same length")
    if e is not None and not np.isfinite(e).all():
        # all finite: no copy (series of one log share its epoch column)
        e = np.where(np.isfinite(e), e, np.nan)
    keep = np.isfinite(s)
    if not keep.all():
        s, v = s[keep], v[keep]
        e = None if e is None else e[keep]
    if s.size and np.any(np.diff(s) <= 0):
        order = np.argsort(s, kind="stable")
        s, v = s[order], v[order]
        e = None if e is None else e[order]
        last = np.ones(s.shape, dtype=bool)
        last[:-1] = s[1:] != s[:-1]
        s, v = s[last], v[last]
        e = None if e is None else e[last]
    if percent:
        fin = v[np.isfinite(v)]
        if fin.size and fin.max() > 1.0 and fin.max() <= 100.0 and fin.min() >= 0.0:
            v = v / 100.0
    return s, v, e


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
            ep = s.epoch_points()[1]
            if len(ep):
                m = fmax(ep)
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
    e = _epoch_at(run, step)
    return e if e is not None and math.isfinite(e) else None


def _epoch_at(run: Run, step: float) -> float | None:
    if run.x_unit == "epoch":
        return step
    for s in run.series().values():
        xs, ys = s.epoch_points()
        if len(xs) >= 1:
            x0, xe, ye = float(xs[0]), float(xs[-1]), float(ys[-1])
            if len(xs) == 1:
                return fdiv(float(ys[0]) * step, x0) if x0 else None
            return interp(step, xs, ys) if x0 <= step <= xe else fdiv(step * ye, xe)
    if run.steps_per_epoch:
        return step / run.steps_per_epoch
    return None


def fmax(x: Floats) -> float:
    """The largest value of a column (NaN-free)."""
    return float(x.max()) if not isinstance(x, array) else max(x)


def fdiv(a: float, b: float) -> float:
    """``a / b`` as IEEE (and numpy) divides: inf or NaN for ``b == 0``, no exception."""
    if b == 0.0:
        if a != a or a == 0.0:
            return _NAN
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def interp(x: float, xp: Sequence[float] | Floats, fp: Sequence[float] | Floats) -> float:
    """``numpy.interp(x, xp, fp)`` for one ``x`` (ascending ``xp``, at least one
    point), the same arithmetic and the same special cases, in Python."""
    n = len(xp)
    if n == 1:  # numpy: one point gives its value, whatever x (NaN too)
        return float(fp[0])
    if x != x:
        return x
    if x < xp[0]:
        return float(fp[0])
    if x > xp[n - 1]:
        return float(fp[n - 1])
    j = bisect_right(xp, x) - 1
    if j >= n - 1 or xp[j] == x:
        return float(fp[j])
    x0, x1, y0, y1 = float(xp[j]), float(xp[j + 1]), float(fp[j]), float(fp[j + 1])
    slope = fdiv(y1 - y0, x1 - x0)
    y = slope * (x - x0) + y0
    if y != y:  # numpy: "if we get nan in one direction, try the other"
        y = slope * (x - x1) + y1
        if y != y and y0 == y1:
            y = y0
    return y


def is_finite_number(x: Any) -> bool:
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # an int too large for a float
        return False
