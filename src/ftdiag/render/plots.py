"""Plots of runs and sweeps, as PNG and SVG files that are byte-identical for the same input.

* One figure per run: losses on one panel, the task metric on another; raw
  points thin and translucent, the smoothed curve (TensorBoard's debiased EMA,
  :func:`ftdiag.features.ema_debiased`) bold in the same colour; a log scale
  for a loss that spans more than a decade; the best validation point marked
  with its value; the region after it shaded when the verdict is overfit; the
  verdict and the top recommendation in the title and caption; steps on the x
  axis with epochs marked on top when they are known.
* For a sweep: the validation curves of every run overlaid, and the best
  validation value against each hyperparameter that varies.

matplotlib is imported inside the functions (never on the path of ``ftdiag
--help``), only through its object API (:class:`matplotlib.figure.Figure` and
the Agg canvas), so nothing depends on pyplot's global state or a display.
Reproducibility: PNG and SVG are saved without dates or software versions, and
SVG ids come from a fixed hash salt.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..features import DEFAULT_SMOOTHING, CurveStats, ema_debiased
from . import _words as w
from ._safe import visible

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..api import RunResult
    from ..run import Run, Series

DPI = 150
FORMATS = ("png", "svg")
# At most this many points of one curve are drawn (every k-th point beyond it):
# more cannot be seen at 150 dpi and only make files large and slow.
MAX_DRAWN = 4000
# A loss whose largest value is more than this many times its smallest gets a log axis.
LOG_SPAN = 10.0

TRAIN_COLOUR = "#1f77b4"  # matplotlib's C0
VAL_COLOUR = "#d62728"  # C3: validation stands out against training
OVERFIT_SHADE = "#d62728"
LABEL_COLOURS = {"overfit": "#d62728", "underfit": "#ff7f0e", "good_fit": "#2ca02c", "inconclusive": "#7f7f7f"}
SWEEP_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
MAX_LEGEND_RUNS = 12
# A report draws a figure for at most this many runs (about a second each);
# ``ftdiag plot`` draws every run.
MAX_REPORT_PLOTS = 50

# gids let tests (and people reading the SVG) find the meaningful artists
GID_BEST = "best-validation"
GID_OVERFIT = "overfit-region"
GID_EPOCH_AXIS = "epoch-axis"

_T = TypeVar("_T")


def mpl_text(s: object, limit: int = 200) -> str:
    """Text from a log or path, safe for matplotlib: no mathtext (``$`` is literal),
    control characters as visible escapes, cut at ``limit``."""
    return visible(s, limit).replace("$", r"\$")


@dataclass(frozen=True)
class PlotOptions:
    smoothing: float = DEFAULT_SMOOTHING
    formats: tuple[str, ...] = FORMATS
    dpi: int = DPI

    def __post_init__(self) -> None:
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError("smoothing weight must be in [0, 1)")
        bad = set(self.formats) - set(FORMATS)
        if bad or not self.formats:
            raise ValueError(f"plot formats must be among {', '.join(FORMATS)}")


# --------------------------------------------------------------------------- helpers


def _thin(x: np.ndarray, y: np.ndarray, limit: int = MAX_DRAWN) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[0]
    if n <= limit:
        return x, y
    idx = np.unique(np.concatenate([np.arange(0, n, math.ceil(n / limit)), [n - 1]]))
    return x[idx], y[idx]


# beyond this magnitude matplotlib's axis arithmetic overflows (a singular
# transform); such values (a damaged log's 1e308) are left out of the plot
PLOTTABLE = 1e300


def plottable(v: float) -> bool:
    return math.isfinite(v) and abs(v) < PLOTTABLE


def _finite(s: Series) -> tuple[np.ndarray, np.ndarray]:
    f = s.finite
    x, y = f.np_steps, f.np_values
    keep = (np.abs(x) < PLOTTABLE) & (np.abs(y) < PLOTTABLE)
    return (x, y) if keep.all() else (x[keep], y[keep])


def steps_per_epoch(run: Run) -> float | None:
    """Steps in one epoch, when the log (or the user) says; None for epoch-based logs."""
    if run.x_unit == "epoch":
        return None
    if run.steps_per_epoch:
        return float(run.steps_per_epoch)
    for s in run.series().values():
        ep = s.np_epochs
        if ep is None:
            continue
        ok = np.isfinite(ep) & (ep > 0)
        if ok.any():
            i = int(np.flatnonzero(ok)[-1])
            return float(s.steps[i] / ep[i])
    n_ep = run.hyperparameters.n_epochs
    if run.platform == "openai" and n_ep:
        # an OpenAI results file covers the whole job, so its steps split evenly into n_epochs
        return run.last_step / float(n_ep)
    return None


def loss_is_log(run: Run) -> bool:
    """A log axis when every loss value is positive and they span more than a decade."""
    vals = [s.finite.np_values for s in (run.train_loss, run.val_loss) if s is not None and len(s.finite)]
    if not vals:
        return False
    v = np.concatenate(vals)
    lo, hi = float(v.min()), float(v.max())
    return lo > 0 and hi / lo > LOG_SPAN


def _is_percent(s: Series | None) -> bool:
    """An accuracy-like metric stored as a fraction: shown in percent."""
    if s is None:
        return False
    vals = s.finite.np_values
    in_range = vals.size > 0 and float(vals.min()) >= 0 and float(vals.max()) <= 1
    return in_range and w.is_fraction_metric(s.name, s.higher_is_better)


def _draw_series(ax: Axes, s: Series, colour: str, label: str, smoothing: float) -> None:
    x, y = _finite(s)
    if x.size == 0:
        return
    sm = np.asarray(ema_debiased(y, smoothing)) if smoothing > 0 else y
    rx, ry = _thin(x, y)
    few = x.size <= 60
    ax.plot(
        rx, ry, color=colour, alpha=0.3, linewidth=0.8,
        marker="o" if few else None, markersize=2.5, label=f"_{label} (raw)",
    )
    sx, sy = _thin(x, sm)
    ax.plot(sx, sy, color=colour, linewidth=2.2, label=label)


_ROLE_PREFIX = {"train": re.compile(r"train", re.I), "validation": re.compile(r"val|eval|valid|test", re.I)}


def _series_label(who: str, name: str) -> str:
    """``train loss``, ``validation val_loss``; no ``train train_loss``."""
    if _ROLE_PREFIX[who].match(name):
        return mpl_text(name)
    return f"{who} {mpl_text(name)}"


def _x_label(run: Run) -> str:
    return "epoch" if run.x_unit == "epoch" else "step"


def _mark_epochs(ax: Axes, run: Run, spe: float | None, top: bool) -> None:
    """Faint lines at whole epochs; on the top panel also an epoch axis."""
    if spe is None or spe <= 0:
        return
    last = run.last_step
    if not (plottable(last) and plottable(spe)):
        return
    n = int(math.floor(last / spe + 1e-9))
    if 1 <= n <= 50:
        for e in range(1, n + 1):
            ax.axvline(e * spe, color="#999999", linewidth=0.6, linestyle=":", zorder=0)
    if top:
        from matplotlib.ticker import MaxNLocator

        def to_epoch(x: Any) -> Any:
            return np.asarray(x, dtype=float) / spe

        def to_step(e: Any) -> Any:
            return np.asarray(e, dtype=float) * spe

        sec = ax.secondary_xaxis("top", functions=(to_epoch, to_step))
        sec.set_xlabel("epoch")
        sec.xaxis.set_major_locator(MaxNLocator(integer=True))
        sec.set_gid(GID_EPOCH_AXIS)


def _mark_best(ax: Axes, r: RunResult, val: CurveStats, pct: bool, annotate: bool) -> None:
    if not (plottable(val.best_step) and plottable(val.best)):
        return
    unit = _x_label(r.run)
    ax.axvline(val.best_step, color="#333333", linewidth=0.9, linestyle="--", zorder=1)
    if not annotate:
        return
    text = f"best {w.metric_value(val.best, pct)} at {unit} {w.number(val.best_step)}"
    ax.plot(
        [val.best_step], [val.best], linestyle="none", marker="*", markersize=13,
        markerfacecolor=VAL_COLOUR, markeredgecolor="black", zorder=5,
        label=mpl_text(text), gid=GID_BEST,
    )


def _shade_overfit(ax: Axes, r: RunResult, val: CurveStats, legend: bool) -> None:
    end = max(r.run.last_step, val.last_step)
    if end <= val.best_step or not (plottable(end) and plottable(val.best_step)):
        return
    span = ax.axvspan(
        val.best_step, end, color=OVERFIT_SHADE, alpha=0.09, zorder=0,
        label="after best validation (overfit)" if legend else "_overfit",
    )
    span.set_gid(GID_OVERFIT)


def _caption(r: RunResult, width: int = 110) -> str:
    lines: list[str] = []
    if r.recommendations:
        lines.append("Next run: " + w.top_recommendation(r))
    elif r.diagnosis.reason:
        lines.append(f"Inconclusive: {r.diagnosis.reason}")
    lines.append(f"Source: {r.run.source} ({r.run.format})")
    out: list[str] = []
    for line in lines:
        out.extend(textwrap.wrap(mpl_text(line), width) or [""])
    return "\n".join(out[:5])


def _quiet(f: Callable[..., _T]) -> Callable[..., _T]:
    """Drawing damaged logs (values near 1e308) overflows inside matplotlib's
    axis arithmetic; the figure is still drawn, and numpy's RuntimeWarnings
    would only reach the user's terminal as noise."""
    import functools

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> _T:
        import warnings

        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return f(*args, **kwargs)

    return wrapper


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


# --------------------------------------------------------------------------- per run


@_quiet
def run_figure(r: RunResult, smoothing: float = DEFAULT_SMOOTHING) -> Figure:
    """The figure for one analysed run (not yet saved)."""
    run, f = r.run, r.features
    val = f.val
    has_loss = run.train_loss is not None or run.val_loss is not None
    has_metric = run.train_metric is not None or run.val_metric is not None
    panels = [p for p, ok in (("loss", has_loss), ("metric", has_metric)) if ok] or ["loss"]
    fig = _new_figure(8.0, 2.9 * len(panels) + 1.1)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    spe = steps_per_epoch(run)
    overfit = r.label == "overfit" and val is not None
    primary_panel = "metric" if f.primary == "metric" else "loss"
    sm_word = f"smoothed (EMA {smoothing:g})" if smoothing > 0 else "raw"
    for i, (ax, panel) in enumerate(zip(axes, panels, strict=True)):
        if panel == "loss":
            pairs = [(run.train_loss, TRAIN_COLOUR, "train"), (run.val_loss, VAL_COLOUR, "validation")]
            ax.set_title("loss", loc="left", fontsize=10)
            ylabel = "loss"
            pct = False
        else:
            pairs = [(run.train_metric, TRAIN_COLOUR, "train"), (run.val_metric, VAL_COLOUR, "validation")]
            name = (run.val_metric or run.train_metric).name  # type: ignore[union-attr]
            ax.set_title(f"task metric: {mpl_text(name)}", loc="left", fontsize=10)
            ylabel = mpl_text(name)
            pct = all(_is_percent(s) for s, _, _ in pairs if s is not None)
        for s, colour, who in pairs:
            if s is not None:
                _draw_series(ax, s, colour, _series_label(who, s.name), smoothing)
        if panel == "loss" and loss_is_log(run):
            ax.set_yscale("log")
        if pct:
            from matplotlib.ticker import PercentFormatter

            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.25, linewidth=0.6)
        _mark_epochs(ax, run, spe, top=(i == 0))
        if val is not None and r.label != "inconclusive":
            _mark_best(ax, r, val, _is_percent(_val_series(r)), annotate=(panel == primary_panel))
            if overfit:
                _shade_overfit(ax, r, val, legend=(panel == primary_panel))
        if ax.get_legend_handles_labels()[0]:  # nothing finite drawn: no legend (matplotlib would warn)
            ax.legend(loc="best", fontsize=8, framealpha=0.85, title=sm_word, title_fontsize=8)
    axes[-1].set_xlabel(_x_label(run))
    title = f"{mpl_text(run.name)}: {w.verdict(r.label)}"
    if r.label != "inconclusive":
        title += f" (confidence {r.confidence:.2f})"
    fig.suptitle(title, fontsize=12, fontweight="bold", color=LABEL_COLOURS.get(r.label, "black"))
    fig.supxlabel(_caption(r), fontsize=8, ha="left", x=0.01, color="#333333")
    return fig


# --------------------------------------------------------------------------- sweeps


def _kind(r: RunResult) -> str | None:
    """What a run was judged on: accuracy-like metrics (fractions) go together
    whatever their names; anything else by its name."""
    val = r.features.val
    if val is None:
        return None
    return "accuracy" if _is_percent(_val_series(r)) else val.name


def _primary_group(results: Sequence[RunResult]) -> tuple[str | None, list[RunResult]]:
    """The validation quantity most runs were judged on (named as they name it when
    they agree), and those runs."""
    kinds = Counter(k for r in results if (k := _kind(r)) is not None)
    if not kinds:
        return None, []
    kind = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    group = [r for r in results if _kind(r) == kind]
    names = {r.features.val.name for r in group if r.features.val is not None}
    return (names.pop() if len(names) == 1 else kind), group


def _val_series(r: RunResult) -> Series | None:
    return r.run.val_metric if r.features.primary == "metric" else r.run.val_loss


@_quiet
def sweep_curves_figure(results: Sequence[RunResult], smoothing: float = DEFAULT_SMOOTHING) -> Figure | None:
    """Validation curves of every run overlaid (the quantity most runs were judged on)."""
    name, group = _primary_group(results)
    if name is None:
        return None
    units = {r.run.x_unit for r in group}
    progress = len(units) > 1  # mixed steps and epochs: use the fraction of training
    fig = _new_figure(8.0, 4.6)
    ax = fig.subplots()
    pct = all(_is_percent(_val_series(r)) for r in group)
    for i, r in enumerate(group):
        s = _val_series(r)
        if s is None:
            continue
        x, y = _finite(s)
        if x.size == 0:
            continue
        end = max(r.run.last_step, 1e-12)
        xs = x / end if progress else x
        colour = SWEEP_COLOURS[i % len(SWEEP_COLOURS)]
        sm = np.asarray(ema_debiased(y, smoothing)) if smoothing > 0 else y
        rx, ry = _thin(xs, y)
        ax.plot(rx, ry, color=colour, alpha=0.25, linewidth=0.7, label="_raw")
        sx, sy = _thin(xs, sm)
        label = mpl_text(r.run.name) if i < MAX_LEGEND_RUNS else "_more"
        ax.plot(sx, sy, color=colour, linewidth=1.8, label=label)
        val = r.features.val
        if val is not None:
            bx = val.best_step / end if progress else val.best_step
            ax.plot([bx], [val.best], linestyle="none", marker="o", markersize=5,
                    markerfacecolor=colour, markeredgecolor="black", label="_best", gid=GID_BEST)
    if name and "loss" in name.lower():
        vals = [r.features.val.best for r in group if r.features.val is not None]
        if vals and min(vals) > 0:
            lo = min(float(np.nanmin(_finite(s)[1])) for r in group if (s := _val_series(r)) is not None and len(s.finite))
            hi = max(float(np.nanmax(_finite(s)[1])) for r in group if (s := _val_series(r)) is not None and len(s.finite))
            if lo > 0 and hi / lo > LOG_SPAN:
                ax.set_yscale("log")
    if pct:
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_xlabel("fraction of training" if progress else units.pop())
    ax.set_ylabel(f"validation {mpl_text(name)}")
    ax.grid(True, alpha=0.25, linewidth=0.6)
    more = len(group) - MAX_LEGEND_RUNS
    ax.legend(loc="best", fontsize=7, title=(f"+{more} more runs" if more > 0 else None), title_fontsize=7)
    left_out = len(results) - len(group)
    fig.suptitle(f"validation {mpl_text(name)}: {len(group)} run(s), dots at each run's best", fontsize=11)
    if left_out:
        fig.supxlabel(f"{left_out} run(s) judged on another quantity are not shown", fontsize=8)
    return fig


@dataclass(frozen=True)
class SweepPoint:
    """One run as the hyperparameter figure sees it."""

    config: dict[str, float]
    best: float
    label: str


def _varied(points: Sequence[SweepPoint]) -> dict[str, list[tuple[float, SweepPoint]]]:
    values: dict[str, list[tuple[float, SweepPoint]]] = {}
    for pt in points:
        for k, v in pt.config.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and plottable(v):
                values.setdefault(k, []).append((float(v), pt))
    return {k: pts for k, pts in sorted(values.items()) if len({v for v, _ in pts}) > 1}


def varied_hyperparameters(results: Sequence[RunResult]) -> dict[str, list[tuple[float, SweepPoint]]]:
    """Hyperparameters that take more than one value across the runs."""
    return _varied(_points(results))


def _points(results: Sequence[RunResult]) -> list[SweepPoint]:
    return [
        SweepPoint(dict(r.run.hyperparameters.known()), r.features.val.best, r.label)
        for r in results
        if r.features.val is not None and plottable(r.features.val.best)
    ]


@_quiet
def hyperparameters_figure(points: Sequence[SweepPoint], metric: str, percent: bool, title: str | None = None) -> Figure | None:
    """Best validation value against each hyperparameter that varies (None if none does)."""
    varied = _varied(points)
    if not varied:
        return None
    n = len(varied)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = _new_figure(3.2 * cols + 0.6, 3.0 * rows + 0.8)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    seen_labels: set[str] = set()
    for ax, (param, pts) in zip(axes, varied.items(), strict=False):
        for label in ("underfit", "good_fit", "overfit", "inconclusive"):
            xs = [v for v, pt in pts if pt.label == label]
            ys = [pt.best for v, pt in pts if pt.label == label]
            if not xs:
                continue
            ax.scatter(xs, ys, s=28, color=LABEL_COLOURS[label], edgecolors="black", linewidths=0.5,
                       label=w.verdict(label).lower() if label not in seen_labels else "_" + label, zorder=3)
            seen_labels.add(label)
        # mean best value at each value tried: the trend across the sweep
        by_value: dict[float, list[float]] = {}
        for v, pt in pts:
            by_value.setdefault(v, []).append(pt.best)
        xs_sorted = sorted(by_value)
        ax.plot(xs_sorted, [float(np.mean(by_value[x])) for x in xs_sorted], color="#555555",
                linewidth=1.0, alpha=0.7, zorder=2, label="_mean")
        positive = min(xs_sorted) > 0
        if positive and max(xs_sorted) / min(xs_sorted) >= LOG_SPAN:
            ax.set_xscale("log")
        if len(xs_sorted) <= 8:
            # the values tried, and nothing else, as plain numbers
            from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

            ax.xaxis.set_major_locator(FixedLocator(xs_sorted))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.set_xlabel(mpl_text(param))
        ax.set_ylabel(f"best validation {mpl_text(metric)}", fontsize=8)
        ax.grid(True, alpha=0.25, linewidth=0.6)
        if percent:
            from matplotlib.ticker import PercentFormatter

            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    for ax in axes[n:]:
        ax.set_visible(False)
    handles, labels = [], []
    for ax in axes[:n]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncols=max(1, len(labels)), fontsize=8)
    fig.suptitle(title or f"best validation {mpl_text(metric)} against each varied hyperparameter", fontsize=11)
    return fig


@_quiet
def sweep_hyperparameters_figure(results: Sequence[RunResult]) -> Figure | None:
    """Best validation value against each varied hyperparameter (None if nothing varies)."""
    name, group = _primary_group(results)
    if name is None:
        return None
    pct = all(_is_percent(_val_series(r)) for r in group)
    return hyperparameters_figure(_points(group), name, pct)


# --------------------------------------------------------------------------- saving


@_quiet
def figure_bytes(fig: Figure, fmt: str, dpi: int = DPI) -> bytes:
    """Render ``fig`` to PNG or SVG bytes, reproducibly (no dates, no versions, fixed ids)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    if fmt == "png":
        # drawn straight into Agg's pixel buffer and encoded once (savefig would
        # encode a full-colour PNG that _small_png then decodes and encodes again:
        # a fifth of a report's time went to that)
        old_dpi, old_face = fig.get_dpi(), fig.get_facecolor()
        try:
            fig.set_dpi(dpi)
            fig.set_facecolor("white")
            canvas.draw()
            return _small_png(canvas.get_width_height(), canvas.buffer_rgba(), dpi)
        finally:
            fig.set_dpi(old_dpi)
            fig.set_facecolor(old_face)
    if fmt != "svg":
        raise ValueError(fmt)
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "ftdiag", "svg.fonttype": "path"}):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Date": None, "Creator": None}, facecolor="white")
    return buf.getvalue()


def _small_png(size: tuple[int, int], rgba: Any, dpi: int) -> bytes:
    """The picture in a 256-colour palette: a third of the size of a full-colour
    PNG, no visible change (plots use a handful of colours plus their
    anti-aliasing ramps). Pillow comes with matplotlib; it writes no dates.
    Not ``optimize``: files 8% smaller for a third more time per plot."""
    from PIL import Image

    im = Image.frombuffer("RGBA", size, rgba, "raw", "RGBA", 0, 1)
    q = im.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = io.BytesIO()
    q.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def write_figure(fig: Figure, stem: Path, options: PlotOptions, inputs: Iterable[str] = ()) -> list[Path]:
    """Write ``stem.png`` / ``stem.svg`` atomically; refuses to overwrite an input."""
    from ..outputs import atomic_write, refuse_inputs

    written: list[Path] = []
    ins = list(inputs)
    for fmt in options.formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        refuse_inputs(path, ins)
        atomic_write(path, figure_bytes(fig, fmt, options.dpi))
        written.append(path)
    return written


def _ensure_dir(outdir: Path) -> None:
    from ..errors import UsageError

    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the plot directory {outdir}: {e.strerror or e}") from None
    if not outdir.is_dir():
        raise UsageError(f"{outdir} is not a directory")


def run_stems(results: Sequence[RunResult]) -> list[str]:
    """File stems for the runs' plots, unique (case-insensitively) and safe in URLs."""
    taken = {"sweep-curves", "sweep-hyperparameters"}
    return [w.slug(r.run.name, taken) for r in results]


def failed_plot(what: str, e: BaseException) -> str:
    """What to tell about a figure that could not be drawn (a bug in ftdiag)."""
    return f"{what} could not be drawn ({type(e).__name__}: {e})"


def plot_note(problem: str) -> str:
    """The sentence a report shows where a plot could not be drawn."""
    return f"{problem[:1].upper()}{problem[1:]}; this is a bug in ftdiag, please report it."


def _guarded(what: str, problems: list[str] | None, draw: Callable[[], _T]) -> _T | None:
    """``draw()``; when ``problems`` is a list, a figure that fails to draw is
    told there and gives None, so one bad plot does not lose the rest of a
    report. Input and output errors (FtdiagError: refusing to overwrite an
    input, a full disk) always propagate."""
    from ..errors import FtdiagError

    if problems is None:
        return draw()
    try:
        return draw()
    except FtdiagError:
        raise
    except Exception as e:  # noqa: BLE001 - a plotting bug must not take the report down
        problems.append(failed_plot(what, e))
        return None


def write_run_plots(
    results: Sequence[RunResult],
    outdir: str | Path,
    options: PlotOptions | None = None,
    inputs: Iterable[str] = (),
    problems: list[str] | None = None,
) -> list[list[Path]]:
    """One figure per run, in every format asked; returns the files of each run, in
    order. With ``problems`` (a list), a run whose figure fails gets no files and a
    message there instead of an exception."""
    opts = options or PlotOptions()
    out = Path(outdir)
    _ensure_dir(out)
    ins = list(inputs)
    files: list[list[Path]] = []

    def one(r: RunResult, stem: str) -> list[Path]:
        return write_figure(run_figure(r, opts.smoothing), out / stem, opts, ins)

    for r, stem in zip(results, run_stems(results), strict=True):
        files.append(_guarded(f"the plot of {r.run.name}", problems, partial(one, r, stem)) or [])
    return files


def write_sweep_plots(
    results: Sequence[RunResult],
    outdir: str | Path,
    options: PlotOptions | None = None,
    inputs: Iterable[str] = (),
    problems: list[str] | None = None,
) -> list[Path]:
    """The sweep figures (overlaid validation curves; best value against each varied
    hyperparameter); this is what ``ftdiag compare --plots DIR`` calls. Returns the files."""
    opts = options or PlotOptions()
    out = Path(outdir)
    _ensure_dir(out)
    ins = list(inputs)
    written: list[Path] = []

    def curves() -> list[Path]:
        fig = sweep_curves_figure(results, opts.smoothing)
        return write_figure(fig, out / "sweep-curves", opts, ins) if fig is not None else []

    def hyper() -> list[Path]:
        fig = sweep_hyperparameters_figure(results)
        return write_figure(fig, out / "sweep-hyperparameters", opts, ins) if fig is not None else []

    written += _guarded("the overlaid validation curves", problems, curves) or []
    written += _guarded("the hyperparameter plot", problems, hyper) or []
    return written


def write_plots(
    results: Sequence[RunResult],
    outdir: str | Path,
    options: PlotOptions | None = None,
    inputs: Iterable[str] = (),
    sweep: bool | None = None,
    problems: list[str] | None = None,
) -> list[Path]:
    """Per-run plots, plus the sweep plots when there are several runs (or ``sweep=True``).
    ``problems``: see :func:`write_run_plots`."""
    files = [p for group in write_run_plots(results, outdir, options, inputs, problems) for p in group]
    if sweep or (sweep is None and len(results) > 1):
        files += write_sweep_plots(results, outdir, options, inputs, problems)
    return files


# --------------------------------------------------------------------------- compare


def _row_kind(rows: Sequence[dict[str, Any]]) -> str:
    """The curve a group of compare rows is judged on: the task metric when most have one."""
    with_metric = sum(1 for r in rows if (r.get("val_metric") or {}).get("best") is not None)
    return "val_metric" if with_metric * 2 >= len(rows) and with_metric else "val_loss"


def _rerun(rows: Sequence[dict[str, Any]], input_format: str | None, mapping: Any = None) -> list[RunResult]:
    """Read and analyse again the runs behind compare rows (workers return plain rows,
    not curves), with the hyperparameters each row was analysed with."""
    from ..api import analyze_run
    from ..errors import FtdiagError
    from ..hyperparams import KNOWN, from_mapping
    from ..inputs import read_inputs

    cache: dict[str, list[Run]] = {}
    out: list[RunResult] = []
    for row in rows:
        source = str(row.get("source") or "")
        if not source or not Path(source).exists():
            continue
        if source not in cache:
            try:
                cache[source] = read_inputs([source], input_format, mapping)[0]
            except FtdiagError:
                cache[source] = []
        runs = cache[source]
        named = [r for r in runs if r.name == row.get("name")]
        run = named[0] if named else (runs[0] if len(runs) == 1 else None)
        if run is None:
            continue
        hp = {k: float(v) for k, v in (row.get("hyperparameters") or {}).items() if k in KNOWN and isinstance(v, (int, float))}
        if row.get("name") and run.name != row["name"]:
            run = replace(run, name=str(row["name"]))  # the name compare showed (a manifest's path)
        try:
            out.append(analyze_run(run, from_mapping(hp, "log") if hp else None))
        except FtdiagError:
            continue
    return out


def compare_figures(
    rows: Sequence[dict[str, Any]],
    smoothing: float = DEFAULT_SMOOTHING,
    input_format: str | None = None,
    max_runs: int | None = None,
    mapping: Any = None,
    problems: list[str] | None = None,
) -> Iterator[tuple[str, Figure]]:
    """The figures of ``ftdiag compare --plots DIR``, from compare's rows
    (``SweepReport.rows``), as (file stem, figure), one at a time.

    Per group (``--group-by``; one group otherwise): ``sweep-hyperparameters``,
    the best validation value of every run against each varied hyperparameter
    (from the rows alone, so any sweep size); ``sweep-curves``, the validation
    curves overlaid; and one figure per run. Curves need the logs read again, so
    those two cover the best-ranked ``max_runs`` runs (default
    :data:`MAX_REPORT_PLOTS`). Group names become a ``-GROUP`` suffix.
    """
    budget = MAX_REPORT_PLOTS if max_runs is None else max_runs
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get("group") or ""), []).append(row)
    taken: set[str] = set()
    for group, grows in sorted(groups.items()):
        suffix = f"-{w.slug(group)}" if group else ""
        kind = _row_kind(grows)
        curves = [r[kind] for r in grows if (r.get(kind) or {}).get("best") is not None]
        names = sorted({str(c.get("name")) for c in curves})
        metric = names[0] if len(names) == 1 else ("task metric" if kind == "val_metric" else "loss")
        percent = bool(curves) and all(
            c.get("higher_is_better") and w.is_fraction_metric(str(c.get("name")), True) and 0 <= c["best"] <= 1 for c in curves
        )
        points = [
            SweepPoint(
                {k: float(v) for k, v in (r.get("config") or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
                float(r[kind]["best"]),
                str(r.get("label")),
            )
            for r in grows
            if (r.get(kind) or {}).get("best") is not None and plottable(float(r[kind]["best"]))
        ]
        title = f"{mpl_text(group)}: " if group else ""
        title += f"best validation {mpl_text(metric)} against each varied hyperparameter ({len(points)} runs)"
        fig = _guarded(f"the hyperparameter plot{suffix}", problems,
                       partial(hyperparameters_figure, points, metric, percent, title=title))
        if fig is not None:
            taken.add(f"sweep-hyperparameters{suffix}".lower())
            yield f"sweep-hyperparameters{suffix}", fig
        if budget <= 0:
            continue
        ranked = sorted(grows, key=lambda r: (r.get("rank") is None, r.get("rank") or 0))[:budget]
        budget -= len(ranked)
        results = _rerun(ranked, input_format, mapping)
        if len(results) > 1:
            cfig = _guarded(f"the overlaid validation curves{suffix}", problems, partial(sweep_curves_figure, results, smoothing))
            if cfig is not None:
                taken.add(f"sweep-curves{suffix}".lower())
                yield f"sweep-curves{suffix}", cfig
        for r in results:
            rfig = _guarded(f"the plot of {r.run.name}", problems, partial(run_figure, r, smoothing))
            if rfig is not None:
                yield w.slug(r.run.name, taken), rfig


def write_compare_plots(
    rows: Sequence[dict[str, Any]],
    outdir: str | Path,
    options: PlotOptions | None = None,
    inputs: Iterable[str] = (),
    input_format: str | None = None,
    max_runs: int | None = None,
    mapping: Any = None,
    problems: list[str] | None = None,
) -> list[Path]:
    """Write :func:`compare_figures` into ``outdir``; returns the files.
    ``problems``: see :func:`write_run_plots`."""
    opts = options or PlotOptions()
    out = Path(outdir)
    _ensure_dir(out)
    ins = list(inputs)
    written: list[Path] = []
    for stem, fig in compare_figures(rows, opts.smoothing, input_format, max_runs, mapping, problems):
        written += _guarded(f"the plot {stem}", problems, partial(write_figure, fig, out / stem, opts, ins)) or []
    return written
