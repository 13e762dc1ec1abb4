"""TensorBoard event files (``events.out.tfevents.*``): optional extra.

Needs ``pip install 'ftdiag[tensorboard]'``; without it, reading one says so
(exit 2) and nothing else is affected. Every scalar point is read (see
:mod:`ftdiag.formats._tfevents`), TF1/PyTorch ``simple_value`` and TF2 tensor
scalars alike. Tags are sorted into training and validation by their names
(``train/loss``, ``eval/loss``, ``Loss/val``, ``epoch_loss`` under a
``validation`` folder, ...; see :mod:`ftdiag.formats._names`). A step counter
that starts over (a resumed run appending to the same log directory) is
handled as in the TensorBoard CSV reader. Hyperparameters logged with the
hparams plugin are used.

One event file alone is part of a run when it sits in a split folder
(``logs/train/``, ``logs/validation/``: Keras' layout): such files given
together are combined. A log directory is read whole by
:mod:`.tensorboard_dir`.
"""

from __future__ import annotations

import numpy as np

from ..run import Run, Series
from . import CERTAIN, Reader
from ._common import hyperparameters_from, join_sessions, require_curve, series_from_points
from ._names import SPLITS, assign_roles
from ._source import Source
from ._tfevents import EXTRA, Scalars, is_event_file_name, looks_like_event_file, read_event_file


def sniff(source: Source) -> float:
    if is_event_file_name(source.name) or looks_like_event_file(source.head):
        return CERTAIN
    return 0.0


def run_from_scalars(sc: Scalars, source: str, name: str, merge: tuple[str, ...] | None = None) -> Run:
    warnings = list(sc.warnings)
    series: dict[str, Series] = {}
    for tag in sc.value:
        wall, steps, values = sc.arrays(tag)
        order = np.argsort(wall, kind="stable")
        s, v, w = join_sessions(steps[order], values[order], source, tag)
        warnings.extend(w)
        ser, w2 = series_from_points(tag, s, v, source)
        warnings.extend(w2)
        series[tag] = ser
    roles = assign_roles(series, source)
    warnings.extend(roles.notes)
    meta: dict[str, object] = {"records": sc.records, "hparams": dict(sc.hparams)}
    if merge is not None:
        meta["merge_key"] = merge
        meta["merge_name"] = merge[-1]
    return Run(
        source=source,
        format="tensorboard",
        name=name,
        **roles.as_kwargs(),
        hyperparameters=hyperparameters_from(sc.hparams),
        platform="tensorboard",
        x_unit="step",
        metadata=meta,
        warnings=tuple(warnings),
    )


def read(source: Source) -> list[Run]:
    prefix = ""
    merge = None
    if source.path is not None:
        parent = source.path.parent
        if parent.name.lower() in SPLITS:
            prefix = parent.name + "/"
            merge = ("tensorboard", str(parent.parent.resolve()), parent.parent.name or str(parent.parent))
        data = None
    else:
        data = source.read_bytes()
    sc = read_event_file(source.path, source.display, data=data, prefix=prefix)
    if not sc.value:
        from ..errors import NoDataError

        raise NoDataError(
            source.display,
            f"no scalar in this event file ({sc.records} record(s): graphs, histograms, images or "
            "file headers only)",
        )
    run = run_from_scalars(sc, source.display, source.name, merge)
    return [run if merge else require_curve(run, source.display)]


READER = Reader(
    name="tensorboard",
    description="TensorBoard event file, every point (TF1/PyTorch simple values and TF2 tensor scalars)",
    detects="file name with 'tfevents', or a first record holding 'brain.Event:'",
    example="ftdiag analyze runs/exp1/events.out.tfevents.1700000000.host",
    sniff=sniff,
    read=read,
    extra=EXTRA,
)
