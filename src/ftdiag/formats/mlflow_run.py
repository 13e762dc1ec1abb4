"""An MLflow file-store run directory: ``mlruns/<experiment>/<run_id>/``.

``metrics/`` holds one file per metric (nested folders for names with
``/``), read as in :mod:`.mlflow`; ``params/`` one file per parameter whose
content is the value (``epochs``, ``batch_size``, ``lr``, ... become
hyperparameters); ``tags/mlflow.runName`` (or ``meta.yaml``'s ``run_name``)
names the run. A whole ``mlruns`` store or experiment folder is walked, each
run directory becoming one run.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import NoDataError
from ..run import Run, Series
from . import Reader
from ._common import hyperparameters_from, require_curve
from ._names import assign_roles
from ._source import Source, decode
from ._yaml import parse_simple_yaml
from .mlflow import metric_series

MAX_PARAM_BYTES = 4096


def sniff(source: Source) -> float:
    p = source.path
    if p is None or not (p / "metrics").is_dir():
        return 0.0
    if (p / "meta.yaml").is_file() or (p / "params").is_dir() or (p / "tags").is_dir():
        return 1.0
    return 0.5


def _read_small(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            return decode(fh.read(MAX_PARAM_BYTES), str(path)).strip()
    except OSError:
        return None


def _files_under(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        out.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith("."))
    return out


def read(source: Source) -> list[Run]:
    assert source.path is not None
    root = source.path
    warnings: list[str] = []
    series: dict[str, Series] = {}
    for f in _files_under(root / "metrics"):
        name = f.relative_to(root / "metrics").as_posix()
        display = os.path.join(source.display, "metrics", name)
        try:
            text = decode(f.read_bytes(), display)
        except OSError as e:
            warnings.append(f"{display}: cannot read ({e.strerror or e}); skipped")
            continue
        s, w = metric_series(name, text, display)
        warnings.extend(w)
        if s is not None:
            series[name] = s
    if not series:
        raise NoDataError(source.display, "the run's metrics/ folder holds no metric values")
    params: dict[str, str] = {}
    if (root / "params").is_dir():
        for f in _files_under(root / "params"):
            v = _read_small(f)
            if v is not None:
                params[f.relative_to(root / "params").as_posix()] = v
    run_name = _read_small(root / "tags" / "mlflow.runName") if (root / "tags" / "mlflow.runName").is_file() else None
    if not run_name and (root / "meta.yaml").is_file():
        meta = parse_simple_yaml(_read_small(root / "meta.yaml") or "")
        rn = meta.get("run_name")
        run_name = str(rn) if rn else None
    roles = assign_roles(series, source.display)
    warnings.extend(roles.notes)
    run = Run(
        source=source.display,
        format="mlflow",
        name=run_name or root.name,
        **roles.as_kwargs(),
        hyperparameters=hyperparameters_from(params),
        platform="mlflow",
        x_unit="step",
        metadata={"run_id": root.name, "params": params},
        warnings=tuple(warnings),
    )
    return [require_curve(run, source.display)]


READER = Reader(
    name="mlflow_run",
    description="MLflow file-store run directory (metrics/ curves, params/ hyperparameters); "
    "an mlruns/ store is walked run by run",
    detects="a directory with a metrics/ folder and meta.yaml, params/ or tags/",
    example="ftdiag analyze mlruns/0/<run_id>   (or: ftdiag analyze mlruns)",
    sniff=sniff,
    read=read,
    directories=True,
)
