"""A file that cannot be read, met in a directory walk or a glob, is a warning
naming it and why; the other runs are analysed. Exit 2 only when nothing at
all could be read, or when the bad file was named on the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from ftdiag.cli import cli

LFS = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "4d7a" * 16 + "\nsize 12345\n"


def _sweep(tmp_path: Path, bad: bool = True, good: bool = True) -> Path:
    root = tmp_path / "runs"
    for name, sample, dst in (("a", "openai_overfit.csv", "step_metrics.csv"), ("b", "openai_underfit.csv", "step_metrics.csv")):
        (root / name).mkdir(parents=True)
        if good:
            shutil.copy(SAMPLES / sample, root / name / dst)
    if bad:
        (root / "c").mkdir(parents=True)
        (root / "c" / "trainer_log.jsonl").write_text(LFS)  # refused: a Git LFS pointer
        header = (SAMPLES / "openai_overfit.csv").read_text().splitlines()[0]
        (root / "c" / "step_metrics.csv").write_text(header + "\n")  # refused: no rows
    return root


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def _warned(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("ftdiag: warning:") and "skipped" in ln]


def _check_warnings(stderr: str) -> None:
    warned = _warned(stderr)
    assert len(warned) == 2, stderr
    assert any("c/trainer_log.jsonl" in w and "git lfs pull" in w for w in warned), warned
    assert any("c/step_metrics.csv" in w and "no rows" in w for w in warned), warned
    assert "ftdiag: error:" not in stderr


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_analyze_walk_skips_a_bad_file_with_a_warning(tmp_path: Path, fmt: str) -> None:
    root = _sweep(tmp_path)
    r = invoke("analyze", str(root), "--format", fmt)
    assert r.exit_code == 0, r.output
    _check_warnings(r.stderr)
    assert "a/step_metrics.csv" in r.stdout and "b/step_metrics.csv" in r.stdout
    if fmt == "json":
        doc = json.loads(r.stdout)
        assert len(doc["runs"]) == 2 and doc["errors"] == []
        assert sorted(Path(s["source"]).name for s in doc["skipped"]) == ["step_metrics.csv", "trainer_log.jsonl"]
    if fmt == "markdown":
        assert "## Skipped files" in r.stdout and "## Errors" not in r.stdout


def test_analyze_glob_skips_a_bad_match(tmp_path: Path) -> None:
    root = _sweep(tmp_path)
    r = invoke("analyze", str(root / "*" / "*"), "--format", "json")
    assert r.exit_code == 0, r.output
    _check_warnings(r.stderr)
    assert len(json.loads(r.stdout)["runs"]) == 2


def test_analyze_walk_with_nothing_readable_is_exit_2(tmp_path: Path) -> None:
    root = _sweep(tmp_path, good=False)
    r = invoke("analyze", str(root))
    assert r.exit_code == 2
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("ftdiag: error:")]
    assert len(errors) == 2 and not _warned(r.stderr), r.stderr


def test_a_bad_file_named_on_the_command_line_is_still_an_error(tmp_path: Path) -> None:
    root = _sweep(tmp_path)
    r = invoke("analyze", str(root / "a" / "step_metrics.csv"), str(root / "c" / "trainer_log.jsonl"))
    assert r.exit_code == 2
    assert "ftdiag: error:" in r.stderr and "trainer_log.jsonl" in r.stderr
    assert "a/step_metrics.csv" in r.stdout  # the good one is still analysed


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_compare_walk_skips_a_bad_file(tmp_path: Path, fmt: str) -> None:
    root = _sweep(tmp_path)
    r = invoke("compare", str(root), "--format", fmt, "--jobs", "1")
    assert r.exit_code == 0, r.output
    _check_warnings(r.stderr)
    if fmt == "json":
        doc = json.loads(r.stdout)
        assert len(doc["runs"]) == 2 and doc["errors"] == [] and len(doc["skipped"]) == 2
    elif fmt == "markdown":
        assert "## Skipped files" in r.stdout and "git lfs pull" in r.stdout
    else:
        assert "2 file(s) found in a folder or by a pattern could not be read" in r.stdout


def test_compare_walk_with_nothing_readable_is_exit_2(tmp_path: Path) -> None:
    root = _sweep(tmp_path, good=False)
    r = invoke("compare", str(root), "--format", "json", "--jobs", "1")
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert len(doc["errors"]) == 2 and doc["skipped"] == []


@pytest.mark.parametrize("suffix", ["md", "html"])
def test_report_walk_skips_a_bad_file(tmp_path: Path, suffix: str) -> None:
    root = _sweep(tmp_path)
    out = tmp_path / f"report.{suffix}"
    r = invoke("report", str(root), "-o", str(out), "--no-plots")
    assert r.exit_code == 0, r.output
    _check_warnings(r.stderr)
    text = out.read_text()
    assert "Skipped files" in text and "git lfs pull" in text
    assert "Errors" not in text


def test_report_walk_with_nothing_readable_is_exit_2(tmp_path: Path) -> None:
    root = _sweep(tmp_path, good=False)
    r = invoke("report", str(root), "-o", str(tmp_path / "report.md"), "--no-plots")
    assert r.exit_code == 2
    assert r.stderr.count("ftdiag: error:") == 2


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_compare_a_folder_without_any_log_is_exit_2(tmp_path: Path, fmt: str) -> None:
    """Found by the fuzzer: compare answered nothing, exit 0, where analyze says why."""
    (tmp_path / "runs" / "r0").mkdir(parents=True)
    (tmp_path / "runs" / "notes.txt").write_text("some notes\n")
    (tmp_path / "runs" / "r0" / "README.md").write_text("# a run\n")  # a document: not even looked at
    r = invoke("compare", str(tmp_path / "runs"), "--format", fmt, "--jobs", "1")
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"ftdiag: error: {tmp_path / 'runs'}: no training log found in this directory (1 file(s)")
    if fmt == "json":
        assert json.loads(r.stdout)["errors"][0]["source"] == str(tmp_path / "runs")


def test_compare_json_escapes_control_characters_in_run_names(tmp_path: Path) -> None:
    """Found by the fuzzer: compare's JSON printed a raw C1 control (\\x9e) from an MLflow run name."""
    run = tmp_path / "run"
    (run / "metrics").mkdir(parents=True)
    for name, f in (("loss", lambda i: 2.0 / (i + 1)), ("val_loss", lambda i: 1 + (i - 5) ** 2 / 50)):
        (run / "metrics" / name).write_text("".join(f"{1700000000000 + i} {f(i)!r} {i}\n" for i in range(12)))
    (run / "meta.yaml").write_text("run_name: fuzz\nstatus: 3\n")
    (run / "tags").mkdir()
    (run / "tags" / "mlflow.runName").write_text("evil\x9e\u202e\x1b[2Jname")
    r = invoke("compare", str(run), "--format", "json", "--jobs", "1")
    assert r.exit_code == 0, r.output
    assert not any(c in r.stdout for c in "\x9e\u202e\x1b"), r.stdout
    assert "\\u009e" in r.stdout and "\\u202e" in r.stdout
    assert "evil" in json.loads(r.stdout)["runs"][0]["name"]


def test_api_and_watch_skip_a_bad_file_in_a_folder(tmp_path: Path) -> None:
    from ftdiag.api import analyze_path

    root = _sweep(tmp_path)
    results = analyze_path(root)
    assert len(results) == 2
    assert all(any("trainer_log.jsonl" in w and w.startswith("skipped ") for w in r.warnings) for r in results)
    with pytest.raises(Exception, match="Git LFS pointer|no rows"):
        analyze_path(root / "c")  # nothing else to read: the error itself
    r = invoke("watch", str(root), "--idle-timeout", "0", "--interval", "0.05", "--format", "jsonl")
    assert r.exit_code == 0, r.output
    assert len([json.loads(x) for x in r.stdout.splitlines()]) == 2  # one verdict per good run
