"""Keras CSVLogger files and ``pd.DataFrame(history.history).to_csv()`` dumps.

``epoch,accuracy,loss,val_accuracy,val_loss`` (TF2) or ``epoch,acc,loss,val_acc,
val_loss`` (Keras 1/2), any separator; a pandas dump has an unnamed leading
index column instead of ``epoch``. Epochs are 0-based; a resumed run repeats
epochs, and the last occurrence wins (with a warning).
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING

from ..errors import InputError, NoDataError
from ..run import LONG, Run, Series, make_series
from . import Reader
from ._source import Source
from ._table import Table, header_of, read_table

if TYPE_CHECKING:  # pragma: no cover
    from ..run import Floats

_ACC_NAMES = ("accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy")


def _is_keras(cols: list[str]) -> bool:
    if not cols or "loss" not in cols or "step" in cols:
        return False
    first = cols[0]
    return first in ("epoch", "", "Unnamed: 0")


def sniff(source: Source) -> float:
    return 0.9 if _is_keras(header_of(source)) else 0.0


def _task_metric(t: Table) -> str | None:
    for name in _ACC_NAMES:
        if name in t.columns and f"val_{name}" in t.columns:
            return name
    for name in t.header:
        if name in ("epoch", "loss", "lr", "learning_rate", "__index__") or name.startswith("val_"):
            continue
        if f"val_{name}" in t.columns:
            return name
    for name in _ACC_NAMES:
        if name in t.columns:
            return name
    return None


def _epochs_done(ep: Floats, n_rows: int) -> tuple[Floats, int]:
    """The epochs completed after each row (the 0-based epoch column plus
    one; the row number when the column is not all numbers), and how many
    distinct ones there are: ``array('d')`` without numpy for a small file,
    numpy beyond ``LONG`` rows."""
    if isinstance(ep, array) and len(ep) <= LONG:  # a small file: no numpy
        done = [e + 1.0 for e in ep] if all(map(math.isfinite, ep)) else [i + 1.0 for i in range(n_rows)]
        return array("d", done), len(set(done))
    import numpy as np

    e = np.asarray(ep, dtype=np.float64)
    if not np.isfinite(e).all():
        e = np.arange(n_rows, dtype=np.float64)
    x = e + 1.0
    # not np.unique (it imports numpy.ma, ~10 ms) nor a set of x.tolist() (a
    # Python float per row: ~60 bytes a row at the peak of a large file)
    xs = np.sort(x)
    return x, int(xs.size and 1 + np.count_nonzero(xs[1:] != xs[:-1]))


def read(source: Source) -> list[Run]:
    t = read_table(source)
    warnings = list(t.warnings)
    if not _is_keras(t.header if t.header[0] != "__index__" else [""] + t.header[1:]):
        raise InputError(source.display, "expected a Keras history header with 'epoch' and 'loss'", where="line 1")
    if t.n_rows == 0:
        raise NoDataError(source.display, "the file has a header but no rows")
    x, n_unique = _epochs_done(t.column(t.header[0]), t.n_rows)
    if n_unique < len(x):
        warnings.append(
            f"{source.display}: {len(x) - n_unique} epoch(s) appear more than once "
            "(a resumed run?); kept the last occurrence of each"
        )

    def series(name: str) -> Series | None:
        if not t.has(name):
            return None
        return make_series(name, x, t.column(name), epochs=x)

    metric = _task_metric(t)
    extra = {
        n: s
        for n in t.header
        if n not in ("loss", "val_loss", metric, f"val_{metric}", t.header[0])
        and (s := series(n)) is not None
    }
    run = Run(
        source=source.display,
        format="keras_csv",
        name=source.name,
        train_loss=series("loss"),
        val_loss=series("val_loss"),
        train_metric=series(metric) if metric else None,
        val_metric=series(f"val_{metric}") if metric else None,
        extra=extra,
        platform="keras",
        x_unit="epoch",
        steps_per_epoch=1.0,
        warnings=tuple(warnings),
    )
    if run.train_loss is None and run.val_loss is None:
        raise NoDataError(source.display, "no loss values in any row")
    return [run]


READER = Reader(
    name="keras_csv",
    description="Keras CSVLogger history (also pandas dumps of history.history)",
    detects="header starting with 'epoch' (or an unnamed index column) that has 'loss' and no 'step'",
    example="ftdiag analyze training.log",
    sniff=sniff,
    read=read,
)
