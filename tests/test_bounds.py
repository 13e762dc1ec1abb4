"""Resource bounds: over-long lines, oversized documents, deep JSON, stdin, encodings."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, SAMPLES
from ftdiag.cli import cli
from ftdiag.errors import InputError
from ftdiag.formats import _json, _source, open_source, read_path


def invoke(*args: str, input: bytes | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), input=input)


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ftdiag: error: ")
    return lines[0]


def test_lines_skips_over_long_line_and_keeps_numbering(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_source, "MAX_LINE_CHARS", 100)
    p = tmp_path / "x.txt"
    p.write_text("a\n" + "b" * 5000 + "\nc\r\nd\re")
    with open_source(p) as s:
        assert list(s.lines()) == ["a", "", "c", "d", "e"]
        assert len(s.notes) == 1 and "line 2" in s.notes[0] and "FTDIAG_MAX_LINE_KB" in s.notes[0]


def test_csv_row_over_the_line_limit_is_skipped_with_a_warning(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_source, "MAX_LINE_CHARS", 1000)
    rows = (SAMPLES / "reference_overfit.csv").read_text().splitlines()
    bad = rows[:3] + ["1," + "9" * 50_000 + ",1,1,1"] + rows[3:]
    p = tmp_path / "long.csv"
    p.write_text("\n".join(bad) + "\n")
    (run,) = read_path(p)
    assert len(run.val_loss) == len(rows) - 1
    assert any("line 4" in w and "per line" in w for w in run.warnings)
    r = invoke("analyze", str(p))
    assert r.exit_code == 0 and "line 4" in r.stderr


def test_single_line_file_over_the_limit_is_a_clean_error(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_source, "MAX_LINE_CHARS", 10_000)
    p = tmp_path / "one.csv"
    p.write_text("epoch,loss,val_loss" + ",x" * 100_000)  # a header with no line end
    r = invoke("analyze", str(p))
    assert r.exit_code == 2
    line = one_error_line(r.stderr)
    assert "one.csv" in line and "per line" in line


def test_document_over_the_size_limit_is_a_clean_error(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_source, "MAX_DOCUMENT_BYTES", 2000)
    state = json.loads((SAMPLES / "hf_trainer_state_overfit.json").read_text())
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps(state))
    assert p.stat().st_size > 2000
    r = invoke("analyze", str(p))
    assert r.exit_code == 2
    line = one_error_line(r.stderr)
    assert "trainer_state.json" in line and "FTDIAG_MAX_DOCUMENT_MB" in line


@pytest.mark.parametrize("depth", [_json.MAX_JSON_DEPTH + 5, 100_000])
def test_deeply_nested_json_is_refused(tmp_path: Path, depth: int) -> None:
    p = tmp_path / "trainer_state.json"
    p.write_text('{"log_history": [' + "[" * depth + "]" * depth + "]}")
    r = invoke("analyze", str(p))
    assert r.exit_code == 2
    assert "nested more than" in one_error_line(r.stderr)


def test_json_depth_check_accepts_real_depths() -> None:
    assert not _json.depth_exceeds({"a": [{"b": [1, 2, {"c": 3}]}]})
    deep: list = []
    cur = deep
    for _ in range(_json.MAX_JSON_DEPTH + 1):
        nxt: list = []
        cur.append(nxt)
        cur = nxt
    assert _json.depth_exceeds(deep)
    with pytest.raises(InputError, match="line 3"):
        _json.loads("{", "x.jsonl", where="line 3")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig", "latin-1"])
def test_encodings_read_the_same_series(tmp_path: Path, encoding: str) -> None:
    text = (SAMPLES / "openai_good_fit.csv").read_text()
    p = tmp_path / "x.csv"
    p.write_bytes(text.encode(encoding))
    (run,) = read_path(p)
    (ref,) = read_path(SAMPLES / "openai_good_fit.csv")
    assert list(run.val_loss.values) == list(ref.val_loss.values)


def test_stdin_is_read_like_a_file() -> None:
    data = (SAMPLES / "reference_overfit.csv").read_bytes()
    r = invoke("analyze", "-", "--format", "json", input=data)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["runs"][0]["label"] == "overfit"


def test_snapshot_limit_reads_only_complete_prefix(tmp_path: Path) -> None:
    text = (SAMPLES / "reference_overfit.csv").read_text()
    p = tmp_path / "x.csv"
    p.write_text(text)
    cut = text.index("\n", len(text) // 2) + 1
    with open_source(p, limit=cut) as s:
        assert s.size == cut
        assert "\n".join(s.lines()) == text[: cut - 1]


_PEAK = textwrap.dedent(
    """
    import resource, sys
    from click.testing import CliRunner
    from ftdiag.cli import cli
    r = CliRunner().invoke(cli, ["analyze", sys.argv[1]])
    print(r.exit_code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


def _peak_kb(path: Path) -> tuple[int, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    return int(out[0]), int(out[1])


@pytest.mark.skipif(not hasattr(resource, "getrusage"), reason="needs getrusage")
def test_huge_single_line_file_does_not_load_into_memory(tmp_path: Path) -> None:
    """A 64 MB file made of one line costs no more memory than a small file."""
    big = tmp_path / "big.log"
    with open(big, "wb") as fh:
        fh.write(b"epoch,loss,val_loss,")
        chunk = b"1.2345," * (1 << 17)
        for _ in range(64 * 1024 * 1024 // len(chunk)):
            fh.write(chunk)
    code, peak_big = _peak_kb(big)
    assert code == 2
    _, peak_small = _peak_kb(SAMPLES / "reference_overfit.csv")
    assert peak_big - peak_small < 24 * 1024  # KB: far below the file's 64 MB


def test_very_deep_directory_is_not_a_crash(tmp_path: Path) -> None:
    d = tmp_path / "deep"
    d.mkdir()
    cur = d
    for _ in range(1100):  # deeper than Python's recursion limit
        cur = cur / "a"
        cur.mkdir()
    shutil.copy(SAMPLES / "reference_overfit.csv", cur / "training.log")
    shutil.copy(SAMPLES / "reference_overfit.csv", d / "a" / "training.log")
    try:
        r = invoke("analyze", str(d), "--format", "json")
        assert r.exit_code == 0, r.output
        assert len(json.loads(r.stdout)["runs"]) == 1  # the shallow one; the deep one is beyond the walk
    finally:
        # pytest's own clean-up of old temporary directories recurses and dies on
        # a tree this deep (RecursionError at the end of every later session): undo it here
        (cur / "training.log").unlink()
        while cur != d:
            for f in cur.iterdir():
                f.unlink()
            cur.rmdir()
            cur = cur.parent


def test_walk_into_a_huge_tree_stops_with_a_message(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import ftdiag.inputs

    monkeypatch.setattr(ftdiag.inputs, "MAX_WALK_ENTRIES", 50)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(SAMPLES / "reference_overfit.csv", run / "training.log")
    big = tmp_path / "big"
    big.mkdir()
    for i in range(100):
        (big / f"f{i}.txt").write_text("x")
    os.symlink(big, run / "link-to-big")
    os.symlink(run, run / "loop")
    r = invoke("analyze", str(run))
    assert r.exit_code == 2
    assert "more than 50 files and folders" in one_error_line(r.stderr)


def test_named_pipe_is_read_once_like_stdin(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    data = (SAMPLES / "reference_overfit.csv").read_bytes()

    def feed() -> None:
        with open(fifo, "wb") as fh:
            fh.write(data)

    t = threading.Thread(target=feed)
    t.start()
    r = invoke("analyze", str(fifo), "--format", "json")
    t.join(timeout=30)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["runs"][0]["label"] == "overfit"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_devices_are_refused() -> None:
    r = invoke("analyze", "/dev/zero")
    assert r.exit_code == 2 and "not a regular file" in one_error_line(r.stderr)
