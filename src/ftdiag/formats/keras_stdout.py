"""Keras ``model.fit`` console output.

Each epoch prints ``Epoch k/N`` and then a metrics line:
``313/313 [====] - 351s 1s/step - loss: 0.68 - acc: 0.56 - val_loss: 0.67 - val_acc: 0.58``
(Keras 2, verbose=1), ``67s - loss: 2.48 - acc: 0.22 - val_loss: ...`` (Keras 1/2,
verbose=2), ``128/128 - 5s - loss: ...`` (TF2, verbose=2) or
``1875/1875 ━━━━ 5s 2ms/step - accuracy: 0.82 - loss: 0.49 - val_accuracy: ...``
(Keras 3). With verbose=1 captured to a file, every progress update is kept
(``ETA:`` lines, or ``k/N`` bars with k < N, joined by ``\\r`` or ``\\b``); only
the final bar of an epoch carries the epoch's values and ``val_*``, so the
last *final* metrics line of each epoch is used. Callback messages
(``Epoch 00008: early stopping``, checkpoint notices) may sit in between.

**Several fit() calls.** Epochs restart at 1 with each ``fit()``: a grid
search, or training continued in stages. Each fit is its own run
(``<file>#fit<k>``), diagnosed on its own; a fit whose first training loss is
no higher than where the previous fit ended is said (in a warning and in
``metadata["continues_previous"]``) to continue the previous one (staged
training of one model). A fit resumed with ``initial_epoch`` (``Epoch 11/20``
right after ``Epoch 10/10``) continues the same run.

The file is read once, streaming, with bounded memory. ``N`` in ``Epoch k/N``
is recorded as the configured number of epochs, and ``Train on M samples``
(Keras 1/2) as the number of training examples.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..errors import NoDataError
from ..hyperparams import Hyperparameters
from ..run import Run, Series, make_series
from . import LINES, Reader
from ._lines import Grouped, LineStats, head_text, iter_segments
from ._source import Source

_HEADER = re.compile(r"^\s*Epoch (\d{1,9})/(\d{1,9})\s*$")
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|-?inf"
_PAIR = re.compile(r"(?:^|\s)([A-Za-z_][\w/.]*): (" + _NUM + r")(?=\s|$)")
_BAR = re.compile(r"(\d{1,12})/(\d{1,12})(?:\s*\[|\s+━|\s+-)")
_TRAIN_ON = re.compile(r"Train on (\d+) samples")
# the lines that matter: headers, *final* metrics lines, callbacks. The
# intermediate progress updates (most of a verbose=1 capture) are never looked
# at. One regex each (a literal prefix each: fast), not one alternation.
_WANT = [
    re.compile(r"Epoch \d"),
    re.compile(r"\[={10,}\]"),  # a complete Keras 1/2 bar
    re.compile(r" - \d+(?:\.\d+)?m?s(?: \d+(?:\.\d+)?[mu]?s/step)? - "),  # "] - 5s 2ms/step - ", "N/N - 5s - "
    re.compile(r"\n[ \t-]*\d{1,7}(?:\.\d+)?m?s - "),  # Keras 1/2 verbose=2: "67s - loss: ..."
    re.compile(r"━ "),  # Keras 3 bars (final ones told apart by N/N)
    re.compile(r"Train on \d"),
    re.compile(r"early stopping"),
]
_ACC = ("accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy")
_SKIP = {"lr", "learning_rate", "ETA"}


def _is_keras_metrics(line: str) -> bool:
    return " - " in line and bool(re.search(r"\bloss: (?:" + _NUM + ")", line))


def sniff(source: Source) -> float:
    lines = head_text(source).replace("\r", "\n").splitlines()
    header = metrics = False
    for line in lines:
        if _HEADER.match(line):
            header = True
        elif header and _is_keras_metrics(line):
            metrics = True
            break
    if header and metrics:
        return 0.95
    if header and len([ln for ln in lines if _HEADER.match(ln)]) >= 1 and any("Train on" in ln for ln in lines):
        return 0.5
    return 0.0


@dataclass
class _Fit:
    first_line: int
    rows: Grouped = field(default_factory=Grouped)
    n_epochs: int = 0
    first_loss: float = math.nan
    last_loss: float = math.nan
    planned: float | None = None
    n_examples: float | None = None
    early_stopped: bool = False
    incomplete_epoch: int | None = None
    missing: list[int] = field(default_factory=list)

    def commit(self, epoch: int, pairs: dict[str, float]) -> None:
        self.rows.add({**pairs, "_epoch": float(epoch)})
        loss = pairs.get("loss", math.nan)
        if not self.n_epochs:
            self.first_loss = loss
        self.last_loss = loss
        self.n_epochs += 1


def _metrics(line: str) -> tuple[dict[str, float], bool] | None:
    """The key: value pairs of a metrics line, and whether it is a final line."""
    if "\b" in line:
        line = line.rsplit("\b", 1)[1]
    if not _is_keras_metrics(line):
        return None
    pairs: dict[str, float] = {}
    for k, v in _PAIR.findall(line):
        if k not in _SKIP:
            pairs[k] = float(v)
    if "loss" not in pairs and not any(k.endswith("loss") for k in pairs):
        return None
    intermediate = "ETA:" in line
    bar = _BAR.search(line)
    if bar and int(bar.group(1)) < int(bar.group(2)):
        intermediate = True
    return pairs, not intermediate


def _task_metric(keys: set[str]) -> str | None:
    for name in _ACC:
        if name in keys:
            return name
    for k in sorted(keys):
        if not k.startswith("val_") and "loss" not in k and f"val_{k}" in keys:
            return k
    return None


def _build(fit: _Fit, source: Source, name: str, warnings: list[str], meta: dict[str, object]) -> Run:
    keys = fit.rows.keys() - {"_epoch"}

    def series(key: str) -> Series | None:
        got = fit.rows.arrays(key, "_epoch")
        if got is None:
            return None
        x, v = got
        return make_series(key, x, v, epochs=x)

    metric = _task_metric(keys)
    used = {"loss", "val_loss", metric, f"val_{metric}"}
    extra = {k: s for k in sorted(keys - used) if (s := series(k)) is not None}
    hp: dict[str, float] = {}
    if fit.planned:
        hp["n_epochs"] = fit.planned
    if fit.n_examples:
        hp["n_examples"] = fit.n_examples
    note = fit.rows.bound_note(source.display, "epochs")
    return Run(
        source=source.display,
        format="keras_stdout",
        name=name,
        train_loss=series("loss"),
        val_loss=series("val_loss"),
        train_metric=series(metric) if metric else None,
        val_metric=series(f"val_{metric}") if metric else None,
        extra=extra,
        hyperparameters=Hyperparameters(**hp, sources={k: "log" for k in hp}),
        platform="keras",
        x_unit="epoch",
        steps_per_epoch=1.0,
        planned_steps=fit.planned,
        metadata={"first_line": fit.first_line, "early_stopped": fit.early_stopped, **meta},
        warnings=tuple(warnings) + ((note,) if note else ()),
    )


def read(source: Source) -> list[Run]:
    stats = LineStats()
    fits: list[_Fit] = []
    cur: _Fit | None = None
    epoch: int | None = None  # the epoch whose metrics line is awaited
    pending: dict[str, float] | None = None  # its final metrics so far (a later final line wins)
    n_examples: float | None = None

    def close() -> None:
        if cur is None or epoch is None:
            return
        if pending is not None:
            cur.commit(epoch, pending)
        else:
            cur.missing.append(epoch)

    for lineno, line in iter_segments(source, _WANT, stats):
        h = _HEADER.match(line)
        if h:
            k, n = int(h.group(1)), int(h.group(2))
            close()
            if cur is None or (epoch is not None and k <= epoch):
                # epochs restart: a new fit() call
                cur = _Fit(first_line=lineno, n_examples=n_examples)
                fits.append(cur)
                n_examples = None
            cur.planned = float(n)
            epoch, pending = k, None
            continue
        t = _TRAIN_ON.search(line)
        if t:
            n_examples = float(t.group(1))
            continue
        if "early stopping" in line and cur is not None:
            cur.early_stopped = True
            continue
        if cur is None or epoch is None:
            continue
        got = _metrics(line)
        if got is not None and got[1]:
            pending = got[0]
    close()
    if cur is not None and cur.missing and cur.missing[-1] == epoch:
        cur.incomplete_epoch = cur.missing.pop()
    kept = [f for f in fits if f.n_epochs]
    if not kept:
        raise NoDataError(
            source.display,
            "no completed epoch: expected 'Epoch k/N' followed by a line with "
            "'loss: ...' (Keras model.fit output)",
        )
    base: list[str] = []
    if stats.truncated:
        base.append(f"{source.display}: {len(stats.truncated)} over-long line(s) were cut (first at line {stats.truncated[0]})")
    out: list[Run] = []
    prev: _Fit | None = None
    for i, fit in enumerate(kept, 1):
        suffix = "" if len(kept) == 1 else f"#fit{i}"
        name, label = source.name + suffix, source.display + suffix
        w = list(base) if i == 1 else []  # file-level warnings once
        meta: dict[str, object] = {"fit": i, "fits": len(kept), "continues_previous": False}
        if fit.incomplete_epoch is not None:
            w.append(f"{label}: the log ends inside epoch {fit.incomplete_epoch} (no final metrics line); that epoch is left out")
        if fit.missing:
            w.append(f"{label}: no final metrics line for epoch(s) {', '.join(map(str, fit.missing[:5]))}; left out")
        if prev is not None:
            first, last = fit.first_loss, prev.last_loss
            if math.isfinite(first) and math.isfinite(last) and first <= last * 1.05:
                meta["continues_previous"] = True
                w.append(
                    f"{label}: starts at loss {first:g}, no higher than where fit {i - 1} ended "
                    f"({last:g}): staged training of one model, diagnosed fit by fit"
                )
        out.append(_build(fit, source, name, w, meta))
        prev = fit
    return out


READER = Reader(
    name="keras_stdout",
    description="Keras model.fit console output (verbose 1 or 2; Keras 1/2, TF2, Keras 3)",
    detects="an 'Epoch k/N' line followed by a line with '- loss: ...' in the first 64 KB",
    example="ftdiag analyze training_output.txt",
    sniff=sniff,
    read=read,
    specificity=LINES,
)
