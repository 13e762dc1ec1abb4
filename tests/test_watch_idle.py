"""watch on a finished file: the verdict waiting for a second read is printed
when the file stays quiet (--idle-timeout 0 too), --exit-on acts on it, and the
overfitting line names a curve that really got worse."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ftdiag.cli import cli


def _log(path: Path) -> Path:
    """val_loss improves to the end; val_accuracy peaks at epoch 4 and falls."""
    rows = ["epoch,loss,accuracy,val_loss,val_accuracy"]
    for e in range(12):
        acc = 0.9 - (e - 4) ** 2 * 0.01
        rows.append(f"{e},{2.0 / (e + 1):.4f},{0.5 + e * 0.04:.3f},{1.5 / (e + 1) + 0.1:.4f},{acc:.3f}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _watch(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["watch", *args, "--interval", "0.05", "--format", "jsonl"])


def test_idle_timeout_zero_prints_the_verdict(tmp_path: Path) -> None:
    log = _log(tmp_path / "training.log")
    r = _watch(str(log), "--idle-timeout", "0")
    assert r.exit_code == 0, r.output
    (event,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert event["label"] == "overfit"
    # the loss kept improving: the line is about the accuracy that fell, not the loss
    assert "val_accuracy down" in event["message"] and "val_loss" not in event["message"]


def test_exit_on_acts_on_a_verdict_settled_at_the_idle_timeout(tmp_path: Path) -> None:
    log = _log(tmp_path / "training.log")
    r = _watch(str(log), "--idle-timeout", "0", "--exit-on", "overfit")
    assert r.exit_code == 1, r.output
    assert "reached overfit (--exit-on)" in r.stderr
