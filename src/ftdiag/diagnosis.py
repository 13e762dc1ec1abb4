"""The verdict: label, confidence, evidence sentences and further findings.

The label answers a counterfactual question: would less training (fewer
epochs, a smaller learning-rate multiplier) have generalized better
(``overfit``), would more training have (``underfit``), or neither
(``good_fit``)? ``inconclusive`` is said when the log cannot support a verdict.

The rules read :class:`ftdiag.features.Features`; every threshold is explained
where it is defined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .features import CurveStats, Features
from .run import Run

LABELS = ("underfit", "good_fit", "overfit")
ALL_LABELS = LABELS + ("inconclusive",)

# Fewer than this many validation points carry no curve to judge: one point has
# no shape, two points make a line whose direction is within noise as often
# as not.
MIN_VAL_POINTS = 3
# A change is real when it exceeds this many noise units of a smoothed point
# (two sigma: a ~5% false-alarm rate on a flat curve with Gaussian noise).
NOISE_UNITS = 2.0
# Prechelt (1998), "Early stopping - but when?": GL5 stops when the validation
# error is 5% above its minimum so far.
GL_THRESHOLD = 5.0
# Google's tuning playbook: when the best validation point falls in the last
# part of training, "train longer". We use the last quarter.
LATE_BEST = 0.75
# An accuracy-like task metric this low on the *training* data means the model
# has not fit even what it has seen (the seed's 60%/58% case).
LOW_TRAIN_ACCURACY = 0.7
# A train-validation accuracy gap this large is a generalization gap people
# act on (the seed's 98%/75% case has 0.23); we use 0.1.
LARGE_GAP = 0.10


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


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:.{digits}g}"
    return f"{x:.{digits}g}" if abs(x) >= 100 else f"{x:.{digits}f}".rstrip("0").rstrip(".") or "0"


def where(stats: CurveStats, step: float, run: Run) -> str:
    unit = "epoch" if run.x_unit == "epoch" else "step"
    return f"{unit} {fmt(step, 6)}"


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _metric_value(stats: CurveStats, v: float) -> str:
    # accuracy-like metrics print as percents, losses as numbers
    if stats.sign > 0 and 0 <= v <= 1:
        return pct(v)
    return fmt(v)


def findings_for(run: Run, f: Features) -> list[Finding]:
    out: list[Finding] = []
    if f.first_nonfinite_step is not None:
        out.append(
            Finding(
                "nan_or_inf",
                "error",
                f"non-finite values (NaN or inf) from {('epoch' if run.x_unit == 'epoch' else 'step')} "
                f"{fmt(f.first_nonfinite_step, 6)}: the run diverged or overflowed there",
            )
        )
    tl = f.train_loss
    if tl is not None and tl.n >= 5 and tl.improvement < 0 and tl.loss_since_best_noise > 4 and tl.best_position < 0.8:
        out.append(
            Finding(
                "divergence",
                "error",
                f"training loss rose from its best {fmt(tl.best)} (step {fmt(tl.best_step, 6)}) to {fmt(tl.last)}",
            )
        )
    if f.train_spikes:
        out.append(Finding("loss_spikes", "warning", f"{f.train_spikes} training-loss spike(s) above 6 noise units"))
    if not run.has_validation:
        msg = "no validation data: training loss alone cannot show overfitting"
        if tl is not None:
            msg += (
                f"; it went from {fmt(tl.first)} to {fmt(tl.last)}"
                + (" and was still falling at the end" if tl.tail_p < 0.05 and tl.tail_tau > 0 else "")
            )
        out.append(Finding("no_validation", "warning", msg))
    elif f.n_val_points < MIN_VAL_POINTS:
        out.append(
            Finding(
                "few_validation_points",
                "warning",
                f"only {f.n_val_points} validation point(s): too few to see a trend",
            )
        )
    if f.loss_metric_disagree and f.val_loss is not None and f.val_metric is not None:
        out.append(
            Finding(
                "loss_metric_disagree",
                "info",
                f"validation loss rose {fmt(f.val_loss.generalization_loss, 2)}% from its best while "
                f"{f.val_metric.name} kept improving; the verdict follows {f.val_metric.name}",
            )
        )
    val = f.val
    if val is not None and val.n >= 10 and val.noise > 0:
        rng = abs(val.improvement) + val.noise
        if val.noise > 0.5 * rng:
            out.append(
                Finding(
                    "noisy_validation",
                    "info",
                    f"validation {val.name} is noisy (point-to-point noise {fmt(val.noise)} against an "
                    f"overall change of {fmt(val.improvement)}); judged on the smoothed curve",
                )
            )
    if tl is not None and tl.n >= 20 and tl.noise > 0:
        if tl.noise > 0.25 * max(abs(tl.first), 1e-12):
            out.append(
                Finding(
                    "noisy_training",
                    "info",
                    f"training loss is noisy (noise {fmt(tl.noise)} against a starting loss of {fmt(tl.first)}): "
                    "small batches or a high learning rate",
                )
            )
    if (
        f.gap_first is not None
        and f.gap_first < 0
        and f.gap_final is not None
        and f.gap_final < 0
        and val is not None
        and abs(f.gap_first) > 3 * max(val.noise, 1e-9)
    ):
        out.append(
            Finding(
                "val_better_than_train",
                "info",
                "validation is better than training from the first evaluation to the last "
                "(regularization such as dropout or augmentation, an easier validation set, or leakage)",
            )
        )
    return out


def diagnose(run: Run, f: Features) -> Diagnosis:
    findings = findings_for(run, f)
    val, train = f.val, f.train
    if val is None:
        return Diagnosis(
            "inconclusive",
            0.0,
            ("no validation metric was logged, so generalization cannot be judged",),
            tuple(findings),
            reason="no validation data",
        )
    if f.n_val_points < MIN_VAL_POINTS:
        return Diagnosis(
            "inconclusive",
            0.0,
            (f"only {f.n_val_points} validation point(s); at least {MIN_VAL_POINTS} are needed to see a trend",),
            tuple(findings),
            reason="too few validation points",
        )
    evidence: list[str] = []
    over = 0.0
    under = 0.0
    # --- overfitting: validation got worse after its best, beyond noise -------
    worse = val.loss_since_best_noise
    gl = val.generalization_loss
    rel_ok = (gl is None and val.loss_since_best > 0.005) or (gl is not None and gl > GL_THRESHOLD)
    if worse > NOISE_UNITS and rel_ok and val.best_position < 0.9:
        over += min(3.0, worse / NOISE_UNITS)
        trend = (
            f"; the trend since is worsening (Mann-Kendall p={val.after_best_p:.2g})"
            if val.after_best_tau < 0 and val.after_best_p < 0.1
            else ""
        )
        change = f"{fmt(gl, 2)}% (GL)" if gl is not None else f"by {_metric_value(val, val.loss_since_best)}"
        evidence.append(
            f"validation {val.name} was best at {where(val, val.best_step, run)} "
            f"({_metric_value(val, val.best)}) and worsened {change} by the end "
            f"({worse:.1f} noise units){trend}"
        )
        if val.after_best_tau < 0 and val.after_best_p < 0.1:
            over += 0.5
    # a generalization gap that is large, and larger than at the best point
    if f.gap_final is not None and train is not None:
        big = f.gap_final > LARGE_GAP if val.sign > 0 else f.gap_final > LARGE_GAP * max(abs(val.best), 1e-9)
        widening = f.gap_at_best is not None and f.gap_final > f.gap_at_best
        if big and widening and over > 0:
            over += 0.5
            evidence.append(
                f"train-validation gap widened to {_metric_value(val, f.gap_final)} "
                f"(train {_metric_value(train, train.last)}, validation {_metric_value(val, val.last)})"
            )
    # --- underfitting: still improving at the end --------------------------------
    if val.best_position >= LATE_BEST and val.tail_tau > 0 and (val.tail_p < 0.1 or val.tail_slope_noise > NOISE_UNITS):
        under += 1.0 + min(2.0, val.tail_slope_noise / (2 * NOISE_UNITS))
        evidence.append(
            f"validation {val.name} was still improving at the end (best at "
            f"{pct(val.best_position)} of training; tail trend p={val.tail_p:.2g})"
        )
    if train is not None and train.sign > 0 and 0 <= train.last <= 1 and train.last < LOW_TRAIN_ACCURACY:
        if f.gap_final is None or f.gap_final < LARGE_GAP:
            under += 1.0
            evidence.append(
                f"training {train.name} is only {pct(train.last)} and validation {pct(val.last)}: "
                "the model has not fit the training data"
            )
    # --- decide ----------------------------------------------------------------
    good = 1.0
    scores = {"underfit": under, "good_fit": good, "overfit": over}
    label = max(scores, key=lambda k: scores[k])
    exps = {k: math.exp(v) for k, v in scores.items()}
    z = sum(exps.values())
    probs = {k: v / z for k, v in exps.items()}
    conf = probs[label]
    # thin evidence: fewer points make a less certain verdict
    conf *= min(1.0, 0.6 + 0.4 * min(1.0, (f.n_val_points - MIN_VAL_POINTS + 1) / 8))
    if label == "good_fit":
        evidence.insert(
            0,
            f"validation {val.name} reached {_metric_value(val, val.best)} at {where(val, val.best_step, run)} "
            f"and ended at {_metric_value(val, val.last)}, within noise of its best, and was no longer improving",
        )
        if f.gap_final is not None and train is not None:
            evidence.append(
                f"train {_metric_value(train, train.last)} vs validation {_metric_value(val, val.last)} "
                f"(gap {_metric_value(val, f.gap_final)})"
            )
    evidence.append(f"verdict based on {'the task metric ' + val.name if f.primary == 'metric' else 'the loss'}")
    return Diagnosis(label, round(conf, 3), tuple(evidence), tuple(findings), scores=probs)
