"""Detection order: the file's structure beats a line pasted into it; ties go
to the more specific reader, never to the alphabet."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import ftdiag.formats as formats
from conftest import PUBLIC, SAMPLES, need
from ftdiag.cli import cli
from ftdiag.formats import FALLBACK, LINES, STRUCTURE, Reader, detect, open_source

HF_LINE = "{'loss': 0.4321, 'learning_rate': 1e-05, 'epoch': 1.0}"
KERAS_LINES = "Epoch 3/10\n120/120 [==============================] - 2s 15ms/step - loss: 0.5012 - accuracy: 0.81"
NANOGPT_LINE = "step 500: train loss 1.2345, val loss 1.3456"


def _paste(src: Path, dst: Path, line: str, at: int = 5) -> Path:
    lines = src.read_text().splitlines()
    lines[at:at] = line.splitlines()
    dst.write_text("\n".join(lines) + "\n")
    return dst


def _detected(path: Path) -> str:
    with open_source(path) as s:
        return detect(s).name


@pytest.mark.parametrize("line", [HF_LINE, KERAS_LINES, NANOGPT_LINE])
def test_openai_csv_with_a_pasted_console_line_stays_openai(tmp_path: Path, line: str) -> None:
    p = _paste(SAMPLES / "openai_overfit.csv", tmp_path / "step_metrics.csv", line)
    assert _detected(p) == "openai"
    r = CliRunner().invoke(cli, ["analyze", str(p), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert '"format": "openai"' in r.stdout
    # the pasted line is a malformed row: skipped, with a warning naming it
    assert "ftdiag: warning:" in r.stderr and "line 6" in r.stderr


@pytest.mark.parametrize(
    "sample",
    ["reference_overfit.csv", "keras_underfit.csv"],
)
def test_keras_csv_with_pasted_console_lines_stays_keras_csv(tmp_path: Path, sample: str) -> None:
    for i, line in enumerate([HF_LINE, KERAS_LINES, NANOGPT_LINE]):
        p = _paste(SAMPLES / sample, tmp_path / f"training{i}.log", line, at=3)
        assert _detected(p) == "keras_csv", line


def test_lightning_csv_with_a_pasted_console_line_stays_lightning(tmp_path: Path) -> None:
    src = need(PUBLIC / "lightning_csv" / "epam-hometask__metrics.csv")
    p = _paste(src, tmp_path / "metrics.csv", HF_LINE)
    assert _detected(p) == "lightning_csv"


def test_console_log_is_still_a_console_log() -> None:
    src = need(PUBLIC / "hf_stdout" / "lm-with-huggingface__train_log.txt")
    assert _detected(src) == "hf_stdout"


def _fake(name: str, score: float, specificity: int) -> Reader:
    return Reader(name=name, description="", detects="", example="", sniff=lambda s: score,
                  read=lambda s: [], specificity=specificity)


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize(
    ("a", "b", "winner"),
    [
        # equal scores: the more specific evidence wins, whatever the names
        ((1.0, LINES), (1.0, STRUCTURE), "b"),
        ((0.3, FALLBACK), (0.3, LINES), "b"),
        # a confident structural claim beats a more confident line match
        ((1.0, LINES), (0.9, STRUCTURE), "b"),
        # below LIKELY, the score decides: a weak claim is no structure
        ((0.4, LINES), (0.3, FALLBACK), "a"),
        ((1.0, LINES), (0.6, STRUCTURE), "a"),
    ],
)
def test_detection_order_does_not_depend_on_names(monkeypatch, tmp_path, order, a, b, winner) -> None:  # type: ignore[no-untyped-def]
    names = ("aaa", "zzz") if order == 0 else ("zzz", "aaa")
    ra, rb = _fake(names[0], *a), _fake(names[1], *b)
    registry = {r.name: r for r in sorted([ra, rb], key=lambda r: r.name)}
    monkeypatch.setattr(formats, "_REGISTRY", registry)
    p = tmp_path / "x.log"
    p.write_text("anything\n")
    assert _detected(p) == (ra if winner == "a" else rb).name
