"""Hyperparameters: what the user passed, what the log says, and OpenAI's defaults.

Defaults follow OpenAI's fine-tuning documentation: batch size is about 0.2% of
the training examples, capped at 256; the learning-rate multiplier default is
0.05, 0.1 or 0.2 depending on batch size (larger for larger batches), with a
recommended range of 0.02 to 0.2.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import InputError, UsageError

CANONICAL = ("n_epochs", "batch_size", "learning_rate_multiplier", "prompt_loss_weight")
KNOWN = CANONICAL + ("n_examples", "learning_rate", "gradient_accumulation_steps")

# OpenAI: "recommended range 0.02 to 0.2" for the learning-rate multiplier.
LRM_MIN = 0.02
LRM_MAX = 0.2
# OpenAI: default batch size ~0.2% of training examples, capped at 256.
BATCH_FRACTION = 0.002
BATCH_CAP = 256


@dataclass(frozen=True)
class Hyperparameters:
    n_epochs: float | None = None
    batch_size: float | None = None
    learning_rate_multiplier: float | None = None
    prompt_loss_weight: float | None = None
    n_examples: float | None = None
    learning_rate: float | None = None
    gradient_accumulation_steps: float | None = None
    # where each known value came from: "option", "file", "log", "inferred", "default"
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        # a value that is not a finite non-negative number (inf from a damaged
        # log, NaN) is no hyperparameter: it is dropped, never reasoned with
        for f in fields(self):
            if f.name == "sources":
                continue
            v = getattr(self, f.name)
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                object.__setattr__(self, f.name, None)
                object.__setattr__(self, "sources", {k: o for k, o in self.sources.items() if k != f.name})

    def known(self) -> dict[str, float]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "sources" and getattr(self, f.name) is not None
        }

    def merged(self, other: Hyperparameters) -> Hyperparameters:
        """``other``'s known values win over ours."""
        values: dict[str, Any] = {}
        sources = dict(self.sources)
        for k, v in other.known().items():
            values[k] = v
            sources[k] = other.sources.get(k, "option")
        return replace(self, **values, sources=sources)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("sources")
        return {k: v for k, v in d.items() if v is not None}


def from_mapping(data: dict[str, Any], source: str, origin: str = "hyperparameters") -> Hyperparameters:
    """Flat keys, or an OpenAI fine-tuning job object (its ``hyperparameters``
    field, or ``method.supervised.hyperparameters``)."""
    if not isinstance(data, dict):
        raise InputError(origin, "expected a JSON object of hyperparameters")
    flat: dict[str, Any] = {}
    nested = data.get("hyperparameters")
    method = data.get("method")
    if isinstance(method, dict):
        for kind in ("supervised", "dpo"):
            sub = method.get(kind)
            if isinstance(sub, dict) and isinstance(sub.get("hyperparameters"), dict):
                flat.update(sub["hyperparameters"])
    if isinstance(nested, dict):
        flat.update(nested)
    for k in KNOWN:
        if k in data and k not in flat:
            flat[k] = data[k]
    if "training_examples" in data and "n_examples" not in flat:
        flat["n_examples"] = data["training_examples"]
    values: dict[str, float] = {}
    for k in KNOWN:
        v = flat.get(k)
        if v is None or v == "auto":
            continue
        try:
            fv = float(v)
        except (TypeError, ValueError):
            raise InputError(origin, f"hyperparameter {k!r} must be a number, got {v!r}") from None
        if not math.isfinite(fv) or fv < 0:
            raise InputError(origin, f"hyperparameter {k!r} must be a finite non-negative number, got {v!r}")
        values[k] = fv
    return Hyperparameters(**values, sources={k: source for k in values})


def load_file(path: str | Path) -> Hyperparameters:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InputError(str(p), f"cannot read hyperparameters file ({e.strerror or e})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(str(p), f"not valid JSON: {e.msg}", where=f"line {e.lineno}") from None
    return from_mapping(data, "file", origin=str(p))


def from_user(values: dict[str, Any] | None) -> Hyperparameters:
    if not values:
        return Hyperparameters()
    unknown = set(values) - set(KNOWN)
    if unknown:
        raise UsageError(f"unknown hyperparameter(s): {', '.join(sorted(unknown))}; known: {', '.join(KNOWN)}")
    return from_mapping(dict(values), "option", origin="hyperparameters")


def openai_default_batch_size(n_examples: float) -> int:
    """About 0.2% of the training examples, at least 1, capped at 256."""
    return int(min(BATCH_CAP, max(1, round(n_examples * BATCH_FRACTION))))


def openai_default_lrm(batch_size: float) -> float:
    """0.05, 0.1 or 0.2 by batch size: larger batches get a larger multiplier.

    OpenAI documents the three values without the cut points; we use batch
    sizes up to 8 -> 0.05, up to 64 -> 0.1, above -> 0.2.
    """
    if batch_size <= 8:
        return 0.05
    if batch_size <= 64:
        return 0.1
    return 0.2
