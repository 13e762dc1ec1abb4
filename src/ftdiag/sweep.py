"""Sweeps: analyze many runs, rank their configurations, read the sweep as evidence,
and propose the next run.

The stages:

1. **jobs**: what to read. Paths (files, directories, globs) are expanded as
   ``ftdiag analyze`` expands them; a manifest (CSV, one row per run: a path column
   plus hyperparameter columns, other columns kept as labels) adds each run's
   hyperparameters. Relative paths in a manifest are relative to its folder.
2. **analysis**, in worker processes (``jobs``), a batch of files per task. Each run
   becomes a plain dict (:func:`run_row`), cheap to pickle back; runs that a format
   splits over several files (one metric per file) are merged in the parent.
3. **the sweep** (:func:`summarize`): runs sharing every hyperparameter are
   replicates (seeds) and are averaged into one configuration; configurations are
   ranked by the validation metric at the end of training; the effect of each
   hyperparameter across the sweep is measured; the next configuration (one change
   from the best) and a small grid around the best are proposed.

Why the *final* validation value ranks runs, not the best one: a configuration
delivers the model at the end of its training (OpenAI's fine-tuned model is the last
checkpoint; a Trainer keeps the best only when told to), and a best point reached
mid-run and lost is partly noise picked by a maximum. The final value is smoothed
(TensorBoard's debiased EMA, see :mod:`ftdiag.features`) so that one noisy
evaluation does not decide; ties are broken by the best value.
"""

from __future__ import annotations

import csv
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import FtdiagError, InputError, UsageError

SCHEMA_VERSION = 1

# Manifest columns that hold the canonical hyperparameters (first name wins).
HP_COLUMNS: dict[str, tuple[str, ...]] = {
    "n_epochs": ("n_epochs", "epochs", "num_train_epochs", "max_epochs"),
    "learning_rate_multiplier": ("learning_rate_multiplier", "lrm", "lr_multiplier"),
    "learning_rate": ("learning_rate", "lr"),
    "batch_size": ("batch_size", "batch", "per_device_train_batch_size", "train_batch_size"),
    "prompt_loss_weight": ("prompt_loss_weight", "plw"),
    "n_examples": ("n_examples", "n_train_examples", "training_examples", "train_examples"),
    "gradient_accumulation_steps": ("gradient_accumulation_steps",),
}
PATH_COLUMNS = ("path", "file", "filename", "log", "run_path")
# the settings that can be tuned for the next run, in the order tables show them
TUNABLE = ("n_epochs", "learning_rate_multiplier", "learning_rate", "batch_size", "prompt_loss_weight")


# --------------------------------------------------------------------------------------
# Jobs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One thing to read, with what the user said about it. Plain data (picklable)."""

    path: str
    display: str
    name: str | None = None
    reader: str | None = None  # a directory reader that claimed it, or the manifest's format
    input_format: str | None = None
    found_by_walk: bool = False
    skippable: bool = False  # met in a walk or glob: skipped with a warning when other runs were read
    hyperparameters: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)  # extra hyperparameter columns (--param)
    labels: dict[str, str] = field(default_factory=dict)  # other manifest columns
    row: int | None = None  # manifest row


def _num(text: str, manifest: str, row: int, column: str) -> float | None:
    t = text.strip()
    if t == "" or t.lower() in ("auto", "none", "null", "nan", "na"):
        return None
    try:
        v = float(t)
    except ValueError:
        raise InputError(manifest, f"column {column!r} must be a number, got {t!r}", where=f"row {row}") from None
    if not math.isfinite(v) or v < 0:
        raise InputError(manifest, f"column {column!r} must be a finite non-negative number, got {t!r}", where=f"row {row}")
    return v


def read_manifest(
    manifest: str | Path,
    path_column: str | None = None,
    params: Sequence[str] = (),
    input_format: str | None = None,
) -> list[Job]:
    """One job per manifest row. Hyperparameter columns by name (see ``HP_COLUMNS``),
    ``params`` names further hyperparameter columns, every other column is a label."""
    from .formats import all_readers

    m = Path(manifest)
    try:
        text = m.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InputError(str(m), f"cannot read the manifest ({e.strerror or e})") from None
    lines = text.splitlines()
    if not lines:
        raise InputError(str(m), "the manifest is empty")
    try:
        dialect: Any = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(lines, dialect=dialect)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    if path_column:
        if path_column not in header:
            raise UsageError(f"{m}: no column {path_column!r} (columns: {', '.join(header)})")
        pcol = path_column
    else:
        found = [c for c in PATH_COLUMNS if c in header]
        if not found:
            raise UsageError(
                f"{m}: no path column; name one with --path-column (looked for {', '.join(PATH_COLUMNS)})"
            )
        pcol = found[0]
    for p in params:
        if p not in header:
            raise UsageError(f"{m}: no column {p!r} for --param (columns: {', '.join(header)})")
    hp_cols: dict[str, str] = {}
    for key, names in HP_COLUMNS.items():
        for n in names:
            if n in header and n not in params:
                hp_cols[key] = n
                break
    known_readers = set(all_readers())
    base = m.parent
    jobs: list[Job] = []
    for i, rec in enumerate(reader, start=2):
        raw = (rec.get(pcol) or "").strip()
        if not raw:
            raise InputError(str(m), f"empty {pcol!r}", where=f"row {i}")
        rel = Path(raw)
        full = rel if rel.is_absolute() else base / rel
        hp: dict[str, float] = {}
        for key, col in hp_cols.items():
            v = _num(rec.get(col) or "", str(m), i, col)
            if v is not None:
                hp[key] = v
        extra: dict[str, Any] = {}
        for col in params:
            cell = (rec.get(col) or "").strip()
            try:
                extra[col] = float(cell)
            except ValueError:
                extra[col] = cell
        used = {pcol, *hp_cols.values(), *params}
        labels = {k: (v or "") for k, v in rec.items() if k not in used and k is not None}
        fmt = input_format
        cell_fmt = (rec.get("format") or "").strip()
        if fmt is None and cell_fmt in known_readers:
            fmt = cell_fmt
        jobs.append(
            Job(
                path=str(full),
                display=str(full) if rel.is_absolute() else os.path.normpath(str(full)),
                name=raw,
                input_format=fmt,
                hyperparameters=hp,
                params=extra,
                labels=labels,
                row=i,
            )
        )
    return jobs


def jobs_for_paths(paths: Iterable[str | Path], input_format: str | None = None) -> tuple[list[Job], list[dict[str, str]]]:
    """Expand files, directories and globs as ``ftdiag analyze`` does."""
    from .inputs import expand

    jobs: list[Job] = []
    errors: list[dict[str, str]] = []
    for p in paths:
        try:
            items = expand(p, input_format)
        except FtdiagError as e:
            errors.append({"source": str(p), "message": str(e)})
            continue
        for it in items:
            jobs.append(
                Job(
                    path=it.path,
                    display=it.display,
                    name=it.name,
                    reader=it.reader,
                    input_format=input_format,
                    found_by_walk=it.found_by_walk,
                    skippable=it.skippable,
                )
            )
    return jobs, errors


# --------------------------------------------------------------------------------------
# Analysis of one run, and of a batch (in a worker process)
# --------------------------------------------------------------------------------------


def _curve(stats: Any, run: Any, steps_per_epoch: float | None) -> dict[str, Any] | None:
    from .run import epoch_at

    if stats is None:
        return None
    best_epoch = epoch_at(run, stats.best_step)
    if best_epoch is None and steps_per_epoch and run.x_unit == "step":
        best_epoch = stats.best_step / steps_per_epoch
    return {
        "name": stats.name,
        "higher_is_better": stats.sign > 0,
        "best": stats.best,
        "best_step": stats.best_step,
        "best_epoch": best_epoch if best_epoch is not None and math.isfinite(best_epoch) else None,
        "final": stats.last,
        "n": stats.n,
        "noise": stats.noise,
    }


def run_row(run: Any, job: Job, base_hp: Any = None) -> dict[str, Any]:
    """Analyze one run and reduce it to a plain dict (what a sweep needs, and the
    analysis itself as ``ftdiag analyze --format json`` gives it)."""
    from . import hyperparams as hpm
    from .advice import context
    from .api import _clean, analyze_run

    hp = base_hp if base_hp is not None else hpm.Hyperparameters()
    if job.hyperparameters:
        hp = hp.merged(hpm.Hyperparameters(**job.hyperparameters, sources={k: "manifest" for k in job.hyperparameters}))
    res = analyze_run(run, hp if hp.known() else None)
    ctx = context(res.run, res.features)
    config: dict[str, Any] = {}
    sources: dict[str, str] = {}
    lr_key = "learning_rate_multiplier" if ctx.lr_is_multiplier else "learning_rate"
    for key, value, src in (
        ("n_epochs", ctx.n_epochs, ctx.n_epochs_source),
        (lr_key, ctx.learning_rate, ctx.learning_rate_source),
        ("batch_size", ctx.batch_size, ctx.batch_size_source),
        ("prompt_loss_weight", ctx.prompt_loss_weight, ctx.prompt_loss_weight_source),
        ("n_examples", ctx.n_examples, res.run.hyperparameters.sources.get("n_examples")),
    ):
        if value is not None:
            config[key] = float(value)
            sources[key] = src or "log"
    for k, v in job.params.items():
        config[k] = v
        sources[k] = "manifest"
    row = res.to_dict()  # already JSON-safe
    more: dict[str, Any] = _clean(
        {
            "config": config,
            "config_sources": sources,
            "labels": dict(job.labels),
            "val_metric": _curve(res.features.val_metric, res.run, ctx.steps_per_epoch),
            "val_loss": _curve(res.features.val_loss, res.run, ctx.steps_per_epoch),
        }
    )
    row.update(more)
    if job.name and not row.get("name"):
        row["name"] = job.name
    return row


def analyze_jobs(jobs: Sequence[Job], base_hp: Any = None, mapping: Any = None) -> list[dict[str, Any]]:
    """Read and analyze a batch of jobs. Returns, per run, ``{"row": ...}``; per bad
    input ``{"error": {...}}``; per partial run (one metric of a run split over
    files) ``{"partial": Run, "job": Job}`` for the parent to merge. ``mapping``:
    a :class:`ftdiag.mapping.ColumnMapping` (``--val-metric`` ...) for every run."""
    from .inputs import Item, read_item
    from .mapping import apply_mapping

    out: list[dict[str, Any]] = []
    for job in jobs:
        item = Item(job.path, job.display, name=job.name, found_by_walk=job.found_by_walk, reader=job.reader)
        try:
            runs = read_item(item, job.input_format, mapping)
        except FtdiagError as e:
            err = {"source": job.display, "message": str(e)}
            out.append({"error": err | {"skippable": "yes"} if job.skippable else err})
            continue
        for run in runs:
            if run.metadata.get("merge_key"):
                out.append({"partial": run, "job": job})
                continue
            try:
                out.append({"row": run_row(apply_mapping(run, mapping), job, base_hp)})
            except FtdiagError as e:
                out.append({"error": {"source": run.source, "message": str(e)}})
    return out


def _batches(jobs: Sequence[Job], n_workers: int) -> list[list[Job]]:
    # a few batches per worker balance the load; at most 64 files per batch keep the
    # progress bar moving; consecutive files (siblings in a walk) stay together
    size = max(1, min(64, math.ceil(len(jobs) / max(1, n_workers * 4))))
    return [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]


# files per Dask task: large enough that the scheduler's per-task cost (about a
# millisecond) is small beside analysing the batch (~2 ms per small file)
DASK_BATCH = 256


def _run_on_dask(
    jobs: Sequence[Job],
    address: str,
    base_hp: Any,
    progress: Callable[[int], None] | None,
    mapping: Any = None,
) -> list[list[dict[str, Any]]]:
    """One task per batch of files on the Dask cluster at ``address`` (the
    ``ftdiag[dask]`` extra); the results in batch order. Files must be readable
    at the same paths from the workers (shared storage): paths are made absolute."""
    import dataclasses

    try:
        from distributed import Client, as_completed
    except ImportError:
        from .errors import MissingDependencyError

        raise MissingDependencyError("distributed", "dask", "--dask-scheduler") from None
    absolute = [dataclasses.replace(j, path=os.path.abspath(j.path)) for j in jobs]
    try:
        client = Client(address, set_as_default=False, timeout=30)
    except (OSError, TimeoutError, ValueError) as e:
        raise UsageError(f"--dask-scheduler {address}: cannot connect ({e})") from None
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        size = max(1, min(DASK_BATCH, math.ceil(len(absolute) / (n_workers * 4))))
        batches = [absolute[i : i + size] for i in range(0, len(absolute), size)]
        futures = client.map(analyze_jobs, batches, base_hp=base_hp, mapping=mapping, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[list[dict[str, Any]]] = [[] for _ in batches]
        for fut in as_completed(futures, loop=client.loop):
            i = index[fut.key]
            results[i] = fut.result()
            if progress:
                progress(len(batches[i]))
        return results
    finally:
        client.close()


def run_jobs(
    jobs: Sequence[Job],
    n_jobs: int | None = None,
    base_hp: Any = None,
    progress: Callable[[int], None] | None = None,
    dask_scheduler: str | None = None,
    mapping: Any = None,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Analyze every job, ``n_jobs`` processes at a time (default: the number of
    cores), or on the Dask cluster at ``dask_scheduler``. Returns the rows, in
    input order, and the errors."""
    n = n_jobs if n_jobs and n_jobs > 0 else (os.cpu_count() or 1)
    batches = _batches(jobs, n)
    results: list[list[dict[str, Any]]] = [[] for _ in batches]
    if dask_scheduler:
        results = _run_on_dask(jobs, dask_scheduler, base_hp, progress, mapping)
    elif n == 1 or len(batches) <= 1:
        for i, b in enumerate(batches):
            results[i] = analyze_jobs(b, base_hp, mapping)
            if progress:
                progress(len(b))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        methods = multiprocessing.get_all_start_methods()
        # fork starts workers without re-importing ftdiag (fast); elsewhere the default
        fork = "fork" in methods and os.name == "posix" and _no_threads()
        mp = multiprocessing.get_context("fork" if fork else None)
        if fork:  # what every worker needs, imported once here rather than once per worker
            from . import api  # noqa: F401
        with ProcessPoolExecutor(max_workers=min(n, len(batches)), mp_context=mp) as pool:
            futures = {pool.submit(analyze_jobs, b, base_hp, mapping): i for i, b in enumerate(batches)}
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                if progress:
                    progress(len(batches[i]))
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    partial: list[tuple[Any, Job]] = []
    for batch in results:
        for r in batch:
            if "row" in r:
                rows.append(r["row"])
            elif "error" in r:
                errors.append(r["error"])
            else:
                partial.append((r["partial"], r["job"]))
    if partial:
        from .inputs import finish

        merged, errs = finish([p for p, _ in partial], mapping)
        errors.extend({"source": e.source, "message": str(e.error)} for e in errs)
        job_of = {p.source: j for p, j in partial}
        for run in merged:
            first = (run.metadata.get("merged_from") or [run.source])[0]
            job = job_of.get(first, partial[0][1])
            rows.append(run_row(run, Job(run.source, run.source, hyperparameters=job.hyperparameters,
                                         params=job.params, labels=job.labels), base_hp))
    return rows, errors


def _no_threads() -> bool:
    import threading

    return threading.active_count() <= 1


# --------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------


def _fmt_value(v: Any) -> str:
    """A value for sentences: 4 significant figures."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _key_value(v: Any) -> str:
    """A value for grouping replicates: exact."""
    return repr(v) if isinstance(v, float) else str(v)


def _metric_text(v: float | None, higher_is_better: bool) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    if higher_is_better and 0 <= v <= 1:
        return f"{100 * v:.1f}%"
    return f"{v:.4g}"


def _spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Spearman's rank correlation and a two-sided p-value (normal approximation,
    fine from about 10 points; numpy only: scipy.stats costs seconds to import)."""
    import numpy as np

    n = len(x)
    if n < 3:
        return 0.0, 1.0

    def ranks(a: Sequence[float]) -> Any:
        arr = np.asarray(a, dtype=float)
        order = arr.argsort(kind="stable")
        r = np.empty(n)
        r[order] = np.arange(n, dtype=float)
        # average ranks of ties
        for v in np.unique(arr):
            m = arr == v
            if m.sum() > 1:
                r[m] = r[m].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0, 1.0
    rho = float(np.corrcoef(rx, ry)[0, 1])
    z = abs(rho) * math.sqrt(n - 1)
    return rho, math.erfc(z / math.sqrt(2.0))


@dataclass
class Config:
    key: tuple[Any, ...]
    params: dict[str, Any]
    rows: list[dict[str, Any]]
    score: float  # mean final value of the ranking metric (own orientation)
    best: float  # mean best value
    sd: float | None  # spread between replicates


def _choose_metric(rows: Sequence[dict[str, Any]]) -> tuple[str, bool, str]:
    """Which curve ranks the runs: the task metric when most runs logged one, else
    the validation loss. Returns (kind, higher_is_better, display name)."""
    with_metric = [r for r in rows if r.get("val_metric") and r["val_metric"].get("final") is not None]
    kind = "val_metric" if with_metric and 2 * len(with_metric) >= len(rows) else "val_loss"
    have = [r[kind] for r in rows if r.get(kind) and r[kind].get("final") is not None]
    if not have:
        return kind, kind == "val_metric", "validation metric"
    hib = Counter(bool(c["higher_is_better"]) for c in have).most_common(1)[0][0]
    names = Counter(c["name"] for c in have if bool(c["higher_is_better"]) == hib)
    shown = ", ".join(n for n, _ in names.most_common(3)) + (", ..." if len(names) > 3 else "")
    return kind, hib, shown


def _rankable(row: dict[str, Any], kind: str, higher: bool) -> bool:
    """The run has a final value of the ranking curve, in the same direction (a
    character error rate cannot be ranked with accuracies)."""
    curve = row.get(kind)
    if not curve:
        return False
    return curve.get("final") is not None and bool(curve.get("higher_is_better")) == higher


def _params_of(row: dict[str, Any]) -> dict[str, Any]:
    return dict(row.get("config") or {})


def build_configs(rows: Sequence[dict[str, Any]], kind: str, higher: bool) -> list[Config]:
    """Group replicates (same hyperparameters) and rank, best first."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        if not _rankable(r, kind, higher):
            continue
        params = _params_of(r)
        key = tuple(sorted((k, _key_value(v)) for k, v in params.items()))
        groups.setdefault(key, []).append(r)
    sign = 1.0 if higher else -1.0
    configs: list[Config] = []
    for key, rs in groups.items():
        finals = [float(r[kind]["final"]) for r in rs]
        bests = [float(r[kind]["best"]) for r in rs]
        mean = sum(finals) / len(finals)
        sd = None
        if len(finals) > 1:
            sd = math.sqrt(sum((v - mean) ** 2 for v in finals) / (len(finals) - 1))
        configs.append(Config(key, _params_of(rs[0]), rs, mean, sum(bests) / len(bests), sd))
    configs.sort(key=lambda c: (-sign * c.score, -sign * c.best, str(c.key)))
    return configs


def _best_row(c: Config, kind: str, higher: bool) -> dict[str, Any]:
    sign = 1.0 if higher else -1.0
    return sorted(
        c.rows, key=lambda r: (-sign * float(r[kind]["final"]), -sign * float(r[kind]["best"]), str(r.get("name")))
    )[0]


def _noise_sd(configs: Sequence[Config], kind: str) -> float:
    """Run-to-run spread of the ranking value: the pooled standard deviation between
    replicates (e.g. seeds) when the sweep has any; else the median point-to-point
    noise of the validation curves (the noise of one evaluation: a lower bound, as
    it leaves out seed-to-seed differences)."""
    num = den = 0.0
    for c in configs:
        if c.sd is not None and len(c.rows) > 1:
            num += c.sd**2 * (len(c.rows) - 1)
            den += len(c.rows) - 1
    if den > 0:
        return math.sqrt(num / den)
    noises = sorted(float(r[kind]["noise"]) for c in configs for r in c.rows if r[kind].get("noise") is not None)
    return noises[len(noises) // 2] if noises else 0.0


def effects(configs: Sequence[Config], higher: bool, sd: float) -> list[dict[str, Any]]:
    """Per varied hyperparameter: mean score at each value, where it was best, and
    the trend (Spearman's rank correlation of score against the value)."""
    sign = 1.0 if higher else -1.0
    names: list[str] = []
    for c in configs:
        for k in c.params:
            if k not in names and k != "n_examples":
                names.append(k)
    out: list[dict[str, Any]] = []
    for name in names:
        vals = [c.params.get(name) for c in configs]
        numeric = [v for v in vals if isinstance(v, (int, float))]
        distinct = sorted({v for v in vals if v is not None}, key=lambda v: (isinstance(v, str), v))
        if len(distinct) < 2:
            continue
        levels = []
        for v in distinct:
            cs = [c for c in configs if c.params.get(name) == v]
            n_runs = sum(len(c.rows) for c in cs)
            mean = sum(c.score * len(c.rows) for c in cs) / n_runs
            levels.append({"value": v, "mean": mean, "n_runs": n_runs, "n_configs": len(cs)})
        best = max(levels, key=lambda lv: sign * lv["mean"])
        worst = min(levels, key=lambda lv: sign * lv["mean"])
        rho = p = None
        if len(numeric) == len(vals) and len(configs) >= 3:
            xs = [math.log(v) if all(u > 0 for u in numeric) else v for v in numeric]
            rho, p = _spearman(xs, [sign * c.score for c in configs])
        se = sd * math.sqrt(1 / best["n_runs"] + 1 / worst["n_runs"]) if sd > 0 else 0.0
        spread = abs(best["mean"] - worst["mean"])
        clear = spread > 2 * se
        if not clear:
            direction = "no clear effect"
        elif best is levels[-1] and isinstance(best["value"], (int, float)):
            direction = "higher"
        elif best is levels[0] and isinstance(best["value"], (int, float)):
            direction = "lower"
        else:
            direction = "peak"
        out.append(
            {
                "parameter": name,
                "levels": levels,
                "best_value": best["value"],
                "best_mean": best["mean"],
                "worst_value": worst["value"],
                "worst_mean": worst["mean"],
                "spread": spread,
                "standard_error": se,
                "direction": direction,
                "spearman_rho": rho,
                "spearman_p": p,
            }
        )
    out.sort(key=lambda e: -e["spread"])
    return out


def _effect_sentence(e: dict[str, Any], higher: bool, metric: str) -> str:
    lv = e["levels"]
    m = lambda v: _metric_text(v, higher)  # noqa: E731
    tried = ", ".join(f"{_fmt_value(x['value'])}: {m(x['mean'])}" for x in lv)
    name = e["parameter"]
    d = e["direction"]
    if d == "higher":
        head = f"{name}: higher was better, up to the largest value tried ({_fmt_value(e['best_value'])})"
    elif d == "lower":
        head = f"{name}: lower was better, down to the smallest value tried ({_fmt_value(e['best_value'])})"
    elif d == "peak":
        head = f"{name}: best at {_fmt_value(e['best_value'])}, inside the range tried"
    else:
        head = f"{name}: no clear effect (spread {m(e['spread'])} within noise)"
    trend = ""
    if e.get("spearman_rho") is not None and e.get("spearman_p") is not None and e["spearman_p"] < 0.05:
        trend = f"; rank correlation {e['spearman_rho']:+.2f} (p={e['spearman_p']:.2g})"
    return f"{head}; mean {metric} by value: {tried}{trend}"


def _step(name: str, value: float, up: bool, n_examples: float | None) -> float | None:
    """One step beyond ``value``: x2 or /2 for rates and batch sizes (OpenAI's
    multiplier defaults are an octave apart); epochs by 1-2 (OpenAI) or a quarter."""
    if name == "n_epochs":
        d = max(1.0, float(math.ceil(0.25 * value)))
        new = value + d if up else max(1.0, value - d)
    elif name == "batch_size":
        new = float(value * 2 if up else max(1.0, math.floor(value / 2)))
        if n_examples:
            new = min(new, n_examples)
    elif name == "prompt_loss_weight":
        new = value * 10 if up else (0.01 if value > 0.01 else value / 10)
    else:
        new = value * 2 if up else value / 2
        new = float(f"{new:.2g}")
    return None if new == value else new


def _between(name: str, a: float, b: float) -> float:
    """A value between two tried ones: geometric mean for rates and batch sizes,
    arithmetic for epochs; whole numbers where the setting is whole."""
    if name in ("n_epochs",):
        return float(round((a + b) / 2))
    g = math.sqrt(a * b) if a > 0 and b > 0 else (a + b) / 2
    if name == "batch_size":
        return float(round(g))
    return float(f"{g:.2g}")


def propose(
    configs: Sequence[Config], effs: Sequence[dict[str, Any]], best_row: dict[str, Any], higher: bool, metric: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The next configuration (one change from the best) and a small grid around it."""
    best = configs[0]
    base = dict(best.params)
    n_examples = base.get("n_examples")
    by_name = {e["parameter"]: e for e in effs}
    candidates: list[tuple[float, str, str, float, str]] = []  # (strength, param, action, value, reason)
    # 1. the sweep points outside the range tried: extend one step
    for e in effs:
        name = e["parameter"]
        v = base.get(name)
        if name not in TUNABLE or not isinstance(v, (int, float)) or e["direction"] not in ("higher", "lower"):
            continue
        levels = [lv["value"] for lv in e["levels"]]
        up = e["direction"] == "higher"
        if v != (levels[-1] if up else levels[0]):
            continue
        new = _step(name, float(v), up, n_examples)
        if new is None:
            continue
        reason = (
            f"across the sweep {metric} was best at the {'largest' if up else 'smallest'} {name} tried "
            f"({_fmt_value(v)}: {_metric_text(e['best_mean'], higher)} against "
            f"{_metric_text(e['worst_mean'], higher)} at {_fmt_value(e['worst_value'])})"
        )
        candidates.append((e["spread"], name, "increase" if up else "decrease", new, reason))
    # 2. the best run's own diagnosis
    recs = best_row.get("recommendations") or []
    top = recs[0] if recs else None
    run_move: tuple[str, str, float | None, str] | None = None
    if top and top.get("action") in ("increase", "decrease"):
        param = top["parameter"]
        if param == "learning_rate_multiplier" and "learning_rate_multiplier" not in base and "learning_rate" in base:
            param = "learning_rate"
        run_move = (param, top["action"], top.get("suggested"), top.get("reason") or "")
    chosen: dict[str, Any] | None = None
    if run_move:
        p, act, sug, why = run_move
        agree = [c for c in candidates if c[1] == p and c[2] == act]
        # contradicted: the sweep tried that direction from the best and it was worse
        contradicted = False
        eff = by_name.get(p)
        v = base.get(p)
        if eff is not None and isinstance(v, (int, float)):
            sign = 1.0 if higher else -1.0
            side = [lv for lv in eff["levels"] if (lv["value"] > v if act == "increase" else lv["value"] < v)]
            here = next((lv for lv in eff["levels"] if lv["value"] == v), None)
            if side and here is not None and all(sign * lv["mean"] < sign * here["mean"] for lv in side):
                contradicted = True
        if agree:
            c = agree[0]
            chosen = {"parameter": p, "action": act, "value": c[3], "reason": f"{c[4]}; and the best run itself: {why}"}
        elif not contradicted and sug is not None:
            chosen = {"parameter": p, "action": act, "value": sug, "reason": f"the best run's own diagnosis: {why}"}
    if chosen is None and candidates:
        c = max(candidates, key=lambda t: t[0])
        chosen = {"parameter": c[1], "action": c[2], "value": c[3], "reason": c[4]}
    nxt: dict[str, Any] = {"from": {k: v for k, v in base.items()}, "configuration": dict(base)}
    if chosen is not None:
        nxt["configuration"][chosen["parameter"]] = chosen["value"]
        nxt["change"] = {
            "parameter": chosen["parameter"],
            "action": chosen["action"],
            "current": base.get(chosen["parameter"]),
            "suggested": chosen["value"],
        }
        nxt["reason"] = chosen["reason"]
    else:
        nxt["change"] = None
        nxt["reason"] = (
            "the best configuration is inside the range tried on every setting and its own run needs no change: "
            "refine with the grid below, or repeat it with other seeds"
        )
    # the grid: the two settings that mattered most, three values each around the best
    grid_axes: list[tuple[str, list[float]]] = []
    for e in effs:
        name = e["parameter"]
        v = base.get(name)
        if name not in TUNABLE or not isinstance(v, (int, float)) or e["direction"] == "no clear effect":
            continue
        levels = sorted(lv["value"] for lv in e["levels"] if isinstance(lv["value"], (int, float)))
        i = levels.index(v) if v in levels else None
        if i is None:
            continue
        lo = _between(name, levels[i - 1], v) if i > 0 else _step(name, float(v), False, n_examples)
        hi = _between(name, v, levels[i + 1]) if i + 1 < len(levels) else _step(name, float(v), True, n_examples)
        values = sorted({x for x in (lo, float(v), hi) if x is not None})
        if len(values) > 1:
            grid_axes.append((name, values))
        if len(grid_axes) == 2:
            break
    grid: list[dict[str, Any]] = []
    if grid_axes:
        combos: list[dict[str, Any]] = [{}]
        for name, values in grid_axes:
            combos = [{**c, name: x} for c in combos for x in values]
        grid = [{**base, **c} for c in combos]
    return nxt, grid


def summarize(rows: Sequence[dict[str, Any]], group_by: str | None = None) -> list[dict[str, Any]]:
    """One summary per group (all runs together without ``group_by``). Sets each
    row's ``group`` and ``rank`` (its place in its group; None when it has no value
    of the ranking metric)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        g = ""
        if group_by:
            g = str((r.get("labels") or {}).get(group_by, (r.get("config") or {}).get(group_by, "")))
        groups.setdefault(g, []).append(r)
    out = []
    for g in sorted(groups, key=str):
        out.append(_summarize_group(groups[g], g if group_by else None, group_by))
    return out


def _summarize_group(rows: list[dict[str, Any]], group: str | None, group_by: str | None) -> dict[str, Any]:
    kind, higher, mname = _choose_metric(rows)
    metric = f"validation {'loss' if kind == 'val_loss' else 'metric'} ({mname})"
    configs = build_configs(rows, kind, higher)
    for i, c in enumerate(configs):
        for r in c.rows:
            r["rank"] = i + 1
            r["configuration_mean"] = c.score
    for r in rows:
        r["group"] = group
        r.setdefault("rank", None)
        r.setdefault("configuration_mean", None)
    summary: dict[str, Any] = {
        "group_by": group_by,
        "group": group,
        "n_runs": len(rows),
        "n_configurations": len(configs),
        "metric": {
            "curve": kind,
            "names": mname,
            "higher_is_better": higher,
            "ranked_by": "final value, mean over replicates",
            "mixed": "," in mname,
        },
        "unranked": [r["name"] for r in rows if not _rankable(r, kind, higher)],
    }
    if not configs:
        summary.update({"best": None, "configurations": [], "effects": [], "next": None, "grid": []})
        return summary
    sd = _noise_sd(configs, kind)
    effs = effects(configs, higher, sd)
    best_row = _best_row(configs[0], kind, higher)
    nxt, grid = propose(configs, effs, best_row, higher, metric)
    top = (best_row.get("recommendations") or [None])[0]
    summary.update(
        {
            "best": {
                "run": best_row.get("name"),
                "source": best_row.get("source"),
                "configuration": dict(configs[0].params),
                "final": configs[0].score,
                "best": configs[0].best,
                "n_replicates": len(configs[0].rows),
                "label": best_row.get("label"),
                "best_step": best_row[kind].get("best_step"),
                "best_epoch": best_row[kind].get("best_epoch"),
                "top_recommendation": top,
            },
            "noise_sd": sd,
            "configurations": [
                {
                    "rank": i + 1,
                    "configuration": c.params,
                    "final": c.score,
                    "best": c.best,
                    "replicate_sd": c.sd,
                    "runs": [r.get("name") for r in c.rows],
                }
                for i, c in enumerate(configs)
            ],
            "effects": [{**e, "sentence": _effect_sentence(e, higher, metric)} for e in effs],
            "next": nxt,
            "grid": grid,
        }
    )
    return summary


# --------------------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------------------


@dataclass
class SweepReport:
    rows: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    errors: list[dict[str, str]]
    # files met in a walk or glob that could not be read while other runs were
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from .api import _clean

        out: dict[str, Any] = _clean(
            {
                "schema_version": SCHEMA_VERSION,
                "kind": "compare",
                "ftdiag_version": __version__,
                "groups": self.groups,
                "runs": self.rows,
                "errors": self.errors,
                "skipped": self.skipped,
            }
        )
        return out


def compare(
    paths: Iterable[str | Path] = (),
    manifest: str | Path | None = None,
    hyperparameters: Any = None,
    input_format: str | None = None,
    group_by: str | None = None,
    path_column: str | None = None,
    params: Sequence[str] = (),
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_jobs: Callable[[int], None] | None = None,
    dask_scheduler: str | None = None,
    mapping: Any = None,
) -> SweepReport:
    """Analyze every run in ``paths`` and/or ``manifest`` and compare them.

    ``hyperparameters`` (flat keys, as for :func:`ftdiag.analyze`) apply to every
    run; a manifest row's own values win over them. ``group_by`` names a manifest
    column (or a hyperparameter) to compare within (e.g. ``task``). ``jobs``
    processes (default: the number of cores). ``on_jobs(n)`` is told how many files
    will be read, ``progress(k)`` each time ``k`` more are done. ``dask_scheduler``
    (an address such as ``tcp://host:8786``) runs the analysis on a Dask cluster
    instead, one task per batch of files (the ``ftdiag[dask]`` extra). ``mapping``
    (:class:`ftdiag.mapping.ColumnMapping`) names the training and validation
    metric of every run, as for :func:`ftdiag.analyze`.
    """
    from .api import _hp

    base_hp = _hp(hyperparameters)
    if input_format:
        from .formats import get_reader

        get_reader(input_format)
    all_jobs: list[Job] = []
    errors: list[dict[str, str]] = []
    if manifest is not None:
        all_jobs.extend(read_manifest(manifest, path_column, params, input_format))
    if paths:
        js, errs = jobs_for_paths(paths, input_format)
        all_jobs.extend(js)
        errors.extend(errs)
    if not all_jobs and not errors:
        raise UsageError("nothing to compare: give paths or --manifest")
    if group_by and manifest is None and group_by not in HP_COLUMNS:
        raise UsageError(f"--group-by {group_by!r}: without a manifest only hyperparameters can group runs")
    if on_jobs:
        on_jobs(len(all_jobs))
    rows, errs = run_jobs(all_jobs, jobs, base_hp, progress, dask_scheduler, mapping)
    errors.extend(errs)
    if not rows and not errors:  # only folders without a log in them (files no reader knows)
        from .inputs import no_log_found

        for p in paths:
            if os.path.isdir(p):
                n = sum(1 for j in all_jobs if j.display.startswith(str(p)))
                errors.append({"source": str(p), "message": str(no_log_found(str(p), n))})
    # a file met in a walk or glob that could not be read is skipped when other runs were read
    skipped = [{k: v for k, v in e.items() if k != "skippable"} for e in errors if rows and e.get("skippable")]
    errors = [{k: v for k, v in e.items() if k != "skippable"} for e in errors if not (rows and e.get("skippable"))]
    return SweepReport(rows, summarize(rows, group_by), errors, skipped)
