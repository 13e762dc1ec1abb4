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
