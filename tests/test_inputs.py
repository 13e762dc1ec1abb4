"""Paths: files, directories (walked, or claimed whole by a directory reader),
globs expanded by ftdiag, and ``-`` for standard input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from ftdiag.cli import cli
from ftdiag.errors import InputError
from ftdiag.inputs import expand, read_inputs

KERAS = (SAMPLES / "keras_underfit.csv").read_text()
OPENAI = (SAMPLES / "openai_overfit.csv").read_text()


def names(*paths: str | Path) -> list[str]:
    runs, errors = read_inputs([str(p) for p in paths])
    assert not errors, [str(e.error) for e in errors]
    return [r.name for r in runs]


def test_directory_walk_names_runs_by_relative_path(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a" / "training.log").write_text(KERAS)
    (tmp_path / "b" / "deep" / "step_metrics.csv").write_text(OPENAI)
    (tmp_path / "README.md").write_text("# notes, not a log\n")
    (tmp_path / "b" / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "training.log").write_text(KERAS)
    assert names(tmp_path) == ["a/training.log", "b/deep/step_metrics.csv"]


def test_documents_quoting_log_lines_are_not_runs_in_a_walk(tmp_path: Path) -> None:
    # a README quoting a console log, and an earlier ftdiag report, beside a run
    quoted = "".join(f"{{'loss': {2.0 - i / 10}, 'learning_rate': 5e-05, 'epoch': {i / 10}}}\n" for i in range(1, 9))
    (tmp_path / "README.md").write_text("# how we trained\n\n```\n" + quoted + "```\n")
    (tmp_path / "notes.rst").write_text("Log\n===\n\n" + quoted)
    (tmp_path / "report.html").write_text("<pre>" + quoted + "</pre>")
    (tmp_path / "training.log").write_text(KERAS)
    assert names(tmp_path) == ["training.log"]
    # named explicitly, a document is still read: the user asked for it
    assert len(names(tmp_path / "README.md")) == 1


def test_explicit_unknown_file_is_an_error_but_walked_one_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    runs, errors = read_inputs([str(tmp_path / "notes.txt")])
    assert not runs and "not a training log" in str(errors[0].error)
    runs, errors = read_inputs([str(tmp_path)])
    assert not runs and "no training log found in this directory" in str(errors[0].error)


def test_symlink_loop_is_walked_once(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "training.log").write_text(KERAS)
    os.symlink(tmp_path, tmp_path / "run" / "loop")
    assert names(tmp_path) == ["run/training.log"]


def test_glob_is_expanded_when_the_shell_did_not(tmp_path: Path) -> None:
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "training.log").write_text(KERAS)
    got = names(str(tmp_path / "*" / "training.log"))
    assert len(got) == 2 and got[0].endswith(os.path.join("x", "training.log"))
    with pytest.raises(InputError, match="no file matches"):
        expand(str(tmp_path / "*.nothing"))
    assert len(names(str(tmp_path / "**" / "*.log"))) == 2


def test_stdin_dash_through_the_cli() -> None:
    r = CliRunner().invoke(cli, ["analyze", "-", "--format", "json"], input=KERAS)
    assert r.exit_code == 0, r.output
    (run,) = json.loads(r.stdout)["runs"]
    assert run["source"] == "<stdin>" and run["format"] == "keras_csv"


def test_directory_through_the_cli_reports_good_and_bad_runs(tmp_path: Path) -> None:
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "training.log").write_text(KERAS)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "metrics.csv").write_text("epoch,step,test_loss,test_acc\n0,0,0.1,0.9\n")
    r = CliRunner().invoke(cli, ["analyze", str(tmp_path), "--format", "json"])
    # a bad file found by the walk is skipped with a warning when another run was read
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert [x["name"] for x in doc["runs"]] == ["good/training.log"]
    assert not doc["errors"] and "test-only" in doc["skipped"][0]["message"]
    assert "ftdiag: warning:" in r.stderr and "metrics.csv" in r.stderr


def test_input_format_forces_a_reader_in_a_walk(tmp_path: Path) -> None:
    (tmp_path / "training.log").write_text(KERAS)
    (tmp_path / "step_metrics.csv").write_text(OPENAI)
    runs, errors = read_inputs([str(tmp_path)], input_format="openai")
    assert not errors and [r.format for r in runs] == ["openai"]
