"""A Lightning log directory, ``lightning_logs/version_N/``.

It holds ``metrics.csv`` (the curve, read by :mod:`.lightning_csv`) and, when
the module called ``save_hyperparameters()``, ``hparams.yaml`` (epochs, batch
size and learning rate, when named the usual way). The directory is one run,
named after the directory.
"""

from __future__ import annotations

from dataclasses import replace

from ..run import Run
from . import Reader
from . import lightning_csv as csvreader
from ._source import Source, open_source


def sniff(source: Source) -> float:
    if source.path is None:
        return 0.0
    metrics = source.path / "metrics.csv"
    if not metrics.is_file():
        return 0.0
    with open_source(metrics) as inner:
        score = csvreader.sniff(inner)
    return 0.9 if score > 0 else 0.0


def read(source: Source) -> list[Run]:
    assert source.path is not None
    display = source.display.rstrip("/") + "/metrics.csv"
    with open_source(source.path / "metrics.csv") as inner:
        inner.display = display
        runs = csvreader.read(inner)
    return [replace(r, name=source.path.name or source.display, format="lightning_csv") for r in runs]


READER = Reader(
    name="lightning_dir",
    description="PyTorch Lightning log directory (lightning_logs/version_N/ with metrics.csv, hparams.yaml)",
    detects="a directory holding a Lightning metrics.csv (hparams.yaml adds hyperparameters)",
    example="ftdiag analyze lightning_logs/version_0",
    sniff=sniff,
    read=read,
    directories=True,
)
