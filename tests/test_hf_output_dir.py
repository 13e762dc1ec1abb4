"""A Hugging Face training output directory, through the API and the CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from conftest import PUBLIC, SAMPLES, need
from ftdiag.cli import cli
from ftdiag.formats import read_path

STATE = SAMPLES / "hf_trainer_state_overfit.json"


def state_with_steps(n: int) -> str:
    s = json.loads(STATE.read_text())
    s["log_history"] = [e for e in s["log_history"] if e.get("step", 0) <= n]
    s["global_step"] = n
    return json.dumps(s)


def make_dir(root: Path, ckpts: list[int], top: int | None = None) -> Path:
    for n in ckpts:
        (root / f"checkpoint-{n}").mkdir(parents=True)
        (root / f"checkpoint-{n}" / "trainer_state.json").write_text(state_with_steps(n))
        (root / f"checkpoint-{n}" / "training_args.bin").write_bytes(b"\x80\x04never unpickled")
    if top is not None:
        (root / "trainer_state.json").write_text(state_with_steps(top))
    return root


def last_logged_step(n: int) -> float:
    s = json.loads(STATE.read_text())
    return float(max(e["step"] for e in s["log_history"] if e.get("step", 0) <= n and "loss" in e))


def test_latest_checkpoint_by_step_number_not_string_order(tmp_path: Path) -> None:
    steps = sorted(e["step"] for e in json.loads(STATE.read_text())["log_history"] if "loss" in e)
    a, b = steps[len(steps) // 3], steps[-1]  # e.g. checkpoint-90 vs checkpoint-180: "90" > "180" as strings
    d = make_dir(tmp_path / "out", [a, b])
    (run,) = read_path(d)
    assert run.format == "hf_output_dir" and run.name == "out"
    assert run.metadata["file"] == f"checkpoint-{b}/trainer_state.json"
    assert run.train_loss.steps[-1] == last_logged_step(b)


def test_top_level_state_wins_when_it_is_at_least_as_far(tmp_path: Path) -> None:
    steps = sorted(e["step"] for e in json.loads(STATE.read_text())["log_history"] if "loss" in e)
    d = make_dir(tmp_path / "out", [steps[2]], top=steps[-1])
    (run,) = read_path(d)
    assert run.metadata["file"] == "trainer_state.json"
    d2 = make_dir(tmp_path / "out2", [steps[-1]], top=steps[2])  # a stale top-level file
    (run2,) = read_path(d2)
    assert run2.metadata["file"] == f"checkpoint-{steps[-1]}/trainer_state.json"


def test_output_dir_through_the_cli(tmp_path: Path) -> None:
    steps = sorted(e["step"] for e in json.loads(STATE.read_text())["log_history"] if "loss" in e)
    d = make_dir(tmp_path / "out", [steps[3], steps[-1]])
    r = CliRunner().invoke(cli, ["analyze", str(d), "--format", "json"])
    assert r.exit_code == 0, r.output
    (one,) = json.loads(r.stdout)["runs"]
    assert one["format"] == "hf_output_dir" and one["source"] == str(d)


def test_only_all_results_is_refused_with_the_summary(tmp_path: Path) -> None:
    src = need(PUBLIC / "other" / "whisper-large-v2-japanese__all_results.json")
    d = tmp_path / "out"
    d.mkdir()
    shutil.copy(src, d / "all_results.json")
    r = CliRunner().invoke(cli, ["analyze", str(d)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert re.search(r"all_results\.json: an end-of-run summary .*eval_loss 0\.42.*trainer_state\.json", r.stderr)


def test_broken_checkpoint_state_names_the_file(tmp_path: Path) -> None:
    d = make_dir(tmp_path / "out", [5])
    (d / "checkpoint-5" / "trainer_state.json").write_text("[1, 2")
    r = CliRunner().invoke(cli, ["analyze", str(d)])
    assert r.exit_code == 2
    assert "checkpoint-5/trainer_state.json" in r.stderr and "invalid JSON" in r.stderr


def test_formats_lists_the_new_readers() -> None:
    r = CliRunner().invoke(cli, ["formats", "--format", "json"])
    names = {x["name"] for x in json.loads(r.stdout)}
    assert {
        "hf_stdout", "hf_output_dir", "hf_summary", "keras_stdout", "llamafactory_jsonl", "nanogpt_stdout",
        "console_metrics", "eval_grid_csv", "git_lfs_pointer",
    } <= names  # fmt: skip


def test_a_folder_of_output_dirs_gives_one_run_each(tmp_path: Path) -> None:
    steps = sorted(e["step"] for e in json.loads(STATE.read_text())["log_history"] if "loss" in e)
    make_dir(tmp_path / "sweep" / "lr1e-5", [steps[2], steps[-1]])
    (tmp_path / "sweep" / "lr3e-5").mkdir(parents=True)
    make_dir(tmp_path / "sweep" / "lr3e-5", [], top=steps[-1])
    r = CliRunner().invoke(cli, ["analyze", str(tmp_path / "sweep"), "--format", "json"])
    assert r.exit_code == 0, r.output
    runs = json.loads(r.stdout)["runs"]
    assert sorted(x["name"] for x in runs) == ["lr1e-5", "lr3e-5"]
    assert {x["format"] for x in runs} == {"hf_output_dir"}
