"""Advice: ranked hyperparameter changes, with values, in the user's platform's terms.

The first recommendation is the primary one: a single change, so that the next
run teaches something (if two things change at once, nobody knows which one
helped). Alternatives follow, each also a single change.

Values come from three places, in this order:

1. what the user passed (options, ``--hyperparameters``, a sweep manifest);
2. what the log itself shows (epochs from the epoch column, optimizer steps per
   epoch, hence the batch size when the number of training examples is known;
   the peak learning rate of a Hugging Face run);
3. OpenAI's documented defaults, for OpenAI runs only (see :mod:`ftdiag.hyperparams`).

Every rule below says where it comes from. Two kinds of source are cited:
OpenAI's fine-tuning guide ("Iterating on hyperparameters": change epochs by 1
or 2 at a time, raise the multiplier when the model does not converge; the
defaults and the 0.02-0.2 range of the multiplier), and what the labeled corpus
(``../shared/corpus/labeled``, runs of small models trained at neighbouring
settings) shows about which single change actually improved held-out accuracy.
Corpus-derived rules use only quantities that mean the same on any task: the
verdict, the multiplier's place in OpenAI's recommended range, the number of
optimizer steps per epoch (batch size against training examples) and the
number of epochs already run. ``benchmarks/eval_labeled.py`` scores them,
leave-one-task-out included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import hyperparams as hpm
from .diagnosis import MIN_VAL_POINTS, NOISE_UNITS, TREND_P, Diagnosis, change, more_training
from .features import Features
from .hyperparams import LRM_MAX, LRM_MIN
from .run import Run

CANONICAL = ("n_epochs", "learning_rate_multiplier", "batch_size", "prompt_loss_weight")

# --------------------------------------------------------------------------------------
# Platform names
# --------------------------------------------------------------------------------------

_HF = {
    "n_epochs": "num_train_epochs",
    "learning_rate_multiplier": "learning_rate",
    "batch_size": "per_device_train_batch_size",
}
_OPENAI = {p: p for p in CANONICAL}
PLATFORM_NAMES: dict[str, dict[str, str]] = {
    # OpenAI and Azure OpenAI fine-tuning jobs take the canonical names
    # (prompt_loss_weight only on the legacy API).
    "openai": _OPENAI,
    "azure": _OPENAI,
    # Hugging Face TrainingArguments; LLaMA-Factory passes the same arguments.
    "huggingface": _HF,
    "llama_factory": _HF,
    # Keras: model.fit(epochs=..., batch_size=...), the optimizer's learning_rate.
    "keras": {
        "n_epochs": "epochs",
        "learning_rate_multiplier": "optimizer learning_rate",
        "batch_size": "batch_size",
    },
    # PyTorch Lightning: Trainer(max_epochs=...), the lr given to the optimizer in
    # configure_optimizers, the DataLoader's batch_size.
    "lightning": {
        "n_epochs": "max_epochs",
        "learning_rate_multiplier": "optimizer lr (configure_optimizers)",
        "batch_size": "DataLoader batch_size",
    },
    # Ultralytics YOLO training arguments.
    "ultralytics": {"n_epochs": "epochs", "learning_rate_multiplier": "lr0", "batch_size": "batch"},
}

# Extra words for a platform's parameter: how the effective batch is made there.
PLATFORM_NOTES: dict[str, dict[str, str]] = {
    "huggingface": {
        "batch_size": "effective batch = per_device_train_batch_size x gradient_accumulation_steps x "
        "number of devices; to change it without more memory per device, change gradient_accumulation_steps",
    },
    "llama_factory": {
        "batch_size": "effective batch = per_device_train_batch_size x gradient_accumulation_steps x "
        "number of devices; to change it without more memory per device, change gradient_accumulation_steps",
    },
    "lightning": {
        "batch_size": "effective batch = DataLoader batch_size x Trainer(accumulate_grad_batches) x devices",
    },
}


def platform_name(platform: str | None, parameter: str) -> str | None:
    """The parameter's name on ``platform``, or None when the platform is unknown."""
    return PLATFORM_NAMES.get(platform or "", {}).get(parameter)


# --------------------------------------------------------------------------------------
# Rule constants, each with its source
# --------------------------------------------------------------------------------------

# OpenAI fine-tuning guide: "If the model does not follow the training data as much
# as expected, increase the number of epochs by 1 or 2"; "if the model becomes less
# diverse than expected, decrease the number of epochs by 1 or 2".
OPENAI_EPOCH_STEP = 2
# A run of many epochs moves by a fraction of its length instead (1-2 more epochs on
# top of 16 changes nothing measurable): a quarter when validation was rising gently,
# a half when steeply.
EPOCH_FRACTION_GENTLE = 0.25
EPOCH_FRACTION_STEEP = 0.5
# "Steep": validation changed by more than this many noise units over the last third
# of training (4 sigma: well outside what noise alone does over that stretch).
STEEP_TAIL_NOISE_UNITS = 4.0
# Halve (or double) the multiplier: one octave is the smallest change that reliably
# shows in the next run's curves, and the step OpenAI's three defaults
# (0.05, 0.1, 0.2) are apart.
LR_FACTOR = 2.0
# Few optimizer updates per epoch: with the batch holding a third or more of the
# training set, an epoch is at most 3 updates. Labeled corpus: for underfit runs with
# 1-2 updates per epoch, halving the batch helped in 85% of cases against 50% for
# more epochs; with more updates per epoch a smaller batch rarely was the best move.
FEW_STEPS_PER_EPOCH = 3
# A smaller batch for such runs aims at this many updates per epoch.
TARGET_STEPS_PER_EPOCH = 4
# Underfit with the multiplier below the top of OpenAI's range (0.02-0.2): there is
# room to raise it. OpenAI: "If the model does not appear to be converging, increase
# the learning rate multiplier." Labeled corpus: for underfit runs below 0.2 that had
# already run 3 or more epochs, a larger multiplier helped in 80% of cases, more
# epochs in 45%; at or above 0.2, more epochs helped in 90%, a larger multiplier in 10%.
UNDERFIT_MANY_EPOCHS = 3
# A multiplier at the bottom of the range is raised even after 1-2 epochs (corpus:
# at 0.02 a larger multiplier helped 97% of underfit runs, more epochs 10%).
LRM_LOW = 0.05


# A run too short to judge, with a multiplier ten times the top of OpenAI's range
# (0.2) or more: that setting is the first thing to bring back, before training
# longer. Labeled corpus (76 such runs of 1-2 epochs at 2.0 or 5.0): a smaller
# multiplier helped all 30 overfit ones and 31% of the 32 underfit ones, more epochs
# 7% and 100%; right for 53% of these runs against 45% for more epochs.
LRM_FAR_ABOVE = 10 * LRM_MAX


@dataclass(frozen=True)
class Policy:
    """The thresholds the rules use; the defaults are the constants above.

    A separate object so that ``benchmarks/eval_labeled.py`` can refit them
    leave-one-task-out and show how much the corpus-derived ones depend on
    the tasks they were read from.
    """

    few_steps_per_epoch: float = FEW_STEPS_PER_EPOCH
    underfit_many_epochs: float = UNDERFIT_MANY_EPOCHS
    lrm_low: float = LRM_LOW
    lrm_room: float = LRM_MAX  # below this multiplier there is room to raise it
    overfit_first: str = "learning_rate_multiplier"  # or "n_epochs"
    lrm_far_above: float = LRM_FAR_ABOVE  # too short to judge and above this: lower it first


DEFAULT_POLICY = Policy()

# prompt_loss_weight: OpenAI's legacy default and "usual" value is 0.01. A weight of
# 0.1 or more makes prompt tokens weigh heavily in the loss (the model learns to echo
# prompts); 0 can destabilize training.
PLW_USUAL = 0.01
PLW_HIGH = 0.1


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    parameter: str  # canonical name (CANONICAL)
    action: str  # "increase", "decrease" or "keep"
    current: float | None
    suggested: float | None
    reason: str  # the evidence that led to it, with numbers
    expected_effect: str
    platform_parameter: str | None = None
    note: str | None = None  # platform detail, e.g. gradient accumulation
    rule: str = ""  # which rule produced it (e.g. "underfit.more_epochs")
    change: str | None = None  # relative form, usable when values are unknown: "x0.5", "+2", "="

    @property
    def move(self) -> str:
        """``parameter:action``, or ``keep``: the form truth.csv's best_moves use."""
        return "keep" if self.action == "keep" else f"{self.parameter}:{self.action}"

    def to_dict(self) -> dict[str, object]:
        return {
            "parameter": self.parameter,
            "action": self.action,
            "current": self.current,
            "suggested": self.suggested,
            "reason": self.reason,
            "expected_effect": self.expected_effect,
            "platform_parameter": self.platform_parameter,
            "note": self.note,
            "rule": self.rule,
            "change": self.change,
        }


@dataclass(frozen=True)
class Context:
    """Current settings, known or inferred, each with where it came from.

    Sources: ``option``/``file`` (the user), ``log`` (the file records it),
    ``inferred`` (computed from the log, e.g. batch size from steps per epoch),
    ``default`` (OpenAI's documented default), ``None`` (unknown).
    """

    n_epochs: float | None = None
    n_epochs_source: str | None = None
    batch_size: float | None = None
    batch_size_source: str | None = None
    learning_rate: float | None = None  # the multiplier, or the raw rate
    learning_rate_source: str | None = None
    lr_is_multiplier: bool = True  # False: a raw learning rate (HF, Keras)
    prompt_loss_weight: float | None = None  # None: the parameter does not exist here
    prompt_loss_weight_source: str | None = None
    n_examples: float | None = None
    steps_per_epoch: float | None = None  # optimizer updates per epoch
    total_steps: float | None = None
    gradient_accumulation_steps: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_epochs": self.n_epochs,
            "batch_size": self.batch_size,
            "learning_rate_multiplier" if self.lr_is_multiplier else "learning_rate": self.learning_rate,
            "prompt_loss_weight": self.prompt_loss_weight,
            "n_examples": self.n_examples,
            "steps_per_epoch": self.steps_per_epoch,
            "total_steps": self.total_steps,
            "sources": {
                k: v
                for k, v in (
                    ("n_epochs", self.n_epochs_source),
                    ("batch_size", self.batch_size_source),
                    ("learning_rate", self.learning_rate_source),
                    ("prompt_loss_weight", self.prompt_loss_weight_source),
                )
                if v
            },
        }


def _src(run: Run, key: str) -> str:
    return run.hyperparameters.sources.get(key, "option")


def context(run: Run, f: Features) -> Context:
    """What is known of the run's settings, inferring what the log allows."""
    hp = run.hyperparameters
    n_examples = hp.n_examples
    # --- epochs: the user's value, else the log's epoch column --------------------
    n_epochs, ep_src = hp.n_epochs, (_src(run, "n_epochs") if hp.n_epochs is not None else None)
    if n_epochs is None and f.epochs_seen is not None and f.epochs_seen >= 0.5:
        n_epochs, ep_src = float(max(1, round(f.epochs_seen))), "inferred"
    # --- optimizer updates per epoch ----------------------------------------------------
    spe: float | None = None
    if run.x_unit == "step":
        if run.steps_per_epoch:
            spe = float(run.steps_per_epoch)
        elif f.epochs_seen and f.epochs_seen >= 0.5 and f.last_step > 0:
            spe = f.last_step / f.epochs_seen
        elif n_epochs and f.last_step > 0 and ep_src in ("option", "file"):
            # the log does not say where epochs end: assume it covers the whole run
            spe = f.last_step / n_epochs
    # --- batch size: the user's, else from steps per epoch, else OpenAI's default ------
    batch, b_src = hp.batch_size, (_src(run, "batch_size") if hp.batch_size is not None else None)
    if batch is None and n_examples and spe and spe >= 1:
        batch, b_src = float(max(1, round(n_examples / spe))), "inferred"
    if batch is None and n_examples and run.platform in ("openai", "azure"):
        batch, b_src = float(hpm.openai_default_batch_size(n_examples)), "default"
    if spe is None and n_examples and batch:
        # drop_last=False, as OpenAI and the Trainer do: a partial batch is an update
        spe = float(math.ceil(n_examples / batch))
        if n_epochs is None and run.x_unit == "step" and f.last_step >= spe:
            # a step-only log (OpenAI) of a finished run: its length in epochs
            n_epochs, ep_src = float(max(1, round(f.last_step / spe))), "inferred"
    # --- learning rate ----------------------------------------------------------------
    lr, lr_src, is_mult = hp.learning_rate_multiplier, None, True
    if lr is not None:
        lr_src = _src(run, "learning_rate_multiplier")
    elif run.platform in ("openai", "azure") and batch is not None:
        lr, lr_src = hpm.openai_default_lrm(batch), "default"
    elif hp.learning_rate is not None:
        lr, lr_src, is_mult = hp.learning_rate, _src(run, "learning_rate"), False
    elif run.platform not in (None, "openai", "azure"):
        is_mult = False  # unknown, and the platform has no multiplier
    # --- prompt loss weight: only where it exists ---------------------------------------
    plw, plw_src = hp.prompt_loss_weight, None
    if plw is not None:
        plw_src = _src(run, "prompt_loss_weight")
    elif run.metadata.get("legacy") and run.platform in ("openai", "azure"):
        plw, plw_src = PLW_USUAL, "default"
    total = spe * n_epochs if spe and n_epochs else None
    return Context(
        n_epochs=n_epochs,
        n_epochs_source=ep_src,
        batch_size=batch,
        batch_size_source=b_src,
        learning_rate=lr,
        learning_rate_source=lr_src,
        lr_is_multiplier=is_mult,
        prompt_loss_weight=plw,
        prompt_loss_weight_source=plw_src,
        n_examples=n_examples,
        steps_per_epoch=spe,
        total_steps=total,
        gradient_accumulation_steps=hp.gradient_accumulation_steps,
    )


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------


def round_sig(x: float, digits: int = 2) -> float:
    """``x`` to ``digits`` significant figures (0.0375 -> 0.038)."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, -int(math.floor(math.log10(abs(x)))) + digits - 1)


def _change(parameter: str, action: str, current: float | None, suggested: float | None) -> str | None:
    if action == "keep":
        return "="
    if current is None or suggested is None:
        return None
    if parameter == "n_epochs":
        return f"{suggested - current:+g}"
    if current > 0:
        return f"x{round_sig(suggested / current):g}"
    return None


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{x:g}"


def _lr_words(ctx: Context) -> str:
    return "learning-rate multiplier" if ctx.lr_is_multiplier else "learning rate"


def _in_range_note(ctx: Context, value: float | None) -> str:
    if value is None or not ctx.lr_is_multiplier:
        return ""
    if value > LRM_MAX:
        return f"; still above OpenAI's recommended range {LRM_MIN:g}-{LRM_MAX:g}"
    if value < LRM_MIN:
        return f"; below OpenAI's recommended range {LRM_MIN:g}-{LRM_MAX:g}"
    return ""


def more_epochs(ctx: Context, f: Features) -> tuple[float | None, str]:
    """How many epochs to try next for a run that was still improving.

    OpenAI: 1 or 2 more; 2 when validation was still rising steeply over the
    tail. For long runs, a quarter (gentle) or half (steep) more instead.
    """
    val = f.val
    steep = val is not None and val.tail_slope_noise > STEEP_TAIL_NOISE_UNITS
    if ctx.n_epochs is None:
        return None, ""
    extra = float(OPENAI_EPOCH_STEP if steep else 1)
    extra = max(extra, math.ceil(ctx.n_epochs * (EPOCH_FRACTION_STEEP if steep else EPOCH_FRACTION_GENTLE)))
    how = ""
    if val is not None and ctx.n_epochs and val.tail_slope > 0:
        per_epoch = val.tail_slope / ctx.n_epochs  # tail_slope is per whole run
        how = f"validation {val.name} was still improving by about {_metric(val, per_epoch)} per epoch at the end"
        if steep:
            how += f" ({val.tail_slope_noise:.1f} noise units over the last third)"
    return ctx.n_epochs + extra, how


def _metric(stats: Any, v: float) -> str:
    if stats.sign > 0 and -1 <= v <= 1:
        return f"{100 * v:.1f} points"
    return f"{v:.3g}"


def best_epoch(ctx: Context, f: Features) -> float | None:
    """The epoch where validation was best: from the log's epochs, else from the
    optimizer updates per epoch that :func:`context` inferred (OpenAI logs steps only)."""
    if f.best_epoch is not None and math.isfinite(f.best_epoch):
        return f.best_epoch
    val = f.val
    if val is not None and f.x_unit == "step" and ctx.steps_per_epoch:
        return val.best_step / ctx.steps_per_epoch
    return None


def epochs_to_best(ctx: Context, f: Features) -> tuple[float | None, str]:
    """Epochs down to where validation was best, rounded up to whole epochs.

    When the log says nothing about epochs, OpenAI's "decrease by 1 or 2".
    """
    if ctx.n_epochs is None:
        return None, ""
    best = best_epoch(ctx, f)
    if best is None:
        step = OPENAI_EPOCH_STEP if ctx.n_epochs > 2 else 1
        return max(1.0, ctx.n_epochs - step), "the log does not say where epochs end; OpenAI's step of 1-2 epochs"
    target = float(max(1, math.ceil(best - 1e-6)))
    where = f"validation was best at epoch {best:.2f}"
    if best < 1:
        where += " (inside the first epoch: fewer epochs cannot stop earlier; fewer steps or a smaller multiplier can)"
    return min(target, ctx.n_epochs), where


# --------------------------------------------------------------------------------------
# The rules: first decide (which changes, in which order: cheap, numbers only), then
# build each recommendation (values and words).
# --------------------------------------------------------------------------------------

# Each rule id and the move it makes (``parameter:action`` as in truth.csv).
RULE_MOVES: dict[str, str] = {
    "instability.lower_lr": "learning_rate_multiplier:decrease",
    "overfit.lower_lr": "learning_rate_multiplier:decrease",
    "overfit.fewer_epochs": "n_epochs:decrease",
    "underfit.smaller_batch": "batch_size:decrease",
    "underfit.higher_lr": "learning_rate_multiplier:increase",
    "underfit.more_epochs": "n_epochs:increase",
    "inconclusive.more_epochs": "n_epochs:increase",
    "inconclusive.lower_lr": "learning_rate_multiplier:decrease",
    "noise.larger_batch": "batch_size:increase",
    "good_fit.keep": "keep",
    "inconclusive.keep": "keep",
    "prompt.lower": "prompt_loss_weight:decrease",
    "prompt.raise_zero": "prompt_loss_weight:increase",
}

_UNSTABLE = frozenset({"nan_or_inf", "divergence"})
_NOISY = frozenset({"noisy_training", "loss_spikes"})


def decide(
    label: str, ctx: Context, f: Features, findings: frozenset[str] | set[str], policy: Policy = DEFAULT_POLICY
) -> list[str]:
    """The rules that apply, primary first; at most one per move."""
    order: list[str] = []
    lr = ctx.learning_rate
    n_ep = ctx.n_epochs
    # Divergence or NaN: a smaller multiplier first, whatever the verdict (a step too
    # large for the loss surface is the usual cause; Google's tuning playbook, "Tuning
    # for training instability": lower the learning rate, add warmup or clipping).
    if findings & _UNSTABLE:
        order.append("instability.lower_lr")
    if label == "overfit":
        # Halve the multiplier first. Labeled corpus: for overfit runs a smaller
        # multiplier improved held-out accuracy in 96% of cases, fewer epochs in 12%,
        # wherever the best validation point was. Fewer epochs mostly reproduces the
        # checkpoint the user already has at the best epoch (OpenAI keeps the last
        # epochs' checkpoints; the Trainer saves per epoch or step), so it teaches little.
        # Epochs down to the best point come first (issue 5's rule; OpenAI: "decrease
        # by 1 or 2") when the multiplier is already at the bottom of OpenAI's range
        # (0.02), or when the learning rate is unknown and could only be named in words.
        epochs_first = (
            policy.overfit_first == "n_epochs" or lr is None or (ctx.lr_is_multiplier and lr <= LRM_MIN)
        )
        fewer = _fewer_epochs_applies(ctx, f)
        if epochs_first and fewer:
            order += ["overfit.fewer_epochs", "overfit.lower_lr"]
        else:
            order += ["overfit.lower_lr"] + (["overfit.fewer_epochs"] if fewer else [])
        # Overfitting on little data: a larger batch averages more examples per update
        # (fewer, smoother updates per epoch). Corpus: helped 30% of overfit runs.
        if ctx.batch_size is not None and (ctx.n_examples is None or ctx.batch_size * 2 <= ctx.n_examples):
            order.append("noise.larger_batch")
    elif label == "underfit":
        few_updates = ctx.steps_per_epoch is not None and ctx.steps_per_epoch <= policy.few_steps_per_epoch
        room = ctx.lr_is_multiplier and lr is not None and lr < policy.lrm_room
        can_shrink = ctx.batch_size is not None and ctx.batch_size > 1
        if few_updates and can_shrink:
            order.append("underfit.smaller_batch")
        if room and ((n_ep is not None and n_ep >= policy.underfit_many_epochs) or (lr is not None and lr <= policy.lrm_low)):
            order.append("underfit.higher_lr")
        order.append("underfit.more_epochs")
        if "underfit.higher_lr" not in order:
            order.append("underfit.higher_lr")
        if can_shrink and "underfit.smaller_batch" not in order:
            order.append("underfit.smaller_batch")
    elif label == "good_fit":
        order.append("good_fit.keep")
    elif f.val is not None and n_ep is not None and n_ep < 3:
        if ctx.lr_is_multiplier and lr is not None and lr >= policy.lrm_far_above:
            order.append("inconclusive.lower_lr")
        # Too few validation points to judge (usually one evaluation per epoch over 1-2
        # epochs). OpenAI's default is 3-4 epochs for small data sets; at 3 epochs with
        # per-epoch evaluation the next run can be judged, and short runs more often
        # gain from more training than not (corpus: more epochs helped 45% of these,
        # keeping 43%, weighted by verdict).
        order.append("inconclusive.more_epochs")
    else:
        order.append("inconclusive.keep")
    # Noisy or spiky training: a larger batch averages more examples per update (the
    # gradient noise falls as 1/sqrt(batch)); or a smaller multiplier.
    if findings & _NOISY and _larger_batch_value(ctx) is not None:
        order.append("noise.larger_batch")
    # prompt_loss_weight, only where it exists (legacy OpenAI, or the user passed one).
    w = ctx.prompt_loss_weight
    if w is not None and w >= PLW_HIGH:
        # Labeled corpus: at 1.0, lowering it helped 70% of overfit runs, 41% of
        # underfit ones; never the single best bet, so an alternative.
        order.append("prompt.lower")
    elif w == 0 and order and order[0] == "instability.lower_lr":
        order.append("prompt.raise_zero")
    out: list[str] = []
    seen: set[str] = set()
    for r in order:
        if RULE_MOVES[r] not in seen:
            seen.add(RULE_MOVES[r])
            out.append(r)
    return out


def _fewer_epochs_applies(ctx: Context, f: Features) -> bool:
    target, _ = epochs_to_best(ctx, f)
    return target is not None and ctx.n_epochs is not None and target < ctx.n_epochs


def _larger_batch_value(ctx: Context) -> float | None:
    if ctx.batch_size is None:
        return None
    new = ctx.batch_size * 2
    if ctx.n_examples:
        new = min(new, ctx.n_examples)  # a batch cannot hold more than the training set
    return float(new) if new > ctx.batch_size else None


def recommend(
    run: Run, f: Features, d: Diagnosis, policy: Policy = DEFAULT_POLICY
) -> tuple[Recommendation, ...]:
    """Ranked recommendations: the primary change first, then alternatives."""
    ctx = context(run, f)
    rules = decide(d.label, ctx, f, {x.name for x in d.findings}, policy)
    build = _Builder(run, ctx, f, d)
    return tuple(build(r) for r in rules)


def primary_move(run: Run, f: Features, d: Diagnosis, policy: Policy = DEFAULT_POLICY) -> str:
    """The primary recommendation's move (``parameter:action`` or ``keep``), without the words."""
    rules = decide(d.label, context(run, f), f, {x.name for x in d.findings}, policy)
    return RULE_MOVES[rules[0]] if rules else "keep"


class _Builder:
    """Turns a rule id into a Recommendation with values, evidence and platform names."""

    def __init__(self, run: Run, ctx: Context, f: Features, d: Diagnosis) -> None:
        self.run, self.ctx, self.f, self.d = run, ctx, f, d

    def __call__(self, rule: str) -> Recommendation:
        method = getattr(self, "_" + rule.replace(".", "_"))
        rec: Recommendation = method(rule)
        return rec

    def rec(
        self,
        rule: str,
        current: float | None,
        suggested: float | None,
        reason: str,
        effect: str,
        change: str | None = None,
    ) -> Recommendation:
        move = RULE_MOVES[rule]
        parameter, action = ("n_epochs", "keep") if move == "keep" else move.split(":")
        platform = self.run.platform
        note = PLATFORM_NOTES.get(platform or "", {}).get(parameter)
        if parameter == "learning_rate_multiplier" and not self.ctx.lr_is_multiplier and current is not None:
            note = (note + "; " if note else "") + "a raw learning rate: scale it by the same factor"
        if change is None:
            change = _change(parameter, action, current, suggested)
        return Recommendation(
            parameter, action, current, suggested, reason, effect, platform_name(platform, parameter), note, rule, change
        )

    # --- shared pieces -------------------------------------------------------------------
    def _lost(self) -> str:
        val = self.f.val
        if val is None:
            return "the run overfits"
        return f"validation {val.name} was best at {_metric_value(val, val.best)} and ended at {_metric_value(val, val.last)}"

    def _still(self) -> str:
        _, how = more_epochs(self.ctx, self.f)
        val = self.f.val
        if not how and val is not None and val.loss_since_best_noise > 2:
            # not "still improving": the verdict rests on other evidence (say so truthfully)
            return (
                f"the verdict is underfit, although validation {val.name} ended at {_metric_value(val, val.last)}, "
                f"below its best {_metric_value(val, val.best)}"
            )
        return how or (
            f"validation {val.name} was still improving at the end" if val is not None else "the run was still improving"
        )

    def _lower_lr(self, rule: str, why: str) -> Recommendation:
        ctx = self.ctx
        cur = ctx.learning_rate
        new = round_sig(cur / LR_FACTOR) if cur else None
        return self.rec(
            rule,
            cur,
            new,
            f"{why}; halve the {_lr_words(ctx)}" + _in_range_note(ctx, new),
            "smaller updates: slower, steadier fitting and a smaller train-validation gap",
            change=f"x{1 / LR_FACTOR:g}",
        )

    # --- one method per rule ------------------------------------------------------------
    def _instability_lower_lr(self, rule: str) -> Recommendation:
        return self._lower_lr(rule, "training diverged or produced NaN/inf values")

    def _inconclusive_lower_lr(self, rule: str) -> Recommendation:
        return self._lower_lr(
            rule,
            f"only {self.f.n_val_points} validation point(s): too short to judge; but the multiplier "
            f"{_fmt(self.ctx.learning_rate)} is {_fmt(round_sig((self.ctx.learning_rate or 0) / LRM_MAX))} times "
            f"the top of OpenAI's recommended range ({LRM_MIN:g}-{LRM_MAX:g})",
        )

    def _overfit_lower_lr(self, rule: str) -> Recommendation:
        be = best_epoch(self.ctx, self.f)
        ckpt = ""
        if be is not None:
            if be < 1:
                ckpt = (
                    f"; validation was best inside the first epoch (epoch {be:.2f}): "
                    "fewer epochs cannot stop earlier; fewer steps or a smaller multiplier can"
                )
            else:
                ckpt = f"; meanwhile use the checkpoint nearest epoch {be:.2g}"
        return self._lower_lr(rule, self._lost() + ckpt)

    def _overfit_fewer_epochs(self, rule: str) -> Recommendation:
        target, where = epochs_to_best(self.ctx, self.f)
        return self.rec(
            rule, self.ctx.n_epochs, target, f"{where}; {self._lost()}", "stops training near the best validation point"
        )

    def _underfit_smaller_batch(self, rule: str) -> Recommendation:
        ctx = self.ctx
        assert ctx.batch_size is not None
        new_b = float(max(1, math.floor(ctx.batch_size / LR_FACTOR)))
        if ctx.n_examples:
            new_b = min(new_b, float(max(1, math.floor(ctx.n_examples / TARGET_STEPS_PER_EPOCH))))
        spe = f"{ctx.steps_per_epoch:g}" if ctx.steps_per_epoch is not None else "few"
        return self.rec(
            rule,
            ctx.batch_size,
            new_b,
            f"only {spe} optimizer update(s) per epoch"
            + (f" ({_fmt(ctx.n_examples)} examples, batch {_fmt(ctx.batch_size)})" if ctx.n_examples else "")
            + f"; {self._still()}",
            "more updates per epoch for the same compute",
        )

    def _underfit_higher_lr(self, rule: str) -> Recommendation:
        ctx, f = self.ctx, self.f
        lr = ctx.learning_rate
        new = round_sig(lr * LR_FACTOR) if lr is not None else None
        in_range = ctx.lr_is_multiplier and lr is not None and lr < LRM_MAX
        if new is not None and in_range:
            new = min(new, LRM_MAX)
        where = (
            f"the multiplier {_fmt(lr)} is in the lower part of OpenAI's range {LRM_MIN:g}-{LRM_MAX:g}"
            if in_range
            else f"the {_lr_words(ctx)} is {_fmt(lr)}"
        )
        moved = ""
        if f.train_loss is not None and f.train_loss.first:
            frac = f.train_loss.improvement / abs(f.train_loss.first)
            moved = f"; training loss fell only {100 * frac:.0f}% from its start" if frac < 0.5 else ""
        return self.rec(
            rule,
            lr,
            new,
            where + (f" after {_fmt(ctx.n_epochs)} epochs" if ctx.n_epochs else "") + moved + f"; {self._still()}",
            "larger updates: faster learning in the same number of epochs",
            change=None if lr is not None else f"x{LR_FACTOR:g}",
        )

    def _underfit_more_epochs(self, rule: str) -> Recommendation:
        target, _ = more_epochs(self.ctx, self.f)
        return self.rec(
            rule,
            self.ctx.n_epochs,
            target,
            self._still()
            + (
                "; OpenAI suggests 1-2 more epochs at a time"
                if target is not None
                else "; add 1-2 epochs (pass --n-epochs for a value)"
            ),
            "more passes let validation keep improving",
            change=None if target is not None else "+1..2",
        )

    def _inconclusive_more_epochs(self, rule: str) -> Recommendation:
        return self.rec(
            rule,
            self.ctx.n_epochs,
            3.0,
            f"only {self.f.n_val_points} validation point(s) over {_fmt(self.ctx.n_epochs)} epoch(s): too short to judge",
            "enough evaluations to see the curve's shape, and more training",
        )

    def _inconclusive_keep(self, rule: str) -> Recommendation:
        return self.rec(
            rule,
            self.ctx.n_epochs,
            self.ctx.n_epochs,
            f"no verdict ({self.d.reason or 'inconclusive'}): log validation metrics (a validation file, "
            "an evaluation per epoch) so the next run can be judged",
            "a run that can be diagnosed",
        )

    def _good_fit_keep(self, rule: str) -> Recommendation:
        val = self.f.val
        if val is not None:
            be = best_epoch(self.ctx, self.f)
            where = f"epoch {be:.2g}" if be is not None else f"step {val.best_step:g}"
            ckpt = (
                "the final checkpoint (within noise of the best)"
                if val.loss_since_best_noise <= 1.0
                else f"the checkpoint nearest {where}, where validation was best ({_metric_value(val, val.best)})"
            )
            reason = f"validation {val.name} {self._good_fit_state(val, where)}; use {ckpt}"
            vl = self.f.val_loss
            if self.f.n_val_points < MIN_VAL_POINTS:
                # no curve: the verdict rests on the amount of training (diagnosis.few_points)
                reason = (
                    f"only {self.f.n_val_points} validation point(s), so the curve cannot show whether validation "
                    "converged; by the amount of training, one more epoch or a larger multiplier is not expected "
                    "to beat seed-to-seed noise. Use the final checkpoint; evaluate more often to confirm"
                )
            elif vl is not None and vl is not val and _still_improving(vl):
                # the task metric decided; say when the loss disagrees by still falling beyond noise
                reason += (
                    f"; validation {vl.name} was still falling at its last evaluation "
                    f"({_metric_value(vl, vl.first)} -> {_metric_value(vl, vl.last)}, {vl.improvement_noise:.1f} "
                    "noise units): a longer run would show whether the metric follows"
                )
        else:
            reason = "the run fit well; keep the final checkpoint"
        return self.rec(
            rule,
            self.ctx.n_epochs,
            self.ctx.n_epochs,
            reason + "; keep the other settings too",
            "the same settings should generalize as well again",
        )

    def _good_fit_state(self, val: Any, where: str) -> str:
        """What the validation curve did, in words that agree with the evidence.

        A good-fit verdict covers several shapes: a curve that levelled off; one
        that gave back a little (more than one noise unit, too little to expect
        a shorter run to generalize better); one still edging up, where the tail
        fit's interval reaches zero; and one still rising, which the verdict's
        other inputs outweighed. Saying "did not get worse" of the second, or
        "converged" of the last two, would contradict the evidence above it.
        """
        best = _metric_value(val, val.best)
        lost = val.loss_since_best_noise
        if lost > 1.0:
            return (
                f"was best at {where} ({best}) and ended at {_metric_value(val, val.last)}, "
                f"{lost:.1f} noise units lower: too little to expect a shorter run to generalize better"
            )
        p = self.f.projection
        if p is not None and p.gain > 0 and val.tail_slope_noise > 1.0:
            interval = f"95% interval {change(val, p.low)} to {change(val, p.high)}"
            if p.low > 0:
                return (
                    f"ended at {_metric_value(val, val.last)} and a fit of its last {p.n_fit} points still "
                    f"points up ({change(val, p.gain)} from {more_training(p)}, {interval}), though not by enough to "
                    "outweigh the rest of the evidence for a good fit; one more epoch is the trial if you want more"
                )
            return (
                f"ended at {_metric_value(val, val.last)}, within noise of its best and still edging up; "
                f"the gain from more training is uncertain ({interval})"
            )
        return f"levelled off at {best} and ended within noise of it"

    def _noise_larger_batch(self, rule: str) -> Recommendation:
        found = {x.name for x in self.d.findings}
        if "noisy_training" in found:
            why = "training loss is noisy"
        elif "loss_spikes" in found:
            why = "training loss has spikes"
        else:
            why = "the run overfits; fewer, smoother updates per epoch"
        return self.rec(
            rule,
            self.ctx.batch_size,
            _larger_batch_value(self.ctx),
            why,
            "less gradient noise per update (the noise falls as 1/sqrt(batch))",
        )

    def _prompt_lower(self, rule: str) -> Recommendation:
        w = self.ctx.prompt_loss_weight
        return self.rec(
            rule,
            w,
            PLW_USUAL,
            f"prompt_loss_weight {_fmt(w)} makes prompt tokens weigh heavily in the loss (usual value {PLW_USUAL:g})",
            "the loss follows the completions; less echoing of prompts",
        )

    def _prompt_raise_zero(self, rule: str) -> Recommendation:
        return self.rec(
            rule,
            self.ctx.prompt_loss_weight,
            PLW_USUAL,
            "prompt_loss_weight 0 can destabilize training; the usual value is 0.01",
            "a little signal from the prompts steadies training",
        )


def _still_improving(c: Any) -> bool:
    """Best at the last evaluation, and its last third still improving by more than
    2 noise units (with a significant Mann-Kendall trend when there are 4 points or
    more to test it on)."""
    return bool(
        c.n >= 2
        and c.loss_since_best <= 0
        and c.tail_slope_noise > NOISE_UNITS
        and (c.n < 4 or (c.tail_tau > 0 and c.tail_p < TREND_P))
    )


def _metric_value(stats: Any, v: float) -> str:
    if stats.sign > 0 and 0 <= v <= 1:
        return f"{100 * v:.1f}%"
    return f"{v:.4g}"
