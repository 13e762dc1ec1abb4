"""Advice: values, rules, platform names, inference of settings from the log."""

from __future__ import annotations

import csv
import math
from dataclasses import replace

import numpy as np
import pytest

import ftdiag
from conftest import LABELED, SAMPLES, need
from ftdiag.advice import Policy, context, recommend
from ftdiag.api import analyze_run
from ftdiag.diagnosis import Diagnosis, Finding
from ftdiag.features import compute
from ftdiag.formats import read_path
from ftdiag.hyperparams import Hyperparameters
from ftdiag.run import Run, make_series

# --------------------------------------------------------------------------------------
# helpers: a run of per-epoch curves, and a diagnosis with a chosen label
# --------------------------------------------------------------------------------------


def epoch_run(
    train_acc: list[float],
    val_acc: list[float],
    platform: str | None = "keras",
    **hp: float,
) -> Run:
    ep = np.arange(1, len(val_acc) + 1, dtype=float)
    tl = [1.0 - a for a in train_acc]
    vl = [1.0 - a for a in val_acc]
    return Run(
        source="x.csv",
        format="keras_csv",
        name="x.csv",
        train_loss=make_series("loss", ep, tl),
        val_loss=make_series("val_loss", ep, vl),
        train_metric=make_series("accuracy", ep, train_acc),
        val_metric=make_series("val_accuracy", ep, val_acc),
        hyperparameters=Hyperparameters(**hp, sources={k: "option" for k in hp}),
        platform=platform,
        x_unit="epoch",
        steps_per_epoch=1.0,
    )


OVERFIT_CURVE = (
    [0.5, 0.7, 0.8, 0.88, 0.93, 0.96, 0.98, 0.99],
    [0.5, 0.65, 0.72, 0.74, 0.73, 0.70, 0.68, 0.66],
)
UNDERFIT_CURVE = (
    [0.2, 0.25, 0.3, 0.34, 0.38, 0.42, 0.46, 0.5],
    [0.2, 0.24, 0.29, 0.33, 0.37, 0.41, 0.45, 0.49],
)
GOOD_CURVE = (
    [0.5, 0.75, 0.85, 0.88, 0.89, 0.9, 0.9, 0.9],
    [0.5, 0.72, 0.83, 0.86, 0.87, 0.88, 0.88, 0.88],
)


def advise(run: Run, label: str, findings: tuple[Finding, ...] = (), policy: Policy | None = None):  # type: ignore[no-untyped-def]
    f = compute(run)
    d = Diagnosis(label, 0.9, ("e",), findings)
    return recommend(run, f, d, policy or Policy())


# --------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------


def test_overfit_halves_the_multiplier_then_epochs_to_the_best_point() -> None:
    run = epoch_run(*OVERFIT_CURVE, platform="openai", n_epochs=8, learning_rate_multiplier=0.4, batch_size=4)
    recs = advise(run, "overfit")
    top = recs[0]
    assert (top.parameter, top.action, top.current, top.suggested) == ("learning_rate_multiplier", "decrease", 0.4, 0.2)
    assert top.platform_parameter == "learning_rate_multiplier"
    assert "epoch 4" in top.reason  # the checkpoint to use meanwhile
    ep = next(r for r in recs if r.parameter == "n_epochs")
    # validation peaked at epoch 4 (74%): epochs down to 4, rounded up to a whole epoch
    assert (ep.action, ep.current, ep.suggested) == ("decrease", 8, 4)
    assert "74.0%" in ep.reason and ep.change == "-4"
    assert all(r.expected_effect for r in recs)


def test_overfit_at_the_bottom_of_the_range_cuts_epochs_first() -> None:
    run = epoch_run(*OVERFIT_CURVE, platform="openai", n_epochs=8, learning_rate_multiplier=0.02)
    top = advise(run, "overfit")[0]
    assert (top.parameter, top.action, top.suggested) == ("n_epochs", "decrease", 4)


def test_overfit_policy_can_put_epochs_first() -> None:
    run = epoch_run(*OVERFIT_CURVE, platform="openai", n_epochs=8, learning_rate_multiplier=0.4)
    top = advise(run, "overfit", policy=Policy(overfit_first="n_epochs"))[0]
    assert top.parameter == "n_epochs"


def test_overfit_inside_the_first_epoch_says_so() -> None:
    # HF-like step log: validation best at step 5 of 40 (epoch 0.5 of 4)
    steps = np.arange(5, 45, 5, dtype=float)
    val = [0.5, 0.45, 0.42, 0.40, 0.39, 0.385, 0.38, 0.378]
    vl = [0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5]
    run = Run(
        source="s.json", format="hf_trainer_state", name="s.json",
        train_loss=make_series("loss", steps, [0.9, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02], epochs=steps / 10),
        val_loss=make_series("eval_loss", steps, vl, epochs=steps / 10),
        val_metric=make_series("eval_accuracy", steps, val, epochs=steps / 10),
        hyperparameters=Hyperparameters(n_epochs=4, learning_rate=2e-4, sources={"n_epochs": "log", "learning_rate": "log"}),
        platform="huggingface", x_unit="step", steps_per_epoch=10.0,
    )
    recs = advise(run, "overfit")
    top = recs[0]
    assert top.parameter == "learning_rate_multiplier" and top.platform_parameter == "learning_rate"
    assert top.current == 2e-4 and math.isclose(top.suggested or 0, 1e-4)
    assert "first epoch" in top.reason
    assert top.note and "raw learning rate" in top.note
    ep = next(r for r in recs if r.parameter == "n_epochs")
    assert ep.suggested == 1 and ep.platform_parameter == "num_train_epochs"


def test_underfit_with_few_updates_per_epoch_shrinks_the_batch() -> None:
    run = epoch_run(*UNDERFIT_CURVE, platform="openai", n_epochs=8, learning_rate_multiplier=0.1, batch_size=64, n_examples=120)
    recs = advise(run, "underfit")
    top = recs[0]
    assert (top.parameter, top.action, top.current) == ("batch_size", "decrease", 64)
    # 120 examples: at most 30 per batch gives 4 updates per epoch
    assert top.suggested == 30
    assert "2 optimizer update(s) per epoch" in top.reason
    assert {r.parameter for r in recs} >= {"batch_size", "learning_rate_multiplier", "n_epochs"}


def test_underfit_low_in_the_range_raises_the_multiplier_capped_at_its_top() -> None:
    run = epoch_run(*UNDERFIT_CURVE, platform="openai", n_epochs=8, learning_rate_multiplier=0.15, batch_size=4, n_examples=120)
    top = advise(run, "underfit")[0]
    assert (top.parameter, top.action, top.current, top.suggested) == ("learning_rate_multiplier", "increase", 0.15, 0.2)
    assert "0.02-0.2" in top.reason


def test_underfit_at_the_top_of_the_range_adds_epochs_by_the_tail() -> None:
    run = epoch_run(*UNDERFIT_CURVE, platform="openai", n_epochs=8, learning_rate_multiplier=0.2, batch_size=4, n_examples=120)
    top = advise(run, "underfit")[0]
    assert (top.parameter, top.action, top.current) == ("n_epochs", "increase", 8)
    # validation rose ~4 points per epoch, steadily: steep, so half again as many
    assert top.suggested == 12
    assert "per epoch" in top.reason and "points" in top.reason


def test_underfit_short_run_adds_epochs_before_raising_a_mid_range_multiplier() -> None:
    run = epoch_run(UNDERFIT_CURVE[0][:4], UNDERFIT_CURVE[1][:4], platform="openai", n_epochs=2,
                    learning_rate_multiplier=0.1, batch_size=4, n_examples=120)
    recs = advise(run, "underfit")
    assert recs[0].parameter == "n_epochs" and recs[0].suggested is not None and recs[0].suggested >= 3


def test_good_fit_keeps_the_settings_and_names_the_checkpoint() -> None:
    run = epoch_run(*GOOD_CURVE, platform="keras", n_epochs=8)
    (top, *_) = advise(run, "good_fit")
    assert top.action == "keep" and top.current == top.suggested == 8 and top.change == "="
    assert "checkpoint" in top.reason
    assert top.platform_parameter == "epochs"


@pytest.mark.parametrize(
    ("val_acc", "says", "never"),
    [
        # flat at the end: "levelled off"
        (GOOD_CURVE[1], "levelled off at 88.0%", "lower"),
        # gave back 4 points after the best epoch: the reason must say so, not "did not get worse"
        ([0.5, 0.72, 0.83, 0.86, 0.88, 0.86, 0.85, 0.84], "was best at epoch 5 (88.0%) and ended at", "levelled"),
        # still climbing steadily: the reason quotes the tail fit, never "converged"
        ([0.5, 0.6, 0.66, 0.7, 0.73, 0.76, 0.785, 0.81], "still points up (+", "levelled"),
    ],
)
def test_good_fit_reason_agrees_with_the_curve(val_acc: list[float], says: str, never: str) -> None:
    run = epoch_run(GOOD_CURVE[0], val_acc, platform="keras", n_epochs=8)
    (top, *_) = advise(run, "good_fit")
    assert top.action == "keep"
    assert says in top.reason
    assert never not in top.reason and "did not get worse" not in top.reason and "converged" not in top.reason


def test_good_fit_on_one_validation_point_does_not_claim_convergence() -> None:
    run = epoch_run(GOOD_CURVE[0][:1], GOOD_CURVE[1][:1], platform="keras", n_epochs=1)
    (top, *_) = advise(run, "good_fit")
    assert top.action == "keep" and "cannot show whether validation converged" in top.reason
    assert "levelled off" not in top.reason


def test_good_fit_with_the_metric_flat_and_validation_loss_still_falling_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # 3 epochs: validation accuracy flat within noise, validation loss still falling steeply
    p = tmp_path / "flat_metric.csv"
    p.write_text(
        "epoch,accuracy,loss,val_accuracy,val_loss\n"
        "0,0.217,7.03,0.21,6.315\n1,0.225,5.741,0.19,5.588\n2,0.242,5.146,0.19,5.224\n"
    )
    (run,) = read_path(p)
    (top, *_) = advise(run, "good_fit")
    assert "validation val_loss was still falling at its last evaluation (6.315 -> 5.224" in top.reason


def test_divergence_lowers_the_multiplier_first_whatever_the_verdict() -> None:
    run = epoch_run(*UNDERFIT_CURVE, platform="openai", n_epochs=8, learning_rate_multiplier=0.2, batch_size=4)
    recs = advise(run, "underfit", findings=(Finding("nan_or_inf", "error", "NaN from step 3"),))
    assert (recs[0].parameter, recs[0].action, recs[0].suggested) == ("learning_rate_multiplier", "decrease", 0.1)
    assert recs[0].rule == "instability.lower_lr"


def test_noisy_training_suggests_a_larger_batch_within_the_training_set() -> None:
    run = epoch_run(*GOOD_CURVE, platform="openai", n_epochs=8, batch_size=40, n_examples=60)
    recs = advise(run, "good_fit", findings=(Finding("noisy_training", "info", "noisy"),))
    bs = next(r for r in recs if r.parameter == "batch_size")
    assert bs.action == "increase" and bs.suggested == 60  # not 80: only 60 examples


def test_prompt_loss_weight_only_where_it_exists() -> None:
    run = epoch_run(*OVERFIT_CURVE, platform="openai", n_epochs=8, learning_rate_multiplier=0.4)
    assert not any(r.parameter == "prompt_loss_weight" for r in advise(run, "overfit"))
    run = epoch_run(*OVERFIT_CURVE, platform="openai", n_epochs=8, learning_rate_multiplier=0.4, prompt_loss_weight=1.0)
    plw = [r for r in advise(run, "overfit") if r.parameter == "prompt_loss_weight"]
    assert plw and (plw[0].action, plw[0].suggested) == ("decrease", 0.01)
    run = epoch_run(*OVERFIT_CURVE, platform="openai", n_epochs=8, learning_rate_multiplier=0.4, prompt_loss_weight=0.01)
    assert not any(r.parameter == "prompt_loss_weight" for r in advise(run, "overfit"))


def test_inconclusive_short_run_asks_for_three_epochs() -> None:
    run = epoch_run([0.5, 0.6], [0.5, 0.55], platform="keras", n_epochs=2)
    (top, *_) = advise(run, "inconclusive")
    assert (top.parameter, top.action, top.suggested) == ("n_epochs", "increase", 3)


def test_unknown_values_give_a_relative_change() -> None:
    run = epoch_run(*OVERFIT_CURVE, platform="keras")
    recs = advise(run, "overfit")
    lr = next(r for r in recs if r.parameter == "learning_rate_multiplier")
    assert lr.current is None and lr.change == "x0.5" and lr.platform_parameter == "optimizer learning_rate"
    assert "learning rate" in lr.reason


def test_one_change_per_parameter_and_plain_dicts() -> None:
    run = epoch_run(*UNDERFIT_CURVE, platform="openai", n_epochs=8, learning_rate_multiplier=0.1, batch_size=64, n_examples=120)
    recs = advise(run, "underfit", findings=(Finding("noisy_training", "info", "noisy"),))
    pairs = [(r.parameter, r.action) for r in recs]
    assert len(pairs) == len(set(pairs))
    for r in recs:
        d = r.to_dict()
        assert set(d) >= {"parameter", "action", "current", "suggested", "reason", "expected_effect", "platform_parameter"}
        assert d["parameter"] in {"n_epochs", "learning_rate_multiplier", "batch_size", "prompt_loss_weight"}
        assert d["action"] in {"increase", "decrease", "keep"}


@pytest.mark.parametrize(
    ("platform", "names"),
    [
        ("openai", ("n_epochs", "learning_rate_multiplier", "batch_size")),
        ("huggingface", ("num_train_epochs", "learning_rate", "per_device_train_batch_size")),
        ("keras", ("epochs", "optimizer learning_rate", "batch_size")),
        ("lightning", ("max_epochs", "optimizer lr (configure_optimizers)", "DataLoader batch_size")),
    ],
)
def test_platform_names(platform: str, names: tuple[str, str, str]) -> None:
    run = epoch_run(*UNDERFIT_CURVE, platform=platform, n_epochs=8, learning_rate_multiplier=0.1, batch_size=64, n_examples=120)
    recs = {r.parameter: r for r in advise(run, "underfit")}
    got = tuple(recs[p].platform_parameter for p in ("n_epochs", "learning_rate_multiplier", "batch_size"))
    assert got == names
    if platform in ("huggingface", "lightning"):
        assert "accumulat" in (recs["batch_size"].note or "")


# --------------------------------------------------------------------------------------
# inference of settings from real logs
# --------------------------------------------------------------------------------------


def _truth_rows(fmt: str, n: int) -> list[dict[str, str]]:
    with open(need(LABELED / "truth.csv"), newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["format"] == fmt]
    # spread over batch sizes so the test sees several
    by_batch: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_batch.setdefault(r["batch_size"], []).append(r)
    return [r for group in by_batch.values() for r in group[:n]]


def test_openai_batch_size_is_inferred_from_steps_per_epoch() -> None:
    for row in _truth_rows("openai", 2):
        hp = {"n_epochs": float(row["n_epochs"]), "n_examples": float(row["n_train_examples"])}
        res = ftdiag.analyze(LABELED / row["file"], hyperparameters=hp)
        ctx = context(res.run, res.features)
        n, batch = float(row["n_train_examples"]), float(row["batch_size"])
        # the run makes ceil(n / batch) updates per epoch; the inverse is exact up to rounding
        assert ctx.batch_size_source == "inferred"
        assert math.ceil(n / ctx.batch_size) == math.ceil(n / min(batch, n)), row["file"]
        # and the OpenAI default multiplier follows the inferred batch size
        assert ctx.learning_rate_source == "default" and ctx.learning_rate in (0.05, 0.1, 0.2)


def test_hf_epochs_and_batch_come_from_the_log() -> None:
    for row in _truth_rows("hf_trainer_state", 1):
        res = ftdiag.analyze(LABELED / row["file"])
        ctx = context(res.run, res.features)
        assert ctx.n_epochs == float(row["n_epochs"]) and ctx.n_epochs_source == "log"
        assert ctx.batch_size == float(row["batch_size"])
        assert ctx.lr_is_multiplier is False and ctx.learning_rate and ctx.learning_rate > 0
        # with the number of examples, updates per epoch follow
        res = ftdiag.analyze(LABELED / row["file"], hyperparameters={"n_examples": float(row["n_train_examples"])})
        ctx = context(res.run, res.features)
        assert ctx.steps_per_epoch == math.ceil(float(row["n_train_examples"]) / float(row["batch_size"]))


def test_keras_epochs_are_inferred_from_the_epoch_column() -> None:
    res = ftdiag.analyze(SAMPLES / "keras_underfit.csv")
    ctx = context(res.run, res.features)
    assert ctx.n_epochs_source == "inferred" and ctx.n_epochs == res.features.epochs_seen


def test_user_values_win_and_recommendations_use_them() -> None:
    res = ftdiag.analyze(SAMPLES / "hf_trainer_state_overfit.json", hyperparameters={"n_epochs": 10, "batch_size": 8})
    ctx = context(res.run, res.features)
    assert (ctx.n_epochs, ctx.batch_size, ctx.n_epochs_source) == (10, 8, "option")
    again = analyze_run(res.run)
    assert context(again.run, again.features).n_epochs == 10


def test_every_sample_gets_a_primary_recommendation_with_evidence() -> None:
    for p in sorted(SAMPLES.iterdir()):
        if p.suffix not in (".csv", ".json"):
            continue
        r = ftdiag.analyze(p)
        assert r.recommendations, p
        top = r.recommendations[0]
        assert top.reason and top.expected_effect
        if r.label in ("overfit", "underfit", "good_fit"):
            # the reason points at the curve: it carries a number
            assert any(ch.isdigit() for ch in top.reason), (p, top.reason)
        # relabelled, the same run still gets advice of the right direction
        d = replace(r.diagnosis, label="underfit")
        up = recommend(r.run, r.features, d)[0]
        assert up.action == "increase" or up.parameter == "batch_size"


def test_eval_advice_score_is_label_balanced() -> None:
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("eval_labeled", ROOT / "benchmarks" / "eval_labeled.py")
    assert spec and spec.loader
    ev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ev)
    rows = [
        {"truth_label": "good_fit", "best_moves": ""},
        {"truth_label": "good_fit", "best_moves": ""},
        {"truth_label": "good_fit", "best_moves": "batch_size:decrease"},
        {"truth_label": "overfit", "best_moves": "learning_rate_multiplier:decrease;n_epochs:decrease"},
        {"truth_label": "underfit", "best_moves": "n_epochs:increase"},
    ]
    score, per = ev.advice_score(rows, ["keep", "keep", "keep", "n_epochs:decrease", "keep"])
    assert per == {"good_fit": 2 / 3, "overfit": 1.0, "underfit": 0.0}
    assert math.isclose(score, (2 / 3 + 1.0) / 3)


def test_too_short_to_judge_far_above_the_range_lowers_the_multiplier_first() -> None:
    run = epoch_run([0.5, 0.6], [0.5, 0.55], platform="openai", n_epochs=2, learning_rate_multiplier=5.0)
    recs = advise(run, "inconclusive")
    assert (recs[0].parameter, recs[0].action, recs[0].suggested) == ("learning_rate_multiplier", "decrease", 2.5)
    assert "25 times" in recs[0].reason and recs[1].rule == "inconclusive.more_epochs"
    # within the range: train longer so that the next run can be judged
    run = epoch_run([0.5, 0.6], [0.5, 0.55], platform="openai", n_epochs=2, learning_rate_multiplier=0.2)
    assert advise(run, "inconclusive")[0].rule == "inconclusive.more_epochs"


def test_openai_epochs_are_inferred_from_steps_batch_and_examples() -> None:
    for row in _truth_rows("openai", 2):
        hp = {"batch_size": float(row["batch_size"]), "n_examples": float(row["n_train_examples"])}
        res = ftdiag.analyze(LABELED / row["file"], hyperparameters=hp)
        ctx = context(res.run, res.features)
        assert ctx.n_epochs_source == "inferred" and ctx.n_epochs == float(row["n_epochs"]), row["file"]
