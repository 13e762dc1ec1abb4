"""nanoGPT (and nanoGPT-style) console output.

``step 100: train loss 3.4633, val loss 3.4987`` every ``eval_interval``
iterations (losses averaged over ``eval_iters`` batches), and
``iter 105: loss 3.4622, time 1444.41ms, mfu 0.01%`` every ``log_interval``
(a single batch). A diverged run prints ``loss nan``.

The training loss is the dense ``iter`` series when there is one (so a
divergence between evaluations is seen: NaN points are kept and reported by
the diagnosis), else the ``train loss`` of the
evaluation lines; the evaluation-time training loss is kept as the extra
series ``eval_train_loss`` (it is on the same footing as the validation loss).
The x axis is the iteration number. Streaming, one pass.
"""

from __future__ import annotations

import re

from ..errors import NoDataError
from ..run import Run, Series, make_series
from . import CERTAIN, LINES, Reader
from ._lines import LineStats, Points, Rows, head_text, iter_blocks
from ._source import Source

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|-?inf"
# a literal first (no \b, no IGNORECASE): Python's re then scans at C speed
_EVAL = re.compile(r"step (\d{1,15}): train loss (" + _NUM + r"), val loss (" + _NUM + ")")
_ITER = re.compile(r"iter (\d{1,15}): loss (" + _NUM + ")")


def sniff(source: Source) -> float:
    text = head_text(source)
    if _EVAL.search(text) or (_ITER.search(text) and re.search(r"\biter \d+: loss \S+, time", text)):
        return CERTAIN
    return 0.0


def read(source: Source) -> list[Run]:
    # one regex scan per block of the file (C speed), not a Python step per
    # line: a nanoGPT log with log_interval=1 has a line per iteration
    evals = Rows()
    iters = Points()  # bounded: a long log is averaged in groups
    for _lineno, block in iter_blocks(source, LineStats()):
        if "iter " in block:
            found = _ITER.findall(block)
            if found:
                iters.extend([float(a) for a, _ in found], [float(b) for _, b in found])
        if "step " in block:
            for a, b, c in _EVAL.findall(block):
                evals.add({"x": float(a), "train": float(b), "val": float(c)})
    if not len(evals) and not len(iters):
        raise NoDataError(
            source.display,
            "no nanoGPT lines: expected 'step N: train loss X, val loss Y' or 'iter N: loss X, ...'",
        )
    warnings = [
        f"{source.display}: {rows.total:,} {what} lines: averaged in groups of {rows.stride} to bound memory"
        for rows, what in ((iters, "iter"), (evals, "evaluation"))
        if rows.stride > 1
    ]
    extra: dict[str, Series] = {}
    ev_x = evals.column("x")
    if len(iters):
        train = make_series("loss", *iters.arrays())
        if len(evals):
            extra["eval_train_loss"] = make_series("eval_train_loss", ev_x, evals.column("train"))
    else:
        train = make_series("train_loss", ev_x, evals.column("train"))
    return [
        Run(
            source=source.display,
            format="nanogpt_stdout",
            name=source.name,
            train_loss=train,
            val_loss=make_series("val_loss", ev_x, evals.column("val")) if len(evals) else None,
            extra=extra,
            platform="nanogpt",
            x_unit="step",
            metadata={"eval_points": evals.total, "iter_points": iters.total},
            warnings=tuple(warnings),
        )
    ]


READER = Reader(
    name="nanogpt_stdout",
    description="nanoGPT console output (step N: train loss X, val loss Y / iter N: loss X, time ...)",
    detects="a 'step N: train loss X, val loss Y' or 'iter N: loss X, time ...' line in the first 64 KB",
    example="ftdiag analyze train.log",
    sniff=sniff,
    read=read,
    specificity=LINES,
)
