"""Messy and broken files (sample_logs/broken/, written for ftdiag), through
the CLI: what can be read is analysed with a warning (exit 0); what cannot
gets one line naming the file (and line) and what was expected (exit 2),
never a traceback."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from ftdiag.cli import cli
from ftdiag.formats import read_path

BROKEN = SAMPLES / "broken"


def analyze(name: str, *extra: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["analyze", str(BROKEN / name), *extra])


REFUSED = {
    "empty.csv": r"the file is empty",
    "header_only.csv": r"header but no rows",
    "binary_garbage.csv": r"binary file, not a training log",
    "wrong_delimiter.csv": r", line 2: no row has the 5 fields of the header \(separated by ','\)",
    "lfs_pointer_trainer_log.jsonl": r"Git LFS pointer, not the log.*git lfs pull",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unreadable_is_one_line_and_exit_2(name: str) -> None:
    import re

    r = analyze(name)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output
    assert lines[0].startswith(f"ftdiag: error: {BROKEN / name}")
    assert re.search(REFUSED[name], lines[0]), lines[0]


READ_WITH_WARNING = {
    "truncated_trainer_state.json": r", line 97, column \d+: the JSON is cut short.*11 complete log_history entries",
    "truncated_trainer_log.jsonl": r", line 17: the last line is not complete JSON",
    "jsonl_bad_lines_trainer_log.jsonl": r"skipped 2 line\(s\).*line 4, 6",
    "duplicate_steps_step_metrics.csv": r"repeats or goes backwards.*step 5 after 8",
    "several_eval_sets_trainer_state.json": r"2 evaluation sets \(eval_mnli_loss, eval_squad_loss\).*diagnosed on eval_mnli_loss",
    "keras_fit_cut_mid_epoch.txt": r"ends inside epoch 4",
    "hf_console_nan_then_restart.txt": r"epoch went backwards at line 8",
}


@pytest.mark.parametrize("name", sorted(READ_WITH_WARNING))
def test_partly_bad_is_analysed_with_a_warning(name: str) -> None:
    import re

    r = analyze(name, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["runs"] and not doc["errors"]
    warnings = [w for run in doc["runs"] for w in run["warnings"]]
    assert any(re.search(READ_WITH_WARNING[name], w) for w in warnings), warnings
    assert "ftdiag: warning:" in r.stderr


def test_truncated_trainer_state_keeps_the_complete_entries() -> None:
    (run,) = read_path(BROKEN / "truncated_trainer_state.json")
    # 8 training logs and 3 complete evaluations; the 4th evaluation was cut
    assert len(run.train_loss) == 8 and list(run.val_loss.steps) == [50.0, 100.0, 150.0]
    assert run.metadata["best_metric"] == 0.74  # top-level keys before log_history are read too


def test_truncated_jsonl_multi_gpu_duplicate_and_eval_lines() -> None:
    (run,) = read_path(BROKEN / "truncated_trainer_log.jsonl")
    lines = [json.loads(x) for x in (BROKEN / "truncated_trainer_log.jsonl").read_text().splitlines()[:-1]]
    first_of = {}
    for x in lines:
        if "loss" in x:
            first_of.setdefault(x["current_steps"], x["loss"])
    assert list(run.train_loss.values) == [first_of[k] for k in sorted(first_of)]
    assert len(run.val_loss) == 5 and run.planned_steps == 60


def test_duplicate_steps_last_row_wins() -> None:
    (run,) = read_path(BROKEN / "duplicate_steps_step_metrics.csv")
    assert list(run.train_loss.steps) == [float(s) for s in range(1, 13)]
    rows = [r.split(",") for r in (BROKEN / "duplicate_steps_step_metrics.csv").read_text().splitlines()[1:]]
    last = {int(r[0]): float(r[1]) for r in rows}
    assert list(run.train_loss.values) == [last[s] for s in range(1, 13)]


def test_nan_and_inf_are_kept_and_reported() -> None:
    r = analyze("nan_inf_step_metrics.csv", "--format", "json")
    assert r.exit_code == 0
    (one,) = json.loads(r.stdout)["runs"]
    assert any(f["name"] == "nan_or_inf" for f in one["findings"])
    (run,) = read_path(BROKEN / "nan_inf_step_metrics.csv")
    assert run.train_loss.n_nonfinite == 5


def test_bom_crlf_and_decimal_commas_read_like_plain_csv() -> None:
    (plain,) = read_path(BROKEN / "bom_crlf_training.log")
    (euro,) = read_path(BROKEN / "semicolon_decimal_comma.csv")
    assert plain.format == euro.format == "keras_csv"
    assert list(plain.val_loss.values) == list(euro.val_loss.values) and len(plain.val_loss) == 6
    assert plain.val_metric is not None and plain.val_metric.name == "val_accuracy"


def test_utf16_console_log() -> None:
    r = analyze("utf16_hf_console.txt", "--format", "json")
    assert r.exit_code == 0, r.output
    (run,) = read_path(BROKEN / "utf16_hf_console.txt")
    assert run.format == "hf_stdout" and len(run.train_loss) == 12 and len(run.val_metric) == 4


def test_hf_console_nan_numpy_reprs_and_restart() -> None:
    first, second = read_path(BROKEN / "hf_console_nan_then_restart.txt")
    assert first.train_loss.n_nonfinite == 1 and first.val_metric.values[0] == pytest.approx(0.61)
    assert len(second.train_loss) == 8 and len(second.val_loss) == 4
    assert second.train_loss.values[0] == pytest.approx(0.72)  # '0.7200' as a string


def test_every_broken_sample_is_tested() -> None:
    tested = set(REFUSED) | set(READ_WITH_WARNING) | {
        "nan_inf_step_metrics.csv", "bom_crlf_training.log", "semicolon_decimal_comma.csv", "utf16_hf_console.txt",
    }  # fmt: skip
    assert {p.name for p in BROKEN.iterdir() if p.name != "README.md"} == tested
