"""TensorBoard's "download CSV": ``Wall time,Step,Value``.

One file per run and tag, named ``run-<run>-tag-<tag>.csv`` (TensorBoard
replaces ``/`` in both with ``_``); the tag, and so what the values are, is
only in the file name. The role comes from the tag and, when the tag has no
split (``epoch_loss``), from the run name (``run-validation-tag-epoch_loss``,
as Keras' TensorBoard callback writes it). A tag with no split at all
(``loss``) is training, as in Keras.

Rows are in logging order. A step counter that starts over (a resumed run)
is handled by :func:`ftdiag.formats._common.join_sessions`; other steps out
of order are sorted, repeats keep the last value.

Sibling files of the same run (``run-.-tag-loss.csv`` next to
``run-.-tag-val_loss.csv``) are combined into one run when analyzed
together: pass both files, or their directory.
"""

from __future__ import annotations

import re

from ..errors import InputError, NoDataError
from ..run import Run
from . import CERTAIN, Reader
from ._common import join_sessions, series_from_points
from ._names import SPLITS, assign_roles, tokens
from ._source import Source
from ._table import header_of, read_table

HEADER = ["Wall time", "Step", "Value"]
_NAME = re.compile(r"^(?P<prefix>.*?)run[-_](?P<run>.*)[-_]tag[-_](?P<tag>.+?)(\.csv)?$", re.I)


def sniff(source: Source) -> float:
    return CERTAIN if header_of(source)[:3] == HEADER else 0.0


def name_parts(filename: str) -> tuple[str, str, str]:
    """(prefix, run, tag) from ``[prefix]run-<run>-tag-<tag>.csv``."""
    m = _NAME.match(filename)
    if m is None:
        stem = filename[:-4] if filename.lower().endswith(".csv") else filename
        return "", ".", stem
    return m.group("prefix"), m.group("run"), m.group("tag")


def series_name(run: str, tag: str) -> str:
    return tag if run in (".", "") else f"{run}/{tag}"


def read(source: Source) -> list[Run]:
    import numpy as np

    t = read_table(source)
    if t.header[:3] != HEADER:
        raise InputError(source.display, "expected the TensorBoard CSV header 'Wall time,Step,Value'", where="line 1")
    if t.n_rows == 0:
        raise NoDataError(source.display, "the file has a header but no rows")
    prefix, run_name, tag = name_parts(source.name)
    name = series_name(run_name, tag)
    wall, steps, values = t.col("Wall time"), t.col("Step"), t.col("Value")
    ok = np.isfinite(steps)
    if not ok.all():
        t.warnings.append(f"{source.display}: {int((~ok).sum())} row(s) without a step number were skipped")
    order = np.argsort(np.where(np.isfinite(wall), wall, np.inf)[ok], kind="stable")
    s, v = steps[ok][order], values[ok][order]
    warnings = list(t.warnings)
    s, v, w = join_sessions(s, v, source.display, name)
    warnings.extend(w)
    ser, w2 = series_from_points(name, s, v, source.display)
    warnings.extend(w2)
    roles = assign_roles({name: ser}, source.display)
    run = Run(
        source=source.display,
        format="tensorboard_csv",
        name=source.name,
        **roles.as_kwargs(),
        platform="tensorboard",
        x_unit="step",
        metadata={
            "tag": tag,
            "tensorboard_run": run_name,
            # files of one run (same folder, prefix and run without its split)
            # are combined by ftdiag.inputs, which then checks the whole run
            "merge_key": merge_key(source, prefix, run_name),
            "merge_name": f"{prefix}run-{merge_key(source, prefix, run_name)[-1]}",
        },
        warnings=tuple(warnings),
    )
    return [run]


def merge_key(source: Source, prefix: str, run_name: str) -> tuple[str, ...]:
    if source.path is None:
        return ("tensorboard_csv", "<stdin>", source.display)
    base_run = "_".join(tk for tk in tokens(run_name) if tk not in SPLITS) or "."
    return ("tensorboard_csv", str(source.path.parent.resolve()), prefix, base_run)


READER = Reader(
    name="tensorboard_csv",
    description="TensorBoard 'download CSV' (one tag per file; files of one run are combined)",
    detects="header 'Wall time,Step,Value'; the tag comes from the file name run-<run>-tag-<tag>.csv",
    example="ftdiag analyze run-train-tag-epoch_loss.csv run-validation-tag-epoch_loss.csv",
    sniff=sniff,
    read=read,
)
