"""Any CSV / TSV / JSONL / JSON log whose column names say what they are.

The fallback reader. It claims a file only with low confidence, so every
specific reader wins over it, and only when a column is recognizable: a loss
(``loss``, ``train_loss``, ``val_loss``, ``eval_loss``, ``validation_loss``,
``valid_loss``, ``loss/val``, ``valLoss``, ...) or a validation task metric
(``val_acc``, ``eval_f1``, ...), see :mod:`ftdiag.formats._names`. Columns
named otherwise are read when ``--train-metric`` / ``--val-metric`` name them.

Layouts: a delimited table with a header row (any of ``, ; tab |``); JSON
Lines (one object per line, nested objects flattened with ``/``); a JSON
object of lists (``json.dump(history.history)``) or a list of objects.

The x axis is the first of ``step, global_step, iteration, iter, ...``; else
``epoch`` (0-based whole epochs count as completed epochs, +1, as Keras
does); else the row number, with a warning. Empty cells are "not logged
here" (sparse rows); a written ``nan`` is a real NaN.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import InputError, NoDataError
from ..mapping import apply_mapping
from ..run import Run, Series
from . import FALLBACK, WEAK, Reader
from ._common import require_curve, series_from_points
from ._json import depth_exceeds
from ._json import loads as load_json
from ._names import assign_roles, parse_name
from ._source import Source
from ._table import header_of, read_table

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

STEP_NAMES = (
    "step", "global_step", "steps", "iteration", "iterations", "iter", "it", "_step",
    "trainer/global_step", "train/global_step", "train/step", "current_steps", "num_steps",
)
EPOCH_NAMES = ("epoch", "epochs", "ep", "_epoch", "train/epoch", "trainer/epoch")
_IDENT = re.compile(r"^[A-Za-z_][\w./()\-\[\]@:+ ]*$")
_JSON_KEY = re.compile(r'"((?:[^"\\]|\\.){1,200})"\s*:\s*(\[)?')
MAPPED_ONLY = 0.1


def _recognized(names: list[str]) -> bool:
    for n in names:
        p = parse_name(n)
        if p.is_loss or (p.split == "val" and p.is_task_metric):
            return True
    return False


def _mapped(source: Source, names: list[str]) -> bool:
    m = source.mapping
    if not m or not getattr(m, "names", ()):
        return False
    low = {n.lower().strip() for n in names}
    return all(x.lower().strip() in low for x in m.names)


def _json_head_keys(text: str) -> tuple[list[str], bool]:
    keys: list[str] = []
    any_list = False
    for m in _JSON_KEY.finditer(text[:16384]):
        keys.append(m.group(1))
        any_list = any_list or m.group(2) is not None
    return keys, any_list


def sniff(source: Source) -> float:
    text = source.head_text.lstrip()
    if not text:
        return 0.0
    if text[0] in "{[":
        first = text.split("\n", 1)[0].strip()
        keys: list[str] = []
        try:
            obj = json.loads(first)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and "\n" in text.strip():  # JSON Lines: keys of the first lines
            for line in text.splitlines()[:20]:
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if isinstance(o, dict):
                    keys.extend(k for k, _ in _flatten(o) if k not in keys)
        else:
            keys, any_list = _json_head_keys(text)
            if text[0] == "{" and not any_list:
                return 0.0  # a flat summary object, not a curve
            if "log_history" in keys:
                return 0.0
        if _recognized(keys):
            return WEAK
        return MAPPED_ONLY if _mapped(source, keys) else 0.0
    cols = header_of(source)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(cols) < 2 or len(lines) < 2 or not all(_IDENT.match(c) for c in cols if c):
        return 0.0
    if _recognized(cols):
        return WEAK
    return MAPPED_ONLY if _mapped(source, cols) else 0.0


def _flatten(obj: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            yield from _flatten(v, key + "/")
        else:
            yield key, v


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        try:
            return float(v)
        except OverflowError:
            return float("inf") if v > 0 else float("-inf")
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


class _Columns:
    """Sparse numeric columns: per column, the row indices and the values."""

    def __init__(self) -> None:
        self.rows: dict[str, list[int]] = {}
        self.values: dict[str, list[float]] = {}
        self.order: list[str] = []
        self.n_rows = 0

    def add_row(self, items: Iterator[tuple[str, Any]]) -> None:
        i = self.n_rows
        for k, v in items:
            f = _number(v)
            if f is None:
                continue
            if k not in self.rows:
                self.rows[k] = []
                self.values[k] = []
                self.order.append(k)
            self.rows[k].append(i)
            self.values[k].append(f)
        self.n_rows += 1

    def dense(self, name: str) -> np.ndarray:
        import numpy as np

        out = np.full(self.n_rows, np.nan)
        out[np.asarray(self.rows[name], dtype=np.int64)] = self.values[name]
        return out

    def present(self, name: str) -> np.ndarray:
        import numpy as np

        out = np.zeros(self.n_rows, dtype=bool)
        out[np.asarray(self.rows[name], dtype=np.int64)] = True
        return out


def _from_jsonl(source: Source, warnings: list[str]) -> _Columns:
    cols = _Columns()
    bad: list[int] = []
    for lineno, line in enumerate(source.lines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            bad.append(lineno)
            continue
        if not isinstance(obj, dict) or depth_exceeds(obj):
            bad.append(lineno)
            continue
        cols.add_row(_flatten(obj))
    if bad:
        if cols.n_rows == 0:
            raise InputError(source.display, "expected one JSON object per line", where=f"line {bad[0]}")
        shown = ", ".join(str(b) for b in bad[:5])
        warnings.append(
            f"{source.display}: skipped {len(bad)} line(s) that are not JSON objects (a file still being written?): line {shown}"
        )
    return cols


def _from_json(source: Source) -> _Columns:
    doc = load_json(source.read_text(), source.display, hint="; is the file truncated or still being written?")
    cols = _Columns()
    if isinstance(doc, dict) and any(isinstance(v, list) for v in doc.values()):
        lists = {k: v for k, v in doc.items() if isinstance(v, list)}
        n = max(len(v) for v in lists.values())
        for i in range(n):
            cols.add_row((k, v[i]) for k, v in lists.items() if i < len(v))
        return cols
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
        for r in doc:
            cols.add_row(_flatten(r))
        return cols
    raise InputError(source.display, "expected a JSON object of lists or a list of objects with metric names")


def _from_table(source: Source, warnings: list[str]) -> _Columns:
    import numpy as np

    t = read_table(source, track_empty=True)
    warnings.extend(t.warnings)
    cols = _Columns()
    cols.n_rows = t.n_rows
    for h in t.header:
        if h not in t.columns:
            continue
        present = ~t.empty_mask(h)
        v = t.col(h)
        # a text column (model names, split labels) is not a metric (nor is a
        # column with no finite value at all: nothing in it can be judged)
        if present.any() and not np.isfinite(v[present]).any():
            continue
        idx = np.flatnonzero(present)
        if not idx.size:
            continue
        cols.rows[h] = idx.tolist()
        cols.values[h] = v[idx].tolist()
        cols.order.append(h)
    return cols


def _axis(cols: _Columns, warnings: list[str], display: str) -> tuple[np.ndarray, np.ndarray | None, str, set[str]]:
    import numpy as np

    low = {k.lower(): k for k in cols.order}
    step = next((low[n] for n in STEP_NAMES if n in low), None)
    epoch = next((low[n] for n in EPOCH_NAMES if n in low), None)
    axis = {c for c in (step, epoch) if c}
    if step is not None:
        ep = cols.dense(epoch) if epoch else None
        return cols.dense(step), ep, "step", axis
    if epoch is not None:
        e = cols.dense(epoch)
        fin = e[np.isfinite(e)]
        if fin.size and fin.min() == 0 and np.all(fin == np.round(fin)):
            e = e + 1.0  # 0-based whole epochs: a row is logged after its epoch
        return e, e, "epoch", axis
    warnings.append(f"{display}: no step or epoch column; took the rows as consecutive steps")
    x = np.arange(1, cols.n_rows + 1, dtype=np.float64)
    return x, None, "step", axis


def read(source: Source) -> list[Run]:
    import numpy as np

    warnings: list[str] = []
    text = source.head_text.lstrip()
    if not text:
        raise NoDataError(source.display, "the file is empty")
    if text[0] in "{[":
        first = text.split("\n", 1)[0].strip()
        try:
            jsonl = isinstance(json.loads(first), dict) and "\n" in text.strip()
        except (ValueError, RecursionError):
            jsonl = False
        cols = _from_jsonl(source, warnings) if jsonl else _from_json(source)
    else:
        cols = _from_table(source, warnings)
    if cols.n_rows == 0:
        raise NoDataError(source.display, "the file has a header but no rows")
    x, ep, unit, axis = _axis(cols, warnings, source.display)
    series: dict[str, Series] = {}
    for name in cols.order:
        if name in axis:
            continue
        mask = cols.present(name) & np.isfinite(x)
        if not mask.any():
            continue
        s, w = series_from_points(
            name, x[mask], cols.dense(name)[mask], source.display,
            epochs=None if ep is None else ep[mask], unit=unit,
        )
        series[name] = s
        warnings.extend(w)
    if not series:
        raise NoDataError(source.display, "no numeric metric column")
    roles = assign_roles(series, source.display)
    warnings.extend(roles.notes)
    run = Run(
        source=source.display,
        format="generic",
        name=source.name,
        **roles.as_kwargs(),
        x_unit=unit,  # type: ignore[arg-type]
        steps_per_epoch=1.0 if unit == "epoch" else None,
        warnings=tuple(warnings),
    )
    run = apply_mapping(run, source.mapping)
    return [require_curve(run, source.display)]


READER = Reader(
    name="generic",
    description="Any CSV/TSV/JSONL/JSON log with recognizable metric names (fallback: specific readers win); "
    "other names via --train-metric/--val-metric",
    detects="a header (or JSON keys) with a loss column (loss, train_loss, val_loss, eval_loss, validation_loss, "
    "valid_loss, loss/val, ...) or a validation metric (val_acc, eval_f1, ...)",
    example="ftdiag analyze history.csv --val-metric val_bleu --higher-is-better",
    sniff=sniff,
    read=read,
    specificity=FALLBACK,
)
