"""A TensorBoard log directory: one run (optional extra ``ftdiag[tensorboard]``).

A run directory holds event files directly (PyTorch's ``SummaryWriter``,
TF1, Hugging Face's ``runs/<date>_<host>/``), possibly with subfolders whose
name carries a split (``add_scalars`` writes ``Loss_train/``, ``Loss_val/``).
Keras' TensorBoard callback writes no event file at the top, only
``train/`` and ``validation/`` subfolders: such a folder, whose event-file
subfolders are all named after a split, is one run too. A folder of several
runs (``runs/exp1/``, ``runs/exp2/``) is not claimed: it is walked and each
run directory read on its own. All event files of a run (a resumed run writes
a new one) are read together, in time order; subfolder names prefix their
tags (``validation/epoch_loss``).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import NoDataError
from ..run import Run
from . import Reader
from ._common import require_curve
from ._names import SPLITS, tokens
from ._source import Source
from ._tfevents import EXTRA, Scalars, is_event_file_name, read_event_file
from .tensorboard import run_from_scalars


def _events(d: Path) -> list[Path]:
    try:
        # the name first: a directory walk asks this of every run folder
        return sorted(p for p in d.iterdir() if is_event_file_name(p.name) and p.is_file())
    except OSError:
        return []


def _split_named(name: str) -> bool:
    return any(t in SPLITS for t in tokens(name))


def _subdirs(d: Path) -> list[Path]:
    try:
        with os.scandir(d) as it:  # DirEntry.is_dir: no stat per file where the OS says the type
            return sorted(Path(e.path) for e in it if not e.name.startswith(".") and e.is_dir())
    except OSError:
        return []


def _files(d: Path) -> list[tuple[str, Path]]:
    """(tag prefix, event file) of the run in ``d``, or [] when ``d`` is not one run."""
    direct = _events(d)
    subs = [(s, _events(s)) for s in _subdirs(d)]
    subs = [(s, ev) for s, ev in subs if ev]
    if direct:
        return [("", p) for p in direct] + [
            (s.name + "/", p) for s, ev in subs if _split_named(s.name) for p in ev
        ]
    if subs and all(_split_named(s.name) for s, _ in subs):
        return [(s.name + "/", p) for s, ev in subs for p in ev]
    return []


def sniff(source: Source) -> float:
    if source.path is None:
        return 0.0
    return 1.0 if _files(source.path) else 0.0


def read(source: Source) -> list[Run]:
    assert source.path is not None
    sc = Scalars()
    files = _files(source.path)
    for prefix, f in files:
        rel = f.relative_to(source.path).as_posix()
        read_event_file(f, f"{source.display.rstrip('/')}/{rel}", into=sc, prefix=prefix)
    if not sc.value:
        raise NoDataError(
            source.display,
            f"no scalar in the {len(files)} event file(s) of this log directory "
            "(graphs, histograms, images or file headers only)",
        )
    run = run_from_scalars(sc, source.display, source.path.name or source.display)
    return [require_curve(run, source.display)]


READER = Reader(
    name="tensorboard_dir",
    description="TensorBoard log directory as one run (event files, Keras train/ and validation/ "
    "subfolders, add_scalars subfolders); a folder of runs is walked run by run",
    detects="a directory holding events.out.tfevents.* files, or only split-named subfolders that do",
    example="ftdiag analyze logs/fit/20240101-120000   (or: ftdiag analyze runs)",
    sniff=sniff,
    read=read,
    directories=True,
    extra=EXTRA,
)
