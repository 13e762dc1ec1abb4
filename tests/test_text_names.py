"""The terminal report names each run of a file that holds several, neutralized."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from conftest import SAMPLES
from ftdiag.cli import cli

EVIL = "\x1b[31mbeta<b>\u202e"


def _wandb_export(path: Path) -> Path:
    runs = ["alpha", EVIL]
    header = ["Step"] + [f"{r} - {m}" for r in runs for m in ("train/loss", "val/loss")]
    rows = [",".join(header)]
    for s in range(1, 21):
        rows.append(f"{s * 10},{2 / s:.4f},{1 + (s - 8) ** 2 / 100:.4f},{3 / s:.4f},{1.5 - 0.02 * s:.4f}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _heads(stdout: str) -> list[str]:
    return [ln for ln in stdout.splitlines() if ln and not ln.startswith(" ")]


def test_wandb_export_runs_are_named_and_neutralized(tmp_path: Path) -> None:
    p = _wandb_export(tmp_path / "wandb_export.csv")
    r = CliRunner().invoke(cli, ["analyze", str(p)])
    assert r.exit_code == 0, r.output
    heads = _heads(r.stdout)
    assert len(heads) == 2, r.stdout
    assert heads[0].startswith(f"{p}, run alpha (wandb_csv): ")
    assert heads[1].startswith(f"{p}, run \\x1b[31mbeta<b>\\u202e (wandb_csv): ")
    assert "\x1b" not in r.stdout and "\u202e" not in r.stdout


def test_console_log_of_two_trainings_names_both(tmp_path: Path) -> None:
    lines = []
    for run in range(2):
        lines.append("***** Running training *****")
        for e in range(1, 7):
            lines.append(repr({"loss": (2.0 + run) / e, "learning_rate": 5e-05, "epoch": float(e)}))
            lines.append(repr({"eval_loss": 1 + (e - 3) ** 2 / 40 + run, "epoch": float(e)}))
        lines.append(repr({"train_runtime": 10.0, "train_loss": 0.5, "epoch": 6.0}))
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    r = CliRunner().invoke(cli, ["analyze", str(p)])
    assert r.exit_code == 0, r.output
    heads = _heads(r.stdout)
    assert [h.split(" (")[0] for h in heads] == [f"{p}, run train.log#run1", f"{p}, run train.log#run2"], heads


def test_a_single_run_file_shows_its_path_only() -> None:
    p = SAMPLES / "openai_overfit.csv"
    r = CliRunner().invoke(cli, ["analyze", str(p)])
    assert r.exit_code == 0, r.output
    (head,) = _heads(r.stdout)
    assert head.startswith(f"{p} (openai): ")
