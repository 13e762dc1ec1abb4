"""Delimited text tables, shared by the CSV-based readers.

Cells become float64 (empty or unparseable cells become NaN); rows with the
wrong number of fields are skipped with a warning naming the row.

Two paths give the same table: Python's csv module over streamed lines (every
file, and the only path under ``FAST_MIN_BYTES`` so that a small file never
pays for importing pandas), and for large files ``pandas.read_csv`` (about 40x
faster), taken only when a byte scan shows the file is plain (UTF-8, no quotes,
every line with the same number of fields and within the per-line limit, no
lone carriage return) and pandas parses every column as a number. Anything else
falls back to the csv path, so the result never depends on which path ran.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import operator
import os
import re
import sys
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress
from typing import IO, TYPE_CHECKING, Any

from ..errors import InputError
from ..run import LONG
from . import _source
from ._source import Source

if TYPE_CHECKING:  # pragma: no cover
    from typing import TypeAlias

    import numpy as np

    from ..run import Floats

    # float64 columns by name, and their number of rows
    _Columns: TypeAlias = tuple[dict[str, np.ndarray], int]

DELIMITERS = ",;\t|"
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+(?:e[-+]?\d+)?$")


@dataclass
class Table:
    """Float64 columns by name: ``array('d')`` from the csv path (no numpy),
    numpy arrays from the pandas fast path. :meth:`col` gives a numpy view of
    either; :meth:`column` the column as stored."""

    header: list[str]
    columns: Mapping[str, Floats]
    n_rows: int
    warnings: list[str] = field(default_factory=list)
    text_columns: dict[str, list[str]] = field(default_factory=dict)
    # per column, true where the cell was empty (only with ``track_empty``):
    # tells a sparse row's blank cell from a logged ``nan``; array('b') from
    # the csv path, a numpy bool array from the fast path
    empty: dict[str, Any] = field(default_factory=dict)

    def col(self, name: str) -> np.ndarray:
        """The column as a numpy array (imports numpy; no copy)."""
        import numpy as np

        return np.asarray(self.columns[name], dtype=np.float64)

    def column(self, name: str) -> Floats:
        """The column as stored (``array('d')`` or numpy)."""
        return self.columns[name]

    def empty_mask(self, name: str) -> np.ndarray:
        """True where the column's cell was empty, as a numpy bool array."""
        import numpy as np

        return np.asarray(self.empty[name], dtype=bool)

    def has(self, name: str) -> bool:
        if name not in self.columns:
            return False
        col = self.columns[name]
        if isinstance(col, array):
            return any(map(math.isfinite, col))
        import numpy as np

        # a large file's column: most have a number in their first rows
        return bool(np.isfinite(col[:4096]).any() or np.isfinite(col).any())

    def points(self, x: str, y: str) -> tuple[Floats, Floats]:
        """(x, y) of the rows where ``y`` has a cell: not empty (with
        ``track_empty``), else not NaN (a logged inf is kept)."""
        xs, ys = self.columns[x], self.columns[y]
        if isinstance(ys, array) and len(ys) <= LONG:  # a small file: no numpy
            # which rows to keep, then the columns through compress (C speed)
            blank = self.empty.get(y)
            if blank is not None:
                if not any(blank):
                    return xs, ys
                keep = list(map(operator.not_, blank))
            else:
                keep = list(map(operator.eq, ys, ys))  # not NaN
                if all(keep):
                    return xs, ys
            return array("d", compress(xs, keep)), array("d", compress(ys, keep))
        import numpy as np

        xa, ya = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        mask = ~np.asarray(self.empty[y], dtype=bool) if y in self.empty else ~np.isnan(ya)
        if mask.all():  # a column with a cell in every row (a training loss): no copies
            return xa, ya
        return xa[mask], ya[mask]


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


_NAN = float("nan")
_FLUSH_ROWS = 4096


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
            pass
        if _DECIMAL_COMMA.match(low):  # "0,95" from a ;-separated European export
            return float(low.replace(",", "."))
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
    bad_widths: list[int] = []
    n = 0
    lineno = start
    # rows wait here in small batches, then go column by column into the
    # float64 arrays at C speed (memory stays 8 bytes a cell, plus one batch)
    pending: list[list[float]] = []

    def flush() -> None:
        for arr, col in zip(cells, zip(*pending, strict=True), strict=False):
            arr.extend(col)
        pending.clear()

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
                    bad_widths.append(len(row))
                    continue
            # float() first: it strips whitespace as to_float does, and most
            # cells are plain numbers or empty (the per-cell cost of a sweep)
            try:
                pending.append([float(c) if c else _NAN for c in row])
            except ValueError:
                pending.append([to_float(c) for c in row])
            if len(pending) >= _FLUSH_ROWS:
                flush()
            if track_empty:
                for i, c in enumerate(row):
                    blanks[i].append(0 if c.strip() else 1)
            for i, lst in texts.items():
                lst.append(row[i].strip())
            n += 1
    except csv.Error as e:
        warnings.append(f"{display}, line {start + reader.line_num - 1}: stopped reading: {e}")
    flush()
    if bad_rows and n == 0:
        raise InputError(
            display,
            f"no row has the {width} fields of the header (separated by {delim!r}); "
            f"this row has {bad_widths[0]}: a different delimiter in the rows than in the header?",
            where=f"line {bad_rows[0]}",
        )
    if bad_rows:
        shown = ", ".join(str(r) for r in bad_rows[:5])
        more = f" and {len(bad_rows) - 5} more" if len(bad_rows) > 5 else ""
        warnings.append(
            f"{display}: skipped {len(bad_rows)} row(s) with the wrong number of fields "
            f"(expected {width}): line {shown}{more}"
        )
    columns: dict[str, Floats] = {}
    for h, col in zip(header, cells, strict=True):
        # a repeated column name: the last column of that name wins
        columns[h] = col
    text_columns = {header[i]: v for i, v in texts.items()}
    empty: dict[str, Any] = {}
    if track_empty:
        for h, b in zip(header, blanks, strict=True):
            empty[h] = b
    return Table(
        header=header, columns=columns, n_rows=n, warnings=warnings, text_columns=text_columns, empty=empty
    )


# Below this size the csv module takes well under the ~0.5 s that importing
# pandas costs.
FAST_MIN_BYTES = 4 * 1024 * 1024
_CHUNK = 8 * 1024 * 1024
# rows per pandas chunk on the fast path (a few MB of parser memory)
_FAST_CHUNK_ROWS = 262144
# the byte ranges of a file parsed by one thread: large enough to amortise a
# parser, small enough that the ranges in flight stay a few tens of MB
_PIECE_MIN_BYTES = 4 * 1024 * 1024
_PIECE_MAX_BYTES = 16 * 1024 * 1024
# Bytes after which the fast path cannot promise the csv path's result: quotes
# and NUL (a lone \r, which the streamed lines split on, is checked apart).
_UNSAFE = b'"\x00'


# Once pandas is imported (a sweep, a report, the Python API in a notebook) its
# parser beats the csv module from about this size.
FAST_MIN_BYTES_PANDAS_LOADED = 64 * 1024


def fast_worthwhile(size: int) -> bool:
    if size >= FAST_MIN_BYTES:
        return True
    return size >= FAST_MIN_BYTES_PANDAS_LOADED and "pandas" in sys.modules


def order_warning(display: str, steps: Floats, what: str = "step") -> str | None:
    """A warning when ``steps`` repeat or go backwards (resumed jobs,
    concatenated files, multi-process writers); None when they ascend."""
    if isinstance(steps, array) and len(steps) <= LONG:  # a small file: no numpy
        fin = steps.tolist() if all(map(math.isfinite, steps)) else [x for x in steps if math.isfinite(x)]
        if all(map(operator.lt, fin, fin[1:])):  # ascending (C speed)
            return None
        # index of the first offending row (0-based data row)
        first = next(i for i in range(1, len(fin)) if fin[i] <= fin[i - 1])
        n_rep = len(fin) - len(set(fin))
        before, at = fin[first - 1], fin[first]
    else:  # a large file's numpy column, at numpy speed (a resumed run repeats steps)
        import numpy as np

        a = np.asarray(steps, dtype=np.float64)
        f = a[np.isfinite(a)]
        back = np.diff(f) <= 0
        if not back.any():
            return None
        first = int(np.argmax(back)) + 1
        ordered = np.sort(f)
        n_rep = int(np.count_nonzero(ordered[1:] == ordered[:-1]))
        before, at = float(f[first - 1]), float(f[first])
    return (
        f"{display}: the {what} column repeats or goes backwards ({n_rep} repeated value(s); "
        f"first at data row {first + 1}, {what} {at:g} after {before:g}): "
        f"sorted by {what}, keeping the last row of a repeated {what}"
    )


def read_table(source: Source, keep_text: tuple[str, ...] = (), track_empty: bool = False) -> Table:
    """``source`` as a table: the fast path for large plain files, else streamed
    (bounded per line, see :meth:`Source.lines`)."""
    if not keep_text and fast_worthwhile(source.size):
        fast = fast_table(source, track_empty=track_empty)
        if fast is not None:
            return fast
    return parse_lines(source.lines(), source.display, keep_text=keep_text, track_empty=track_empty)


def _plain_ranges(
    fh: IO[bytes], delim: bytes, newline: bytes, width: int, max_line: int, ends: list[int] | None = None
) -> list[int] | None:
    """The number of lines in each byte range of ``fh`` when every line holds
    exactly ``width - 1`` delimiters, no unsafe byte and at most ``max_line``
    bytes, else None. The ranges run from ``fh``'s position and end at the
    offsets ``ends`` (relative to that position, increasing; the last is how
    much to read); every range but the last must end a line. ``ends`` None:
    one range, up to the end of the data. Reads at most ``_CHUNK`` bytes at a
    time; cheap (C-speed ``bytes.translate``, ``count``, ``rfind``)."""
    # keep the delimiters, line endings and unsafe bytes (an unsafe byte then
    # breaks the repeated pattern); a \r that is not part of the line ending
    # would split a line in the csv path
    unsafe = _UNSAFE if newline == b"\r\n" else _UNSAFE + b"\r"
    keep = set(delim + newline + unsafe)
    drop = bytes(b for b in range(256) if b not in keep)
    pattern = delim * (width - 1) + newline
    carry = b""
    counts: list[int] = []
    lines = 0
    last = b""
    since_newline = 0  # bytes of the current line before this chunk
    at = 0  # bytes read
    bounds = None if ends is None else list(ends)
    while True:
        want = _CHUNK if bounds is None else min(_CHUNK, bounds[0] - at)
        chunk = fh.read(want) if want > 0 else b""
        if not chunk:
            break
        at += len(chunk)
        last = chunk
        # every line within max_line bytes: jump from newline to the farthest
        # newline at most max_line + 1 bytes ahead
        pos = 0
        while True:
            reach = pos + max_line - since_newline + 1
            nl = chunk.rfind(b"\n", pos, reach)
            if nl >= 0:
                pos, since_newline = nl + 1, 0
            elif reach >= len(chunk):
                since_newline += len(chunk) - pos
                break
            else:
                return None
        struct = carry + chunk.translate(None, drop)
        cut = struct.rfind(b"\n") + 1
        body, carry = struct[:cut], struct[cut:]
        n = body.count(pattern)
        if n * len(pattern) != len(body):
            return None
        lines += n
        if bounds is not None and at == bounds[0]:
            if len(bounds) == 1:  # the last range: checked below
                break
            if carry:  # a range must end a line
                return None
            bounds.pop(0)
            counts.append(lines)
            lines = 0
    if bounds is not None and (len(bounds) != 1 or at != bounds[0]):
        return None  # the data ended before the ranges did
    if since_newline > max_line:
        return None
    if last and not last.endswith(b"\n"):  # an unterminated last line
        if carry != pattern[: -len(newline)]:
            return None
        lines += 1
    elif carry:
        return None
    counts.append(lines)
    return counts


def _plain_lines(fh: IO[bytes], delim: bytes, newline: bytes, width: int, max_line: int) -> int | None:
    """The number of lines (see :func:`_plain_ranges`), or None."""
    counts = _plain_ranges(fh, delim, newline, width, max_line)
    return None if counts is None else sum(counts)


def _ranges(path: str, start: int, size: int, n: int) -> list[tuple[int, int]] | None:
    """About ``n`` byte ranges of the file from ``start`` to ``size`` (more for a
    large file: at most about ``_PIECE_MAX_BYTES`` each, at least
    ``_PIECE_MIN_BYTES``), each ending after a line break (or at ``size``):
    ``(offset, length)``. Only the line at each cut is read; None when a cut
    meets a line longer than ``MAX_LINE_CHARS`` (the fast path declines)."""
    step = max(1, _PIECE_MIN_BYTES, min(_PIECE_MAX_BYTES, -(-(size - start) // max(1, n))))
    out: list[tuple[int, int]] = []
    with open(path, "rb") as fh:
        pos = start
        while pos < size:
            cut = pos + step
            if cut < size:
                # the rest of the line the cut falls in (from the byte before
                # the cut: a cut right after a line break stays where it is)
                fh.seek(cut - 1)
                rest = fh.readline(_source.MAX_LINE_CHARS + 2)
                if not rest.endswith(b"\n") and cut - 1 + len(rest) < size:
                    return None
                cut = cut - 1 + len(rest)
            cut = min(cut, size)
            out.append((pos, cut - pos))
            pos = cut
    return out


def fast_table(source: Source, track_empty: bool = False) -> Table | None:
    """The table via ``pandas.read_csv``, or None where that could differ from
    :func:`parse_lines` (the caller then takes the csv path)."""
    head = source.head
    if source.encoding not in ("utf-8", "utf-8-sig"):
        return None
    end = head.find(b"\n")
    if end <= 0 or end > _source.MAX_LINE_CHARS:
        return None
    newline = b"\r\n" if head[end - 1 : end] == b"\r" else b"\n"
    try:
        first = head[: end + 1 - len(newline)].decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if not first.strip() or any(c in first for c in '\r"\x00'):
        return None
    delim = sniff_delimiter(first)
    header = [h.strip() for h in first.split(delim)]
    width = len(header)
    if width < 2 or len(delim.encode()) != 1:
        return None
    if header[0] == "":
        header[0] = "__index__"
    try:
        import numpy as np
        import pandas as pd

        kw: dict[str, Any] = dict(
            sep=delim, header=None, names=list(range(width)), index_col=False, engine="c",
            quoting=csv.QUOTE_NONE, encoding="utf-8",
        )
        if track_empty:
            # only an empty cell is NaN; a logged "nan" makes the column text
            # (and the csv path decide), so NaN marks exactly the empty cells
            kw.update(keep_default_na=False, na_values=[""])
        if int(pd.__version__.split(".")[0]) < 3:
            # pandas 3 parses floats exactly as float() does by default
            kw["float_precision"] = "round_trip"
        if source.path is not None and source.limit is None and source._data is None:
            got = _read_plain_file(pd, str(source.path), end + 1, source.size, delim, newline, header, kw)
        else:
            got = _read_handle(pd, source, delim, newline, header, kw)
    except Exception:  # noqa: BLE001 - any doubt: the csv path decides, with its own messages
        return None
    if got is None:
        return None
    columns, n_rows = got
    empty = {h: np.isnan(arr) for h, arr in columns.items()} if track_empty else {}
    return Table(header=header, columns=columns, n_rows=n_rows, empty=empty)


def _numeric(df: Any, width: int) -> list[np.ndarray] | None:
    """A parsed chunk's columns (float64 or int64, cast when copied into the
    float64 columns), or None when a column is not all numbers (text,
    booleans, huge integers: the csv path's rules apply)."""
    import numpy as np

    out = []
    for i in range(width):
        col = df[i]
        if col.dtype != np.float64 and col.dtype != np.int64:
            return None
        out.append(col.to_numpy())
    return out


def _put(columns: dict[str, np.ndarray], header: list[str], at: int, cols: list[np.ndarray]) -> None:
    """Rows from ``at`` of the float64 columns (a repeated column name: the
    last column of that name wins)."""
    k = cols[0].shape[0]
    for h, col in zip(header, cols, strict=True):
        columns[h][at : at + k] = col


def _read_plain_file(
    pd: Any, path: str, start: int, size: int, delim: str, newline: bytes, header: list[str], kw: dict[str, Any]
) -> _Columns | None:
    """A plain file's rows (from byte ``start``) cut into byte ranges of whole
    lines that threads parse (pandas' C parser releases the GIL), while this
    thread checks that every line is plain (:func:`_plain_ranges`) and counts
    each range's lines; then each thread copies its range's rows into the
    float64 columns (numpy's copy releases the GIL too). Memory: the columns,
    plus the ranges parsed before the check ended."""
    import numpy as np

    width = len(header)
    workers = max(1, min(os.cpu_count() or 1, 8))
    ranges = _ranges(path, start, size, workers * 3)
    if not ranges:
        return None

    def parse(i: int) -> list[np.ndarray] | None:
        off, length = ranges[i]
        with open(path, "rb") as fh:
            fh.seek(off)
            buf = fh.read(length)
        return _numeric(pd.read_csv(io.BytesIO(buf), **kw), width)

    def check() -> _Columns | None:
        with open(path, "rb") as fh:
            fh.seek(start)
            ends = list(itertools.accumulate(n for _, n in ranges))
            counts = _plain_ranges(fh, delim.encode(), newline, width, _source.MAX_LINE_CHARS, ends)
        if counts is None:
            return None
        firsts.extend(itertools.accumulate(counts, initial=0))
        return {h: np.empty(firsts[-1], dtype=np.float64) for h in header}, firsts[-1]

    firsts: list[int] = []
    if len(ranges) == 1 or workers == 1:
        got = check()  # first (a cheap decline), then the ranges one by one
        if got is None:
            return None
        for i in range(len(ranges)):
            cols = parse(i)
            if cols is None or cols[0].shape[0] != firsts[i + 1] - firsts[i]:
                return None
            _put(got[0], header, firsts[i], cols)
        return got

    import threading
    from concurrent.futures import ThreadPoolExecutor

    checked = threading.Event()
    result: list[_Columns | None] = [None]

    def parse_and_put(i: int) -> bool:
        cols = parse(i)
        checked.wait()
        got = result[0]
        if cols is None or got is None or cols[0].shape[0] != firsts[i + 1] - firsts[i]:
            return False
        _put(got[0], header, firsts[i], cols)
        return True

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(parse_and_put, i) for i in range(len(ranges))]
        try:
            result[0] = check()
        finally:
            checked.set()  # (never leave a thread waiting)
        if result[0] is None:
            return None
        return result[0] if all(f.result() for f in futures) else None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _read_handle(
    pd: Any, source: Source, delim: str, newline: bytes, header: list[str], kw: dict[str, Any]
) -> _Columns | None:
    """Standard input, in-memory data and a growing file read up to a limit,
    through Source's own handle: checked, then read in chunks of rows straight
    into the float64 columns (memory: the columns plus a chunk)."""
    import numpy as np

    width = len(header)
    with source.open_binary() as fh:
        n_lines = _plain_lines(fh, delim.encode(), newline, width, _source.MAX_LINE_CHARS)
    if n_lines is None or n_lines < 2:
        return None
    n_rows = n_lines - 1
    columns = {h: np.empty(n_rows, dtype=np.float64) for h in header}
    at = 0
    with source.open_binary() as fh, pd.read_csv(fh, skiprows=1, chunksize=_FAST_CHUNK_ROWS, **kw) as chunks:
        for df in chunks:
            k = len(df)
            cols = _numeric(df, width)
            if cols is None or at + k > n_rows:
                return None
            _put(columns, header, at, cols)
            at += k
    return (columns, n_rows) if at == n_rows else None
