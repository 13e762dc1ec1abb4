"""The registry's index (``ftdiag.formats._INDEX``) only saves imports: a reader
it leaves out must be one whose sniff would have said 0, so detection picks the
same reader as asking every reader. Checked on every file we have."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import LABELED, PUBLIC, SAMPLES, need
from ftdiag import formats
from ftdiag.formats import all_readers, candidates, open_source


def _left_out_but_claims(path: Path) -> list[str]:
    """Readers the index left out whose sniff says more than 0 on ``path``."""
    with open_source(path) as src:
        asked = {r.name for r in candidates(src)}
        wrong = []
        for r in all_readers().values():
            if r.directories or r.name in asked:
                continue
            try:
                score = float(r.sniff(src))
            except Exception:  # noqa: BLE001 - detection treats a failing sniff as 0 too
                score = 0.0
            if score > 0:
                wrong.append(f"{r.name} ({score})")
    return wrong


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_index_names_real_reader_modules() -> None:
    readers = all_readers()
    assert set(formats._INDEX) <= set(readers), "index entries without a reader module"
    for name, (directories, _) in formats._INDEX.items():
        assert readers[name].directories == directories, name
    # get_reader imports a reader by its module name
    for name in formats._module_names():
        assert formats.get_reader(name).name == name


def test_index_leaves_out_no_reader_of_the_samples() -> None:
    files = _files(SAMPLES)
    assert len(files) >= 10
    bad = {str(p): w for p in files if (w := _left_out_but_claims(p))}
    assert bad == {}


def test_index_leaves_out_no_reader_of_the_public_corpus() -> None:
    bad = {str(p): w for p in _files(need(PUBLIC)) if (w := _left_out_but_claims(p))}
    assert bad == {}


def test_index_leaves_out_no_reader_of_the_labeled_corpus() -> None:
    bad = {str(p): w for p in _files(need(LABELED)) if (w := _left_out_but_claims(p))}
    assert bad == {}


@pytest.mark.parametrize(
    "text",
    [
        "epoch 1: loss 0.5\n",
        "Epoch 1/3\n10/10 - 1s - loss: 0.5 - val_loss: 0.6\n",
        "step 0: train loss 4.2, val loss 4.3\niter 1: loss 4.1, time 10ms\n",
        "{'loss': 0.5, 'epoch': 0.1}\n",
        '{"current_steps": 1, "total_steps": 10, "loss": 0.5}\n',
        "1700000000000 0.5 1\n1700000000100 0.4 2\n",
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 10\n",
        "\ufeffepoch,loss,val_loss\n0,1.0,1.1\n1,0.5,0.6\n",
        "",
    ],
)
def test_index_on_made_up_heads(tmp_path: Path, text: str) -> None:
    p = tmp_path / "log.txt"
    p.write_text(text, encoding="utf-8")
    assert _left_out_but_claims(p) == []
    q = tmp_path / "log16.txt"
    q.write_text(text, encoding="utf-16")  # with a BOM, as PowerShell writes
    assert _left_out_but_claims(q) == []


def test_analyze_one_csv_imports_only_table_readers() -> None:
    code = (
        "import sys; from ftdiag.api import analyze_path; "
        f"analyze_path({str(SAMPLES / 'openai_overfit.csv')!r}); "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('ftdiag.formats.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "ftdiag.formats.openai" in out
    for console in ("hf_stdout", "keras_stdout", "nanogpt_stdout", "console_metrics", "tensorboard", "hf_output_dir"):
        assert f"ftdiag.formats.{console}" not in out
