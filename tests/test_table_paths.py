"""The two CSV paths (Python's csv module; pandas.read_csv for large files)
give the same table, or the fast path declines and the csv path decides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ftdiag.formats._table as table_mod
from conftest import PUBLIC, SAMPLES, need
from ftdiag.api import analyze_path
from ftdiag.formats import open_source
from ftdiag.formats._table import Table, fast_table, parse_lines, read_table


def same_table(a: Table, b: Table) -> None:
    assert a.header == b.header
    assert a.n_rows == b.n_rows
    assert list(a.columns) == list(b.columns)
    for name in a.columns:
        x, y = a.col(name), b.col(name)  # numpy views of either kind of column
        assert x.dtype == y.dtype == np.float64
        # bit for bit, NaN where NaN
        assert np.array_equal(x, y, equal_nan=True), name
        assert np.array_equal(np.signbit(x), np.signbit(y)), name
    assert list(a.empty) == list(b.empty)
    for name in a.empty:
        assert np.array_equal(a.empty_mask(name), b.empty_mask(name)), name


def both(path: Path, track_empty: bool = False) -> tuple[Table | None, Table]:
    """(the fast path's table or None, the csv path's table)"""
    with open_source(path) as src:
        return (
            fast_table(src, track_empty=track_empty),
            parse_lines(src.lines(), src.display, track_empty=track_empty),
        )


def real_csvs() -> list[Path]:
    files = sorted(need(PUBLIC / "openai").glob("*.csv"))
    for d in ("openai_legacy", "keras_csv", "lightning_csv", "tensorboard_csv", "wandb_csv", "ultralytics"):
        files += sorted(p for p in (PUBLIC / d).rglob("*") if p.is_file() and p.suffix in (".csv", ".log"))
    return files


@pytest.mark.parametrize("track_empty", [False, True])
def test_fast_path_equals_csv_path_on_real_files(track_empty: bool) -> None:
    taken = 0
    for path in real_csvs():
        fast, slow = both(path, track_empty)
        if fast is not None:
            taken += 1
            same_table(fast, slow)
    assert taken >= 5  # the real OpenAI files are plain: the fast path must take them


def test_whole_analysis_is_the_same_on_either_path(monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(need(PUBLIC / "openai").glob("*.csv")) + [SAMPLES / "openai_overfit.csv"]
    slow = [r.to_dict() for f in files for r in analyze_path(f)]
    monkeypatch.setattr(table_mod, "FAST_MIN_BYTES", 0)
    taken = []
    real_fast = table_mod.fast_table

    def spy(src, **kw):  # type: ignore[no-untyped-def]
        t = real_fast(src, **kw)
        taken.append(t is not None)
        return t

    monkeypatch.setattr(table_mod, "fast_table", spy)
    fast = [r.to_dict() for f in files for r in analyze_path(f)]
    # every file, the base64-encoded one too, took the fast path
    assert taken == [True] * len(files)
    assert fast == slow


HEADER = "step,train_loss,train_accuracy,valid_loss"


@pytest.mark.parametrize(
    "body, why",
    [
        ('1,0.5,"0.1",\n2,0.4,0.2,\n', "quotes"),
        ("1,0.5,0.1,\n2,0.4,0.2\n3,0.3,0.3,\n", "a short row"),
        ("1,0.5,0.1,\n2,0.4,0.2,,\n", "a long row"),
        ("1,0.5,0.1,\n\n2,0.4,0.2,\n", "a blank line"),
        ("1,0.5,0.1,\n   \n2,0.4,0.2,\n", "a line of spaces"),
        ("1,0.5,true,\n2,0.4,0.2,\n", "a boolean cell"),
        ("1,0.5,1_000,\n2,0.4,0.2,\n", "a cell float() reads and pandas does not"),
        ("1,0.5,0.1,\r2,0.4,0.2,\n", "a lone carriage return"),
        ("1,0.5,0.1,\x0c\n2,0.4,0.2,\n", "a form feed (splitlines splits on it)"),
        ("1,0.5,0.1,\n2,0.4,0.2,\n3,0.3", "an unterminated short last line"),
    ],
)
def test_fast_path_declines_what_it_cannot_promise(tmp_path: Path, body: str, why: str) -> None:
    p = tmp_path / "t.csv"
    p.write_bytes((HEADER + "\n" + body).encode())
    fast, slow = both(p)
    assert fast is None, why
    # and the public entry point gives the csv path's answer
    with open_source(p) as src:
        same_table(read_table(src), slow)


@pytest.mark.parametrize(
    "text",
    [
        HEADER + "\n1,0.5,0.1,\n2,0.4,0.2,0.9\n",
        HEADER + "\r\n1,0.5,0.1,\r\n2,0.4,0.2,0.9\r\n",
        "\ufeff" + HEADER + "\n1,0.5,nan,inf\n2,-0,1e999,-inf\n3,NULL,None,N/A\n",
        HEADER + "\n1,0.5,0.1,\n2,0.4,0.2,0.9",  # no final newline
        "step;train_loss;train_accuracy;valid_loss\n1;0.5;0.1;\n2;0.4;0.2;0.9\n",
        ",loss,val_loss\n0,1.5,1.6\n1, 1.25 ,1.5\n",
        "step,loss,loss\n1,0.5,0.6\n2,0.4,0.3\n",
    ],
)
def test_fast_path_equals_csv_path_on_plain_variants(tmp_path: Path, text: str) -> None:
    p = tmp_path / "t.csv"
    p.write_bytes(text.encode())
    fast, slow = both(p)
    assert fast is not None
    same_table(fast, slow)


CELLS = st.sampled_from(
    ["", "0", "1", "-1.5", "2.25e-3", "1e308", "nan", "NaN", "inf", "-inf", "None", "null", "NA",
     "abc", "true", " 3.5", "4.5 ", "1_0", '"7"', "0x1", "+.5", "9" * 25]
) | st.floats(allow_nan=False, allow_infinity=False).map(repr)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(CELLS, min_size=2, max_size=4), min_size=1, max_size=8),
    sep=st.sampled_from([",", ";", "\t"]),
    crlf=st.booleans(),
    track_empty=st.booleans(),
)
def test_read_table_never_depends_on_the_path(
    tmp_path: Path, rows: list[list[str]], sep: str, crlf: bool, track_empty: bool
) -> None:
    nl = "\r\n" if crlf else "\n"
    width = max(len(r) for r in rows)
    text = sep.join(f"c{i}" for i in range(width)) + nl + "".join(sep.join(r) + nl for r in rows)
    p = tmp_path / "t.csv"
    p.write_bytes(text.encode())
    fast, slow = both(p, track_empty)
    if fast is not None:
        same_table(fast, slow)


def test_fast_path_declines_over_long_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ftdiag.formats._source as source_mod

    monkeypatch.setattr(source_mod, "MAX_LINE_CHARS", 50)
    p = tmp_path / "t.csv"
    p.write_bytes((HEADER + "\n1,0.5,0.1,\n2,0.4," + "1" * 60 + ",\n3,0.3,0.3,\n").encode())
    with open_source(p) as src:
        assert fast_table(src) is None
    p.write_bytes((HEADER + "\n1,0.5,0.1,\n2,0.4,0.2,\n3,0.3," + "1" * 60).encode())
    with open_source(p) as src:
        assert fast_table(src) is None  # the unterminated last line too
    p.write_bytes((HEADER + "\n1,0.5,0.1,\n2,0.4,0.2,\n").encode())
    with open_source(p) as src:
        assert fast_table(src) is not None


def test_fast_path_reads_only_up_to_the_limit(tmp_path: Path) -> None:
    # ftdiag watch reads a growing file up to its last complete line
    p = tmp_path / "t.csv"
    done = HEADER + "\n1,0.5,0.1,\n2,0.4,0.2,0.9\n"
    p.write_bytes((done + "3,0.3,0.3,0.8\n4,0.2").encode())
    with open_source(p, limit=len(done)) as src:
        fast = fast_table(src)
        slow = parse_lines(src.lines(), src.display)
    assert fast is not None and fast.n_rows == 2
    same_table(fast, slow)
