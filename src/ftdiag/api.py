"""The Python API: ``ftdiag.analyze(path)`` runs every stage.

files -> formats (Run) -> features -> diagnosis -> advice -> RunResult.
The CLI is a thin shell over these functions.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from . import hyperparams as hpm
from .advice import Recommendation, recommend
from .diagnosis import Diagnosis, Finding, diagnose
from .errors import FtdiagError, UsageError
from .features import Features, compute
from .hyperparams import Hyperparameters
from .mapping import ColumnMapping
from .run import Run, epoch_at

SCHEMA_VERSION = 1


def _clean(x: Any) -> Any:
    """JSON-safe: NaN/inf become None, tuples become lists."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


@dataclass(frozen=True, eq=False)
class RunResult:
    """One analysed run: the verdict, its evidence and the advice."""

    run: Run
    features: Features
    diagnosis: Diagnosis
    recommendations: tuple[Recommendation, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        return self.diagnosis.label

    @property
    def confidence(self) -> float:
        return self.diagnosis.confidence

    @property
    def evidence(self) -> tuple[str, ...]:
        return self.diagnosis.evidence

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.diagnosis.findings

    @property
    def source(self) -> str:
        return self.run.source

    def summary(self) -> dict[str, Any]:
        f = self.features
        val, train = f.val, f.train
        out: dict[str, Any] = {
            "name": self.run.name,
            "platform": self.run.platform,
            "x_unit": self.run.x_unit,
            "last_step": f.last_step,
            "epochs": f.epochs_seen,
            "decided_on": (val.name if val is not None else None),
            "higher_is_better": (val.sign > 0) if val is not None else None,
            "n_validation_points": f.n_val_points,
            "best_validation_value": val.best if val else None,
            "best_validation_step": val.best_step if val else None,
            "best_validation_epoch": f.best_epoch,
            "final_validation_value": val.last if val else None,
            "final_train_value": train.last if train else None,
            "train_validation_gap": f.gap_final,
            "generalization_loss_pct": f.val_loss.generalization_loss if f.val_loss else None,
            "final_train_loss": f.train_loss.last if f.train_loss else None,
            "final_validation_loss": f.val_loss.last if f.val_loss else None,
        }
        if val is not None and f.best_epoch is None:
            out["best_validation_epoch"] = epoch_at(self.run, val.best_step)
        return out

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "source": self.run.source,
            "name": self.run.name,
            "format": self.run.format,
            "label": self.label,
            "confidence": self.confidence,
            "evidence": list(self.evidence),
            "summary": self.summary(),
            "recommendations": [r.to_dict() for r in self.recommendations],
            "findings": [x.to_dict() for x in self.findings],
            "hyperparameters": self.run.hyperparameters.to_dict(),
            "warnings": list(self.warnings),
        }
        if self.diagnosis.reason:
            d["inconclusive_reason"] = self.diagnosis.reason
        return _clean(d)


def analyze_run(run: Run, hyperparameters: Hyperparameters | None = None) -> RunResult:
    """Diagnose an already-read run (user hyperparameters win over the log's)."""
    if hyperparameters is not None:
        run = run.with_hyperparameters(run.hyperparameters.merged(hyperparameters))
    # damaged logs hold values (1e308, inf) whose arithmetic overflows: the
    # stages handle non-finite results; numpy's warnings (RuntimeWarning, on
    # long series) would only reach the user's terminal as noise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        feats = compute(run)
        diag = diagnose(run, feats)
        recs = recommend(run, feats, diag)
    return RunResult(run, feats, diag, recs, warnings=run.warnings)


def _hp(hyperparameters: Mapping[str, Any] | Hyperparameters | None) -> Hyperparameters | None:
    if hyperparameters is None or isinstance(hyperparameters, Hyperparameters):
        return hyperparameters
    return hpm.from_user(dict(hyperparameters))


def analyze_path(
    path: str | Path,
    hyperparameters: Mapping[str, Any] | Hyperparameters | None = None,
    input_format: str | None = None,
    mapping: ColumnMapping | None = None,
) -> list[RunResult]:
    """Every run in ``path``: a file (which may hold several runs), a
    directory (each run inside), a glob, or ``-`` for standard input.
    Raises the first input error; a file met in a directory walk or a glob
    that cannot be read is skipped when other runs were read (each run's
    ``warnings`` then names it)."""
    from .inputs import read_inputs

    hp = _hp(hyperparameters)
    runs, errors = read_inputs([path], input_format, mapping)
    hard = [e for e in errors if not (e.skippable and runs)]
    if hard:
        raise hard[0].error
    if errors:
        notes = [f"skipped {e.error} (could not be read)" for e in errors]
        runs = [r.with_warnings(notes) for r in runs]
    return [analyze_run(r, hp) for r in runs]


def analyze(
    path: str | Path,
    hyperparameters: Mapping[str, Any] | Hyperparameters | None = None,
    input_format: str | None = None,
    mapping: ColumnMapping | None = None,
) -> RunResult:
    """Analyze the run in ``path``.

    ``hyperparameters`` is a dict with the flat keys ``n_epochs``,
    ``batch_size``, ``learning_rate_multiplier``, ``prompt_loss_weight``,
    ``n_examples``. ``mapping`` (:class:`ftdiag.mapping.ColumnMapping`) names
    the training and validation metric when the log's names don't say.
    Raises :class:`ftdiag.errors.InputError` for unreadable input, and
    :class:`ftdiag.errors.UsageError` when the path holds several runs (use
    :func:`analyze_many`).
    """
    results = analyze_path(path, hyperparameters, input_format, mapping)
    if len(results) != 1:
        raise UsageError(f"{path}: holds {len(results)} runs; use ftdiag.analyze_many")
    return results[0]


@dataclass(frozen=True)
class Failure:
    """An input that could not be read. ``skipped``: a file met in a directory
    walk or a glob match while other runs were read; the CLI shows it as a
    warning and still exits 0, and JSON lists it under ``skipped``."""

    source: str
    message: str
    skipped: bool = False

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "message": self.message}


def analyze_many(
    paths: Iterable[str | Path],
    hyperparameters: Mapping[str, Any] | Hyperparameters | None = None,
    input_format: str | None = None,
    mapping: ColumnMapping | None = None,
) -> tuple[list[RunResult], list[Failure]]:
    """Analyze every path (files, directories, globs, ``-``); a bad file
    becomes a :class:`Failure`, not an exception. A file met in a directory
    walk or a glob match that cannot be read is a ``skipped`` failure when
    some run was analysed (and a plain one when nothing was)."""
    from .inputs import read_inputs

    hp = _hp(hyperparameters)
    runs, errors = read_inputs(paths, input_format, mapping)
    results: list[RunResult] = []
    late: list[Failure] = []
    for r in runs:
        try:
            results.append(analyze_run(r, hp))
        except FtdiagError as e:
            late.append(Failure(r.source, str(e)))
    failures = [Failure(e.source, str(e.error), skipped=e.skippable and bool(results)) for e in errors]
    return results, failures + late


def report_dict(results: list[RunResult], failures: list[Failure] | None = None) -> dict[str, Any]:
    """The versioned JSON report (see README, "JSON report")."""
    return {
        "schema_version": SCHEMA_VERSION,
        "ftdiag_version": __version__,
        "runs": [r.to_dict() for r in results],
        "errors": [f.to_dict() for f in (failures or []) if not f.skipped],
        "skipped": [f.to_dict() for f in (failures or []) if f.skipped],
    }
