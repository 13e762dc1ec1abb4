"""PyTorch Lightning ``CSVLogger`` ``metrics.csv``.

The header is the union of every key ever logged, ``epoch`` and ``step``
among them. Rows are sparse: each holds only what was logged at that moment
(training rows every ``log_every_n_steps``, one validation row per validation
loop, test rows last), so an empty cell means "not logged here" while a
written ``nan`` is a real NaN.

Name quirks handled (see :mod:`ftdiag.formats._names`):

* ``on_step=True, on_epoch=True`` gives ``train_loss_step`` and
  ``train_loss_epoch``. Validation ``*_step`` values are logged against the
  validation loop's own batch counter, not the global step, so they are left
  out; training uses its densest variant, validation its epoch aggregate.
* a dataloader index suffix (``valid_loss_0``) next to the plain name.
* validation logged after training ended (a ``trainer.validate()`` call at an
  epoch with no training rows) is left out of the curve, with a warning.
* a file with only ``test_*`` metrics (``trainer.test()``) is refused.

``step`` is the global optimizer step; ``epoch`` the 0-based epoch in
progress. The fractional epoch of each point is computed from the steps per
epoch. A ``hparams.yaml`` beside the file supplies hyperparameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, NoDataError
from ..features import theil_sen
from ..hyperparams import Hyperparameters
from ..run import Run, Series
from . import Reader
from ._common import hyperparameters_from, require_curve, series_from_points
from ._names import assign_roles, parse_name
from ._source import Source
from ._table import header_of, read_table
from ._yaml import parse_simple_yaml

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def sniff(source: Source) -> float:
    cols = header_of(source)
    if "epoch" not in cols or "step" not in cols or len(cols) < 3:
        return 0.0
    if any(c.endswith(("_step", "_epoch")) for c in cols):
        return 0.95
    lines = [ln for ln in source.head_text.splitlines()[1:50] if ln.strip()]
    if any(",," in ln or ln.rstrip().endswith(",") or ln.startswith(",") for ln in lines):
        return 0.9  # sparse rows: Lightning's signature
    return 0.6


def _epoch_geometry(ep: np.ndarray, st: np.ndarray) -> tuple[dict[float, float], float | None]:
    """Last step logged in each epoch, and the steps per epoch: the robust
    (Theil-Sen) slope of those last steps against the epoch, so that a stray
    row (a validation run after training) or training rows logged only every
    ``log_every_n_steps`` do not bias it."""
    import numpy as np

    ok = np.isfinite(ep) & np.isfinite(st)
    last: dict[float, float] = {}
    for e, s in zip(ep[ok].tolist(), st[ok].tolist(), strict=True):
        last[e] = max(last.get(e, s), s)
    if len(last) < 2:
        return last, None
    es = np.asarray(sorted(last), dtype=np.float64)
    with np.errstate(all="ignore"):
        slope = theil_sen(es, np.asarray([last[e] for e in es.tolist()]))
    return last, (slope if slope > 0 else None)


def load_hparams(path: Path) -> Hyperparameters:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return Hyperparameters()
    return hyperparameters_from(parse_simple_yaml(text))


def read(source: Source) -> list[Run]:
    import numpy as np

    t = read_table(source, track_empty=True)
    if "epoch" not in t.columns or "step" not in t.columns:
        raise InputError(source.display, "expected a Lightning metrics.csv header with 'epoch' and 'step'", where="line 1")
    if t.n_rows == 0:
        raise NoDataError(source.display, "the file has a header but no rows")
    warnings = list(t.warnings)
    ep, st = t.col("epoch"), t.col("step")
    last_step_of, spe = _epoch_geometry(ep, st)

    def epochs_at(e: np.ndarray, s: np.ndarray) -> np.ndarray | None:
        if spe is None:
            return None
        out = np.full(s.shape, np.nan)
        with np.errstate(all="ignore"):
            for i, (ei, si) in enumerate(zip(e.tolist(), s.tolist(), strict=True)):
                if ei in last_step_of:
                    out[i] = ei + 1.0 - (last_step_of[ei] - si) / spe
        return out

    columns = [c for c in t.header if c not in ("epoch", "step") and c in t.columns]
    raw: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    skipped_step_counter: list[str] = []
    for c in columns:
        nm = parse_name(c)
        mask = ~t.empty_mask(c) & np.isfinite(st)
        if not mask.any():
            continue
        if nm.split in ("val", "test") and nm.marker == "step":
            skipped_step_counter.append(c)
            continue
        raw[c] = (st[mask], t.col(c)[mask], ep[mask])
    if skipped_step_counter:
        warnings.append(
            f"{source.display}: left out {', '.join(skipped_step_counter)}: per-batch validation values are "
            "logged against the validation loop's own counter, not the training step; used the epoch aggregates"
        )
    # validation after training ended (trainer.validate() at a later epoch) is not part of the curve
    train_cols = [c for c in raw if parse_name(c).role_split == "train"]
    if train_cols:
        last_train_step = max(float(raw[c][0].max()) for c in train_cols)
        train_epochs = np.concatenate([raw[c][2] for c in train_cols])
        last_train_epoch = float(np.nanmax(train_epochs)) if np.isfinite(train_epochs).any() else np.inf
        for c in list(raw):
            if parse_name(c).split != "val":
                continue
            s, v, e = raw[c]
            # no training happened between it and the previous validation: the
            # step barely moved (trainer.validate() does not step the optimizer)
            gaps = np.diff(s, prepend=0.0)
            typical = float(np.median(gaps))
            late = (s > last_train_step) & (e > last_train_epoch) & (gaps <= max(1.0, 0.1 * typical))
            if late.any():
                warnings.append(
                    f"{source.display}: {c} at step {s[late][0]:g} (epoch {e[late][0]:g}) was logged after "
                    "training ended (a separate trainer.validate() call?); left it out of the curve"
                )
                raw[c] = (s[~late], v[~late], e[~late])
    series: dict[str, Series] = {}
    for c, (s, v, e) in raw.items():
        if not s.size:
            continue
        ser, w = series_from_points(c, s, v, source.display, epochs=epochs_at(e, s))
        series[c] = ser
        warnings.extend(w)
    roles = assign_roles(series, source.display)
    warnings.extend(roles.notes)
    hp = Hyperparameters()
    if source.path is not None:
        hp_file = source.path.parent / "hparams.yaml"
        if hp_file.is_file():
            hp = load_hparams(hp_file)
    run = Run(
        source=source.display,
        format="lightning_csv",
        name=source.name,
        **roles.as_kwargs(),
        hyperparameters=hp,
        platform="lightning",
        x_unit="step",
        steps_per_epoch=spe,
        warnings=tuple(warnings),
    )
    return [require_curve(run, source.display)]


READER = Reader(
    name="lightning_csv",
    description="PyTorch Lightning CSVLogger metrics.csv (sparse rows, _step/_epoch and _0 suffixes)",
    detects="CSV header with 'epoch' and 'step' plus metric columns (sparse rows or _step/_epoch names)",
    example="ftdiag analyze lightning_logs/version_0/metrics.csv",
    sniff=sniff,
    read=read,
)
