"""Explicit column mapping: say which series is which when names don't.

``ColumnMapping(val_metric="val_bleu", higher_is_better=True)`` makes
``val_bleu`` the validation metric that decides the verdict (and its training
twin, ``train_bleu``, the training metric when one exists), whatever the
reader guessed. The CLI's ``--train-metric``, ``--val-metric`` and
``--higher-is-better/--lower-is-better`` build one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import InputError
from .run import Run, Series


@dataclass(frozen=True)
class ColumnMapping:
    """Which logged series are the training and validation metric.

    ``train_metric`` / ``val_metric`` name a column, key or tag as written in
    the log (case-insensitive). ``higher_is_better`` gives their direction
    (``None``: guessed from the name: losses and error rates go down).
    """

    train_metric: str | None = None
    val_metric: str | None = None
    higher_is_better: bool | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n in (self.train_metric, self.val_metric) if n)

    def __bool__(self) -> bool:
        return bool(self.names) or self.higher_is_better is not None


def _all_series(run: Run) -> dict[str, Series]:
    out: dict[str, Series] = {}
    for s in list(run.series().values()) + list(run.extra.values()):
        out.setdefault(s.name, s)
    for k, s in run.extra.items():
        out.setdefault(k, s)
    return out


def find_series(run: Run, name: str) -> Series | None:
    every = _all_series(run)
    if name in every:
        return every[name]
    low = {k.lower().strip(): s for k, s in every.items()}
    return low.get(name.lower().strip())


def _twin(run: Run, name: str) -> Series | None:
    """The training series of the same quantity as validation series ``name``."""
    from .formats._names import parse_name

    target = parse_name(name)
    for k, s in _all_series(run).items():
        p = parse_name(k)
        if p.base == target.base and p.role_split == "train" and k != name and p.marker != "epoch":
            return s
    return None


def apply_mapping(run: Run, mapping: ColumnMapping | None) -> Run:
    """``run`` with its metric roles set as ``mapping`` says."""
    if not mapping:
        return run
    assert mapping is not None
    changes: dict[str, object] = {}
    chosen: dict[str, Series] = {}
    for role, name in (("val_metric", mapping.val_metric), ("train_metric", mapping.train_metric)):
        if not name:
            continue
        s = find_series(run, name)
        if s is None:
            have = ", ".join(sorted(_all_series(run)))
            raise InputError(run.source, f"--{role.replace('_', '-')} {name!r}: no such series in this run (it has: {have})")
        chosen[role] = s
    if "val_metric" in chosen and "train_metric" not in chosen:
        twin = _twin(run, chosen["val_metric"].name)
        if twin is not None:
            chosen["train_metric"] = twin
    for role, s in chosen.items():
        hib = mapping.higher_is_better if mapping.higher_is_better is not None else s.higher_is_better
        changes[role] = replace(s, higher_is_better=hib)
    if mapping.higher_is_better is not None:
        for role in ("val_metric", "train_metric"):
            if role not in changes and getattr(run, role) is not None:
                changes[role] = replace(getattr(run, role), higher_is_better=mapping.higher_is_better)
    if not changes:
        return run.with_warnings(
            [f"{run.source}: --higher-is-better/--lower-is-better given but this run has no task metric; ignored"]
        )
    picked = {s.name for s in changes.values() if isinstance(s, Series)}
    extra = {k: s for k, s in run.extra.items() if s.name not in picked and k not in picked}
    return replace(run, **changes, extra=extra)  # type: ignore[arg-type]
