"""Delimited text tables, shared by the CSV-based readers.

Cells become float64 (empty or unparseable cells become NaN); rows with the
wrong number of fields are skipped with a warning naming the row.
"""

from __future__ import annotations

import csv
import itertools
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ._source import Source

DELIMITERS = ",;\t|"


@dataclass
class Table:
    header: list[str]
    columns: dict[str, np.ndarray]
    n_rows: int
    warnings: list[str] = field(default_factory=list)
    text_columns: dict[str, list[str]] = field(default_factory=dict)
    # per column, True where the cell was empty (only with ``track_empty``):
    # tells a sparse row's blank cell from a logged ``nan``
    empty: dict[str, np.ndarray] = field(default_factory=dict)

    def col(self, name: str) -> np.ndarray:
        return self.columns[name]

    def has(self, name: str) -> bool:
        return name in self.columns and bool(np.isfinite(self.columns[name]).any())


def sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def header_of(source: Source) -> list[str]:
    """The first non-empty line of the head, split on its delimiter, stripped."""
    for line in source.head_text.splitlines():
        if line.strip():
            delim = sniff_delimiter(line)
            return [c.strip().strip('"').strip() for c in line.split(delim)]
    return []


def to_float(cell: str) -> float:
    cell = cell.strip()
    if not cell:
        return float("nan")
    try:
        return float(cell)
    except ValueError:
        low = cell.lower().strip('"')
        if low in ("nan", "none", "null", "-nan"):
            return float("nan")
        try:
            return float(low)
        except ValueError:
            return float("nan")


def parse_table(
    text: str,
    display: str,
    keep_text: tuple[str, ...] = (),
    delimiter: str | None = None,
    track_empty: bool = False,
) -> Table:
    return parse_lines(text.splitlines(), display, keep_text=keep_text, delimiter=delimiter, track_empty=track_empty)


def parse_lines(
    lines: Iterable[str],
    display: str,
    keep_text: tuple[str, ...] = (),
    delimiter: str | None = None,
    track_empty: bool = False,
) -> Table:
    """A table from lines (without line ends), streamed: each cell is kept as
    one float64 (8 bytes), so memory follows the number of cells read."""
    it = iter(lines)
    start = 0
    first = None
    for line in it:
        start += 1
        if line.strip():
            first = line
            break
    if first is None:
        raise InputError(display, "the file is empty")
    delim = delimiter or sniff_delimiter(first)
    reader = csv.reader(itertools.chain([first], it), delimiter=delim)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error) as e:
        raise InputError(display, f"cannot read the header ({e})", where=f"line {start}") from None
    width = len(header)
    if header and header[0] == "":
        header[0] = "__index__"
    cells: list[array[float]] = [array("d") for _ in range(width)]
    texts: dict[int, list[str]] = {header.index(k): [] for k in keep_text if k in header}
    blanks: list[array[int]] = [array("b") for _ in range(width)] if track_empty else []
    warnings: list[str] = []
    bad_rows: list[int] = []
    n = 0
    lineno = start
    try:
        for row in reader:
            lineno = start + reader.line_num - 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                # a trailing empty field (a stray delimiter at the end) is harmless
                if len(row) == width + 1 and not row[-1].strip():
                    row = row[:-1]
                else:
                    bad_rows.append(lineno)
                    continue
            for i, c in enumerate(row):
                cells[i].append(to_float(c))
            if track_empty:
                for i, c in enumerate(row):
                    blanks[i].append(0 if c.strip() else 1)
            for i, lst in texts.items():
                lst.append(row[i].strip())
            n += 1
    except csv.Error as e:
        warnings.append(f"{display}, line {start + reader.line_num - 1}: stopped reading: {e}")
    if bad_rows:
        shown = ", ".join(str(r) for r in bad_rows[:5])
        more = f" and {len(bad_rows) - 5} more" if len(bad_rows) > 5 else ""
        warnings.append(
            f"{display}: skipped {len(bad_rows)} row(s) with the wrong number of fields "
            f"(expected {width}): line {shown}{more}"
        )
    columns: dict[str, np.ndarray] = {}
    for h, col in zip(header, cells, strict=True):
        # a repeated column name: the last column of that name wins
        columns[h] = np.frombuffer(col, dtype=np.float64) if len(col) else np.empty(0)
    text_columns = {header[i]: v for i, v in texts.items()}
    empty: dict[str, np.ndarray] = {}
    if track_empty:
        for h, b in zip(header, blanks, strict=True):
            empty[h] = np.frombuffer(b, dtype=np.int8).astype(bool) if len(b) else np.empty(0, dtype=bool)
    return Table(
        header=header, columns=columns, n_rows=n, warnings=warnings, text_columns=text_columns, empty=empty
    )


def read_table(source: Source, keep_text: tuple[str, ...] = (), track_empty: bool = False) -> Table:
    """Stream ``source`` as a table (bounded per line, see :meth:`Source.lines`)."""
    return parse_lines(source.lines(), source.display, keep_text=keep_text, track_empty=track_empty)
