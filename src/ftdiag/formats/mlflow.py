"""One MLflow file-store metric file: ``mlruns/<exp>/<run>/metrics/<name>``.

Each line is ``<timestamp ms> <value> <step>`` (MLflow before 1.0 wrote no
step: the line order is used). The metric's name is only in the path:
the path below ``metrics/`` (MLflow stores ``train/loss`` as
``metrics/train/loss``), else the file name (a copy flattened as
``..._metrics_val_loss`` keeps the part after ``metrics_``).

A metric file holds one metric, so it is one part of a run: metric files of
the same run (the same ``metrics/`` folder) given together are combined into
one run. To read a whole run with its parameters, pass the run directory
(:mod:`.mlflow_run`). When every step is 0 (``log_metric`` called without
``step``), the timestamps give the order.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import InputError, NoDataError
from ..run import Run, Series
from . import CERTAIN, Reader
from ._common import series_from_points
from ._names import assign_roles
from ._source import HEAD_BYTES, Source

_LINE = re.compile(r"^\s*(\d{9,16})\s+(\S+)(?:\s+(-?\d+))?\s*$")


def sniff(source: Source) -> float:
    lines = [ln for ln in source.head_text.splitlines()[:21] if ln.strip()]
    if not lines:
        return 0.0
    if len(source.head) >= HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the head may end inside a line
    for ln in lines:
        m = _LINE.match(ln)
        if m is None:
            return 0.0
        try:
            float(m.group(2))
        except ValueError:
            return 0.0
    return CERTAIN


def metric_name(path: Path | None, fallback: str) -> str:
    if path is None:
        return fallback
    parts = path.parts
    if "metrics" in parts[:-1]:
        i = len(parts) - 1 - parts[::-1].index("metrics")
        return "/".join(parts[i + 1 :])
    name = path.name
    m = re.search(r"(?:^|_)metrics_(.+)$", name)
    return m.group(1) if m else name


def _metrics_dir(path: Path | None) -> Path | None:
    if path is None:
        return None
    for anc in path.parents:
        if anc.name == "metrics":
            return anc
    return None


def parse_metric_lines(text: str, display: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(timestamps, values, steps) of a metric file; bad lines are skipped with a warning."""
    ts: list[float] = []
    vs: list[float] = []
    ss: list[float] = []
    bad: list[int] = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m is None:
            bad.append(i)
            continue
        try:
            v = float(m.group(2))
        except ValueError:
            bad.append(i)
            continue
        ts.append(float(m.group(1)))
        vs.append(v)
        ss.append(float(m.group(3)) if m.group(3) is not None else float(len(ss)))
    warnings = []
    if bad:
        if not ts:
            raise InputError(display, "expected MLflow metric lines '<timestamp> <value> <step>'", where=f"line {bad[0]}")
        warnings.append(
            f"{display}: skipped {len(bad)} line(s) that are not '<timestamp> <value> <step>': line "
            + ", ".join(str(b) for b in bad[:5])
        )
    return np.asarray(ts), np.asarray(vs), np.asarray(ss), warnings


def metric_series(name: str, text: str, display: str) -> tuple[Series | None, list[str]]:
    ts, vs, ss, warnings = parse_metric_lines(text, display)
    if not vs.size:
        return None, warnings
    if vs.size > 1 and np.all(ss == ss[0]):
        order = np.argsort(ts, kind="stable")
        ts, vs = ts[order], vs[order]
        ss = np.arange(vs.size, dtype=np.float64)
        warnings.append(
            f"{display}: {name}: every value was logged at the same step; ordered them by time "
            "(log_metric was called without step=)"
        )
    s, w = series_from_points(name, ss, vs, display)
    return s, warnings + w


def read(source: Source) -> list[Run]:
    name = metric_name(source.path, source.name)
    s, warnings = metric_series(name, source.read_text(), source.display)
    if s is None:
        raise NoDataError(source.display, "the metric file is empty")
    roles = assign_roles({name: s}, source.display)
    metrics_dir = _metrics_dir(source.path)
    key: tuple[str, ...] | None = None
    merge_name = source.name
    if metrics_dir is not None:
        key = ("mlflow", str(metrics_dir.resolve()))
        merge_name = metrics_dir.parent.name
    elif source.path is not None:
        m = re.match(r"^(.*?)_?_metrics_", source.path.name)
        if m:  # a flattened copy: <run>__metrics_<name>
            key = ("mlflow", str(source.path.parent.resolve()), m.group(1))
            merge_name = m.group(1)
    run = Run(
        source=source.display,
        format="mlflow",
        name=source.name,
        **roles.as_kwargs(),
        platform="mlflow",
        x_unit="step",
        metadata={
            "metric": name,
            "merge_key": key or ("mlflow", source.display),
            "merge_name": merge_name,
        },
        warnings=tuple(warnings),
    )
    return [run]


READER = Reader(
    name="mlflow",
    description="MLflow file-store metric file (one metric per file; files of one run are combined)",
    detects="lines '<timestamp ms> <value> <step>'; the metric name comes from the path (metrics/<name>)",
    example="ftdiag analyze mlruns/0/<run_id>/metrics/loss mlruns/0/<run_id>/metrics/val_loss",
    sniff=sniff,
    read=read,
)
