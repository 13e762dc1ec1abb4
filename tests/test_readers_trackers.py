"""Lightning, Ultralytics, W&B, MLflow and TensorBoard-CSV readers on every
public corpus file of those formats: parsed into the right series (values
spot-checked against the raw text) or refused with a specific message."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import PUBLIC, need
from ftdiag.cli import cli
from ftdiag.errors import NoDataError
from ftdiag.formats import detect, open_source
from ftdiag.inputs import read_inputs
from ftdiag.run import Run


def runs_of(*paths: Path | str) -> list[Run]:
    runs, errors = read_inputs([str(p) for p in paths])
    if errors:
        raise errors[0].error
    return runs


def one(path: Path) -> Run:
    (run,) = runs_of(path)
    return run


def rows(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    return [{k.strip(): (v or "").strip() for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]


def fmt_of(path: Path) -> str:
    with open_source(path) as s:
        return detect(s).name


def refused(path: Path, *needles: str) -> str:
    """The file is refused through the CLI: exit 2, one line naming the file."""
    r = CliRunner().invoke(cli, ["analyze", str(path)])
    assert r.exit_code == 2, r.output
    assert path.name in r.stderr and "Traceback" not in r.output
    for n in needles:
        assert n in r.stderr, r.stderr
    return r.stderr


def value_at(s, step: float) -> float:  # type: ignore[no-untyped-def]
    i = int(np.flatnonzero(s.steps == step)[0])
    return float(s.values[i])


# --- Lightning -------------------------------------------------------------------

LIGHT = PUBLIC / "lightning_csv"


def test_lightning_sparse_rows_post_training_validation_and_test_row() -> None:
    p = need(LIGHT / "cv-image-classification__metrics.csv")
    assert fmt_of(p) == "lightning_csv"
    run = one(p)
    raw = rows(p)
    train = [r for r in raw if r["train_loss"]]
    val = [r for r in raw if r["val_loss"]]
    assert run.train_loss is not None and run.train_loss.name == "train_loss"
    assert len(run.train_loss) == len(train)
    assert run.train_loss.values[0] == pytest.approx(float(train[0]["train_loss"]))
    assert run.train_loss.steps[-1] == float(train[-1]["step"])
    # the last validation row (epoch 5, no training in that epoch) is a separate validate() call
    assert len(run.val_loss) == len(val) - 1
    assert run.val_metric.name == "val_accuracy" and run.val_metric.higher_is_better
    assert value_at(run.val_metric, float(val[0]["step"])) == pytest.approx(float(val[0]["val_accuracy"]))
    assert any("after training ended" in w for w in run.warnings)
    assert "test_loss" in run.extra
    # validation at the end of epoch k sits at epoch k+1 exactly
    assert run.val_loss.epochs is not None and run.val_loss.epochs[0] == pytest.approx(1.0)


def test_lightning_step_epoch_suffixes_and_separate_val_counter() -> None:
    p = need(LIGHT / "epam-hometask__metrics.csv")
    run = one(p)
    raw = rows(p)
    assert run.train_loss.name == "train_loss_epoch" and run.val_loss.name == "val_loss_epoch"
    assert run.val_metric.name == "val_f1_score_epoch" and run.train_metric.name == "train_f1_score_epoch"
    ep_rows = [r for r in raw if r["val_loss_epoch"]]
    assert len(run.val_loss) == len(ep_rows)
    assert run.val_loss.values[-1] == pytest.approx(float(ep_rows[-1]["val_loss_epoch"]))
    # the per-batch validation values (own counter) are left out, with a warning
    assert "val_loss_step" not in run.extra and any("own counter" in w for w in run.warnings)
    assert np.all(np.diff(run.val_loss.steps) > 0)


def test_lightning_dataloader_suffix_keeps_the_dense_training_series() -> None:
    p = need(LIGHT / "forest-cover-type__metrics.csv")
    run = one(p)
    raw = rows(p)
    assert run.train_loss.name == "train_loss"
    assert len(run.train_loss) == sum(1 for r in raw if r["train_loss"])
    assert run.val_loss.name == "valid_loss" and set(run.extra) >= {"train_loss_0", "valid_loss_0"}
    assert run.val_metric.name == "valid_accuracy"
    assert run.steps_per_epoch == pytest.approx(341.0)


def test_lightning_validation_only_file() -> None:
    p = need(LIGHT / "mlops-hw1__metrics.csv")
    run = one(p)
    assert run.train_loss is None and run.val_loss is not None
    assert run.val_loss.values.tolist() == pytest.approx([float(r["val_loss"]) for r in rows(p)])


def test_lightning_training_only_file_is_analyzed_as_inconclusive() -> None:
    p = need(LIGHT / "nlp2-probing-lms__metrics.csv")
    run = one(p)
    assert fmt_of(p) == "lightning_csv"
    assert not run.has_validation and run.train_metric.name == "train_acc"
    assert len(run.train_loss) == len(rows(p))
    r = CliRunner().invoke(cli, ["analyze", str(p), "--format", "json"])
    assert r.exit_code == 0 and '"inconclusive"' in r.stdout


def test_lightning_test_only_file_is_refused() -> None:
    refused(need(LIGHT / "waste-classification__metrics.csv"), "only test metrics", "test_loss")


def test_lightning_version_directory_with_hparams(tmp_path: Path) -> None:
    v = tmp_path / "lightning_logs" / "version_3"
    v.mkdir(parents=True)
    lines = ["epoch,step,train_loss,val_loss,val_acc"]
    for e in range(6):
        for b in range(3):
            lines.append(f"{e},{e * 10 + b * 3},{2.0 / (1 + e + b / 3):.4f},,")
        lines.append(f"{e},{e * 10 + 9},,{1.5 - 0.1 * e:.4f},{0.5 + 0.05 * e:.3f}")
    (v / "metrics.csv").write_text("\n".join(lines) + "\n")
    (v / "hparams.yaml").write_text("lr: 0.003\nbatch_size: 32\nmax_epochs: 6\nmodel:\n  layers: [1, 2]\n")
    (tmp_path / "lightning_logs" / "version_4").mkdir()  # an empty version dir: skipped
    (run,) = runs_of(tmp_path / "lightning_logs")
    assert run.name == "version_3" and run.format == "lightning_csv"
    hp = run.hyperparameters
    assert (hp.learning_rate, hp.batch_size, hp.n_epochs) == (0.003, 32.0, 6.0)
    assert len(run.val_loss) == 6 and run.val_metric.name == "val_acc"


# --- Ultralytics -----------------------------------------------------------------

ULTRA = PUBLIC / "ultralytics"


@pytest.mark.parametrize(
    ("name", "metric", "first_epoch_x"),
    [
        ("abhio3-yolov8__results.csv", "metrics/mAP50-95(B)", 1.0),
        ("yolodog__results.csv", "metrics/mAP50-95(B)", 1.0),  # 0-based epochs
        ("dental-segmentation__results.csv", "metrics/mAP50-95(M)", 1.0),
        ("dog-vs-cat__results.csv", "metrics/accuracy_top1", 1.0),
        ("ramen-classifier__results.csv", "metrics/accuracy_top1", 1.0),
    ],
)
def test_ultralytics_series_match_the_raw_file(name: str, metric: str, first_epoch_x: float) -> None:
    p = need(ULTRA / name)
    assert fmt_of(p) == "ultralytics"
    run = one(p)
    raw = rows(p)
    assert run.x_unit == "epoch" and run.val_metric.name == metric and run.val_metric.higher_is_better
    assert run.val_metric.steps[0] == first_epoch_x
    assert run.val_metric.values.tolist() == pytest.approx([float(r[metric]) for r in raw])
    train_parts = [k for k in raw[0] if k.startswith("train/") and k.endswith("loss")]
    val_parts = [k for k in raw[0] if k.startswith("val/") and k.endswith("loss")]
    assert run.train_loss.values[-1] == pytest.approx(sum(float(raw[-1][k]) for k in train_parts))
    assert run.val_loss.values[0] == pytest.approx(sum(float(raw[0][k]) for k in val_parts))
    assert not run.train_loss.higher_is_better


def test_ultralytics_verdict_names_the_deciding_metric() -> None:
    p = need(ULTRA / "abhio3-yolov8__results.csv")
    r = CliRunner().invoke(cli, ["analyze", str(p)])
    assert r.exit_code == 0 and "mAP50-95(B)" in r.stdout


def test_ultralytics_single_epoch_is_refused() -> None:
    refused(need(ULTRA / "plant-disease-detection__results.csv"), "single epoch")


def test_ultralytics_all_nan_run_is_refused() -> None:
    refused(need(ULTRA / "yolov8-ball-detector__results.csv"), "NaN", "every metric is 0")


def test_ultralytics_args_yaml_gives_hyperparameters(tmp_path: Path) -> None:
    header = "epoch,train/loss,metrics/accuracy_top1,metrics/accuracy_top5,val/loss,lr/pg0"
    body = [f"{e},{1.0 / e:.3f},{60 + e},{90 + e / 10:.1f},{1.2 / e:.3f},0.01" for e in range(1, 6)]
    (tmp_path / "results.csv").write_text("\n".join([header, *body]) + "\n")
    (tmp_path / "args.yaml").write_text("task: classify\nepochs: 5\nbatch: 16\nlr0: 0.01\n")
    run = one(tmp_path / "results.csv")
    assert run.hyperparameters.n_epochs == 5 and run.hyperparameters.batch_size == 16
    # top-1 accuracy logged in percent becomes a fraction
    assert run.val_metric.values[0] == pytest.approx(0.61)


# --- W&B ---------------------------------------------------------------------------

WANDB = PUBLIC / "wandb_csv"


@pytest.mark.parametrize(
    ("name", "n_runs"),
    [
        ("nanogpt-ablations__wandb_export.csv", 64),
        ("text-aug-experiments__wandb_export.csv", 5),
        ("cs6886w-quant__wandb_export.csv", 10),
    ],
)
def test_wandb_runs_table_is_refused_with_the_way_out(name: str, n_runs: int) -> None:
    p = need(WANDB / name)
    assert fmt_of(p) == "wandb_csv"
    err = refused(p, "runs-table export", "no step axis", "Export CSV")
    assert f"{n_runs} run(s)" in err


def test_wandb_chart_exports_become_one_run_per_run_and_combine(tmp_path: Path) -> None:
    (tmp_path / "val.csv").write_text(
        '"Step","a - val/loss","a - val/loss__MIN","a - val/loss__MAX","b - val/loss","b - val/loss__MIN","b - val/loss__MAX"\n'
        '"0","2.0","2.0","2.0","2.1","2.1","2.1"\n"100","1.5","1.5","1.5","1.6","1.6","1.6"\n'
        '"200","1.2","1.2","1.2","","",""\n"300","1.1","1.1","1.1","1.7","1.7","1.7"\n'
    )
    (tmp_path / "train.csv").write_text('"Step","a - train/loss","b - train/loss"\n"0","2.2","2.2"\n"300","0.9","0.4"\n')
    runs = {r.name: r for r in runs_of(tmp_path)}
    assert set(runs) == {"a", "b"}
    b = runs["b"]
    assert b.val_loss.steps.tolist() == [0, 100, 300] and b.val_loss.values[-1] == 1.7
    assert b.train_loss.values.tolist() == [2.2, 0.4]
    # one file alone: each run has only its validation curve
    assert {r.name for r in runs_of(tmp_path / "val.csv")} == {"a", "b"}


# --- MLflow ------------------------------------------------------------------------

ML = PUBLIC / "mlflow"


def test_mlflow_metric_file_name_from_path_and_values() -> None:
    p = need(ML / "swahili-stt__metrics_loss")
    assert fmt_of(p) == "mlflow"
    run = one(p)
    lines = [ln.split() for ln in p.read_text().splitlines()]
    assert run.train_loss.name == "loss"
    assert run.train_loss.steps.tolist() == [float(x[2]) for x in lines]
    assert run.train_loss.values.tolist() == pytest.approx([float(x[1]) for x in lines])
    assert not run.has_validation


@pytest.mark.parametrize(
    "names",
    [
        ("deepcnnclassifier__metrics_loss",),
        ("imageclass-3a9af4__metrics_val_accuracy",),
        ("imageclass-3a9af4__metrics_val_loss",),
        ("imageclass-3a9af4__metrics_val_accuracy", "imageclass-3a9af4__metrics_val_loss"),
    ],
)
def test_mlflow_single_final_values_are_refused(names: tuple[str, ...]) -> None:
    paths = [need(ML / n) for n in names]
    with pytest.raises(NoDataError, match="single point"):
        runs_of(*paths)
    refused(paths[0], "single point", "step 0")


def _mlflow_run(root: Path, run_id: str, val: list[float]) -> Path:
    d = root / "mlruns" / "0" / run_id
    (d / "metrics" / "train").mkdir(parents=True)
    (d / "params").mkdir()
    (d / "tags").mkdir()
    (d / "meta.yaml").write_text(f"run_id: {run_id}\nrun_name: ignored\nstatus: 3\n")
    (d / "tags" / "mlflow.runName").write_text(f"name-{run_id}")
    (d / "params" / "epochs").write_text("5")
    (d / "params" / "learning_rate").write_text("0.0003")
    (d / "params" / "optimizer").write_text("adam")
    t0 = 1_700_000_000_000
    (d / "metrics" / "train" / "loss").write_text("".join(f"{t0 + i} {2.0 / (i + 1)} {i}\n" for i in range(5)))
    (d / "metrics" / "val_loss").write_text("".join(f"{t0 + i} {v} {i}\n" for i, v in enumerate(val)))
    (d / "metrics" / "val_accuracy").write_text("".join(f"{t0 + i} {0.5 + i / 20} {i}\n" for i in range(5)))
    return d


def test_mlflow_run_directory_and_store_walk(tmp_path: Path) -> None:
    d = _mlflow_run(tmp_path, "abc", [1.5, 1.2, 1.1, 1.2, 1.4])
    _mlflow_run(tmp_path, "def", [1.5, 1.3, 1.2, 1.1, 1.0])
    (tmp_path / "mlruns" / "0" / "meta.yaml").write_text("name: Default\n")
    run = one(d)
    assert run.name == "name-abc" and run.format == "mlflow"
    assert run.train_loss.name == "train/loss" and run.val_loss.values.tolist() == [1.5, 1.2, 1.1, 1.2, 1.4]
    assert run.val_metric.name == "val_accuracy"
    assert run.hyperparameters.n_epochs == 5 and run.hyperparameters.learning_rate == 0.0003
    names = [r.name for r in runs_of(tmp_path / "mlruns")]
    assert names == ["0/abc: name-abc", "0/def: name-def"]
    # the metric files of one run, given one by one, combine
    (combined,) = runs_of(d / "metrics" / "train" / "loss", d / "metrics" / "val_loss")
    assert combined.train_loss is not None and combined.val_loss is not None


def test_mlflow_metric_without_steps_is_ordered_by_time(tmp_path: Path) -> None:
    m = tmp_path / "metrics"
    m.mkdir()
    (m / "val_loss").write_text("1700000000300 0.7 0\n1700000000100 0.9 0\n1700000000200 0.8 0\n")
    run = one(m / "val_loss")
    assert run.val_loss.values.tolist() == [0.9, 0.8, 0.7]
    assert any("without step" in w for w in run.warnings)


# --- TensorBoard CSV ---------------------------------------------------------------

TBC = PUBLIC / "tensorboard_csv"


def test_tensorboard_csv_resumed_sessions_are_joined() -> None:
    p = need(TBC / "attention-ocr__run-.-tag-loss.csv")
    assert fmt_of(p) == "tensorboard_csv"
    run = one(p)
    raw = rows(p)
    assert run.train_loss.name == "loss" and not run.has_validation
    assert len(run.train_loss) == len(raw)  # every point kept: sessions are shifted, not overlapped
    assert sum("started over" in w for w in run.warnings) == 2
    assert any("out of order" in w for w in run.warnings)
    # the last value logged is the last point of the joined curve
    assert run.train_loss.values[-1] == pytest.approx(float(raw[-1]["Value"]))
    assert run.train_loss.steps[-1] > float(raw[-1]["Step"])  # shifted past the earlier sessions


def test_tensorboard_csv_pair_in_one_folder_is_one_run() -> None:
    loss = need(TBC / "imdb-age-gender__run-.-tag-loss.csv")
    val = need(TBC / "imdb-age-gender__run-.-tag-val_loss.csv")
    (run,) = runs_of(loss, val)
    assert run.train_loss.name == "loss" and run.val_loss.name == "val_loss"
    raw = rows(val)
    assert run.val_loss.values.tolist() == pytest.approx([float(r["Value"]) for r in raw])
    assert run.name == "imdb-age-gender__run-."
    # alone, the validation file is analyzed on its own
    (alone,) = runs_of(val)
    assert alone.train_loss is None and len(alone.val_loss) == len(raw)


def test_tensorboard_csv_keras_split_in_the_run_name(tmp_path: Path) -> None:
    for run_name, base in (("train", 1.0), ("validation", 1.2)):
        body = "".join(f"{1600000000 + e}.5,{e},{base / (e + 1) + (0.05 * e * e if run_name == 'validation' else 0):.4f}\n" for e in range(8))
        (tmp_path / f"run-{run_name}-tag-epoch_loss.csv").write_text("Wall time,Step,Value\n" + body)
    (run,) = runs_of(tmp_path)
    assert run.train_loss.name == "train/epoch_loss" and run.val_loss.name == "validation/epoch_loss"
    assert math.isclose(run.val_loss.values[0], 1.2)


def test_formats_command_lists_every_reader_with_detection_and_example() -> None:
    from ftdiag.formats import all_readers

    r = CliRunner().invoke(cli, ["formats"])
    assert r.exit_code == 0
    for name in ("lightning_csv", "lightning_dir", "ultralytics", "wandb_csv", "mlflow", "mlflow_run",
                 "tensorboard_csv", "tensorboard", "tensorboard_dir", "generic"):
        reader = all_readers()[name]
        assert name in r.stdout and reader.detects in r.stdout and reader.example in r.stdout
    assert "needs ftdiag[tensorboard]" in r.stdout
