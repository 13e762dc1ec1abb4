"""--train-metric, --val-metric and --higher/--lower-is-better on every command
that reads logs (analyze, plot, report, compare, watch), from one decorator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftdiag.cli import cli

READING = ("analyze", "plot", "report", "compare", "watch")


def _log(path: Path) -> Path:
    """Loss keeps improving; the task score (a name no reader knows) peaks at epoch 4."""
    rows = ["epoch,loss,val_loss,dev_score"]
    for e in range(12):
        rows.append(f"{e},{2.0 / (e + 1):.4f},{1.5 / (e + 1) + 0.1:.4f},{50 - (e - 4) ** 2 * 0.8:.3f}")
    path.write_text("\n".join(rows) + "\n")
    return path


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("command", READING)
def test_every_reading_command_has_the_mapping_options(command: str) -> None:
    names = {p.name for p in cli.commands[command].params}
    assert {"train_metric", "val_metric", "higher_is_better"} <= names
    helps = {p.name: getattr(p, "help", None) for p in cli.commands[command].params}
    # the same decorator: the same help text as analyze's
    assert helps["val_metric"] == {p.name: getattr(p, "help", None) for p in cli.commands["analyze"].params}["val_metric"]


def _args(command: str, log: Path, tmp: Path) -> list[str]:
    return {
        "analyze": ["analyze", str(log)],
        "plot": ["plot", str(log), "-o", str(tmp / "plots"), "--plot-format", "svg"],
        "report": ["report", str(log), "--format", "markdown"],
        "compare": ["compare", str(log), "--jobs", "1"],
        "watch": ["watch", str(log), "--idle-timeout", "0", "--interval", "0.05"],
    }[command]


@pytest.mark.parametrize("command", READING)
def test_an_unknown_val_metric_is_refused_by_every_command(tmp_path: Path, command: str) -> None:
    log = _log(tmp_path / "history.csv")
    r = invoke(*_args(command, log, tmp_path), "--val-metric", "no_such_metric")
    assert r.exit_code == 2, r.output
    assert "--val-metric 'no_such_metric': no such series" in r.stderr


def test_compare_decides_on_the_named_metric(tmp_path: Path) -> None:
    log = _log(tmp_path / "history.csv")
    plain = json.loads(invoke("compare", str(log), "--jobs", "1", "--format", "json").stdout)
    assert plain["runs"][0]["summary"]["decided_on"] != "dev_score"
    r = invoke("compare", str(log), "--jobs", "1", "--format", "json", "--val-metric", "dev_score", "--higher-is-better")
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)["runs"][0]
    assert run["summary"]["decided_on"] == "dev_score" and run["summary"]["higher_is_better"] is True
    assert run["val_metric"]["name"] == "dev_score" and run["val_metric"]["best_step"] == 5  # Keras epochs count from 0
    # --lower-is-better flips the direction: the best is then the last epoch's low score
    r = invoke("compare", str(log), "--jobs", "1", "--format", "json", "--val-metric", "dev_score", "--lower-is-better")
    assert json.loads(r.stdout)["runs"][0]["val_metric"]["best_step"] == 12


def test_report_decides_on_the_named_metric(tmp_path: Path) -> None:
    log = _log(tmp_path / "history.csv")
    r = invoke("report", str(log), "--format", "markdown", "--val-metric", "dev_score", "--higher-is-better")
    assert r.exit_code == 0, r.output
    assert "dev\\_score" in r.stdout or "dev_score" in r.stdout
    assert "OVERFIT" in r.stdout.upper()


def test_plot_and_watch_accept_the_named_metric(tmp_path: Path) -> None:
    log = _log(tmp_path / "history.csv")
    r = invoke(*_args("plot", log, tmp_path), "--val-metric", "dev_score", "--higher-is-better")
    assert r.exit_code == 0, r.output
    assert [Path(x).suffix for x in r.stdout.split()] == [".svg"]
    r = invoke("watch", str(log), "--idle-timeout", "0", "--interval", "0.05", "--format", "jsonl",
               "--val-metric", "dev_score", "--higher-is-better")
    assert r.exit_code == 0, r.output
    events = [json.loads(x) for x in r.stdout.splitlines()]
    assert events and events[-1]["label"] == "overfit" and "dev_score" in events[-1]["message"]
