"""Hand-written training loops: console lines of ``key: value`` metrics.

A generic, low-confidence reader (any more specific reader wins) for lines
such as ``Epoch 1/3 | Step 100/1000 | Loss: 2.1796 | Accuracy: 21.0%`` or
``epoch 3: train_loss=0.41, val_loss=0.52, val_acc=87.5%``:

* a line counts when it names its place in training (``epoch k``/``k/N``,
  ``step k``/``k/N``, ``iter k``) and holds at least one loss or
  accuracy-like ``key: value`` / ``key=value`` pair;
* the x axis is epochs when lines name an epoch (``epoch - 1 + step/N``
  within an epoch when the step count is given; a 0-based epoch counter is
  shifted by one, so x is always epochs completed), else steps;
* keys naming ``val``/``valid``/``validation``/``dev``/``eval`` are
  validation; ``test`` counts as validation only when nothing else does (a
  warning says so); everything else is training;
* ``%`` values become fractions.

Lines with metrics but no place in training (``Final training loss: 1.14``)
are not a curve; a log with only those is refused, naming the line. Files
named like documents or code (``.md``, ``.py``, ``.json``, ...) are never
claimed by this reader (``--input-format console_metrics`` forces it).
"""

from __future__ import annotations

import re

from ..errors import NoDataError
from ..run import Run, Series, looks_like_task_metric, make_series
from . import LINES, Reader
from ._lines import Grouped, LineStats, head_text, iter_segments
from ._source import Source

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|NaN|-?inf"
_EPOCH = re.compile(r"\bepoch\s*[:=#]?\s*\[?(\d+)(?:\s*/\s*(\d+))?", re.I)
_STEP = re.compile(r"\b(?:step|batch)\s*[:=#]?\s*\[?(\d+)(?:\s*/\s*(\d+))?", re.I)
_ITER = re.compile(r"\biter(?:ation)?s?\s*[:=#]?\s*(\d+)", re.I)
_PAIR = re.compile(
    r"\b([A-Za-z][\w./-]{0,30}(?: [A-Za-z][\w./-]{0,30}){0,3})\s*[:=]\s*(" + _NUM + r")\s*(%?)(?![\w.])"
)
_METRIC_WORD = re.compile(r"loss|acc|f1|perplexity|ppl|auc|error|bleu|rouge|wer|cer|map|iou|precision|recall", re.I)
_VAL = re.compile(r"\b(val|valid|validation|dev|eval|evaluation)\b|^(val|valid|eval)_|_(val|valid|eval)$", re.I)
_TEST = re.compile(r"\btest\b|^test_|_test$", re.I)
_DROP = re.compile(r"^(?:(?:avg|average|mean|running|epoch|final|overall|total|batch)_+)+")
_POSITION_KEYS = re.compile(r"^(epoch|step|batch|iter|iteration|lr|learning rate|learning_rate|time|eta)s?$", re.I)
_WANT = re.compile(r"loss|acc", re.I)


def _pairs(line: str) -> list[tuple[str, float]]:
    out = []
    for key, val, pct in _PAIR.findall(line):
        key = key.strip(" -|,")
        if not key or _POSITION_KEYS.match(key) or not _METRIC_WORD.search(key):
            continue
        v = float(val)
        out.append((key, v / 100.0 if pct else v))
    return out


def _position(line: str) -> tuple[float | None, float | None, float | None]:
    """(epoch, fraction within the epoch, step) named by a line."""
    epoch = frac = step = None
    m = _EPOCH.search(line)
    if m:
        epoch = float(m.group(1))
    s = _STEP.search(line)
    if s:
        step = float(s.group(1))
        if s.group(2) and float(s.group(2)) > 0:
            frac = float(s.group(1)) / float(s.group(2))
    if step is None:
        i = _ITER.search(line)
        if i:
            step = float(i.group(1))
    return epoch, frac, step


# documents and code that mention "loss: 0.3" are not logs: never claimed by
# this generic reader (a directory walk meets READMEs); --input-format forces it
_NOT_LOGS = (".md", ".rst", ".html", ".htm", ".py", ".ipynb", ".json", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".tex")


def sniff(source: Source) -> float:
    if source.name.lower().endswith(_NOT_LOGS):
        return 0.0
    placed = unplaced = 0
    for line in head_text(source).replace("\r", "\n").splitlines()[:2000]:
        s = line.strip()
        if not s or s[0] in "{[\"'" or "," in s[:1]:
            continue
        if not _pairs(s):
            continue
        e, _f, st = _position(s)
        if e is not None or st is not None:
            placed += 1
        else:
            unplaced += 1
    if placed >= 2:
        return 0.25
    if placed or unplaced:
        return 0.15
    return 0.0


def _role(key: str) -> tuple[str, str]:
    """(split, canonical name) of a metric key."""
    k = key.strip().lower().replace(" ", "_").replace("-", "_")
    if _VAL.search(k):
        split = "val"
    elif _TEST.search(k):
        split = "test"
    else:
        split = "train"
    base = re.sub(r"(^|_)(val|valid|validation|dev|eval|evaluation|test|train|training)(_|$)", "_", k).strip("_")
    base = _DROP.sub("", base).strip("_") or k
    return split, base


def read(source: Source) -> list[Run]:
    import numpy as np

    stats = LineStats()
    rows = Grouped()  # bounded: long logs are averaged in groups
    unplaced: list[tuple[int, str]] = []
    roles: dict[str, tuple[str, str]] = {}
    for lineno, line in iter_segments(source, _WANT, stats):
        s = line.strip()
        if not s or s[0] in "{[":
            continue
        pairs = _pairs(s)
        if not pairs:
            continue
        epoch, frac, step = _position(s)
        if epoch is None and step is None:
            if len(unplaced) < 3:
                unplaced.append((lineno, s[:120]))
            continue
        row: dict[str, float] = {}
        if epoch is not None:
            row["_epoch"] = epoch
            if frac is not None:
                row["_frac"] = frac
        if step is not None:
            row["_step"] = step
        for key, value in pairs:
            role = roles.get(key)
            if role is None and len(roles) < 256:
                role = roles[key] = _role(key)
            if role is not None:
                row["\t".join(role)] = value
        rows.add(row)
    if not len(rows):
        if unplaced:
            where = "; ".join(f"line {n}: {t!r}" for n, t in unplaced)
            raise NoDataError(
                source.display,
                f"metric values but no epoch, step or iteration on their lines ({where}): "
                "no training curve to diagnose",
            )
        raise NoDataError(source.display, "no 'loss: value' or 'accuracy: value' lines found")
    groups = rows.groups
    uses_epochs = any("_epoch" in sig for sig in groups)
    min_epoch = min((float(np.nanmin(g.column("_epoch"))) for sig, g in groups.items() if "_epoch" in sig), default=1.0)
    shift = 1.0 if min_epoch == 0 else 0.0
    points: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for sig, g in groups.items():
        if uses_epochs:
            if "_epoch" not in sig:
                continue
            x = g.column("_epoch") + shift
            if "_frac" in sig:
                x = x - 1.0 + g.column("_frac")
        else:
            x = g.column("_step")
        for key in sig:
            if key.startswith("_"):
                continue
            split, base = key.split("\t", 1)
            vals = g.column(key)
            old = points.get((split, base))
            points[(split, base)] = (x, vals) if old is None else (np.concatenate([old[0], x]), np.concatenate([old[1], vals]))
    warnings: list[str] = []
    splits = {sp for sp, _ in points}
    val_split = "val" if "val" in splits else ("test" if "test" in splits else None)
    if val_split == "test":
        warnings.append(f"{source.display}: no validation metrics; the test metrics stand in for validation")

    def series(split: str | None, kind: str) -> Series | None:
        if split is None:
            return None
        cands = [b for sp, b in points if sp == split and (("loss" in b) if kind == "loss" else ("loss" not in b and looks_like_task_metric(b)))]
        if not cands:
            return None
        # the plain name first ("loss", "accuracy"), then the most logged
        cands.sort(key=lambda b: (b not in ("loss", "accuracy", "acc"), -len(points[(split, b)][0])))
        b = cands[0]
        xs, vals = points[(split, b)]
        name = b if split == "train" else f"{split}_{b}"
        return make_series(name, xs, vals, epochs=xs if uses_epochs else None)

    train_loss, val_loss = series("train", "loss"), series(val_split, "loss")
    train_metric, val_metric = series("train", "metric"), series(val_split, "metric")
    used = {s.name for s in (train_loss, val_loss, train_metric, val_metric) if s is not None}
    extra: dict[str, Series] = {}
    for (sp, b), (xs, vals) in points.items():
        name = b if sp == "train" else f"{sp}_{b}"
        if name not in used:
            extra[name] = make_series(name, xs, vals)
    if stats.truncated:
        warnings.append(f"{source.display}: {len(stats.truncated)} over-long line(s) were cut")
    note = rows.bound_note(source.display, "metric lines")
    if note:
        warnings.append(note)
    return [
        Run(
            source=source.display,
            format="console_metrics",
            name=source.name,
            train_loss=train_loss,
            val_loss=val_loss,
            train_metric=train_metric,
            val_metric=val_metric,
            extra=extra,
            x_unit="epoch" if uses_epochs else "step",
            steps_per_epoch=1.0 if uses_epochs else None,
            metadata={"generic": True, "zero_based_epochs": bool(shift)},
            warnings=tuple(warnings)
            + (f"{source.display}: read by the generic console reader (key: value lines); check the series it picked",),
        )
    ]


READER = Reader(
    name="console_metrics",
    description="hand-written training loops: console lines with an epoch/step and 'loss: X', 'accuracy: Y%' pairs (generic, low confidence)",
    detects="lines naming an epoch, step or iteration and holding loss/accuracy 'key: value' pairs (only when no other reader claims the file)",
    example="ftdiag analyze training_output.txt",
    sniff=sniff,
    read=read,
    specificity=LINES,
)
