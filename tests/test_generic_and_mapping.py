"""The generic reader (recognizable names in CSV/JSONL/JSON) and the explicit
column mapping (--train-metric, --val-metric, --higher-is-better)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import ftdiag
from conftest import PUBLIC, SAMPLES, need
from ftdiag.cli import cli
from ftdiag.errors import InputError
from ftdiag.formats import detect, open_source
from ftdiag.inputs import read_inputs
from ftdiag.mapping import ColumnMapping
from ftdiag.run import Run


def one(path: Path, mapping: ColumnMapping | None = None) -> Run:
    runs, errors = read_inputs([str(path)], mapping=mapping)
    if errors:
        raise errors[0].error
    (run,) = runs
    return run


def fmt_of(path: Path) -> str:
    with open_source(path) as s:
        return detect(s).name


def test_generic_csv_with_recognizable_names(tmp_path: Path) -> None:
    p = tmp_path / "log.tsv"
    p.write_text("iteration\ttrain_loss\tvalidation_loss\tval_acc\n100\t2.0\t2.1\t55\n200\t1.5\t1.6\t62\n300\t1.2\t1.4\t66\n")
    assert fmt_of(p) == "generic"
    run = one(p)
    assert run.train_loss.name == "train_loss" and run.val_loss.name == "validation_loss"
    assert run.val_loss.steps.tolist() == [100, 200, 300]
    # accuracy in percent is understood as a fraction
    assert run.val_metric.name == "val_acc" and run.val_metric.values.tolist() == pytest.approx([0.55, 0.62, 0.66])


def test_generic_loses_to_specific_readers() -> None:
    for name, fmt in (("keras_underfit.csv", "keras_csv"), ("openai_overfit.csv", "openai")):
        assert fmt_of(SAMPLES / name) == fmt
    assert fmt_of(need(PUBLIC / "lightning_csv" / "forest-cover-type__metrics.csv")) == "lightning_csv"


def test_generic_jsonl_sparse_nested_and_truncated(tmp_path: Path) -> None:
    p = tmp_path / "metrics.jsonl"
    lines = []
    for s in range(1, 6):
        lines.append(json.dumps({"step": s, "loss": 2.0 / s}))
        lines.append(json.dumps({"step": s, "eval": {"loss": 1.0 + 0.1 * (s - 3) ** 2, "accuracy": 0.5 + s / 100}}))
    p.write_text("\n".join(lines) + '\n{"step": 6, "lo')
    run = one(p)
    assert run.train_loss.values.tolist() == pytest.approx([2.0 / s for s in range(1, 6)])
    assert run.val_loss.name == "eval/loss" and run.val_metric.name == "eval/accuracy"
    assert any("not JSON objects" in w and "line 11" in w for w in run.warnings)


def test_generic_keras_history_json_object_of_lists(tmp_path: Path) -> None:
    p = tmp_path / "history.json"
    p.write_text(json.dumps({"loss": [1.0, 0.8, 0.6], "val_loss": [1.1, 0.9, 0.95], "accuracy": [0.5, 0.6, 0.7]}))
    run = one(p)
    assert run.val_loss.values.tolist() == [1.1, 0.9, 0.95] and run.train_metric.name == "accuracy"
    assert any("no step or epoch column" in w for w in run.warnings)


def test_unrecognized_columns_are_not_claimed_without_a_mapping(tmp_path: Path) -> None:
    p = tmp_path / "scores.csv"
    p.write_text("step,foo,quality\n1,3,10\n2,2,14\n3,1,15\n4,1,15.5\n")
    with pytest.raises(InputError, match="not a training log format"):
        one(p)
    run = one(p, ColumnMapping(val_metric="quality", higher_is_better=True))
    assert run.val_metric.name == "quality" and run.val_metric.higher_is_better
    r = CliRunner().invoke(cli, ["analyze", str(p), "--val-metric", "quality", "--higher-is-better", "--format", "json"])
    assert r.exit_code == 0, r.output
    (res,) = json.loads(r.stdout)["runs"]
    assert res["summary"]["decided_on"] == "quality" and res["summary"]["higher_is_better"] is True
    assert any("quality" in e for e in res["evidence"])


def test_the_public_decoy_is_still_refused() -> None:
    p = need(PUBLIC / "other" / "smart-parking__step_metrics.csv")
    r = CliRunner().invoke(cli, ["analyze", str(p)])
    assert r.exit_code == 2 and "not a training log" in r.stderr


def test_mapping_overrides_a_specific_reader_and_pairs_the_train_twin() -> None:
    p = need(PUBLIC / "lightning_csv" / "forest-cover-type__metrics.csv")
    res = ftdiag.analyze(p, mapping=ColumnMapping(val_metric="valid_loss"))
    assert res.run.val_metric.name == "valid_loss" and not res.run.val_metric.higher_is_better
    assert res.run.train_metric.name == "train_loss"
    assert res.summary()["decided_on"] == "valid_loss"


def test_lower_is_better_flips_a_metric_direction(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    p.write_text("epoch,loss,val_loss,val_score\n0,1.0,1.0,5\n1,0.8,0.9,4\n2,0.6,0.85,3\n3,0.5,0.84,2.5\n")
    run = one(p, ColumnMapping(val_metric="val_score", higher_is_better=False))
    assert run.val_metric.name == "val_score" and not run.val_metric.higher_is_better
    assert run.x_unit == "epoch" and run.val_loss.steps.tolist() == [1, 2, 3, 4]


def test_direction_alone_flips_the_chosen_metric(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    p.write_text("step,train_loss,val_loss,val_acc\n1,1.0,1.0,0.5\n2,0.8,0.9,0.4\n3,0.6,0.8,0.3\n")
    assert one(p).val_metric.higher_is_better
    assert not one(p, ColumnMapping(higher_is_better=False)).val_metric.higher_is_better


def test_unknown_mapped_name_is_a_clear_error() -> None:
    r = CliRunner().invoke(cli, ["analyze", str(SAMPLES / "keras_underfit.csv"), "--val-metric", "nope"])
    assert r.exit_code == 2
    assert "--val-metric 'nope': no such series" in r.stderr and "val_loss" in r.stderr


def test_api_stays_backwards_compatible() -> None:
    res = ftdiag.analyze(SAMPLES / "keras_underfit.csv", {"n_epochs": 10}, None)
    assert res.label in ("underfit", "good_fit", "overfit", "inconclusive")
