"""The fast CSV path reads pandas chunks straight into its columns (memory:
the columns plus one chunk): across chunk boundaries, the table is still the
csv path's, or the fast path declines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ftdiag.formats._table as table_mod
from test_table_paths import CELLS, both, same_table

NUMBERS = st.sampled_from(["", "0", "1", "-1.5", "2.25e-3", "nan", "7"]) | st.floats(allow_nan=False).map(repr)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_mod, "_FAST_CHUNK_ROWS", 3)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(NUMBERS | CELLS, min_size=3, max_size=3), min_size=1, max_size=14),
    track_empty=st.booleans(),
    dup=st.booleans(),
)
def test_chunked_fast_path_is_the_csv_path(tmp_path: Path, rows: list[list[str]], track_empty: bool, dup: bool) -> None:
    header = "a,b,a" if dup else "a,b,c"  # a repeated name: the last column wins on both paths
    p = tmp_path / "t.csv"
    p.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows))
    fast, slow = both(p, track_empty)
    if fast is not None:
        same_table(fast, slow)


def test_integers_then_floats_then_text_across_chunks(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    ints = [f"{i},{i * 2}" for i in range(4)]  # chunk 1 parses as int64
    floats = [f"{i},{i / 3!r}" for i in range(4, 9)]  # chunks 2 and 3 as float64
    p.write_text("epoch,loss\n" + "\n".join(ints + floats) + "\n")
    fast, slow = both(p)
    assert fast is not None and fast.n_rows == 9
    same_table(fast, slow)
    assert np.array_equal(fast.col("loss")[:4], [0.0, 2.0, 4.0, 6.0])
    # text in the last chunk only: the fast path declines, the csv path decides
    p.write_text("epoch,loss\n" + "\n".join(ints + floats + ["9,abc"]) + "\n")
    fast, slow = both(p)
    assert fast is None and np.isnan(slow.col("loss")[-1])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(NUMBERS | CELLS, min_size=3, max_size=3), min_size=1, max_size=30),
    piece=st.integers(1, 40),
    crlf=st.booleans(),
    last_newline=st.booleans(),
    bom=st.booleans(),
)
def test_file_read_in_byte_ranges_by_threads_is_the_csv_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rows: list[list[str]], piece: int, crlf: bool,
    last_newline: bool, bom: bool,
) -> None:
    """A file is cut into byte ranges of whole lines read by threads (here a
    few bytes each, so many ranges and chunks): the same table as the csv path."""
    monkeypatch.setattr(table_mod, "_PIECE_MIN_BYTES", piece)
    monkeypatch.setattr(table_mod.os, "cpu_count", lambda: 3)
    nl = "\r\n" if crlf else "\n"
    text = ("\ufeff" if bom else "") + "a,b,c" + nl + nl.join(",".join(r) for r in rows) + (nl if last_newline else "")
    p = tmp_path / "t.csv"
    p.write_bytes(text.encode("utf-8"))
    fast, slow = both(p)
    if fast is not None:
        same_table(fast, slow)


def test_byte_ranges_cover_the_file_in_whole_lines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    lines = [f"{i},{i * 0.5}" for i in range(1000)]
    p.write_text("step,loss\n" + "\n".join(lines))  # no final line break
    start = len("step,loss\n")
    size = p.stat().st_size
    for min_bytes in (1, 7, 100, 10**6):
        table_mod._PIECE_MIN_BYTES, old = min_bytes, table_mod._PIECE_MIN_BYTES
        try:
            ranges = table_mod._ranges(str(p), start, size, 6)
        finally:
            table_mod._PIECE_MIN_BYTES = old
        assert ranges is not None and ranges[0][0] == start and sum(n for _, n in ranges) == size - start
        data = p.read_bytes()
        for (off, n), (nxt, _) in zip(ranges, ranges[1:], strict=False):
            assert off + n == nxt and data[off + n - 1 : off + n] == b"\n"  # every range ends a line
        # the check counts each range's lines
        with open(p, "rb") as fh:
            fh.seek(start)
            ends = [off + n - start for off, n in ranges]
            counts = table_mod._plain_ranges(fh, b",", b"\n", 2, 10**6, ends)
        assert counts is not None and len(counts) == len(ranges) and sum(counts) == 1000
        assert counts == [data[off : off + n].count(b"\n") for off, n in ranges[:-1]] + [counts[-1]]
    monkeypatch.setattr(table_mod, "_PIECE_MIN_BYTES", 50)  # ~200 ranges, read by threads
    monkeypatch.setattr(table_mod.os, "cpu_count", lambda: 2)
    fast, slow = both(p)
    assert fast is not None and fast.n_rows == 1000
    same_table(fast, slow)
