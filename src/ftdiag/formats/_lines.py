"""Streaming line reader for console logs (one pass, bounded memory).

Console captures mix ``\\n`` lines with ``\\r`` progress-bar updates, so both
end a *segment* here; line numbers count ``\\n`` only, so a message can name
the line a user sees in an editor. The file is decoded incrementally in the
encoding :attr:`Source.encoding` guesses (UTF-8, UTF-16 as Windows PowerShell
writes, else Latin-1), undecodable bytes become U+FFFD, and a segment longer than ``max_line`` characters is cut to its first
``max_line`` characters (the rest of it is skipped and counted), so memory
stays bounded whatever the input.

With ``pattern``, only segments holding a match are produced, found by one
regex scan per chunk: a 1 GB log of progress bars is read at C speed.
"""

from __future__ import annotations

import codecs
import math
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._source import Source

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

CHUNK = 1 << 20
MAX_LINE = 1 << 18  # 256 K characters
TAIL = 1 << 14  # characters of the end of the file kept for messages
# points kept per series before they are averaged in groups (8 bytes a value:
# a few MB per series, whatever the log's length)
DEFAULT_CAP = 1 << 20
_SEP = re.compile(r"[\r\n]")


def to_number(v: object) -> float | None:
    """A logged value as a float: numbers, and numeric strings as recent
    loggers print them ('4.927e-05', 'nan', '97.5%'); None for anything else
    (booleans, text, an integer too large for a float)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        try:
            return float(v)
        except OverflowError:
            return None
    if isinstance(v, str) and len(v) < 64:
        try:
            return float(v.strip().rstrip("%"))
        except ValueError:
            return None
    return None


def head_text(source: Source) -> str:
    """The head decoded as the streaming reader decodes the file (for sniffing)."""
    return source.head_text.lstrip("\ufeff")


# one regex, or several (each with a literal prefix is far faster in Python's
# re than one alternation); a match may begin with the line break before its
# segment
Patterns = re.Pattern[str] | Sequence[re.Pattern[str]] | None


@dataclass
class LineStats:
    lines: int = 0  # \n-terminated lines seen (plus a final unterminated one)
    truncated: list[int] = field(default_factory=list)  # line numbers of over-long segments
    tail: str = ""  # the last characters of the file


def iter_segments(
    source: Source,
    pattern: Patterns = None,
    stats: LineStats | None = None,
    max_line: int = MAX_LINE,
    chunk_size: int = CHUNK,
) -> Iterator[tuple[int, str]]:
    """``(line number, segment)`` for each ``\\n``/``\\r``-delimited segment
    (only those matching ``pattern`` when given); empty segments are skipped."""
    for lineno, block in iter_blocks(source, stats, max_line, chunk_size):
        yield from _emit(block, lineno, pattern)


def iter_blocks(
    source: Source,
    stats: LineStats | None = None,
    max_line: int = MAX_LINE,
    chunk_size: int = CHUNK,
) -> Iterator[tuple[int, str]]:
    """``(line number of its first line, block)``: the file as blocks of
    whole segments (about ``chunk_size`` characters, each ending with a line
    break), for readers that scan a block with one regex at C speed."""
    st = stats if stats is not None else LineStats()
    decoder = codecs.getincrementaldecoder(source.encoding)(errors="replace")
    lineno = 1
    carry = ""  # the unfinished segment at the end of the previous chunk
    skipping = False  # inside an over-long segment: drop text up to the next separator
    first = True
    with source.open_binary() as fh:
        while True:
            raw = fh.read(chunk_size)
            final = not raw
            text = decoder.decode(raw, final=final)
            if first and text:
                text = text.lstrip("\ufeff")
                first = False
            if text:
                st.tail = (st.tail + text)[-TAIL:]
            if skipping:
                m = _SEP.search(text)
                if m is None:
                    if final:
                        break
                    continue
                text = text[m.start() :]
                skipping = False
            text, carry = carry + text, ""
            if final:
                if text and not text.endswith(("\n", "\r")):
                    text += "\n"
                block = text
            else:
                last = max(text.rfind("\n"), text.rfind("\r"))
                block, carry = text[: last + 1], text[last + 1 :]
            if block:
                yield lineno, block
                lineno += block.count("\n")
            if len(carry) > max_line:
                # keep the head of an over-long segment; "\r" ends it without
                # counting a line (its real end is found after the skip)
                yield lineno, carry[:max_line] + "\r"
                st.truncated.append(lineno)
                carry = ""
                skipping = True
            if final:
                break
    st.lines = lineno - 1


def _emit(block: str, lineno: int, pattern: Patterns) -> Iterator[tuple[int, str]]:
    """Segments of ``block`` (which ends with a separator). ``pattern`` must
    not match across a line break."""
    if pattern is None:
        pos = 0
        for m in _SEP.finditer(block):
            seg = block[pos : m.start()]
            if seg.strip():
                yield lineno, seg
            if m.group() == "\n":
                lineno += 1
            pos = m.end()
        return
    # scanned with the line break that precedes the block (a pattern may
    # anchor on it); positions shift back by one
    scan = "\n" + block
    if isinstance(pattern, re.Pattern):
        starts: Iterable[int] = (max(m.start() - 1, 0) for m in pattern.finditer(scan))
    else:
        starts = sorted({max(m.start() - 1, 0) for p in pattern for m in p.finditer(scan)})
    counted_to = 0
    done_to = -1
    for pos in starts:
        while pos < len(block) - 1 and block[pos] in "\r\n":
            pos += 1
        if pos < done_to:
            continue
        # the segment starts after the last break before pos; searching back
        # only to the previous segment's end keeps this linear
        lo = max(done_to, 0)
        start = max(block.rfind("\n", lo, pos), block.rfind("\r", lo, pos)) + 1 or lo
        em = _SEP.search(block, pos)
        end = em.start() if em else len(block)
        lineno += block.count("\n", counted_to, start)
        counted_to = start
        done_to = end + 1
        yield lineno, block[start:end]


class Rows:
    """Rows of named float columns, appended in order and kept as float64
    arrays (8 bytes a cell, NaN where a row lacks a key).

    Memory stays bounded whatever the log's length: past ``cap`` rows,
    adjacent pairs are averaged (a NaN in a pair makes the average NaN, so a
    diverged value is not hidden) and from then on every ``stride`` new rows
    are averaged into one. :attr:`stride` > 1 says this happened, for a
    warning. At most ``max_keys`` columns are kept (later new keys are
    ignored): a log's metric names are few.
    """

    def __init__(self, cap: int | None = None, max_keys: int = 64) -> None:
        cap = cap or DEFAULT_CAP
        self.cap = max(2, cap - cap % 2)
        self.max_keys = max_keys
        self.cols: dict[str, array[float]] = {}
        self.n = 0  # rows stored
        self.total = 0  # rows added
        self.stride = 1
        self._pending: dict[str, float] = {}
        self._pending_n = 0

    def __len__(self) -> int:
        return self.n + (1 if self._pending_n else 0)

    def add(self, row: Mapping[str, float]) -> None:
        self.total += 1
        if self.stride == 1:
            self._append(row)
            return
        pend = self._pending
        for k in set(pend) | set(row):
            pend[k] = pend.get(k, math.nan if self._pending_n else 0.0) + row.get(k, math.nan)
        self._pending_n += 1
        if self._pending_n == self.stride:
            self._flush()

    def _flush(self, final: bool = False) -> None:
        if self._pending_n:
            n = self._pending_n
            self._append({k: v / n for k, v in self._pending.items()}, halve=not final)
            self._pending, self._pending_n = {}, 0

    def _append(self, row: Mapping[str, float], halve: bool = True) -> None:
        for k in row:
            if k not in self.cols and len(self.cols) < self.max_keys:
                self.cols[k] = array("d", [math.nan]) * self.n
        for k, col in self.cols.items():
            col.append(row.get(k, math.nan))
        self.n += 1
        if halve and self.n >= self.cap:
            self._halve()

    def _halve(self) -> None:
        import numpy as np

        for k, col in self.cols.items():
            a = np.frombuffer(col, dtype=np.float64)
            m = a.size - a.size % 2
            self.cols[k] = array("d", ((a[0:m:2] + a[1:m:2]) / 2.0).tobytes())
        self.n //= 2
        self.stride *= 2

    def column(self, key: str) -> np.ndarray:
        """The column (NaN where absent), the last partial group included
        (as the mean of what it holds). Read columns after the last :meth:`add`."""
        import numpy as np

        self._flush(final=True)
        col = self.cols.get(key)
        if col is None:
            return np.full(self.n, np.nan)
        return np.frombuffer(col, dtype=np.float64).copy()

    def keys(self) -> list[str]:
        return list(self.cols)


class Grouped:
    """:class:`Rows` grouped by their key set, so that within a group a NaN is
    always a logged NaN (a diverged value), never a key the line did not
    have. At most ``max_groups`` key sets; lines with yet another are
    counted in :attr:`dropped`."""

    def __init__(self, max_groups: int = 32, cap: int | None = None) -> None:
        self.groups: dict[frozenset[str], Rows] = {}
        self.max_groups = max_groups
        self.cap = cap
        self.dropped = 0

    def add(self, row: Mapping[str, float]) -> None:
        sig = frozenset(row)
        rows = self.groups.get(sig)
        if rows is None:
            if len(self.groups) >= self.max_groups:
                self.dropped += 1
                return
            rows = self.groups[sig] = Rows(cap=self.cap)
        rows.add(row)

    def __len__(self) -> int:
        return sum(len(g) for g in self.groups.values())

    def keys(self) -> set[str]:
        return {k for sig in self.groups for k in sig}

    @property
    def stride(self) -> int:
        return max((g.stride for g in self.groups.values()), default=1)

    @property
    def total(self) -> int:
        return sum(g.total for g in self.groups.values())

    def arrays(self, key: str, x: str) -> tuple[np.ndarray, np.ndarray] | None:
        """``(x, values)`` of ``key`` from every group that logs it (not sorted)."""
        got = self.arrays3(key, x, None)
        return None if got is None else (got[0], got[1])

    def arrays3(self, key: str, x: str, third: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``(x, values, third)`` of ``key`` (``third`` NaN where a group lacks it)."""
        import numpy as np

        sel = [(sig, g) for sig, g in self.groups.items() if key in sig and x in sig]
        if not sel:
            return None
        xs = np.concatenate([g.column(x) for _, g in sel])
        vs = np.concatenate([g.column(key) for _, g in sel])
        ts = np.concatenate([g.column(third) if third in sig else np.full(len(g), np.nan) for sig, g in sel])
        return xs, vs, ts

    def bound_note(self, display: str, what: str) -> str | None:
        if self.stride > 1:
            return f"{display}: {self.total:,} {what}: averaged in groups of up to {self.stride} to bound memory"
        return None


class Points:
    """A long numeric series (x, y), appended a block at a time, kept in at
    most ``cap`` points: past it, adjacent points are averaged in pairs and
    from then on every ``stride`` incoming points become one (their mean), so
    the resolution stays uniform and memory bounded. A NaN makes its group's
    mean NaN, so a diverged value stays visible."""

    def __init__(self, cap: int | None = None) -> None:
        import numpy as np

        cap = cap or DEFAULT_CAP
        self.cap = max(2, cap - cap % 2)
        self.x = np.empty(0)
        self.y = np.empty(0)
        self.stride = 1
        self.total = 0
        self._px: list[float] = []  # the incomplete group's raw points
        self._py: list[float] = []
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._n = 0

    def __len__(self) -> int:
        return self._n + (1 if self._px else 0)

    def extend(self, xs: Sequence[float], ys: Sequence[float]) -> None:
        import numpy as np

        if not len(xs):
            return
        self.total += len(xs)
        if self.stride == 1 and not self._px:
            self._store(np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))
            return
        ax = np.concatenate([np.asarray(self._px), np.asarray(xs, dtype=np.float64)])
        ay = np.concatenate([np.asarray(self._py), np.asarray(ys, dtype=np.float64)])
        full = ax.size - ax.size % self.stride
        self._px, self._py = ax[full:].tolist(), ay[full:].tolist()
        if full:
            self._store(ax[:full].reshape(-1, self.stride).mean(1), ay[:full].reshape(-1, self.stride).mean(1))

    def _store(self, x: np.ndarray, y: np.ndarray) -> None:
        self._parts.append((x, y))
        self._n += x.size
        if self._n >= self.cap:
            self._join()
            while self._n >= self.cap:
                m = self._n - self._n % 2
                # an odd last point goes back to the incomplete group
                if m < self._n:
                    self._px = [float(self.x[-1])] * self.stride + self._px
                    self._py = [float(self.y[-1])] * self.stride + self._py
                self.x = (self.x[0:m:2] + self.x[1:m:2]) / 2.0
                self.y = (self.y[0:m:2] + self.y[1:m:2]) / 2.0
                self._n = self.x.size
                self.stride *= 2
            self._parts = [(self.x, self.y)]
            # the incomplete group may now be a complete one (or more)
            if len(self._px) >= self.stride:
                px, py = self._px, self._py
                self._px, self._py = [], []
                self.total -= len(px)
                self.extend(px, py)

    def _join(self) -> None:
        import numpy as np

        if len(self._parts) != 1 or self._parts[0][0] is not self.x:
            self.x = np.concatenate([p[0] for p in self._parts]) if self._parts else np.empty(0)
            self.y = np.concatenate([p[1] for p in self._parts]) if self._parts else np.empty(0)
            self._parts = [(self.x, self.y)]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All points, the incomplete last group as its mean. Call after the last extend."""
        import numpy as np

        self._join()
        if self._px:
            x = np.append(self.x, np.mean(self._px))
            y = np.append(self.y, np.mean(self._py))
            return x, y
        return self.x, self.y
