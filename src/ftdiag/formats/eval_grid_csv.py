"""Evaluation grids in "long" form: the split is a cell value, not a column prefix.

Hand-made result tables often hold one row per (experiment, epoch, split):
``exp_num,epoch_num,train/test,accuracy,f1,...`` with ``train``/``test`` in
the split column. Such a table is read when its header has

* a split column (``split``, ``subset``, ``set``, ``phase``, ``mode``,
  ``train/test``, ...) whose cells are split names (``train``, ``val``,
  ``validation``, ``dev``, ``eval``, ``test``),
* an epoch column (a name containing ``epoch``),
* and at least one metric column.

Rows are grouped into runs by the identifier columns (text columns, and
numeric ones named like ``exp``, ``run``, ``trial``, ``config``, ``seed``,
``fold``, ``id``); each group is one run (``<file>#exp_num=0``) on an epoch
axis, sorted numerically (grids are often string-sorted: 10, 20, 3; a
warning says so). ``test`` stands in for validation when no validation split
exists (a warning says so). Percent accuracies become fractions.
"""

from __future__ import annotations

import re

from ..errors import InputError, NoDataError
from ..run import Run, Series, looks_like_task_metric, make_series
from . import Reader
from ._source import Source
from ._table import header_of, read_table

_SPLIT_COL = re.compile(
    r"^(split|subset|set|phase|mode|stage|partition|dataset|data_split|eval_set|"
    r"train/test|train_test|train-test|train/val|train/valid|kind|type)$",
    re.I,
)
_SPLITS = {
    "train": "train", "training": "train", "trn": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val", "eval": "val", "evaluation": "val",
    "test": "test", "testing": "test", "tst": "test",
}  # fmt: skip
_ID_COL = re.compile(r"(^|_)(exp|experiment|run|trial|config|cfg|seed|fold|id|model|name)(_|$|num|no|id|s$)", re.I)
_EPOCH_COL = re.compile(r"epoch", re.I)


def _split_column(source: Source) -> tuple[list[str], int] | None:
    header = header_of(source)
    cand = [i for i, h in enumerate(header) if _SPLIT_COL.match(h)]
    if not cand or not any(_EPOCH_COL.search(h) for h in header):
        return None
    lines = [ln for ln in source.head_text.splitlines() if ln.strip()][1:50]
    if not lines:
        return None
    delim = max(",;\t|", key=lambda d: source.head_text.splitlines()[0].count(d))
    for i in cand:
        vals = [ln.split(delim)[i].strip().strip('"').lower() for ln in lines if len(ln.split(delim)) > i]
        if vals and all(v in _SPLITS for v in vals):
            return header, i
    return None


def sniff(source: Source) -> float:
    return 0.8 if _split_column(source) else 0.0


def read(source: Source) -> list[Run]:
    import numpy as np

    found = _split_column(source)
    if found is None:
        raise InputError(
            source.display,
            "expected a table with a split column (train/val/test values) and an epoch column",
            where="line 1",
        )
    header, si = found
    t = read_table(source, keep_text=tuple(header))
    if t.n_rows == 0:
        raise NoDataError(source.display, "the file has a header but no rows")
    split_name = t.header[si] if si < len(t.header) else ""
    if split_name not in t.text_columns:
        # the csv module reads a damaged header (a stray quote) differently
        # from the quick look that found the split column: read again
        # keeping the text of the names as parsed
        t = read_table(source, keep_text=tuple(t.header))
        if split_name not in t.text_columns:
            raise InputError(source.display, "cannot find the split column in the header (broken quoting?)", where="line 1")
    splits = [_SPLITS.get(v.lower(), "") for v in t.text_columns[split_name]]
    bad = [i for i, s in enumerate(splits) if not s]
    if bad:
        raise InputError(
            source.display,
            f"column {split_name!r} should name a split (train, val, test); got {t.text_columns[split_name][bad[0]]!r}",
            where=f"row {bad[0] + 2}",
        )
    epoch_col = next(h for h in t.header if _EPOCH_COL.search(h))
    text_cols = [h for h in t.header if h != split_name and not np.isfinite(t.col(h)).any()]
    id_cols = [h for h in t.header if h not in (split_name, epoch_col) and (h in text_cols or _ID_COL.search(h))]
    metric_cols = [h for h in t.header if h not in id_cols and h not in (split_name, epoch_col) and h not in text_cols]
    if not metric_cols:
        raise NoDataError(source.display, "no numeric metric columns beside the split and epoch columns")
    varying = [h for h in metric_cols if np.nanstd(t.col(h)) > 0]
    task = [h for h in varying if looks_like_task_metric(h)]
    task.sort(key=lambda h: (not re.search("acc", h, re.I), not re.search("f1", h, re.I)))
    metric = task[0] if task else None
    loss = next((h for h in varying if "loss" in h.lower()), None)
    if metric is None and loss is None:
        raise NoDataError(
            source.display,
            f"no loss or accuracy-like column that varies (columns: {', '.join(metric_cols)})",
        )
    have = set(splits)
    val_split = "val" if "val" in have else ("test" if "test" in have else None)
    warnings: list[str] = []
    if val_split == "test":
        warnings.append(f"{source.display}: no validation split; the '{split_name}' = test rows stand in for validation")
    if "train" not in have:
        warnings.append(f"{source.display}: no training rows (column '{split_name}')")
    ep = t.col(epoch_col)
    # percent or fraction is decided per column over the whole file, not per run
    cols: dict[str, np.ndarray] = {}
    for c in varying:
        v = t.col(c)
        fin = v[np.isfinite(v)]
        pct = looks_like_task_metric(c) and fin.size > 0 and 1.0 < fin.max() <= 100.0 and fin.min() >= 0.0
        cols[c] = v / 100.0 if pct else v
    keys = [
        tuple(t.text_columns[c][i] if c in t.text_columns else f"{t.col(c)[i]:g}" for c in id_cols) for i in range(t.n_rows)
    ]
    # identifier columns that never change do not name runs
    naming = [j for j, c in enumerate(id_cols) if len({k[j] for k in keys}) > 1]
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(tuple(k[j] for j in naming), []).append(i)
    unsorted = False
    runs: list[Run] = []
    for gkey, rows in groups.items():
        idx = np.asarray(rows)

        def series(col: str | None, split: str | None, idx: np.ndarray = idx) -> Series | None:
            if col is None or split is None:
                return None
            sel = idx[[splits[i] == split for i in idx]]
            if sel.size == 0:
                return None
            name = col if split == "train" else f"{split}_{col}"
            return make_series(name, ep[sel], cols[col][sel], epochs=ep[sel], percent_to_fraction=False)

        for sp in ("train", val_split):
            sel = [i for i in rows if splits[i] == sp]
            if any(np.diff(ep[sel]) < 0):
                unsorted = True
        label = ",".join(f"{id_cols[j]}={v}" for j, v in zip(naming, gkey, strict=True))
        extra = {
            f"{sp}_{c}": s
            for c in varying
            if c not in (metric, loss)
            for sp in ("train", val_split)
            if sp and (s := series(c, sp)) is not None
        }
        runs.append(
            Run(
                source=source.display,
                format="eval_grid_csv",
                name=f"{source.name}#{label}" if label else source.name,
                train_loss=series(loss, "train"),
                val_loss=series(loss, val_split),
                train_metric=series(metric, "train"),
                val_metric=series(metric, val_split),
                extra=extra,
                x_unit="epoch",
                steps_per_epoch=1.0,
                metadata={"group": dict(zip([id_cols[j] for j in naming], gkey, strict=True)), "split_column": split_name},
            )
        )
    if unsorted:
        warnings.append(
            f"{source.display}: rows were not in epoch order ({epoch_col} sorted as text?); sorted them numerically"
        )
    # file-level warnings once, on the first run
    return [runs[0].with_warnings(warnings)] + runs[1:]


READER = Reader(
    name="eval_grid_csv",
    description="evaluation grids with the split in a column (one row per experiment, epoch and train/val/test split)",
    detects="CSV header with an epoch column and a split column (split, set, train/test, ...) holding train/val/test values",
    example="ftdiag analyze compiled_results.csv",
    sniff=sniff,
    read=read,
)
