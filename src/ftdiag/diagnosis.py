"""The verdict: label, confidence, evidence sentences and further findings.

The label answers a counterfactual question: would less training (fewer
epochs, a smaller learning-rate multiplier) have generalized better
(``overfit``), would more training have (``underfit``), or neither
(``good_fit``)? ``inconclusive`` is said when the log cannot support a verdict.

How the label is chosen:

1. A log with no validation data is ``inconclusive``, with the reason (and
   what training loss alone shows, in the findings). So is one with fewer than
   ``MIN_VAL_POINTS`` validation points when the learning-rate multiplier and
   the amount of training are unknown; when they are known, a model fitted on
   such runs alone (``few_points``) judges them from the amount of training
   and the validation/training loss ratio, at the low confidence it earns, with
   the ``few_validation_points`` finding beside the label.
2. Otherwise a small multinomial logistic regression over a handful of named
   curve statistics (and, when the user gave them, the learning-rate multiplier
   and the amount of training) gives a probability for each label. Its
   coefficients live in ``_verdict_model.py``, written by
   ``benchmarks/fit_verdict_model.py`` from the labeled corpus (checked leaving
   one task out at a time). The evidence names the inputs that pushed the
   verdict most, with their numbers, and the curve facts a reader checks
   (best point, Prechelt's GL, patience-3 early stopping, the trend after the
   best point, the train-validation gap, what more training would bring).
3. The confidence is the model's probability for the label, temperature-scaled
   so that it matches accuracy on the corpus, and shrunk toward 1/3 when the
   curve has few validation points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .features import GL_STOP, PATIENCE, CurveStats, Features, Projection
from .run import Run, epoch_at

LABELS = ("underfit", "good_fit", "overfit")
ALL_LABELS = LABELS + ("inconclusive",)

# Fewer than this many validation points carry no curve to judge: one point has
# no shape, two make a line whose direction is within noise as often as not
# (and on the labeled corpus the gradient-boosted reference does no better than
# chance on them). Issue 8: say "inconclusive" rather than guess.
MIN_VAL_POINTS = 3
# A run of one or two optimizer steps has barely moved from the base model:
# whatever its curves show is the starting point, not the fit.
MIN_STEPS = 3

# A change is real when it exceeds this many noise units of a smoothed point
# (two sigma: a ~5% false-alarm rate on a flat curve with Gaussian noise).
NOISE_UNITS = 2.0
# Google's tuning playbook: when the best validation point falls in the last
# part of training, "train longer". We use the last quarter.
LATE_BEST = 0.75
# A p-value below this makes a trend worth stating (one-in-ten false alarms on
# a flat curve: this is evidence for a reader, not a test decision).
TREND_P = 0.1
# OpenAI's recommended range for the learning-rate multiplier.
LRM_RANGE = (0.02, 0.2)
# Training loss still at half of its first value after the whole run, and flat
# over the last half: learning has stalled rather than converged.
PLATEAU_FRACTION = 0.5
# Spikes and noise on training loss: a noise band above a quarter of the
# starting loss means the per-step loss is mostly noise (tiny batches, too high
# a learning rate).
NOISY_TRAINING = 0.25
# The validation curve's noise band is more than half of all it moved: any
# single point says little; the smoothed curve is what counts.
NOISY_VALIDATION = 0.5
# A first evaluation already this far apart (beyond 3 noise units and 10
# accuracy points, or a 20% loss ratio), before there was time to overfit,
# points at the data, not the training.
EARLY_GAP_ACC = 0.10
EARLY_GAP_LOSS = math.log(1.2)
# Validation loss within 15% of training loss: little has been fit beyond
# what generalizes (the seed's underfit case has 1.03x, its overfit case 14x).
SMALL_LOSS_GAP = math.log(1.15)
# An accuracy-like task metric this low on the *training* data means the model
# has not fit even what it has seen (the seed's 60%/58% case).
LOW_TRAIN_ACCURACY = 0.7
# Training loss that fell less than 10% over the whole run, with validation
# never moving beyond noise: nothing is being learned.
NOT_LEARNING = 0.10
# The confidence of a diverged run's "overfit" (see ``divergence``): the three
# runs of the labeled corpus whose training loss diverged with validation
# following are all overfit, a rate of (3+1)/(3+2) = 0.8 with Laplace's rule;
# rounded down to 0.75 because three runs are thin evidence.
DIVERGED_CONFIDENCE = 0.75
# A validation curve that rose more than this many noise units has clearly
# learned: if it is flat at the end, it has converged rather than never started
# (the "nothing learned" case is under 2 noise units).
CONVERGED_IMPROVEMENT = 10.0
# ... and one more epoch (or a quarter more training) would add less than 1% of
# what the run gained in total: returns a rerun would not notice.
CONVERGED_GAIN_SHARE = 0.01
# A clear overfit curve gave back at least a tenth of what it had gained: a
# smaller fall from a long climb is within what seed-to-seed noise forgives
# (on the labeled corpus, none of the 6 otherwise clear overfit curves below a
# tenth is labelled overfit).
CLEAR_SHARE_LOST = 0.1
# The confidence given to a clear case: the share of such verdicts that are
# right on the labeled corpus analysed without hyperparameters (measured:
# underfit 196/326 = 0.60, good_fit 236/333 = 0.71, overfit 19/49 = 0.39;
# overfitting there is mostly "learning rate too high", and a falling
# validation curve is often within what the seed-to-seed noise forgives).
CLEAR_CONFIDENCE = {"underfit": 0.60, "good_fit": 0.71, "overfit": 0.39}
# A finely logged training loss (at least this many points: per-step logs)
# still falling at the end, significantly (Mann-Kendall p < 0.1 over its last
# third) and by more than 2 noise units, with validation loss within 15% of
# it: more training is still being absorbed and little of it is fit beyond
# what generalizes. On the labeled corpus's runs of 3 validation points or
# more where this holds, 89 of 105 are underfit (85%; 79-91% on the three
# tasks with more than 3 such runs, 0 of 3 on the other two). A run
# with only 1-3 validation points cannot show its curve, so this reading of
# the training curve decides there (on the corpus no run of 1-2 points logs
# a training curve this fine, so it was not measured on them).
TRAIN_CURVE_MIN_POINTS = 8
# ... with a confidence below the 85% measured on longer runs: on short runs
# the corpus labels most runs that learned little good_fit (no single
# neighbouring change rescued them), so it is held at the clear cases' 0.60.
TRAIN_FALLING_CONFIDENCE = 0.60


@dataclass(frozen=True)
class Finding:
    name: str
    severity: str  # "info", "warning" or "error"
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "severity": self.severity, "message": self.message}


@dataclass(frozen=True)
class Diagnosis:
    label: str
    confidence: float
    evidence: tuple[str, ...]
    findings: tuple[Finding, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    reason: str | None = None  # why inconclusive
    model: str | None = None  # which fitted model decided
    inputs: dict[str, float] = field(default_factory=dict)  # the model's named inputs


# --------------------------------------------------------------------------
# formatting helpers


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:.{digits}g}"
    return f"{x:.{digits}g}" if abs(x) >= 100 else f"{x:.{digits}f}".rstrip("0").rstrip(".") or "0"


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _signed_pct(x: float) -> str:
    return f"{'+' if x >= 0 else '-'}{abs(100 * x):.1f}%"


def _is_acc(stats: CurveStats) -> bool:
    return stats.sign > 0 and 0 <= stats.best <= 1 and 0 <= stats.last <= 1


def value(stats: CurveStats, v: float) -> str:
    """Accuracy-like metrics print as percents, losses as numbers."""
    if _is_acc(stats) and 0 <= v <= 1:
        return pct(v)
    return fmt(v)


def change(stats: CurveStats, v: float) -> str:
    """A change in the metric's own units, signed (positive = better)."""
    if _is_acc(stats):
        pts = abs(100 * v)
        return f"{'+' if v >= 0 else '-'}{pts:.{1 if pts >= 0.95 or pts == 0 else 2}f} points"
    return f"{'+' if v >= 0 else '-'}{fmt(abs(v))}"


def more_training(p: Projection) -> str:
    """What a tail projection extrapolates by: '1 more epoch' or 'training 25% longer'."""
    return "1 more epoch" if p.unit == "epoch" else f"training {p.extra:.0%} longer"


def where(run: Run, step: float) -> str:
    """'epoch 5' for epoch logs; 'step 420 (epoch 2.1)' when epochs are known."""
    if run.x_unit == "epoch":
        return f"epoch {fmt(step, 6)}"
    ep = epoch_at(run, step)
    if ep is not None and math.isfinite(ep):
        return f"step {fmt(step, 6)} (epoch {ep:.1f})"
    return f"step {fmt(step, 6)}"


def _where_f(run: Run, f: Features, step: float) -> str:
    if run.x_unit != "epoch" and f.steps_per_epoch and epoch_at(run, step) is None:
        return f"step {fmt(step, 6)} (epoch {step / f.steps_per_epoch:.1f})"
    return where(run, step)


# --------------------------------------------------------------------------
# the model's inputs


def verdict_inputs(f: Features) -> dict[str, float | None]:
    """The named inputs of the verdict model (None = not available).

    Clipping keeps one extreme curve from deciding alone; each range is wide
    enough that the labeled corpus rarely reaches it.
    """
    val = f.val
    out: dict[str, float | None] = {}
    if f.lrm and f.lrm > 0:
        out["lr_multiplier"] = math.log10(f.lrm)
        out["training_budget"] = (
            math.log10(f.lrm * f.total_steps) if f.total_steps and f.total_steps > 0 else None
        )
    else:
        out["lr_multiplier"] = out["training_budget"] = None
    out["loss_gap"] = _clip(f.loss_gap_final, -2.0, 5.0)
    if val is not None and f.projection is not None and val.noise_smoothed > 0:
        out["projected_gain"] = _clip(f.projection.gain / val.noise_smoothed, -10.0, 10.0)
        out["projection_sure"] = 1.0 if f.projection.low > 0 else 0.0
    else:
        out["projected_gain"] = out["projection_sure"] = None
    if val is not None and math.isfinite(val.improvement_noise):
        out["improvement"] = _clip(math.log1p(max(val.improvement_noise, 0.0)), 0.0, 5.0)
        out["drop_since_best"] = _clip(val.loss_since_best_noise, 0.0, 10.0)
        out["share_lost"] = share_lost(val)
        out["best_position"] = val.best_position
    else:
        out["improvement"] = out["drop_since_best"] = out["share_lost"] = out["best_position"] = None
    return out


def share_lost(val: CurveStats) -> float:
    """The share of what validation gained (first point to best) that it gave
    back by the end: 0 = ended at its best, 1 = back where it started.

    Scale-free, unlike noise units (whose size depends on each task's metric
    and validation-set size), so it reads the same on tasks not seen. Capped
    at 2 (ended twice as far below its start as it ever rose). A curve whose
    best was its first point never gained anything to give back: 0 (its fall
    is in ``drop_since_best``; leaving one task out, this does better than
    counting it as all lost).
    """
    if val.loss_since_best <= 0 or val.improvement <= 0:
        return 0.0
    return max(0.0, min(2.0, val.loss_since_best / val.improvement))


def _clip(x: float | None, lo: float, hi: float) -> float | None:
    if x is None or not math.isfinite(x):
        return None if x is None or math.isnan(x) else (hi if x > 0 else lo)
    return max(lo, min(hi, x))


def predict(model: Mapping[str, Any], inputs: Mapping[str, float | None], n_val: int) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Label probabilities and each input's contribution to each label's logit.

    A missing input is replaced by its training mean (it contributes nothing).
    The logits are divided by the fitted temperature, times a factor that grows
    when the curve has few points (thin evidence makes a less certain verdict).
    """
    names: list[str] = model["features"]
    labels: list[str] = model["labels"]
    contrib: dict[str, list[float]] = {}
    logits = list(model["intercept"])
    for j, name in enumerate(names):
        x = inputs.get(name)
        z = 0.0 if x is None else (x - model["mean"][j]) / model["scale"][j]
        contrib[name] = [model["coef"][k][j] * z for k in range(len(labels))]
        for k in range(len(labels)):
            logits[k] += contrib[name][k]
    thin = model.get("thin", 0.0) / max(n_val - MIN_VAL_POINTS + 1, 1)
    t = model.get("temperature", 1.0) * (1.0 + thin)
    m = max(logits)
    ex = [math.exp((v - m) / t) for v in logits]
    z = sum(ex)
    return {lab: e / z for lab, e in zip(labels, ex, strict=True)}, contrib


def clear_case(f: Features) -> str | None:
    """A verdict any careful engineer would give from the curves alone, or None.

    Used only without hyperparameters, where the fitted curves-only model is
    weak (about as good as the simple rules on tasks it has not seen) and can
    contradict a plain reading. Overfit: the validation metric fell from its
    best by more than 2 noise units, the points after the best trend worse
    (Mann-Kendall p < 0.1 over at least 4 points), giving back at least
    a tenth of what it had gained, and validation loss agrees
    (Prechelt GL above 5%). Underfit: the best is in the last quarter, the tail
    fit predicts a gain of more than 2 noise units from more training with its
    whole 95% interval above zero, and validation loss is still within 15% of
    training loss (or none was logged); or nothing learned (validation never
    moved beyond noise, or validation loss never fell 10% below its start, and
    training loss fell less than 10%); or the training
    accuracy is below 70% with validation close to training (the model has not
    fit even what it has seen). Good fit: converged (validation rose more
    than 10 noise units overall, ended within 2 of its best, and the tail fit's
    whole 95% interval for more training within 1 noise unit and its gain
    under 1% of the whole climb); or
    validation within 2 noise units of its best, the tail fit predicting less
    than 2 noise units from more training, and a model that has fit its
    training data (loss gap beyond 15%, training accuracy at least 70%), and no
    significant rise at the tail (Mann-Kendall p < 0.1).
    """
    val = f.val
    assert val is not None
    vl = f.val_loss
    loss_agrees = vl is None or vl is val or (vl.generalization_loss or 0.0) > GL_STOP
    if (
        val.loss_since_best_noise > NOISE_UNITS
        and val.best_position < 0.9
        and val.after_best_n >= 4
        and val.after_best_tau < 0
        and val.after_best_p < TREND_P
        and share_lost(val) >= CLEAR_SHARE_LOST
        and loss_agrees
    ):
        return "overfit"
    p = f.projection
    if (
        p is not None
        and val.best_position >= LATE_BEST
        and p.low > 0
        and val.noise_smoothed > 0
        and p.gain > NOISE_UNITS * val.noise_smoothed
        and (f.loss_gap_final is None or f.loss_gap_final < SMALL_LOSS_GAP)
    ):
        return "underfit"
    tl = f.train_loss
    # validation loss that never fell 10% below its start: a task metric moving
    # without it is chance-level jitter (accuracy around 1/k on k classes)
    vl_flat = vl is not None and vl.first > 0 and vl.best > (1 - NOT_LEARNING) * vl.first
    if (
        (val.improvement_noise < NOISE_UNITS or vl_flat)
        and tl is not None
        and tl.first > 0
        and tl.last > (1 - NOT_LEARNING) * tl.first
    ):
        return "underfit"  # nothing learned: validation never moved, training loss barely fell
    still_improving = val.tail_tau > 0 and val.tail_p < TREND_P
    train = f.train_metric
    small_gap = f.loss_gap_final is not None and f.loss_gap_final < SMALL_LOSS_GAP
    if (
        f.primary == "metric"
        and train is not None
        and _is_acc(train)
        and max(train.raw) > min(train.raw)
        and train.last < LOW_TRAIN_ACCURACY
        and small_gap
        and val.loss_since_best_noise <= NOISE_UNITS
    ):
        return "underfit"
    if (
        p is not None
        and val.noise_smoothed > 0
        and val.improvement_noise > CONVERGED_IMPROVEMENT
        and val.loss_since_best_noise <= NOISE_UNITS
        and abs(p.low) <= val.noise_smoothed
        and abs(p.high) <= val.noise_smoothed
        and abs(p.gain) < CONVERGED_GAIN_SHARE * val.improvement
    ):
        return "good_fit"  # converged: a long climb that has flattened out, whatever the loss gap
    if (
        val.loss_since_best_noise <= NOISE_UNITS
        and p is not None
        and val.noise_smoothed > 0
        and abs(p.gain) <= NOISE_UNITS * val.noise_smoothed
        and not small_gap
        and not still_improving
        and (train is None or not _is_acc(train) or train.last >= LOW_TRAIN_ACCURACY)
    ):
        return "good_fit"
    return None


def too_few_steps(f: Features) -> bool:
    """Fewer than ``MIN_STEPS`` optimizer steps (a step-level log)."""
    return f.x_unit == "step" and 0 < f.last_step < MIN_STEPS


def train_still_falling(f: Features) -> bool:
    """The training loss is still falling at the end beyond noise, with
    validation loss close to it (see ``TRAIN_CURVE_MIN_POINTS``)."""
    tl = f.train_loss
    return bool(
        tl is not None
        and tl.n >= TRAIN_CURVE_MIN_POINTS
        and tl.tail_tau > 0
        and tl.tail_p < TREND_P
        and tl.tail_slope_noise > NOISE_UNITS
        and f.loss_gap_final is not None
        and f.loss_gap_final < SMALL_LOSS_GAP
    )


def train_falling_evidence(f: Features) -> str:
    tl = f.train_loss
    assert tl is not None and f.loss_gap_final is not None
    return (
        f"training loss was still falling at the end: {fmt(tl.first)} to {fmt(tl.last)}, and over its last third "
        f"by {tl.tail_slope_noise:.1f} noise units (Mann-Kendall p={tl.tail_p:.2g}), with validation loss "
        f"{math.exp(f.loss_gap_final):.2f}x the training loss: more training is still being absorbed"
    )


def train_loss_diverged(f: Features) -> bool:
    """Training loss climbed back far above its best: more than 1.5x its best
    value and 8 noise units (4x the usual 2: per-step loss is noisy), from a
    best in the first 80% of training (a late best is ordinary noise at the end
    of a converged run), over at least 5 points."""
    tl = f.train_loss
    return bool(
        tl is not None
        and tl.n >= 5
        and tl.loss_since_best_noise > 4 * NOISE_UNITS
        and tl.best_position < 0.8
        and tl.best > 0
        and tl.last > 1.5 * tl.best
    )


def nonfinite_end(run: Run) -> float | None:
    """The step from which the training loss is NaN or infinite to the end of the
    log (after finite values), or None: a loss that ends non-finite means the
    weights themselves overflowed, and the final model is unusable."""
    s = run.train_loss
    if s is None or len(s.values) == 0:
        return None
    vals = s.values
    i = len(vals) - 1
    while i >= 0 and not math.isfinite(float(vals[i])):
        i -= 1
    if i < 0 or i == len(vals) - 1:
        return None
    return float(s.steps[i + 1])


def divergence(run: Run, f: Features) -> str | None:
    """Why the run diverged (the evidence's headline), or None.

    A diverged run answers the verdict's question plainly: stopping before the
    blow-up, or a smaller learning rate, would have generalized better than the
    final weights, so it is ``overfit`` (the advice is to lower the learning
    rate), whatever the curves before it suggest. Either the training loss
    ended NaN/inf, or it climbed back far above its best
    (:func:`train_loss_diverged`) while validation also fell more than 2 noise
    units from its best (or has no point after the blow-up began): a loss
    spike that validation did not follow is left to the model.
    """
    val = f.val
    unit = "epoch" if run.x_unit == "epoch" else "step"
    bad = nonfinite_end(run)
    if bad is not None:
        return (
            f"training diverged: the training loss is NaN or infinite from {unit} {fmt(bad, 6)} to the end of the log, "
            "so the final weights are unusable; the curves before it are judged below"
        )
    tl = f.train_loss
    if tl is None or val is None or not train_loss_diverged(f):
        return None
    val_followed = val.loss_since_best_noise > NOISE_UNITS or val.last_step < tl.best_step
    if not val_followed:
        return None
    return (
        f"training diverged: training loss rose from its best {fmt(tl.best)} ({unit} {fmt(tl.best_step, 6)}) to "
        f"{fmt(tl.last)} at the end ({tl.loss_since_best_noise:.0f} noise units), and validation {val.name} fell "
        f"from its best {value(val, val.best)} to {value(val, val.last)}"
    )


def choose_model(
    inputs: Mapping[str, float | None], models: Mapping[str, Mapping[str, Any]], n_val: int | None = None
) -> str:
    """The model with hyperparameters when the user gave them, else curves only.

    With hyperparameters and exactly ``MIN_VAL_POINTS`` validation points, the
    ``three_points`` model: three points have no shape to read (the tail fit
    rests on one degree of freedom, "since the best" on one point), so it
    reads the amount of training and the loss ratio only. With one or two
    points, ``few_points`` (the same inputs, fitted on such runs), or
    ``"inconclusive"`` without hyperparameters: the curves-only model has
    nothing left to read.
    """
    if n_val is not None and n_val < MIN_VAL_POINTS:
        # one or two points: only the hyperparameters' model can judge them
        if inputs.get("training_budget") is not None and "few_points" in models:
            return "few_points"
        return "inconclusive"
    if inputs.get("training_budget") is not None and "with_hyperparameters" in models:
        if n_val == MIN_VAL_POINTS and "three_points" in models:
            return "three_points"
        return "with_hyperparameters"
    return "curves_only"


# --------------------------------------------------------------------------
# findings


def findings_for(run: Run, f: Features) -> list[Finding]:
    out: list[Finding] = []
    unit = "epoch" if run.x_unit == "epoch" else "step"
    if f.first_nonfinite_step is not None:
        out.append(
            Finding(
                "nan_or_inf",
                "error",
                f"non-finite values (NaN or inf) from {unit} {fmt(f.first_nonfinite_step, 6)}: the run "
                "diverged or overflowed there; the verdict reads only the finite values before and after",
            )
        )
    tl = f.train_loss
    if tl is not None and train_loss_diverged(f):
        out.append(
            Finding(
                "divergence",
                "error",
                f"training loss rose from its best {fmt(tl.best)} ({unit} {fmt(tl.best_step, 6)}) to "
                f"{fmt(tl.last)} at the end ({tl.loss_since_best_noise:.0f} noise units): training diverged; "
                "a smaller learning rate is the usual cure",
            )
        )
    if f.train_spikes:
        out.append(
            Finding(
                "loss_spikes",
                "warning",
                f"{f.train_spikes} training-loss spike(s) more than 6 noise units above the running median",
            )
        )
    if tl is not None and tl.n >= 8 and tl.first > 0:
        # medians of the third and fourth quarters of the raw curve: robust to spikes
        raw = tl.raw
        q3 = sorted(raw[len(raw) // 2 : 3 * len(raw) // 4])
        q4 = sorted(raw[3 * len(raw) // 4 :])
        m3, m4 = q3[len(q3) // 2], q4[len(q4) // 2]
        moved = abs(m3 - m4)
        if moved < NOISE_UNITS * tl.noise and m4 > PLATEAU_FRACTION * tl.first:
            out.append(
                Finding(
                    "plateau",
                    "warning",
                    f"training loss stayed near {fmt(m4)} over the last half of training (its median moved "
                    f"{fmt(moved)} between the third and last quarters, within the noise band ±{fmt(tl.noise)}) "
                    f"while still at {pct(m4 / tl.first)} of its first value {fmt(tl.first)}: learning "
                    "stalled (learning rate too small or too large, or too little capacity)",
                )
            )
    if not run.has_validation:
        msg = "no validation data: training loss alone cannot show overfitting or tell a good fit from a memorized one"
        if tl is not None and tl.n >= 2:
            falling = tl.tail_tau > 0 and tl.tail_p < TREND_P
            msg += (
                f"; it can show whether training converged: training loss went from {fmt(tl.first)} to "
                f"{fmt(tl.last)}"
                + (
                    f" and was still falling at the end (Mann-Kendall p={tl.tail_p:.2g}), so more training "
                    "would at least fit the training data better"
                    if falling
                    else " and had flattened by the end"
                )
            )
        out.append(Finding("no_validation", "warning", msg + ". Log a validation set to get a verdict."))
    elif f.n_val_points < MIN_VAL_POINTS:
        out.append(
            Finding(
                "few_validation_points",
                "warning",
                f"only {f.n_val_points} validation point(s): too few to see a trend "
                f"(at least {MIN_VAL_POINTS} are needed); evaluate more often (e.g. every epoch or every few hundred steps)",
            )
        )
    if f.loss_metric_disagree and f.val_loss is not None and f.val_metric is not None:
        vl, vm = f.val_loss, f.val_metric
        out.append(
            Finding(
                "loss_metric_disagree",
                "info",
                f"validation loss and {vm.name} disagree: the loss rose {fmt(vl.generalization_loss, 2)}% from its best "
                f"at {_where_f(run, f, vl.best_step)} while {vm.name} ended at {value(vm, vm.last)} "
                f"(best {value(vm, vm.best)} at {_where_f(run, f, vm.best_step)}); a common pattern when a fine-tuned "
                f"model grows over-confident on the tokens it gets wrong. The verdict follows {vm.name}",
            )
        )
    val = f.val
    if val is not None and val.n >= 8 and val.noise > 0:
        moved = abs(val.improvement) + abs(val.loss_since_best)
        if val.noise > NOISY_VALIDATION * max(moved, 1e-12):
            out.append(
                Finding(
                    "noisy_validation",
                    "info",
                    f"validation {val.name} is noisy: point-to-point noise ±{fmt(val.noise)} against an overall "
                    f"movement of {fmt(moved)}; it is judged on the smoothed curve (debiased EMA, weight "
                    f"{val.smoothing_weight:.2f}) against that noise band",
                )
            )
    if tl is not None and tl.n >= 20 and tl.noise > NOISY_TRAINING * max(abs(tl.first), 1e-12):
        out.append(
            Finding(
                "noisy_training",
                "info",
                f"training loss is noisy (noise ±{fmt(tl.noise)} against a starting loss of {fmt(tl.first)}): "
                "small batches or a high learning rate",
            )
        )
    out.extend(_early_gap_findings(run, f))
    return out


def _early_gap_findings(run: Run, f: Features) -> list[Finding]:
    val, train = f.val, f.train
    out: list[Finding] = []
    if val is None or train is None or f.gap_first is None or val.n < 2:
        return out
    early = val.first_step <= 0.3 * max(f.last_step, 1e-12) or val.n >= 3
    if not early:
        return out
    noise = 3 * max(val.noise_smoothed, 1e-12)
    if _is_acc(val):
        big_worse = f.gap_first > max(noise, EARLY_GAP_ACC)
        big_better = -f.gap_first > max(noise, EARLY_GAP_ACC)
    else:
        lg = math.log(max(val.first, 1e-12) / max(_train_at(train, val.first_step), 1e-12))
        big_worse = f.gap_first > noise and lg > EARLY_GAP_LOSS
        big_better = -f.gap_first > noise and -lg > EARLY_GAP_LOSS
    at = _where_f(run, f, val.first_step)
    tv = _train_at(train, val.first_step)
    if big_worse and f.gap_final is not None and f.gap_final > 0:
        out.append(
            Finding(
                "val_worse_from_start",
                "info",
                f"validation was already worse than training at the first evaluation ({at}: train "
                f"{value(train, tv)}, validation {value(val, val.first)}), before there was time to overfit: "
                "the validation data may differ from the training data (distribution shift)",
            )
        )
    if big_better and f.gap_final is not None and f.gap_final < 0:
        out.append(
            Finding(
                "val_better_than_train",
                "info",
                f"validation is better than training from the first evaluation ({at}: train {value(train, tv)}, "
                f"validation {value(val, val.first)}) to the last: regularization such as dropout, an easier "
                "validation set, or leakage of training examples into it",
            )
        )
    return out


def _train_at(train: CurveStats, step: float) -> float:
    xs, ys = train.steps, train.smoothed
    if not xs:
        return float("nan")
    if step <= xs[0]:
        return ys[0]
    for i in range(1, len(xs)):
        if step <= xs[i]:
            a = (step - xs[i - 1]) / (xs[i] - xs[i - 1]) if xs[i] != xs[i - 1] else 1.0
            return ys[i - 1] + a * (ys[i] - ys[i - 1])
    return ys[-1]


# --------------------------------------------------------------------------
# evidence sentences


def curve_evidence(run: Run, f: Features) -> dict[str, str]:
    """The facts a reader checks, keyed by the model input they belong to."""
    val = f.val
    assert val is not None
    out: dict[str, str] = {}
    w = lambda s: _where_f(run, f, s)  # noqa: E731
    noise = f"noise band ±{value(val, val.noise_smoothed) if not _is_acc(val) else pct(val.noise_smoothed)}"
    if val.loss_since_best > 0:
        trend = ""
        if val.after_best_n >= 4:
            direction = "worsening" if val.after_best_tau < 0 else "improving" if val.after_best_tau > 0 else "flat"
            sig = "" if val.after_best_p < TREND_P else ", not significant"
            trend = (
                f"; the {val.after_best_n} points after it trend {direction} "
                f"(Mann-Kendall tau={val.after_best_tau:+.2f}, p={val.after_best_p:.2g}{sig})"
            )
        out["drop_since_best"] = (
            f"validation {val.name} was best at {w(val.best_step)} ({value(val, val.best)}) and ended at "
            f"{value(val, val.last)}, {change(val, -val.loss_since_best)} or {val.loss_since_best_noise:.1f} noise "
            f"units ({noise}), "
            + (
                f"giving back {share_lost(val):.0%} of what it had gained"
                if share_lost(val) >= 0.005
                else "giving back under 1% of what it had gained"
                if val.improvement > 0
                else "never better than at its first evaluation"
            )
            + trend
        )
    else:
        out["drop_since_best"] = (
            f"validation {val.name} was best at the end ({w(val.best_step)}: {value(val, val.best)}; {noise})"
        )
    out["best_position"] = (
        f"the best validation point came at {pct(val.best_position)} of training"
        + (" (last quarter: the tuning playbook's sign to train longer)" if val.best_position >= LATE_BEST else "")
    )
    out["improvement"] = (
        f"validation {val.name} moved from {value(val, val.first)} to its best {value(val, val.best)} "
        f"({val.improvement_noise:.1f} noise units)"
    )
    vl = f.val_loss
    if vl is not None and vl.n >= MIN_VAL_POINTS:
        stops = []
        if vl.patience_stop_step is not None:
            stops.append(f"early stopping with patience {PATIENCE} would have stopped at {w(vl.patience_stop_step)}")
        else:
            stops.append(f"early stopping with patience {PATIENCE} would not have stopped")
        if vl.gl_exceeded_step is not None:
            stops.append(f"GL exceeded {GL_STOP:g}% at {w(vl.gl_exceeded_step)}")
        else:
            stops.append(f"GL never exceeded {GL_STOP:g}%")
        gl = vl.generalization_loss
        out["gl"] = "; ".join(stops) + (
            f" (validation loss ended {fmt(gl, 2)}% above its minimum {fmt(vl.best)} at {w(vl.best_step)})"
            if gl is not None
            else ""
        )
    if f.loss_gap_final is not None:
        ratio = math.exp(f.loss_gap_final)
        at_best = (
            f", {math.exp(f.loss_gap_at_best):.2f}x at the validation loss's best point" if f.loss_gap_at_best is not None else ""
        )
        tl = f.train_loss
        out["loss_gap"] = (
            f"validation loss is {ratio:.2f}x the training loss at the end"
            + (f" ({fmt(vl.last)} vs {fmt(tl.last)})" if vl is not None and tl is not None else "")
            + at_best
            + (
                ": both curves are still close, little has been fit beyond what generalizes"
                if 1 / 1.15 < ratio < 1.15
                else ": validation loss is below training loss (dropout or augmentation at training time, "
                "or an easier validation set)"
                if ratio <= 1 / 1.15
                else ""
            )
        )
    train = f.train
    if f.gap_final is not None and train is not None and f.primary == "metric":
        wid = ""
        if f.gap_at_best is not None and f.gap_widening is not None:
            wid = (
                f", {change(val, f.gap_at_best).lstrip('+')} at the best point"
                + (f" (widening by {f.gap_widening:.1f} noise units)" if f.gap_widening > NOISE_UNITS else "")
            )
        out["gap"] = (
            # the training value at the last evaluation (smoothed, as the gap is), not at the
            # last training step: the two numbers must give the gap they are quoted with
            f"train {train.name} {value(train, val.last + val.sign * f.gap_final)} vs validation "
            f"{value(val, val.last)} at the end "
            f"(gap {change(val, f.gap_final).lstrip('+')}{wid})"
        )
    p, p2 = f.projection, f.projection_2
    if p is not None:
        more = more_training(p)
        more2 = "2" if p.unit == "epoch" else f"{(p2.extra if p2 else 0):.0%} longer"
        txt = (
            f"a log-linear fit of the last {p.n_fit} validation points predicts {change(val, p.gain)} "
            f"(95% interval {change(val, p.low)} to {change(val, p.high)}) from {more}"
        )
        if p2 is not None:
            txt += f", {change(val, p2.gain)} from {more2}" + (" more epochs" if p.unit == "epoch" else "")
        out["projected_gain"] = txt
    if f.lrm:
        lo, hi = LRM_RANGE
        rel = (
            f"{f.lrm / hi:.1f}x the top of" if f.lrm > hi else f"{lo / f.lrm:.1f}x below the bottom of" if f.lrm < lo else "within"
        )
        out["lr_multiplier"] = f"learning-rate multiplier {fmt(f.lrm)} is {rel} OpenAI's recommended range {lo}-{hi}"
        if f.total_steps:
            out["training_budget"] = (
                f"training amounted to {fmt(f.total_steps, 6)} optimizer steps at multiplier {fmt(f.lrm)} "
                f"(multiplier x steps = {fmt(f.lrm * f.total_steps)})"
            )
    return out


# --------------------------------------------------------------------------
# the verdict


def _inconclusive(findings: list[Finding], reason: str, why: str) -> Diagnosis:
    return Diagnosis("inconclusive", 0.0, (why,), tuple(findings), reason=reason)


def _stated_confidence(probs: dict[str, float], label: str, conf: float) -> dict[str, float]:
    """The label's probability replaced by ``conf``, the others rescaled to sum
    to one with it."""
    rest = 1 - probs[label]
    return {lab: conf if lab == label else (v / rest * (1 - conf) if rest > 0 else 0.0) for lab, v in probs.items()}


def _few_loss_gap(f: Features) -> str:
    """The validation/training loss ratio as read on one or two points."""
    assert f.loss_gap_final is not None
    ratio = math.exp(f.loss_gap_final)
    tl, vl = f.train_loss, f.val_loss
    txt = f"validation loss is {ratio:.2f}x the training loss at the end" + (
        f" ({fmt(vl.last)} vs {fmt(tl.last)})" if vl is not None and tl is not None else ""
    )
    if f.loss_gap_final < -SMALL_LOSS_GAP and tl is not None and tl.n <= f.n_val_points:
        # Keras and the HF Trainer log the mean training loss over the epoch (or
        # logging interval): validation below it says the loss was still falling
        return txt + (
            ": the training loss logged once an epoch is that epoch's average, so validation below it this "
            "early means the loss was still falling during the epoch"
        )
    if abs(f.loss_gap_final) < SMALL_LOSS_GAP:
        return txt + ": both are still close, little has been fit beyond what generalizes"
    if f.loss_gap_final > 0:
        return txt + ": the model already fits its training data better than new data"
    return txt + ": validation loss is below training loss (dropout or augmentation at training time, or an easier validation set)"


def _few_points(
    run: Run,
    f: Features,
    findings: list[Finding],
    inputs: Mapping[str, float | None],
    model: Mapping[str, Any],
    probs: dict[str, float],
    contrib: Mapping[str, list[float]],
) -> Diagnosis:
    """The verdict of a run with one or two validation points (``few_points``).

    There is no curve to read: no best point, no trend, no tail fit. The
    model reads how much training the run had (multiplier x optimizer steps),
    the multiplier itself and the validation/training loss ratio, and its
    confidence is what such verdicts earned on tasks it had not seen (low).
    The evidence says so first, then the inputs that pushed the label most,
    then what the points and the training curve show.
    """
    val = f.val
    assert val is not None
    model_probs = probs
    falling = train_still_falling(f)
    decides = falling and max(probs, key=lambda k: probs[k]) != "underfit"
    if decides:
        sure = TRAIN_FALLING_CONFIDENCE
        probs = {lab: (sure if lab == "underfit" else (1 - sure) / 2) for lab in LABELS}
    diverged = divergence(run, f)
    if diverged is not None:
        probs = {lab: (DIVERGED_CONFIDENCE if lab == "overfit" else (1 - DIVERGED_CONFIDENCE) / 2) for lab in LABELS}
    label = max(probs, key=lambda k: probs[k])
    if probs is model_probs and "confidence" in model:
        # the share of this model's verdicts that were right on tasks it had
        # not seen: its probabilities do not rank its verdicts by how likely
        # they are right (benchmarks/fit_verdict_model.py, fit_held_out_accuracy)
        probs = _stated_confidence(probs, label, model["confidence"])
    k = list(model["labels"]).index(label)
    sentences = curve_evidence(run, f)
    at = ", ".join(_where_f(run, f, s) for s in val.steps)
    evidence: list[str] = [diverged] if diverged is not None else []
    evidence.append(
        f"only {f.n_val_points} validation point(s) ({at}): the validation curve cannot be read (no best point, "
        "trend or tail fit), so this verdict rests on how much training the run had and on how validation loss "
        "compares with training loss; it is a weak verdict, evaluate more often to confirm it"
    )
    push = {n: c[k] - sum(c) / len(c) for n, c in contrib.items() if inputs.get(n) is not None}
    for n, _ in sorted(push.items(), key=lambda kv: -kv[1]):
        if n == "loss_gap" and f.loss_gap_final is not None:
            txt = _few_loss_gap(f)
        elif n in sentences:
            txt = sentences[n]
        else:
            continue
        # "pushes" only for a push worth a quarter of a logit: below that the input barely moved the verdict
        evidence.append(txt + f"; this pushes the verdict toward {label}" if push[n] > 0.25 else txt)
    if f.n_val_points == 2:
        evidence.append(
            f"between its two evaluations validation {val.name} went from {value(val, val.raw[0])} to "
            f"{value(val, val.raw[-1])} ({change(val, val.sign * (val.raw[-1] - val.raw[0]))}), against a noise "
            f"band that two points cannot estimate"
        )
    tl = f.train_loss
    if falling and label == "underfit":
        evidence.insert(1 if diverged is None else 2, train_falling_evidence(f))
    elif tl is not None and tl.n >= TRAIN_CURVE_MIN_POINTS:
        falling = tl.tail_tau > 0 and tl.tail_p < TREND_P
        evidence.append(
            f"training loss went from {fmt(tl.first)} to {fmt(tl.last)} over the run"
            + (
                f" and was still falling over its last third (Mann-Kendall p={tl.tail_p:.2g}): "
                "more training would at least fit the training data better"
                if falling
                else " and was flat over its last third (no significant trend)"
            )
        )
    evidence.append(
        ("the divergence decides; " if diverged is not None else "")
        + ("the training curve still falling decides; " if diverged is None and decides else "")
        + "model 'few_points' gives "
        + ", ".join(f"{lab} {model_probs[lab]:.2f}" for lab in LABELS if lab in model_probs)
        + (
            f"; the confidence {model['confidence']:.2f} is the share of its verdicts that were right on tasks "
            "it had not seen"
            if "confidence" in model and not decides and diverged is None
            else ""
        )
    )
    used_inputs = {n: float(v) for n, v in inputs.items() if v is not None}
    return Diagnosis(
        label,
        round(probs[label], 3),
        tuple(evidence),
        tuple(findings),
        scores=probs,
        model="few_points",
        inputs=used_inputs,
    )


def diagnose(run: Run, f: Features, models: Mapping[str, Mapping[str, Any]] | None = None) -> Diagnosis:
    """Label, confidence, evidence and findings for one run.

    ``models`` replaces the committed coefficients (used by the evaluation
    script to check the verdict leaving one task out).
    """
    findings = findings_for(run, f)
    val = f.val
    if val is None:
        return _inconclusive(
            findings,
            "no validation data",
            "no validation metric was logged, so generalization cannot be judged (see the no_validation finding "
            "for what the training loss shows)",
        )
    if too_few_steps(f):
        return _inconclusive(
            findings,
            "too few training steps",
            f"the run has only {fmt(f.last_step, 6)} optimizer step(s); at least {MIN_STEPS} are needed "
            "before the curves say anything about fitting",
        )
    if models is None:
        from ._verdict_model import MODELS

        models = MODELS
    inputs = verdict_inputs(f)
    name = choose_model(inputs, models, f.n_val_points)
    if name == "inconclusive":
        return _inconclusive(
            findings,
            "too few validation points",
            f"only {f.n_val_points} validation point(s) (at {', '.join(_where_f(run, f, s) for s in val.steps)}); "
            f"at least {MIN_VAL_POINTS} are needed to see whether validation was still improving or getting worse, "
            "and without the learning-rate multiplier and the amount of training (--learning-rate-multiplier "
            "with --n-examples and --batch-size) there is nothing else to judge by",
        )
    model = models.get(name, {})
    probs, contrib = predict(model, inputs, f.n_val_points)
    if name == "few_points":
        return _few_points(run, f, findings, inputs, model, probs, contrib)
    clear = clear_case(f) if name == "curves_only" else None
    if clear is not None:
        # overwhelming curve evidence wins over the corpus-fitted curves-only model
        sure = CLEAR_CONFIDENCE[clear]
        probs = {lab: (sure if lab == clear else (1 - sure) / 2) for lab in LABELS}
    model_probs = probs
    # three points cannot show the validation curve; a finely logged training
    # curve still falling can (TRAIN_CURVE_MIN_POINTS)
    falling = name == "three_points" and train_still_falling(f) and max(probs, key=lambda k: probs[k]) != "underfit"
    if falling:
        sure = TRAIN_FALLING_CONFIDENCE
        probs = {lab: (sure if lab == "underfit" else (1 - sure) / 2) for lab in LABELS}
    diverged = divergence(run, f)
    if diverged is not None:
        clear = None
        sure = DIVERGED_CONFIDENCE
        probs = {lab: (sure if lab == "overfit" else (1 - sure) / 2) for lab in LABELS}
    label = max(probs, key=lambda k: probs[k])
    k = model["labels"].index(label)
    sentences = curve_evidence(run, f)
    # inputs ranked by how much they pushed this label over the others
    push = {
        n: c[k] - sum(c) / len(c) for n, c in contrib.items() if inputs.get(n) is not None
    }
    key_of = {"training_budget": "training_budget", "lr_multiplier": "lr_multiplier",
              "loss_gap": "loss_gap", "projected_gain": "projected_gain", "projection_sure": "projected_gain",
              "improvement": "improvement", "drop_since_best": "drop_since_best", "share_lost": "drop_since_best",
              "best_position": "best_position"}
    evidence: list[str] = [diverged] if diverged is not None else []
    if falling and label == "underfit":
        evidence.append(train_falling_evidence(f))
    used: set[str] = set()
    # the headline: the curve fact a reader looks for first for this label
    if label == "underfit" and "projected_gain" in sentences and val.loss_since_best <= 0:
        head = "projected_gain"
    elif label == "overfit" and val.loss_since_best <= 0 and "gl" in sentences:
        head = "gl"
    else:
        head = "drop_since_best"
    evidence.append(sentences[head])
    used.add(head)
    for n, _ in sorted(push.items(), key=lambda kv: -kv[1]):
        if push[n] <= 0.05:
            break
        key = key_of.get(n, n)
        if key in sentences and key not in used:
            evidence.append(sentences[key])
            used.add(key)
        if len(evidence) >= 4:
            break
    for key in ("drop_since_best", "gl", "gap", "loss_gap", "projected_gain"):
        if key in sentences and key not in used and len(evidence) < 6:
            evidence.append(sentences[key])
            used.add(key)
    if f.loss_metric_disagree and f.val_loss is not None:
        evidence.append(
            f"validation loss and {val.name} disagree (loss {fmt(f.val_loss.generalization_loss, 2)}% above its "
            f"minimum); the verdict follows {val.name}"
        )
    if f.primary == "metric":
        basis = f"the task metric {val.name}"
    elif f.val_metric is not None:
        basis = f"the loss {val.name} ({f.val_metric.name} never moved from {value(f.val_metric, f.val_metric.last)})"
    else:
        basis = f"the loss {val.name} (no validation task metric logged)"

    evidence.append(
        f"verdict based on {basis}; "
        + (f"a clear {clear} curve; " if clear else "")
        + ("the divergence decides; " if diverged is not None else "")
        + ("the training curve still falling decides; " if falling and label == "underfit" else "")
        + f"model '{name}' gives "
        + ", ".join(f"{lab} {model_probs[lab]:.2f}" for lab in LABELS if lab in model_probs)
    )
    conf = probs[label]
    used_inputs = {n: float(v) for n, v in inputs.items() if v is not None}
    return Diagnosis(label, round(conf, 3), tuple(evidence), tuple(findings), scores=probs, model=name, inputs=used_inputs)
