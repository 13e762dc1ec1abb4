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
from . import CERTAIN, Reader
from ._lines import LineStats, head_text, iter_segments
from ._source import Source

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|-?inf"
_EVAL = re.compile(r"\bstep (\d+): train loss (" + _NUM + r"), val loss (" + _NUM + ")", re.I)
_ITER = re.compile(r"\biter (\d+): loss (" + _NUM + ")", re.I)
_WANT = re.compile(r"\b(?:step|iter) \d+: ")


def sniff(source: Source) -> float:
    text = head_text(source)
    if _EVAL.search(text) or (_ITER.search(text) and re.search(r"\biter \d+: loss \S+, time", text)):
        return CERTAIN
    return 0.0


def read(source: Source) -> list[Run]:
    stats = LineStats()
    ev_x: list[float] = []
    ev_train: list[float] = []
    ev_val: list[float] = []
    it_x: list[float] = []
    it_loss: list[float] = []
    for _lineno, line in iter_segments(source, _WANT, stats):
        m = _EVAL.search(line)
        if m:
            ev_x.append(float(m.group(1)))
            ev_train.append(float(m.group(2)))
            ev_val.append(float(m.group(3)))
            continue
        m = _ITER.search(line)
        if m:
            it_x.append(float(m.group(1)))
            it_loss.append(float(m.group(2)))
    if not ev_x and not it_x:
        raise NoDataError(
            source.display,
            "no nanoGPT lines: expected 'step N: train loss X, val loss Y' or 'iter N: loss X, ...'",
        )
    warnings: list[str] = []
    extra: dict[str, Series] = {}
    if it_x:
        train = make_series("loss", it_x, it_loss)
        if ev_x:
            extra["eval_train_loss"] = make_series("eval_train_loss", ev_x, ev_train)
    else:
        train = make_series("train_loss", ev_x, ev_train)
    return [
        Run(
            source=source.display,
            format="nanogpt_stdout",
            name=source.name,
            train_loss=train,
            val_loss=make_series("val_loss", ev_x, ev_val) if ev_x else None,
            extra=extra,
            platform="nanogpt",
            x_unit="step",
            metadata={"eval_points": len(ev_x), "iter_points": len(it_x)},
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
)
