"""The mutation fuzzer's quick mode: corrupted real logs never crash ``analyze``.

The long mode is ``python benchmarks/fuzz.py --inputs 100000``.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

from conftest import PUBLIC, ROOT, SAMPLES


def _load_fuzz():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("ftdiag_bench_fuzz", ROOT / "benchmarks" / "fuzz.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


fuzz = _load_fuzz()
QUICK_INPUTS = 400
QUICK_SEED = 20240611


def test_quick_fuzz_has_no_crash(tmp_path: Path) -> None:
    seeds = fuzz.seed_files([SAMPLES, PUBLIC])
    stats = fuzz.fuzz(QUICK_INPUTS, seed=QUICK_SEED, seeds=seeds, out_dir=tmp_path, max_long_line=1_100_000)
    report = "\n".join(
        f"{sig}\n{Path(r + '.info').read_text()[:3000] if Path(r + '.info').exists() else r}"
        for sig, r in stats.crash_kinds.items()
    )
    assert stats.inputs == QUICK_INPUTS
    assert stats.crashes == 0 and stats.hangs == 0, report
    # both outcomes happen: the fuzzer reaches the analysis, not only the detector
    assert stats.results > QUICK_INPUTS // 10 and stats.errors > QUICK_INPUTS // 10


def test_every_mutator_returns_bytes_and_changes_something() -> None:
    data = (SAMPLES / "hf_trainer_state_overfit.json").read_bytes()
    for name, m in fuzz.MUTATORS.items():
        outs = {m(data, random.Random(i)) for i in range(8)}
        assert all(isinstance(o, bytes) for o in outs), name
        assert any(o != data for o in outs), name


def test_the_checker_catches_a_crash(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import ftdiag.api

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(ftdiag.api, "analyze_many", boom)
    seeds = fuzz.seed_files([SAMPLES])
    stats = fuzz.fuzz(3, seed=1, seeds=seeds, out_dir=tmp_path)
    assert stats.crashes == 3 and len(stats.crash_kinds) == 1
    (repro,) = stats.crash_kinds.values()
    assert "ZeroDivisionError" in Path(repro + ".info").read_text()


def test_the_checker_wants_one_error_line_naming_the_input() -> None:
    class R:
        exception = None
        exit_code = 2
        stdout = ""
        stderr = "ftdiag: error: x.csv: bad\nftdiag: error: again\n"

    assert fuzz.check(R(), "text", "x.csv").kind == "crash"
    R.stderr = "ftdiag: error: y.csv: bad\n"
    assert fuzz.check(R(), "text", "x.csv").kind == "crash"
    R.stderr = "ftdiag: error: x.csv, line 3: bad\n"
    assert fuzz.check(R(), "text", "x.csv").kind == "error"
    R.exit_code = 3
    assert fuzz.check(R(), "text", "x.csv").kind == "crash"


@pytest.mark.parametrize("digits", [400, 5000])
def test_huge_integer_in_json_is_not_a_crash(tmp_path: Path, digits: int) -> None:
    """Found by the fuzzer: a 400-digit integer overflowed float conversion."""
    from click.testing import CliRunner

    from ftdiag.cli import cli

    text = (SAMPLES / "hf_trainer_state_overfit.json").read_text()
    p = tmp_path / "trainer_state.json"
    p.write_text(text.replace('"epoch": 1.0', '"epoch": ' + "9" * digits, 1))
    r = CliRunner().invoke(cli, ["analyze", str(p)])
    assert r.exit_code in (0, 2), r.output


def test_extreme_loss_ratio_is_not_a_crash(tmp_path: Path) -> None:
    """Found by the fuzzer: validation/training loss underflowed to 0 and math.log raised."""
    from click.testing import CliRunner

    from ftdiag.cli import cli

    p = tmp_path / "training.log"
    rows = [f"{e},{1e300 * (1 - e / 20)!r},{1e-300 * (1 + (e - 5) ** 2)!r}" for e in range(12)]
    p.write_text("epoch,loss,val_loss\n" + "\n".join(rows) + "\n")
    r = CliRunner().invoke(cli, ["analyze", str(p), "--format", "json"])
    assert r.exit_code == 0, r.output


def test_huge_integer_in_hparams_yaml_is_not_a_crash(tmp_path: Path) -> None:
    """Found by the fuzzer: a 400-digit integer in hparams.yaml overflowed float()."""
    from click.testing import CliRunner

    from ftdiag.cli import cli

    d = tmp_path / "version_0"
    d.mkdir()
    rows = [f"{e},{10 * e + 9},{2.0 / (e + 1)!r},\n{e},{10 * e + 9},,{1 + (e - 4) ** 2 / 50!r}" for e in range(10)]
    (d / "metrics.csv").write_text("epoch,step,train_loss,val_loss\n" + "\n".join(rows) + "\n")
    (d / "hparams.yaml").write_text("batch_size: " + "9" * 400 + "\nmax_epochs: " + "9" * 5000 + "\nlr: 0.001\n")
    r = CliRunner().invoke(cli, ["analyze", str(d)])
    assert r.exit_code == 0, r.output


def test_bad_escape_in_a_console_dict_line_prints_no_warning(tmp_path: Path) -> None:
    """Found by the fuzzer: ast.literal_eval warned about '\\8' (a SyntaxWarning on Python 3.12+)."""
    import warnings

    from ftdiag.api import analyze_many

    p = tmp_path / "train.log"
    lines = ["***** Running training *****"]
    for e in range(1, 9):
        lines.append(repr({"loss": 2.0 / e, "learning_rate": 5e-05, "epoch": float(e)}))
        lines.append(repr({"eval_loss": 1 + (e - 4) ** 2 / 50, "epoch": float(e)}))
    lines.insert(4, "{'loss': 0.5, 'note': 'C:\\8bit\\gpu', 'epoch': 2.5}")
    p.write_text("\n".join(lines) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results, failures = analyze_many([p])
    assert results and not failures
    assert not caught, [str(w.message) for w in caught]


def test_stray_quote_in_an_eval_grid_header_is_not_a_crash(tmp_path: Path) -> None:
    """Found by the fuzzer (seed 9091): 'train/test"' in the header, a KeyError."""
    from click.testing import CliRunner

    from conftest import need
    from ftdiag.cli import cli

    src = need(PUBLIC / "other" / "vetchat__compiled_results.csv").read_text()
    header, rest = src.split("\n", 1)
    assert "train/test" in header
    p = tmp_path / "compiled_results.csv"
    p.write_text(header.replace("train/test", 'train/test"', 1) + "\n" + rest)
    r = CliRunner().invoke(cli, ["analyze", str(p), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert '"format": "eval_grid_csv"' in r.stdout
