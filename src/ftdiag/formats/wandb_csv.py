"""Weights & Biases CSV exports.

Chart export (a panel's "Export CSV"): ``Step,<run> - <metric>,<run> -
<metric>__MIN,<run> - <metric>__MAX,...``. One column per run for the
chart's metric, plus min/max columns of the smoothing band (ignored). Cells
are empty where a run has no point at that step. Each run becomes its own
run; exports of several charts (``train/loss`` in one file, ``val/loss`` in
another) given together, or found in one folder, are combined run by run.

Runs-table export (the project's table, "Export CSV"): one row per run with
its config and final summary values (``Name,State,Notes,User,Tags,Created,
Runtime,Sweep,<config>...,<metrics>...``). It has no step axis, so there is no
curve to judge: a single final training and validation number cannot tell
a run that is still improving from one that overfit long ago. It is refused
with a message saying how to export what ftdiag can read.
"""

from __future__ import annotations

from ..errors import InputError, NoDataError
from ..run import Run, Series
from . import CERTAIN, LIKELY, Reader
from ._common import series_from_points
from ._names import assign_roles, parse_name
from ._source import Source
from ._table import header_of, read_table

_X_EPOCH = ("epoch", "epochs", "_epoch", "trainer/epoch")
_TABLE_COLS = {"State", "Created", "Runtime", "Sweep", "User", "Tags", "Notes", "ID", "End Time"}


def _is_table(cols: list[str]) -> bool:
    return bool(cols) and cols[0] == "Name" and len(_TABLE_COLS & set(cols)) >= 2


def _chart_columns(cols: list[str]) -> bool:
    rest = cols[1:]
    # the first column names the x axis (Step, epoch, ...): a line starting
    # with a digit is a timestamped log line ("2025-09-28 20:44:33,525 - INFO - ...")
    return bool(rest) and bool(cols[0]) and not cols[0][0].isdigit() and all(" - " in c for c in rest)


def sniff(source: Source) -> float:
    cols = header_of(source)
    if _is_table(cols):
        return CERTAIN
    if any(c.endswith(("__MIN", "__MAX")) for c in cols) and _chart_columns(cols):
        return CERTAIN
    if _chart_columns(cols):
        return LIKELY
    return 0.0


def read(source: Source) -> list[Run]:
    import numpy as np

    t = read_table(source, track_empty=True)
    if _is_table(t.header):
        metrics = [c for c in t.header if (n := parse_name(c)).is_loss or n.is_task_metric]
        shown = ", ".join(metrics[:4]) + (", ..." if len(metrics) > 4 else "")
        raise NoDataError(
            source.display,
            f"this is a W&B runs-table export: one row of final values per run ({t.n_rows} run(s)"
            + (f"; {shown}" if shown else "")
            + ") and no step axis, so there is no training curve to diagnose; export the history "
            "instead: a chart's 'Export CSV' (Step, '<run> - <metric>' columns), or wandb.Api().run(...).history()",
        )
    if not _chart_columns(t.header):
        raise InputError(source.display, "expected a W&B chart export header: Step, '<run> - <metric>', ...", where="line 1")
    if t.n_rows == 0:
        raise NoDataError(source.display, "the file has a header but no rows")
    xname = t.header[0]
    x = t.col(xname)
    unit = "epoch" if xname.lower() in _X_EPOCH else "step"
    warnings = list(t.warnings)
    per_run: dict[str, dict[str, Series]] = {}
    run_warnings: dict[str, list[str]] = {}
    for c in t.header[1:]:
        if c.endswith(("__MIN", "__MAX")):
            continue
        run_name, metric = c.rsplit(" - ", 1)
        mask = ~t.empty_mask(c) & np.isfinite(x)
        if not mask.any():
            continue
        s, w = series_from_points(metric, x[mask], t.col(c)[mask], source.display, unit=unit)
        run_warnings.setdefault(run_name, []).extend(f"{w_} (run {run_name})" for w_ in w)
        per_run.setdefault(run_name, {})[metric] = s
    if not per_run:
        raise NoDataError(source.display, "no run has any value in this export")
    runs = []
    parent = str(source.path.parent.resolve()) if source.path is not None else source.display
    for run_name, series in per_run.items():
        roles = assign_roles(series, f"{source.display} ({run_name})")
        runs.append(
            Run(
                source=source.display,
                format="wandb_csv",
                name=run_name,
                **roles.as_kwargs(),
                platform="wandb",
                x_unit=unit,  # type: ignore[arg-type]
                steps_per_epoch=1.0 if unit == "epoch" else None,
                metadata={"merge_key": ("wandb_csv", parent, run_name), "merge_name": run_name},
                warnings=tuple(warnings + run_warnings.get(run_name, []) + roles.notes),
            )
        )
    return runs


READER = Reader(
    name="wandb_csv",
    description="Weights & Biases chart export (each run its own run; several charts are combined); "
    "a runs-table export is refused: it has no step axis",
    detects="header 'Step,<run> - <metric>,<run> - <metric>__MIN,...' (runs table: 'Name,State,...,Created,Runtime')",
    example="ftdiag analyze wandb_export_val_loss.csv wandb_export_train_loss.csv",
    sniff=sniff,
    read=read,
)
