"""Advice: ranked hyperparameter changes with values.

One change is the primary suggestion (so the next run teaches something);
alternatives follow. Values come from the run's own evidence and from
OpenAI's documented defaults when the user gave nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import hyperparams as hpm
from .diagnosis import Diagnosis
from .features import Features
from .hyperparams import Hyperparameters
from .run import Run

PLATFORM_NAMES: dict[str, dict[str, str]] = {
    "openai": {
        "n_epochs": "n_epochs",
        "learning_rate_multiplier": "learning_rate_multiplier",
        "batch_size": "batch_size",
        "prompt_loss_weight": "prompt_loss_weight",
    },
    "huggingface": {
        "n_epochs": "num_train_epochs",
        "learning_rate_multiplier": "learning_rate",
        "batch_size": "per_device_train_batch_size",
    },
    "keras": {"n_epochs": "epochs", "learning_rate_multiplier": "optimizer learning_rate", "batch_size": "batch_size"},
    "lightning": {"n_epochs": "max_epochs", "learning_rate_multiplier": "learning rate (optimizer lr)", "batch_size": "batch_size"},
}


@dataclass(frozen=True)
class Recommendation:
    parameter: str
    action: str  # "increase", "decrease" or "keep"
    current: float | None
    suggested: float | None
    reason: str
    expected_effect: str
    platform_parameter: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "parameter": self.parameter,
            "action": self.action,
            "current": self.current,
            "suggested": self.suggested,
            "reason": self.reason,
            "expected_effect": self.expected_effect,
            "platform_parameter": self.platform_parameter,
        }


@dataclass(frozen=True)
class Current:
    """Current values, known or inferred, with where they came from."""

    n_epochs: float | None
    batch_size: float | None
    lrm: float | None
    prompt_loss_weight: float | None


def current_values(run: Run, f: Features) -> Current:
    hp: Hyperparameters = run.hyperparameters
    n_epochs = hp.n_epochs
    if n_epochs is None and f.epochs_seen:
        n_epochs = float(max(1, round(f.epochs_seen)))
    batch = hp.batch_size
    if batch is None and hp.n_examples and run.platform == "openai":
        batch = float(hpm.openai_default_batch_size(hp.n_examples))
    lrm = hp.learning_rate_multiplier
    if lrm is None and run.platform == "openai" and batch is not None:
        lrm = hpm.openai_default_lrm(batch)
    if lrm is None and hp.learning_rate is not None:
        lrm = hp.learning_rate
    return Current(n_epochs, batch, lrm, hp.prompt_loss_weight)


def _round_lr(x: float) -> float:
    if x <= 0:
        return x
    mag = 10 ** math.floor(math.log10(x))
    return round(x / mag, 2) * mag


def recommend(run: Run, f: Features, d: Diagnosis) -> tuple[Recommendation, ...]:
    cur = current_values(run, f)
    names = PLATFORM_NAMES.get(run.platform or "", {})
    recs: list[Recommendation] = []

    def add(param: str, action: str, current: float | None, suggested: float | None, reason: str, effect: str) -> None:
        recs.append(Recommendation(param, action, current, suggested, reason, effect, names.get(param)))

    val = f.val
    if d.label == "overfit" and val is not None:
        best_ep = f.best_epoch
        if best_ep is not None and best_ep >= 1 and cur.n_epochs is not None and math.ceil(best_ep) < cur.n_epochs:
            target = float(math.ceil(best_ep - 1e-9))
            add(
                "n_epochs", "decrease", cur.n_epochs, target,
                f"validation was best at epoch {best_ep:.2f} and got worse after",
                "stops training near the best validation point",
            )
        add(
            "learning_rate_multiplier", "decrease", cur.lrm, _round_lr(cur.lrm / 2) if cur.lrm else None,
            "the model overfits; a smaller step size learns more slowly and generalizes better",
            "slower, smoother fitting with a smaller train-validation gap",
        )
    elif d.label == "underfit":
        more = 2.0 if val is not None and val.tail_slope_noise > 4 else 1.0
        if cur.n_epochs is not None:
            add(
                "n_epochs", "increase", cur.n_epochs, cur.n_epochs + max(more, math.ceil(cur.n_epochs * 0.5)),
                "validation was still improving at the end of training",
                "more passes let validation keep improving",
            )
        else:
            add("n_epochs", "increase", None, None, "validation was still improving at the end", "more training")
        add(
            "learning_rate_multiplier", "increase", cur.lrm,
            _round_lr(cur.lrm * 2) if cur.lrm else None,
            "the curves moved slowly; a larger step size learns faster",
            "faster learning in the same number of epochs",
        )
    elif d.label == "good_fit":
        add(
            "n_epochs", "keep", cur.n_epochs, cur.n_epochs,
            "validation converged and did not get worse; "
            + (f"use the checkpoint at epoch {f.best_epoch:.2f}" if f.best_epoch else "keep the final checkpoint"),
            "the same settings should generalize as well again",
        )
    names_found = {x.name for x in d.findings}
    if names_found & {"noisy_training", "loss_spikes"} and cur.batch_size is not None:
        cap = run.hyperparameters.n_examples or math.inf
        add(
            "batch_size", "increase", cur.batch_size, float(min(cap, cur.batch_size * 2)),
            "training is noisy", "smoother updates and curves",
        )
    if names_found & {"nan_or_inf", "divergence"}:
        recs.insert(
            0,
            Recommendation(
                "learning_rate_multiplier", "decrease", cur.lrm, _round_lr(cur.lrm / 2) if cur.lrm else None,
                "training diverged or produced NaN/inf", "stable training", names.get("learning_rate_multiplier"),
            ),
        )
    return tuple(recs)
