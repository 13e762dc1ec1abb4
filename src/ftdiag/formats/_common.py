"""Helpers shared by the readers of experiment trackers and loggers.

* :func:`series_from_points` builds a series and says, as a warning, what was
  repaired (repeated steps, steps out of order, non-finite values);
* :func:`join_sessions` handles a step counter that starts over (a resumed
  run logging into the same place);
* :func:`require_curve` refuses a run that holds no curve at all, with a
  message that says exactly why;
* :func:`hyperparameters_from` maps a tracker's parameter names
  (``max_epochs``, ``lr0``, ``per_device_train_batch_size``, ...) to ftdiag's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import NoDataError
from ..hyperparams import Hyperparameters
from ..run import Run, Series, make_series

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def series_from_points(
    name: str,
    steps: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    display: str,
    epochs: Sequence[float] | np.ndarray | None = None,
    higher_is_better: bool | None = None,
    unit: str = "step",
) -> tuple[Series, list[str]]:
    """A series, plus warnings about repeated or out-of-order steps and NaN/inf."""
    import numpy as np

    s = np.asarray(steps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    warnings: list[str] = []
    if s.size > 1:
        d = np.diff(s)
        back = int((d < 0).sum())
        uniq = np.unique(s[np.isfinite(s)]).size
        dups = int(np.isfinite(s).sum()) - uniq
        if back:
            i = int(np.argmax(d < 0))
            warnings.append(
                f"{display}: {name}: {unit}s out of order {back} time(s) (first {s[i]:g} -> {s[i + 1]:g}); sorted by {unit}"
            )
        if dups:
            warnings.append(
                f"{display}: {name}: {dups} repeated {unit}(s); kept the last value logged for each"
            )
    bad = ~np.isfinite(v)
    if bad.any():
        first = float(s[int(np.argmax(bad))]) if s.size else float("nan")
        warnings.append(
            f"{display}: {name}: {int(bad.sum())} non-finite value(s) (NaN or inf), the first at {unit} {first:g}"
        )
    return make_series(name, s, v, epochs=epochs, higher_is_better=higher_is_better), warnings


def join_sessions(
    steps: np.ndarray, values: np.ndarray, display: str, name: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    import numpy as np

    with np.errstate(all="ignore"):  # absurd steps may overflow: that is the data, not a warning
        return _join_sessions(steps, values, display, name)


def _join_sessions(
    steps: np.ndarray, values: np.ndarray, display: str, name: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Points in logging order whose step counter starts over.

    A drop of the step counter to below half of what it had reached is a new
    session (a small step back is only an out-of-order point, sorted later).
    If the new session starts where the previous one ended (its first value is
    nearer the previous session's last value than its first), the run was
    *resumed* with a fresh counter: the sessions are joined end to end, the
    later ones shifted past the earlier ones' last step. Otherwise the run was
    *restarted from scratch* and only the last session is kept.
    """
    import numpy as np

    n = steps.shape[0]
    if n < 2:
        return steps, values, []
    starts = [0]
    hi = steps[0]
    for i in range(1, n):
        if steps[i] < hi / 2 and hi - steps[i] > 1:
            starts.append(i)
            hi = steps[i]
        else:
            hi = max(hi, steps[i])
    if len(starts) == 1:
        return steps, values, []
    bounds = starts + [n]
    seg_s = [steps[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    seg_v = [values[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    out_s, out_v = [seg_s[0]], [seg_v[0]]
    warnings: list[str] = []
    joined = 0
    for k in range(1, len(seg_s)):
        prev_v = np.concatenate(out_v)
        fin_prev = prev_v[np.isfinite(prev_v)]
        fin_new = seg_v[k][np.isfinite(seg_v[k])]
        first_new = float(fin_new[0]) if fin_new.size else math.nan
        resumed = bool(
            fin_prev.size
            and fin_new.size
            and abs(first_new - float(fin_prev[-1])) <= abs(first_new - float(fin_prev[0]))
        )
        drop_at = f"{float(seg_s[k - 1].max()):g} -> {float(seg_s[k][0]):g}"
        if resumed:
            offset = float(np.concatenate(out_s).max()) - float(seg_s[k].min()) + 1.0
            out_s.append(seg_s[k] + offset)
            out_v.append(seg_v[k])
            joined += 1
            warnings.append(
                f"{display}: {name}: the step counter started over ({drop_at}) but the values continue "
                "where they were: a resumed run; joined the sessions end to end"
            )
        else:
            out_s, out_v = [seg_s[k]], [seg_v[k]]
            warnings.append(
                f"{display}: {name}: the step counter started over ({drop_at}) and the values start afresh: "
                "a restarted run; kept only the later session"
            )
    return np.concatenate(out_s), np.concatenate(out_v), warnings


def require_curve(run: Run, display: str) -> Run:
    """Refuse a run with no curve: every series has at most one finite point."""
    every = dict(run.series())
    every.update({f"extra:{k}": s for k, s in run.extra.items()})
    if not every:
        raise NoDataError(display, "no metric values in any row")
    canonical = run.series()
    if not canonical:
        names = sorted(s.name for s in run.extra.values())
        tests = [n for n in names if "test" in n.lower()]
        if tests and len(tests) == len(names):
            npts = max(len(s.finite) for s in run.extra.values())
            raise NoDataError(
                display,
                f"only test metrics ({', '.join(names)}) were logged"
                + (", once" if npts <= 1 else "")
                + ": a test-only run (e.g. trainer.test()) has no training curve to diagnose",
            )
        raise NoDataError(
            display,
            f"no loss or validation metric among the logged series ({', '.join(names[:8])}); "
            "name them with --train-metric / --val-metric",
        )
    longest = max(len(s.finite) for s in canonical.values())
    if longest >= 2:
        return run
    if longest == 0:
        bad = sorted({s.name for s in canonical.values()})
        raise NoDataError(
            display,
            f"every value of {', '.join(bad)} is NaN or inf: the run broke before logging a usable number",
        )
    where = ", ".join(
        f"{s.name} at {run.x_unit} {float(s.finite.steps[0]):g}" for s in canonical.values() if len(s.finite)
    )
    raise NoDataError(
        display,
        f"each metric holds a single point ({where}): a final value, not a training curve; "
        "at least two points are needed",
    )


# tracker parameter names -> ftdiag hyperparameters
_HP_NAMES: dict[str, tuple[str, ...]] = {
    "n_epochs": (
        "n_epochs", "epochs", "num_epochs", "max_epochs", "num_train_epochs", "epoch_num", "nb_epoch",
        "trainer.max_epochs", "training.epochs",
    ),
    "batch_size": (
        "batch_size", "batch", "train_batch_size", "per_device_train_batch_size", "bs",
        "data.batch_size", "training.batch_size",
    ),
    "learning_rate": ("learning_rate", "lr", "lr0", "optimizer.lr", "training.learning_rate", "model.lr"),
    "learning_rate_multiplier": ("learning_rate_multiplier", "lr_multiplier"),
    "prompt_loss_weight": ("prompt_loss_weight",),
    "n_examples": ("n_examples", "train_size", "num_train_examples", "n_train"),
    "gradient_accumulation_steps": ("gradient_accumulation_steps", "accumulate_grad_batches"),
}


def hyperparameters_from(params: Mapping[str, Any], source: str = "log") -> Hyperparameters:
    """Known hyperparameters among a tracker's parameters (flat, dotted keys)."""
    low = {str(k).lower(): v for k, v in params.items()}
    values: dict[str, float] = {}
    for key, names in _HP_NAMES.items():
        for n in names:
            v = low.get(n)
            if v is None:
                # a nested key such as "model.lr" matches its last part
                v = next((low[k] for k in low if k.endswith("." + n) and "." not in n), None)
            f = _to_number(v)
            if f is not None and f >= 0:
                values[key] = f
                break
    return Hyperparameters(**values, sources={k: source for k in values})


def _to_number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        if isinstance(v, (int, float)):
            f = float(v)
        else:
            f = float(str(v).strip().strip("'\""))
    except (ValueError, OverflowError):  # also an integer too large for a float
        return None
    return f if math.isfinite(f) else None


def combined(series: Iterable[Series]) -> dict[str, Series]:
    return {s.name: s for s in series}
