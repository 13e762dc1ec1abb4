"""Every public corpus file of the console, JSONL, HF, Keras, OpenAI and
"other" folders: parsed into the right series (values checked against the raw
text with an independent scrape) or refused with a specific message."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import PUBLIC, need
from ftdiag.errors import InputError, NoDataError
from ftdiag.formats import detect, open_source, read_path

NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan"


def corpus(folder: str) -> list[Path]:
    d = PUBLIC / folder
    return sorted(d.iterdir()) if d.is_dir() else []


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def fmt_of(path: Path) -> str:
    with open_source(path) as s:
        return detect(s).name


def same(a: np.ndarray, b: list[float]) -> bool:
    return len(a) == len(b) and all(
        (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-9, abs=1e-12)
        for x, y in zip(a, b, strict=True)
    )


# ---------------------------------------------------------------- refusals

REFUSED = {
    "hf_stdout/fine-tuning-lora-rugpt3__train_log.txt": (NoDataError, r"no Trainer metric lines.*2/30"),
    "hf_trainer_state/sarcasm-detection__trainer_state.json": (NoDataError, r"log_history is empty"),
    "llamafactory_jsonl/nlp-lfs-pointer__trainer_log.jsonl": (NoDataError, r"Git LFS pointer, not the log.*git lfs pull"),
    "llamafactory_jsonl/qwen3-lora__trainer_log.jsonl": (NoDataError, r"single end-of-run line with no loss"),
    "llamafactory_jsonl/sunxiaochuan-v1__trainer_log.jsonl": (NoDataError, r"50 progress line\(s\).*no 'loss'"),
    "other/healthai-oppo__all_results.json": (NoDataError, r"end-of-run summary.*train_loss 2\.766.*eval_loss 2\.984"),
    "other/t5-summarization-demo__all_results.json": (NoDataError, r"end-of-run summary.*eval_rouge1 41\.63"),
    "other/whisper-large-v2-japanese__all_results.json": (NoDataError, r"end-of-run summary.*eval_wer 0\.7449"),
    "other/smart-parking__step_metrics.csv": (InputError, r"a table with columns step, system, utilization.*none of them a training metric"),
    "other_stdout/phi2-qlora__training.log": (NoDataError, r"no epoch, step or iteration.*line 52.*Final training loss"),
}


@pytest.mark.parametrize("rel", sorted(REFUSED))
def test_refused_with_a_specific_message(rel: str) -> None:
    path = need(PUBLIC / rel)
    err, pattern = REFUSED[rel]
    with pytest.raises(err) as info:
        read_path(path)
    assert re.search(pattern, str(info.value)), str(info.value)
    assert str(info.value).startswith(str(path))


def test_decoy_is_not_read_as_openai() -> None:
    path = need(PUBLIC / "other" / "smart-parking__step_metrics.csv")
    with open_source(path) as s:
        try:
            name = detect(s).name
        except InputError:
            name = None
    assert name != "openai"


# ---------------------------------------------------------------- hf_stdout


def raw_dicts(path: Path) -> list[dict[str, float | str]]:
    """Metric dicts scraped with json after swapping quotes (independent of the reader)."""
    out = []
    for m in re.finditer(r"\{'(?:loss|eval_loss|train_runtime)'[^{}\n]*\}", path.read_text("utf-8", "replace")):
        out.append(json.loads(m.group().replace("'", '"')))
    return out


def test_hf_stdout_string_values_and_interrupt() -> None:
    path = need(PUBLIC / "hf_stdout" / "invoice-layoutlm__training_logs.txt")
    (run,) = read_path(path)
    dicts = raw_dicts(path)
    losses = [float(d["loss"]) for d in dicts if "loss" in d]
    evals = [float(d["eval_loss"]) for d in dicts if "eval_loss" in d]
    assert run.format == "hf_stdout" and run.x_unit == "epoch"
    assert same(run.train_loss.values, losses) and len(losses) == 21
    assert same(run.val_loss.values, evals) and list(run.val_loss.steps) == [1.0, 2.0, 3.0]
    assert run.train_loss.steps[0] == pytest.approx(0.1613)
    assert any("interrupted" in w for w in run.warnings)
    assert run.extra["learning_rate"].values[0] == pytest.approx(4.927e-05)


def test_hf_stdout_two_trainer_runs_in_one_log() -> None:
    path = need(PUBLIC / "hf_stdout" / "lm-with-huggingface__train_log.txt")
    runs = read_path(path)
    assert [r.name for r in runs] == [f"{path.name}#run1", f"{path.name}#run2"]
    dicts = raw_dicts(path)
    cut = next(i for i, d in enumerate(dicts) if "train_runtime" in d)
    first = [d["loss"] for d in dicts[:cut] if "loss" in d]
    second = [d["loss"] for d in dicts[cut + 1 :] if "loss" in d]
    assert same(runs[0].train_loss.values, first)
    assert same(runs[1].train_loss.values, second)
    # the eval_results= print after training repeats epoch 10: not a new point
    f1 = [d["eval_f1"] for d in dicts[cut + 1 :] if "eval_f1" in d]
    assert len(f1) == 11 and same(runs[1].val_metric.values, f1[:10])
    assert runs[1].val_metric.name == "eval_f1" and runs[1].val_loss.steps[-1] == 10.0
    assert runs[0].metadata["finished"] and runs[1].metadata["finished"]


# ---------------------------------------------------------------- hf_trainer_state


STATE_FILES = [p for p in corpus("hf_trainer_state") if "sarcasm" not in p.name]


@pytest.mark.parametrize("path", STATE_FILES, ids=ids(STATE_FILES))
def test_hf_trainer_state_series_match_log_history(path: Path) -> None:
    (run,) = read_path(path)
    assert fmt_of(path) == "hf_trainer_state"
    hist = json.loads(path.read_text())["log_history"]
    train = {e["step"]: e["loss"] for e in hist if "loss" in e}
    if train:
        assert list(run.train_loss.steps) == sorted(train)
        assert same(run.train_loss.values, [train[s] for s in sorted(train)])
    evals = {e["step"]: e["eval_loss"] for e in hist if "eval_loss" in e}
    if evals:
        assert same(run.val_loss.values, [evals[s] for s in sorted(evals)])
    else:
        assert run.val_loss is None


# ---------------------------------------------------------------- keras


KERAS_CSV = corpus("keras_csv")


@pytest.mark.parametrize("path", KERAS_CSV, ids=ids(KERAS_CSV))
def test_keras_csv_matches_columns(path: Path) -> None:
    (run,) = read_path(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert run.format == "keras_csv"
    assert same(run.train_loss.values, [float(r["loss"]) for r in rows])
    if "val_loss" in rows[0]:
        assert same(run.val_loss.values, [float(r["val_loss"]) for r in rows])
    else:
        assert run.val_loss is None


KERAS_STDOUT = corpus("keras_stdout")


def scrape_keras(path: Path) -> list[list[tuple[float, float | None]]]:
    """(loss, val_loss) per epoch, fits split at 'Epoch 1/'."""
    fits: list[list[tuple[float, float | None]]] = []
    for line in path.read_text().splitlines():
        if re.match(r"Epoch 1/\d+$", line.strip()):
            fits.append([])
        m = re.search(r" - loss: (" + NUM + ")", line)
        if m and "ETA" not in line and fits:
            v = re.search(r"val_loss: (" + NUM + ")", line)
            fits[-1].append((float(m.group(1)), float(v.group(1)) if v else None))
    return fits


@pytest.mark.parametrize("path", KERAS_STDOUT, ids=ids(KERAS_STDOUT))
def test_keras_stdout_matches_epoch_lines(path: Path) -> None:
    runs = read_path(path)
    fits = scrape_keras(path)
    assert len(runs) == len(fits) and fmt_of(path) == "keras_stdout"
    for run, fit in zip(runs, fits, strict=True):
        assert run.x_unit == "epoch"
        assert same(run.train_loss.values, [a for a, _ in fit])
        assert same(run.val_loss.values, [b for _, b in fit if b is not None])
        assert list(run.train_loss.steps) == [float(i) for i in range(1, len(fit) + 1)]


def test_keras_stdout_grid_search_and_staged_fits() -> None:
    grid = read_path(need(PUBLIC / "keras_stdout" / "snippet-rnn__0508_results.rb"))
    assert len(grid) == 22 and not any(r.metadata["continues_previous"] for r in grid)
    assert grid[0].hyperparameters.n_epochs == 15 and grid[0].hyperparameters.n_examples == 8000
    assert len(grid[-1].train_loss) == 14  # the last run was cut at epoch 14/15
    staged = read_path(need(PUBLIC / "keras_stdout" / "kanji-cnn__model_for_augmented_dataset_training_log.py"))
    assert [r.metadata["continues_previous"] for r in staged] == [False, True, True]
    assert staged[1].metadata["early_stopped"]
    assert staged[0].val_metric.name == "val_acc"


# ---------------------------------------------------------------- LLaMA-Factory


def test_llamafactory_healthai() -> None:
    path = need(PUBLIC / "llamafactory_jsonl" / "healthai-oppo__trainer_log.jsonl")
    (run,) = read_path(path)
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    with_loss = [x for x in lines if "loss" in x]
    assert run.format == "llamafactory_jsonl" and run.x_unit == "step"
    assert list(run.train_loss.steps) == [x["current_steps"] for x in with_loss]
    assert same(run.train_loss.values, [x["loss"] for x in with_loss])
    assert same(run.train_loss.epochs, [x["epoch"] for x in with_loss])
    assert run.planned_steps == 9 and run.hyperparameters.n_epochs == pytest.approx(3.0)
    assert run.val_loss is None and run.extra["learning_rate"].values[1] == pytest.approx(1e-4)


# ---------------------------------------------------------------- OpenAI


def openai_rows(path: Path) -> list[dict[str, str]]:
    text = path.read_text()
    if "," not in text.splitlines()[0]:
        text = base64.b64decode(text.strip()).decode()
    return list(csv.DictReader(io.StringIO(text)))


OPENAI = corpus("openai") + corpus("openai_legacy")


@pytest.mark.parametrize("path", OPENAI, ids=ids(OPENAI))
def test_openai_matches_columns(path: Path) -> None:
    (run,) = read_path(path)
    rows = openai_rows(path)
    legacy = "training_loss" in rows[0]
    assert run.format == ("openai_legacy" if legacy else "openai")
    tkey, vkey = ("training_loss", "validation_loss") if legacy else ("train_loss", "valid_loss")
    assert same(run.train_loss.values, [float(r[tkey]) for r in rows])
    vals = [float(r[vkey]) for r in rows if r.get(vkey, "").strip()]
    if vals:
        assert same(run.val_loss.values, vals)
    else:
        assert run.val_loss is None


# ---------------------------------------------------------------- other, other_stdout


def test_eval_grid_split_in_a_column() -> None:
    path = need(PUBLIC / "other" / "vetchat__compiled_results.csv")
    runs = read_path(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert fmt_of(path) == "eval_grid_csv"
    assert [r.name.split("#")[1] for r in runs] == [f"exp_num={i}" for i in range(6)]
    for run in runs:
        exp = run.name.split("=")[1]
        for split, s in (("train", run.train_metric), ("test", run.val_metric)):
            mine = sorted(
                (float(r["epoch_num"]), float(r["shown_signs_accuracy"]) / 100)
                for r in rows
                if r["exp_num"] == exp and r["train/test"] == split
            )
            assert list(s.steps) == [e for e, _ in mine]
            assert same(s.values, [v for _, v in mine])
    assert any("sorted them numerically" in w for w in runs[0].warnings)
    assert any("stand in for validation" in w for w in runs[0].warnings)


def test_nanogpt_with_nan() -> None:
    path = need(PUBLIC / "other_stdout" / "nanogpt-kirin__train.log")
    (run,) = read_path(path)
    text = path.read_text()
    iters = [(float(a), float(b)) for a, b in re.findall(r"^iter (\d+): loss (" + NUM + ")", text, re.M)]
    evals = [(float(a), float(c)) for a, _, c in re.findall(r"^step (\d+): train loss (" + NUM + r"), val loss (" + NUM + ")", text, re.M)]
    assert run.format == "nanogpt_stdout"
    assert list(run.train_loss.steps) == [a for a, _ in iters]
    assert same(run.train_loss.values, [b for _, b in iters])
    assert same(run.val_loss.values, [b for _, b in evals]) and list(run.val_loss.steps) == [0, 100, 200, 300, 400]
    assert run.train_loss.steps[~np.isfinite(run.train_loss.values)][0] == 425


def test_hand_rolled_console_loop() -> None:
    path = need(PUBLIC / "other_stdout" / "fashion-mnist-numpy-cnn__training_output.txt")
    (run,) = read_path(path)
    found = re.findall(r"Epoch (\d)/3 \| Step (\d+)/1000 \| Loss: (" + NUM + r") \| Accuracy: (" + NUM + ")%", path.read_text())
    assert run.format == "console_metrics" and run.x_unit == "epoch"
    assert list(run.train_loss.steps) == pytest.approx([int(e) - 1 + int(s) / 1000 for e, s, _, _ in found])
    assert same(run.train_loss.values, [float(v) for _, _, v, _ in found])
    assert same(run.train_metric.values, [float(a) / 100 for *_, a in found])
    assert run.val_loss is None and run.val_metric is None  # only a test accuracy at the end


# ---------------------------------------------------------------- coverage


MY_FOLDERS = (
    "hf_stdout", "hf_trainer_state", "keras_csv", "keras_stdout", "llamafactory_jsonl",
    "openai", "openai_legacy", "other", "other_stdout",
)  # fmt: skip


def test_every_file_in_these_folders_is_covered_here() -> None:
    need(PUBLIC)
    covered = set(REFUSED) | {f"{p.parent.name}/{p.name}" for p in STATE_FILES + KERAS_CSV + KERAS_STDOUT + OPENAI}
    covered |= {
        "hf_stdout/invoice-layoutlm__training_logs.txt",
        "hf_stdout/lm-with-huggingface__train_log.txt",
        "llamafactory_jsonl/healthai-oppo__trainer_log.jsonl",
        "other/vetchat__compiled_results.csv",
        "other_stdout/nanogpt-kirin__train.log",
        "other_stdout/fashion-mnist-numpy-cnn__training_output.txt",
    }
    present = {f"{f}/{p.name}" for f in MY_FOLDERS for p in corpus(f)}
    assert present - covered == set()
