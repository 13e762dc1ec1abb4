"""OpenAI / Azure OpenAI fine-tuning results CSV, current and legacy.

Current: ``step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy``
(newer jobs add ``full_valid_loss,full_valid_mean_token_accuracy``); validation
cells are empty on steps without a validation batch.
Legacy (2022 ``fine_tunes``): ``step,elapsed_tokens,elapsed_examples,
training_loss,training_sequence_accuracy,training_token_accuracy`` then, with a
validation file, ``validation_loss,validation_sequence_accuracy,
validation_token_accuracy`` and optional ``classification/*`` columns.
The Files API hands the file back base64-encoded; such text is decoded.
"""

from __future__ import annotations

import re

from ..errors import InputError, NoDataError
from ..hyperparams import Hyperparameters
from ..run import Run, Series, make_series
from . import CERTAIN, Reader, _table
from ._source import HEAD_BYTES, Source
from ._table import Table, header_of, order_warning, parse_table

_B64 = re.compile(rb"^[A-Za-z0-9+/=\s]+$")
CURRENT = {"step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"}
LEGACY = {"step", "elapsed_tokens", "elapsed_examples", "training_loss"}


def _maybe_base64(head: bytes) -> bytes | None:
    first = head.split(b"\n", 1)[0].strip()
    if len(first) < 16 or b"," in first or not _B64.match(first):
        return None
    import base64  # only for what looks base64-encoded (~1.5 ms at start-up otherwise)
    import binascii

    try:
        return base64.b64decode(first[: len(first) - len(first) % 4], validate=False)
    except (binascii.Error, ValueError):
        return None


def _columns(head_cols: list[str]) -> str | None:
    cols = set(head_cols)
    if cols >= CURRENT:
        return "current"
    if cols >= LEGACY:
        return "legacy"
    return None


def sniff(source: Source) -> float:
    if _columns(header_of(source)):
        return CERTAIN
    decoded = _maybe_base64(source.head)
    if decoded is not None:
        first = decoded.decode("utf-8", "replace").split("\n", 1)[0]
        if _columns([c.strip() for c in first.split(",")]):
            return CERTAIN
    return 0.0


def _series(t: Table, name: str, role_name: str | None = None) -> Series | None:
    if not t.has(name):
        return None
    # empty cells (no value at this step) are left out; cells that say nan
    # (a diverged value) and infinities are kept (a small file's columns are
    # array('d'), a large one's numpy: make_series keeps the kind)
    steps, values = t.points("step", name)
    return make_series(role_name or name, steps, values)


def read(source: Source) -> list[Run]:
    warnings: list[str] = []
    if _columns(header_of(source)):
        t = _table.read_table(source, track_empty=True)  # large plain files take the fast path
    else:
        decoded = _maybe_base64(source.read_bytes())
        if decoded is None:
            raise InputError(source.display, "expected an OpenAI results header (step,train_loss,...)")
        warnings.append(f"{source.display}: the file was base64-encoded (as the Files API returns it); decoded it")
        plain = Source(path=None, display=source.display, head=decoded[:HEAD_BYTES], _data=decoded)
        fast = _table.fast_table(plain, track_empty=True) if _table.fast_worthwhile(len(decoded)) else None
        t = fast or parse_table(decoded.decode("utf-8-sig", "replace"), source.display, track_empty=True)
    warnings.extend(t.warnings)
    kind = _columns(t.header)
    if kind is None:
        raise InputError(source.display, "expected an OpenAI results header (step,train_loss,...)", where="line 1")
    if t.n_rows == 0:
        raise NoDataError(source.display, "the file has a header but no rows")
    order = order_warning(source.display, t.column("step"))
    if order:
        warnings.append(order)
    if kind == "current":
        train_loss = _series(t, "train_loss")
        train_acc = _series(t, "train_accuracy")
        val_loss = _series(t, "valid_loss")
        val_acc = _series(t, "valid_mean_token_accuracy")
        extra = {n: s for n in ("full_valid_loss", "full_valid_mean_token_accuracy") if (s := _series(t, n))}
        fmt = "openai"
        hp = Hyperparameters()
    else:
        train_loss = _series(t, "training_loss")
        train_acc = _series(t, "training_token_accuracy")
        val_loss = _series(t, "validation_loss")
        val_acc = _series(t, "validation_token_accuracy")
        extra = {}
        for n in t.header:
            if n.startswith("classification/") or n.endswith("sequence_accuracy"):
                s = _series(t, n)
                if s is not None:
                    extra[n] = s
        fmt = "openai_legacy"
        # the legacy format existed only with prompt_loss_weight (default 0.01)
        hp = Hyperparameters()
    if train_loss is None and val_loss is None:
        raise NoDataError(source.display, "no loss values in any row")
    return [
        Run(
            source=source.display,
            format=fmt,
            name=source.name,
            train_loss=train_loss,
            val_loss=val_loss,
            train_metric=train_acc,
            val_metric=val_acc,
            extra=extra,
            hyperparameters=hp,
            platform="openai",
            x_unit="step",
            metadata={"legacy": kind == "legacy"},
            warnings=tuple(warnings),
        )
    ]


READER = Reader(
    name="openai",
    description="OpenAI / Azure OpenAI fine-tuning results CSV (current and legacy), also base64-encoded",
    detects="header with step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy "
    "or step,elapsed_tokens,elapsed_examples,training_loss,...",
    example="ftdiag analyze step_metrics.csv",
    sniff=sniff,
    read=read,
)
