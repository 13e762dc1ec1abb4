"""Ultralytics YOLO ``results.csv`` (detect, segment, pose, OBB, classify).

One row per epoch. Detection: ``epoch,train/box_loss,train/cls_loss,
train/dfl_loss,metrics/precision(B),metrics/recall(B),metrics/mAP50(B),
metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,...``;
segmentation adds ``*/seg_loss`` and mask metrics ``(M)``; pose ``(P)``;
classification is ``epoch,train/loss,metrics/accuracy_top1,
metrics/accuracy_top5,val/loss,...``. Older releases pad every header name
and cell with spaces to width 23; newer ones add a cumulative ``time`` column.
Epochs are 0-based in some files and 1-based in others: the first row's
epoch tells which.

Which validation quantity decides: the task's own mAP50-95 (masks ``(M)``
for segmentation, keypoints ``(P)`` for pose, boxes ``(B)`` otherwise), or
top-1 accuracy for classification. Higher is better. Ultralytics picks its
best epoch by a "fitness" dominated by mAP50-95 (0.9 mAP50-95 + 0.1 mAP50),
so this is the same signal. Losses are split into components; "the" training
and validation loss are their sums (``train/loss``, ``val/loss``), the
components stay available as extra series. Ultralytics logs no training-set
mAP, so the train-validation gap is judged on the loss. ``args.yaml`` beside
the file supplies epochs, batch size and the initial learning rate (``lr0``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InputError, NoDataError
from ..hyperparams import Hyperparameters
from ..run import Run, Series
from . import CERTAIN, Reader
from ._common import hyperparameters_from, require_curve, series_from_points
from ._source import Source
from ._table import Table, header_of, read_table
from ._yaml import parse_simple_yaml

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def _is_ultralytics(cols: list[str]) -> bool:
    return (
        "epoch" in cols
        and any(c.startswith("train/") for c in cols)
        and any(c.startswith("metrics/") for c in cols)
    )


def sniff(source: Source) -> float:
    return CERTAIN if _is_ultralytics(header_of(source)) else 0.0


def task_of(cols: list[str]) -> tuple[str, str | None]:
    """(task, deciding metric column)."""
    if "metrics/accuracy_top1" in cols:
        return "classify", "metrics/accuracy_top1"
    for suffix, task in (("(M)", "segment"), ("(P)", "pose"), ("(B)", "detect")):
        col = f"metrics/mAP50-95{suffix}"
        if col in cols:
            return task, col
    metrics = [c for c in cols if c.startswith("metrics/")]
    return "unknown", (metrics[0] if metrics else None)


def _summed(t: Table, prefix: str) -> tuple[str, np.ndarray, list[str]] | None:
    import numpy as np

    parts = [c for c in t.header if c.startswith(prefix) and c.endswith("loss")]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0], t.col(parts[0]), parts
    with np.errstate(all="ignore"):  # huge components may overflow to inf: that is the data
        total = np.sum(np.vstack([t.col(c) for c in parts]), axis=0)
    return f"{prefix}loss", total, parts


def read(source: Source) -> list[Run]:
    import numpy as np

    t = read_table(source)
    if not _is_ultralytics(t.header):
        raise InputError(source.display, "expected an Ultralytics results.csv header (epoch, train/..., metrics/...)", where="line 1")
    if t.n_rows == 0:
        raise NoDataError(source.display, "the file has a header but no rows")
    warnings = list(t.warnings)
    ep = t.col("epoch")
    if not np.isfinite(ep).all():
        warnings.append(f"{source.display}: some rows have no epoch number; numbered the rows instead")
        ep = np.arange(t.n_rows, dtype=np.float64)
    x = ep + 1.0 if ep[0] == 0 else ep.copy()  # epochs completed after the row
    task, metric_col = task_of(t.header)
    train = _summed(t, "train/")
    val = _summed(t, "val/")
    all_losses = [c for c in t.header if c.endswith("loss") and (c.startswith(("train/", "val/")))]
    if all_losses and not any(np.isfinite(t.col(c)).any() for c in all_losses):
        metric_note = ""
        metrics = [c for c in t.header if c.startswith("metrics/")]
        if metrics and all(np.nan_to_num(t.col(c), nan=0.0).max() == 0 for c in metrics):
            metric_note = " and every metric is 0"
        raise NoDataError(
            source.display,
            f"every training and validation loss is NaN{metric_note} in all {t.n_rows} row(s): the run broke "
            "from the first epoch (with Ultralytics usually NaN under mixed precision: try amp=False)",
        )

    def series(name: str, values: np.ndarray, hib: bool | None = None) -> Series:
        s, w = series_from_points(name, x, values, source.display, epochs=x, higher_is_better=hib, unit="epoch")
        warnings.extend(w)
        return s

    used = {"epoch", "time"}
    train_loss = val_loss = val_metric = None
    extra: dict[str, Series] = {}
    if train is not None:
        train_loss = series(train[0], train[1], False)
        used.add(train[0])
    if val is not None:
        val_loss = series(val[0], val[1], False)
        used.add(val[0])
    if metric_col is not None:
        val_metric = series(metric_col, t.col(metric_col), True)
        used.add(metric_col)
    for c in t.header:
        if c in used or not t.has(c):
            continue
        hib = True if c.startswith("metrics/") else (False if c.endswith("loss") else None)
        s, _ = series_from_points(c, x, t.col(c), source.display, epochs=x, higher_is_better=hib, unit="epoch")
        extra[c] = s
    hp = Hyperparameters()
    if source.path is not None:
        args = source.path.parent / "args.yaml"
        if args.is_file():
            try:
                hp = hyperparameters_from(parse_simple_yaml(args.read_text(encoding="utf-8", errors="replace")))
            except OSError:
                pass
    run = Run(
        source=source.display,
        format="ultralytics",
        name=source.name,
        train_loss=train_loss,
        val_loss=val_loss,
        train_metric=None,
        val_metric=val_metric,
        extra=extra,
        hyperparameters=hp,
        platform="ultralytics",
        x_unit="epoch",
        steps_per_epoch=1.0,
        metadata={"task": task, "decided_on": metric_col, "first_epoch_number": float(ep[0])},
        warnings=tuple(dict.fromkeys(warnings)),
    )
    if t.n_rows == 1:
        raise NoDataError(
            source.display,
            f"a single epoch was logged ({metric_col} {t.col(metric_col)[0]:g} at epoch {x[0]:g}): "
            "one point shows no trend; at least two epochs are needed"
            if metric_col
            else "a single epoch was logged: one point shows no trend",
        )
    return [require_curve(run, source.display)]


READER = Reader(
    name="ultralytics",
    description="Ultralytics YOLO results.csv (detect, segment, pose, classify; padded or not); "
    "verdict on mAP50-95 (or top-1 accuracy), loss = sum of the loss components",
    detects="CSV header with 'epoch', 'train/...' and 'metrics/...' columns (names stripped of padding)",
    example="ftdiag analyze runs/detect/train/results.csv",
    sniff=sniff,
    read=read,
)
