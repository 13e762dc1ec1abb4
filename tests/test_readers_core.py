"""The three core readers on real files (spot-checked against the raw text)."""

from __future__ import annotations

import math

import pytest

from conftest import LABELED, PUBLIC, SAMPLES, need
from ftdiag.errors import InputError, NoDataError
from ftdiag.formats import detect, open_source, read_path


def fmt_of(path) -> str:  # type: ignore[no-untyped-def]
    with open_source(path) as s:
        return detect(s).name


def test_openai_current_labeled_sample() -> None:
    (run,) = read_path(SAMPLES / "openai_overfit.csv")
    assert run.format == "openai" and run.platform == "openai"
    raw = (SAMPLES / "openai_overfit.csv").read_text().splitlines()
    first = raw[1].split(",")
    assert run.train_loss.steps[0] == float(first[0])
    assert run.train_loss.values[0] == pytest.approx(float(first[1]))
    assert "full_valid_loss" in run.extra


def test_openai_patent_insights_sparse_validation() -> None:
    p = need(PUBLIC / "openai" / "patent-insights__step_metrics.csv")
    (run,) = read_path(p)
    assert len(run.train_loss) == 1665
    assert 10 <= len(run.val_loss) < 100  # validation every 100 steps


def test_openai_base64_file_is_decoded() -> None:
    (run,) = read_path(need(PUBLIC / "openai" / "mi2yaya-research__step_metrics.csv"))
    assert len(run.train_loss) == 690
    assert run.val_loss is None
    assert any("base64" in w for w in run.warnings)


def test_openai_legacy() -> None:
    (run,) = read_path(need(PUBLIC / "openai_legacy" / "stefankam-gpt-finetune__results.csv"))
    assert run.format == "openai_legacy"
    assert run.val_loss is not None and len(run.val_loss) > 10


def test_hf_trainer_state_public() -> None:
    (run,) = read_path(need(PUBLIC / "hf_trainer_state" / "financial-news-sentiment__trainer_state.json"))
    assert run.format == "hf_trainer_state"
    assert run.val_loss is not None and run.val_metric is not None
    assert run.val_metric.name == "eval_accuracy"


def test_hf_trainer_state_named_py_is_detected_by_content() -> None:
    assert fmt_of(need(PUBLIC / "hf_trainer_state" / "quality-lrqa__init__.py")) == "hf_trainer_state"


def test_hf_empty_log_history_is_refused_clearly() -> None:
    with pytest.raises(NoDataError, match="log_history is empty"):
        read_path(need(PUBLIC / "hf_trainer_state" / "sarcasm-detection__trainer_state.json"))


def test_hf_bare_nan_is_accepted() -> None:
    (run,) = read_path(need(PUBLIC / "hf_trainer_state" / "soup-dpo__trainer_state.json"))
    assert run.train_loss is not None


def test_keras_csvlogger_crlf_and_old_names() -> None:
    (run,) = read_path(need(PUBLIC / "keras_csv" / "irfanet-10__training.log"))
    assert run.format == "keras_csv" and run.x_unit == "epoch"
    assert len(run.val_loss) == 3


def test_keras_pandas_dump_with_index_column() -> None:
    (run,) = read_path(need(PUBLIC / "keras_csv" / "traffic-sign__history.csv"))
    assert run.val_metric is not None and run.val_metric.name in ("val_acc", "val_accuracy")
    assert len(run.val_loss) == 50


def test_keras_labeled_values() -> None:
    rows = [r.split(",") for r in (SAMPLES / "keras_underfit.csv").read_text().splitlines()[1:]]
    (run,) = read_path(SAMPLES / "keras_underfit.csv")
    assert list(run.val_loss.values) == [pytest.approx(float(r[4])) for r in rows]


def test_decoy_step_metrics_is_not_openai() -> None:
    p = need(PUBLIC / "other" / "smart-parking__step_metrics.csv")
    with pytest.raises(InputError, match="smart-parking"):
        read_path(p)


def test_every_labeled_run_reads() -> None:
    import csv

    with open(need(LABELED / "truth.csv")) as fh:
        rows = list(csv.DictReader(fh))
    for row in rows[::37]:
        (run,) = read_path(LABELED / row["file"])
        assert run.format == row["format"]
        assert run.train_loss is not None and not math.isnan(run.last_step)
