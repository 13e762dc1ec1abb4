"""Verdicts and named findings on small, clear cases.

Synthetic curves are written as Keras CSVLogger or OpenAI results files and
read back through the real readers, so each case goes through the whole path.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

import ftdiag
from conftest import LABELED, PUBLIC, SAMPLES, need
from ftdiag.diagnosis import DIVERGED_CONFIDENCE, MIN_VAL_POINTS, TRAIN_FALLING_CONFIDENCE, predict
from ftdiag.features import (
    ema_debiased,
    granularity,
    mann_kendall,
    noise_band,
    project_tail,
)


def keras(tmp_path: Path, name: str, acc, loss, val_acc, val_loss) -> Path:  # type: ignore[no-untyped-def]
    p = tmp_path / name
    with open(p, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", "accuracy", "loss", "val_accuracy", "val_loss"])
        for i, row in enumerate(zip(acc, loss, val_acc, val_loss, strict=True)):
            w.writerow([i, *(("" if v is None else f"{v:.6g}") for v in row)])
    return p


def names(r) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.name for f in r.findings}


RNG = np.random.default_rng(7)


# ---------------------------------------------------------------- statistics


def test_ema_matches_tensorboard_debiased_formula() -> None:
    v = np.array([1.0, 3.0, 2.0, float("nan"), 5.0])
    w = 0.6
    out = ema_debiased(v, w)
    last, n, expect = 0.0, 0, []
    for x in v:
        if math.isnan(x):
            expect.append(expect[-1])
            continue
        last = last * w + (1 - w) * x
        n += 1
        expect.append(last / (1 - w**n))
    assert np.allclose(out, expect)
    assert out[0] == 1.0  # debiased: the first point is itself, not 0.4


def test_mann_kendall_detects_trend_and_not_noise() -> None:
    tau, p = mann_kendall(np.arange(12.0))
    assert tau == 1.0 and p < 0.001
    tau, p = mann_kendall(RNG.normal(size=12))
    assert abs(tau) < 1 and p > 0.001
    assert mann_kendall(np.ones(8)) == (0.0, 1.0)


def test_quantized_flat_curve_has_a_noise_band() -> None:
    # val accuracy on 50 examples, flat: differences are all zero
    v = np.array([0.16, 0.16, 0.16, 0.16, 0.18, 0.16, 0.16, 0.16])
    assert granularity(v) == pytest.approx(1 / 50)
    noise, source = noise_band(v, accuracy_like=True)
    assert noise == pytest.approx(0.01) and "50 examples" in source
    # losses get a relative floor, never zero
    assert noise_band(np.full(6, 2.0), accuracy_like=False)[0] > 0


def test_tail_projection_interval_covers_the_truth() -> None:
    x = np.arange(1, 13, dtype=float)
    y = 0.5 + 0.1 * np.log(x) + RNG.normal(0, 0.003, size=x.size)
    p = project_tail(x, y, 1.0, "epoch")
    assert p is not None
    truth = 0.1 * math.log(13 / 12)
    assert p.low <= truth <= p.high and p.gain > 0


def test_thin_evidence_lowers_confidence() -> None:
    model = {
        "features": ["a"], "labels": ["underfit", "good_fit", "overfit"], "mean": [0.0], "scale": [1.0],
        "coef": [[-1.0], [0.0], [1.0]], "intercept": [0.0, 0.0, 0.0], "temperature": 1.0, "thin": 1.0,
    }
    few, _ = predict(model, {"a": 2.0}, MIN_VAL_POINTS)
    many, _ = predict(model, {"a": 2.0}, 30)
    assert max(few.values()) < max(many.values())
    assert max(few, key=few.__getitem__) == max(many, key=many.__getitem__) == "overfit"


# ---------------------------------------------------------------- verdicts


def test_noisy_but_flat_is_not_overfit(tmp_path: Path) -> None:
    n = 14
    acc = list(np.linspace(0.6, 0.93, n))
    loss = list(np.linspace(1.2, 0.3, n))
    val_acc = list(0.86 + RNG.normal(0, 0.02, n))
    val_acc[:3] = [0.70, 0.80, 0.85]
    val_loss = list(0.45 + RNG.normal(0, 0.02, n))
    val_loss[:3] = [0.9, 0.6, 0.5]
    r = ftdiag.analyze(keras(tmp_path, "flat.csv", acc, loss, val_acc, val_loss))
    assert r.label == "good_fit", r.evidence
    s = r.features.val
    assert s is not None and s.noise > 0.005 and s.loss_since_best_noise < 3


def test_still_improving_is_underfit_with_a_projection(tmp_path: Path) -> None:
    n = 10
    e = np.arange(1, n + 1)
    acc = list(0.35 + 0.12 * np.log(e))
    val_acc = list(0.33 + 0.12 * np.log(e) + RNG.normal(0, 0.003, n))
    loss = list(2.0 - 0.5 * np.log(e))
    val_loss = list(2.02 - 0.5 * np.log(e))
    r = ftdiag.analyze(keras(tmp_path, "rising.csv", acc, loss, val_acc, val_loss))
    assert r.label == "underfit", r.evidence
    p = r.features.projection
    assert p is not None and p.low > 0
    assert any("1 more epoch" in e and "95% interval" in e for e in r.evidence)


def test_clear_overfit_with_early_stopping_evidence(tmp_path: Path) -> None:
    n = 12
    acc = list(np.linspace(0.5, 0.99, n))
    loss = list(np.linspace(1.3, 0.03, n))
    val_acc = [0.48, 0.62, 0.72, 0.79, 0.82, 0.83, 0.81, 0.79, 0.77, 0.76, 0.75, 0.74]
    val_loss = [1.3, 1.0, 0.8, 0.62, 0.52, 0.50, 0.55, 0.62, 0.7, 0.76, 0.82, 0.88]
    r = ftdiag.analyze(keras(tmp_path, "over.csv", acc, loss, val_acc, val_loss))
    assert r.label == "overfit", r.evidence
    text = " ".join(r.evidence)
    assert "early stopping with patience 3 would have stopped at epoch 9" in text
    assert "GL exceeded 5% at epoch 7" in text
    assert "Mann-Kendall" in text and "epoch 6" in text


def test_loss_and_accuracy_disagree_verdict_follows_accuracy(tmp_path: Path) -> None:
    n = 12
    e = np.arange(1, n + 1)
    acc = list(np.linspace(0.5, 0.97, n))
    loss = list(np.linspace(1.5, 0.05, n))
    val_acc = list(0.45 + 0.1 * np.log(e))
    val_loss = [1.4, 1.1, 0.95, 0.9, 0.92, 0.98, 1.05, 1.12, 1.2, 1.28, 1.36, 1.45]
    r = ftdiag.analyze(keras(tmp_path, "disagree.csv", acc, loss, val_acc, val_loss))
    assert "loss_metric_disagree" in names(r)
    assert r.features.primary == "metric"
    assert r.label != "overfit", r.evidence
    assert any("disagree" in e for e in r.evidence)


def test_nan_mid_run_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    n = 10
    loss: list[float | None] = list(np.linspace(1.2, 0.5, n))
    loss[6:] = [float("nan")] * 4
    acc = list(np.linspace(0.5, 0.8, n))
    val_acc = list(np.linspace(0.45, 0.75, n))
    val_loss: list[float | None] = list(np.linspace(1.3, 0.6, n))
    val_loss[6:] = [float("nan")] * 4
    r = ftdiag.analyze(keras(tmp_path, "nan.csv", acc, loss, val_acc, val_loss))
    f = {x.name: x for x in r.findings}
    assert "nan_or_inf" in f and f["nan_or_inf"].severity == "error"
    assert "epoch 7" in f["nan_or_inf"].message
    assert r.label in {"underfit", "good_fit", "overfit", "inconclusive"}
    assert math.isfinite(r.confidence)


@pytest.mark.parametrize("n_points", [1, 2])
def test_one_or_two_validation_points_are_inconclusive(tmp_path: Path, n_points: int) -> None:
    acc = [0.5, 0.7][:n_points]
    r = ftdiag.analyze(keras(tmp_path, "short.csv", acc, [1.0, 0.8][:n_points], [0.45, 0.66][:n_points], [1.1, 0.9][:n_points]))
    assert r.label == "inconclusive" and r.confidence == 0.0
    assert r.diagnosis.reason == "too few validation points"
    assert "few_validation_points" in names(r)
    assert str(n_points) in r.evidence[0]


FEW_HP = {"n_examples": 100, "batch_size": 4}


@pytest.mark.parametrize("n_points", [1, 2])
def test_one_or_two_validation_points_with_hyperparameters_get_a_weak_verdict(tmp_path: Path, n_points: int) -> None:
    acc, loss, val_acc, val_loss = [0.5, 0.7][:n_points], [1.0, 0.8][:n_points], [0.45, 0.66][:n_points], [1.1, 0.9][:n_points]
    path = keras(tmp_path, "short.csv", acc, loss, val_acc, val_loss)
    low = ftdiag.analyze(path, hyperparameters={**FEW_HP, "learning_rate_multiplier": 0.02})
    high = ftdiag.analyze(path, hyperparameters={**FEW_HP, "learning_rate_multiplier": 5.0})
    for r in (low, high):
        assert r.diagnosis.model == "few_points" and r.label in {"underfit", "good_fit", "overfit"}
        assert r.diagnosis.reason is None and "few_validation_points" in names(r)
        assert r.confidence < 0.7  # a weak verdict, and it says so
        assert "cannot be read" in r.evidence[0] and f"only {n_points} validation point(s)" in r.evidence[0]
        assert any("multiplier x steps" in e for e in r.evidence)  # the input that drove it, with its number
        assert "model 'few_points' gives" in r.evidence[-1]
    # the same curve: the multiplier decides (the corpus's overfit runs are mostly "learning rate too high")
    assert high.diagnosis.scores["overfit"] > low.diagnosis.scores["overfit"]
    assert high.label != "good_fit"


def openai_steps(tmp_path: Path, train_loss: list[float], val_at: dict[int, float], name: str = "short.csv") -> Path:
    p = tmp_path / name
    rows = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
    for i, tl in enumerate(train_loss, start=1):
        v = val_at.get(i)
        rows.append(f"{i},{tl:.5f},,{'' if v is None else f'{v:.5f}'},")
    p.write_text("\n".join(rows) + "\n")
    return p


def test_one_validation_point_with_training_loss_still_falling_is_underfit(tmp_path: Path) -> None:
    # 40 steps of one epoch at a small multiplier; the per-step training loss is
    # still falling steeply at the end and validation (one point) sits on it
    n = 40
    rng = np.random.default_rng(11)  # its own generator: the same curves whichever tests run before
    tl = [2.0 * math.exp(-i / 30) + 0.02 * rng.standard_normal() for i in range(n)]
    p = openai_steps(tmp_path, tl, {n: tl[-1] * 1.02})
    r = ftdiag.analyze(p, hyperparameters={"learning_rate_multiplier": 0.02, "n_epochs": 1})
    assert r.features.n_val_points == 1 and r.diagnosis.model == "few_points"
    assert r.label == "underfit" and r.confidence == TRAIN_FALLING_CONFIDENCE
    assert "few_validation_points" in names(r)
    assert "still falling at the end" in r.evidence[1] and "noise units" in r.evidence[1]
    assert "the training curve still falling decides" in r.evidence[-1]
    # flattened training loss: the model alone decides
    flat = [1.0 + 0.02 * rng.standard_normal() for _ in range(n)]
    r2 = ftdiag.analyze(openai_steps(tmp_path, flat, {n: 1.01}, "flat.csv"), hyperparameters={"learning_rate_multiplier": 0.02, "n_epochs": 1})
    assert r2.diagnosis.model == "few_points" and "the training curve still falling" not in r2.evidence[-1]


def test_a_handful_of_steps_is_inconclusive(tmp_path: Path) -> None:
    p = tmp_path / "two_steps.csv"
    p.write_text(
        "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n"
        "1,2.0,0.3,2.1,0.29\n2,1.9,0.31,2.0,0.3\n"
    )
    r = ftdiag.analyze(p)
    assert r.label == "inconclusive" and "step" in r.evidence[0]


def test_no_validation_says_what_train_loss_can_tell(tmp_path: Path) -> None:
    p = tmp_path / "train_only.csv"
    rows = "\n".join(f"{i},{2.0 * 0.9**i:.4f}" for i in range(12))
    p.write_text("epoch,loss\n" + rows + "\n")
    r = ftdiag.analyze(p)
    assert r.label == "inconclusive" and r.diagnosis.reason == "no validation data"
    (f,) = [x for x in r.findings if x.name == "no_validation"]
    assert "cannot show overfitting" in f.message and "still falling" in f.message


def test_constant_token_accuracy_falls_back_to_the_loss(tmp_path: Path) -> None:
    p = tmp_path / "zero_acc.csv"
    lines = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
    for s in range(1, 41):
        v = f"{10 - 0.1 * s:.3f},0.0" if s % 4 == 0 else ","
        lines.append(f"{s},{10 - 0.1 * s:.3f},0.0,{v}")
    p.write_text("\n".join(lines) + "\n")
    r = ftdiag.analyze(p)
    assert r.features.primary == "loss"
    assert r.label == "underfit", r.evidence  # loss still falling; accuracy 0.0 is no evidence of anything


def test_spikes_plateau_and_divergence_findings(tmp_path: Path) -> None:
    n = 40
    loss = list(2.0 + RNG.normal(0, 0.01, n))
    loss[20] = 4.0  # one spike
    acc = list(0.3 + RNG.normal(0, 0.005, n))
    r = ftdiag.analyze(keras(tmp_path, "plateau.csv", acc, loss, acc, loss))
    got = names(r)
    assert "loss_spikes" in got and "plateau" in got
    loss2 = list(np.linspace(2.0, 0.5, 10)) + list(np.linspace(0.6, 6.0, 10))
    acc2 = list(np.linspace(0.3, 0.8, 10)) + list(np.linspace(0.75, 0.2, 10))
    r2 = ftdiag.analyze(keras(tmp_path, "diverge.csv", acc2, loss2, acc2, loss2))
    assert "divergence" in names(r2)


def test_diverged_training_is_overfit_and_the_divergence_is_the_headline(tmp_path: Path) -> None:
    loss = list(np.linspace(2.0, 0.5, 10)) + list(np.linspace(0.6, 6.0, 10))
    acc = list(np.linspace(0.3, 0.8, 10)) + list(np.linspace(0.75, 0.2, 10))
    r = ftdiag.analyze(keras(tmp_path, "diverge.csv", acc, loss, acc, loss))
    assert r.label == "overfit" and r.confidence == DIVERGED_CONFIDENCE
    assert r.evidence[0].startswith("training diverged: training loss rose from its best 0.521 (epoch 10) to 5.925")
    assert "validation val_accuracy fell from its best 79.3% to 20.8%" in r.evidence[0]
    assert "the divergence decides" in r.evidence[-1]
    assert r.recommendations[0].parameter == "learning_rate_multiplier"
    assert r.recommendations[0].action == "decrease"


def test_a_loss_spike_that_validation_did_not_follow_is_left_to_the_model(tmp_path: Path) -> None:
    n = 20
    loss = list(np.linspace(2.0, 0.5, 10)) + list(np.linspace(0.6, 6.0, 10))
    acc = list(np.linspace(0.3, 0.9, n))
    val_acc = list(np.linspace(0.3, 0.85, n))
    val_loss = list(np.linspace(1.9, 0.6, n))
    r = ftdiag.analyze(keras(tmp_path, "spike.csv", acc, loss, val_acc, val_loss))
    assert "divergence" in names(r)
    assert not r.evidence[0].startswith("training diverged")


def test_a_loss_that_ends_nan_is_a_diverged_run() -> None:
    r = ftdiag.analyze(SAMPLES / "broken" / "nan_inf_step_metrics.csv")
    assert r.label == "overfit" and r.confidence == DIVERGED_CONFIDENCE
    assert "NaN or infinite from step 8 to the end" in r.evidence[0]


def test_public_run_that_diverges_is_overfit() -> None:
    p = need(PUBLIC / "hf_trainer_state" / "stress-detection__trainer_state.json")
    r = ftdiag.analyze(p)
    assert "divergence" in names(r)
    assert r.label == "overfit" and r.evidence[0].startswith("training diverged")


def test_converged_curve_is_a_good_fit_even_with_train_and_validation_loss_close(tmp_path: Path) -> None:
    e = np.arange(1, 31)
    val_acc = list(0.9 - 0.6 * np.exp(-e / 3.0))  # climbs 60 points, flat for the last third
    acc = [v + 0.01 for v in val_acc]
    loss = list(1.0 + 2.0 * np.exp(-e / 3.0))
    val_loss = [v * 1.01 for v in loss]
    r = ftdiag.analyze(keras(tmp_path, "converged.csv", acc, loss, val_acc, val_loss))
    assert r.label == "good_fit", r.evidence
    assert "a clear good_fit curve" in r.evidence[-1]


def test_share_lost_is_stated_with_the_fall_since_the_best(tmp_path: Path) -> None:
    acc = list(np.linspace(0.5, 0.99, 12))
    loss = list(np.linspace(1.3, 0.03, 12))
    val_acc = [0.48, 0.62, 0.72, 0.79, 0.82, 0.83, 0.81, 0.79, 0.77, 0.76, 0.75, 0.74]
    val_loss = [1.3, 1.0, 0.8, 0.62, 0.52, 0.50, 0.55, 0.62, 0.7, 0.76, 0.82, 0.88]
    r = ftdiag.analyze(keras(tmp_path, "over.csv", acc, loss, val_acc, val_loss))
    assert r.diagnosis.inputs["share_lost"] == pytest.approx((0.83 - 0.74) / (0.83 - 0.48))
    assert "giving back 26% of what it had gained" in r.evidence[0]


def test_train_validation_gap_is_quoted_with_the_values_that_make_it() -> None:
    import re

    r = ftdiag.analyze(SAMPLES / "openai_overfit.csv")  # per-step training, validation every few steps
    (line,) = [e for e in r.evidence if e.startswith("train ")]
    m = re.search(r"([\d.]+)% vs validation ([\d.]+)% at the end \(gap (-?[\d.]+) points", line)
    assert m, line
    train, val, gap = (float(x) for x in m.groups())
    assert train - val == pytest.approx(gap, abs=0.11)


def test_three_validation_points_are_judged_without_the_curve_shape(tmp_path: Path) -> None:
    acc, loss = [0.5, 0.7, 0.8], [1.0, 0.7, 0.5]
    val_acc, val_loss = [0.45, 0.62, 0.7], [1.05, 0.8, 0.65]
    hp = {"learning_rate_multiplier": 0.1, "n_examples": 100, "batch_size": 4}
    r = ftdiag.analyze(keras(tmp_path, "three.csv", acc, loss, val_acc, val_loss), hyperparameters=hp)
    assert r.diagnosis.model == "three_points"
    assert set(r.diagnosis.scores) == {"underfit", "good_fit", "overfit"}
    assert "model 'three_points' gives" in r.evidence[-1]
    # a fourth point: the curve's shape counts again
    r4 = ftdiag.analyze(
        keras(tmp_path, "four.csv", acc + [0.85], loss + [0.4], val_acc + [0.72], val_loss + [0.6]), hyperparameters=hp
    )
    assert r4.diagnosis.model == "with_hyperparameters"


def test_flat_losses_with_chance_level_accuracy_jitter_is_nothing_learned() -> None:
    p = need(PUBLIC / "hf_trainer_state" / "quality-lrqa__init__.py")  # eval_loss pinned at ln(4), 4-way accuracy
    r = ftdiag.analyze(p)
    assert r.features.val_metric is not None and r.features.val_metric.improvement_noise > 2  # the accuracy jitters
    assert r.label == "underfit" and "a clear underfit curve" in r.evidence[-1]


def test_validation_worse_from_the_first_evaluation(tmp_path: Path) -> None:
    n = 8
    acc = list(np.linspace(0.8, 0.95, n))
    val_acc = list(np.linspace(0.45, 0.5, n))
    loss = list(np.linspace(0.5, 0.2, n))
    val_loss = list(np.linspace(1.6, 1.5, n))
    r = ftdiag.analyze(keras(tmp_path, "shift.csv", acc, loss, val_acc, val_loss))
    assert "val_worse_from_start" in names(r)


# ---------------------------------------------------------------- real runs


def test_labeled_runs_have_verdicts_with_numbers() -> None:
    truth = need(LABELED / "truth.csv")
    with open(truth, newline="") as fh:
        rows = list(csv.DictReader(fh))[::60]
    for row in rows:
        hp = {k: float(row[k]) for k in ("n_epochs", "learning_rate_multiplier", "batch_size") if row[k]}
        hp["n_examples"] = float(row["n_train_examples"])
        r = ftdiag.analyze(LABELED / row["file"], hyperparameters=hp)
        n_val = r.features.n_val_points
        if r.features.x_unit == "step" and r.features.last_step < 3:
            assert r.label == "inconclusive"
            continue
        assert r.label in {"underfit", "good_fit", "overfit"}
        if n_val < MIN_VAL_POINTS:
            assert r.diagnosis.model == "few_points" and "few_validation_points" in names(r)
            assert 0.3 <= r.confidence <= 0.7  # low: what such verdicts earned on tasks not seen
            continue
        assert 1 / 3 <= r.confidence <= 1
        assert r.diagnosis.model == ("three_points" if n_val == MIN_VAL_POINTS else "with_hyperparameters")
        assert all(any(ch.isdigit() for ch in e) for e in r.evidence)
