"""A read-only view of one input: a file, a directory, or standard input.

Inputs are opened read-only and never modified. ``head`` holds the first
kilobytes for detection, so a large file is never read twice just to sniff it.

Reading is bounded (see README, "What ftdiag does with bad input"):

* line-oriented readers (CSV, JSONL, stdout logs) read with :meth:`Source.lines`,
  which streams the file and never holds more than ``MAX_LINE_CHARS`` of one
  line: a longer line is skipped (it comes out as an empty line, so line
  numbers stay right) and a warning says so;
* whole-document readers (a JSON object) read with :meth:`Source.read_text` or
  :meth:`Source.read_bytes`, which refuse a file larger than
  ``MAX_DOCUMENT_BYTES`` with a clear message instead of exhausting memory;
* standard input is spooled to a temporary file, so it is bounded the same way.

Both limits can be raised with the environment variables
``FTDIAG_MAX_LINE_KB`` and ``FTDIAG_MAX_DOCUMENT_MB``.
"""

from __future__ import annotations

import codecs
import io
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import InputError

HEAD_BYTES = 64 * 1024
_CHUNK = 1024 * 1024


def _env_int(name: str, default: int) -> int:
    try:
        v = int(os.environ.get(name, ""))
    except ValueError:
        return default
    return v if v > 0 else default


# one line of a line-oriented log (a CSV row, a JSONL record, a stdout line)
MAX_LINE_CHARS = _env_int("FTDIAG_MAX_LINE_KB", 1024) * 1024
# a file read as one document (a JSON object such as trainer_state.json)
MAX_DOCUMENT_BYTES = _env_int("FTDIAG_MAX_DOCUMENT_MB", 256) * 1024 * 1024
# standard input stays in memory up to this size, then spills to a temporary file
STDIN_SPOOL_BYTES = 16 * 1024 * 1024


def human_size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


class _Bounded(io.RawIOBase):
    """The first ``limit`` bytes of a binary file (a consistent snapshot of a growing file)."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self._raw = raw
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(b)[: self._left]
        n = self._raw.readinto(view)  # type: ignore[attr-defined]
        n = n or 0
        self._left -= n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass
class Source:
    path: Path | None  # None for standard input
    display: str
    head: bytes = b""
    is_dir: bool = False
    _data: bytes | None = field(default=None, repr=False)
    # standard input, spooled
    _spool: IO[bytes] | None = field(default=None, repr=False)
    # when set, only the first ``limit`` bytes are the file (``ftdiag watch``
    # reads a growing file up to its last complete line)
    limit: int | None = None
    # warnings met while reading (over-long lines); attached to every run read
    notes: list[str] = field(default_factory=list)
    _long_lines: list[tuple[int, int]] = field(default_factory=list, repr=False)
    _line_cap: int = field(default=0, repr=False)
    # an explicit ftdiag.mapping.ColumnMapping, set by ftdiag.inputs: lets the
    # generic reader accept columns named only on the command line
    mapping: Any = field(default=None, repr=False)

    @property
    def size(self) -> int:
        if self._data is not None:
            n = len(self._data)
        elif self._spool is not None:
            pos = self._spool.tell()
            n = self._spool.seek(0, io.SEEK_END)
            self._spool.seek(pos)
        elif self.path is None or self.is_dir:
            return 0
        else:
            n = self.path.stat().st_size
        return min(n, self.limit) if self.limit is not None else n

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "<stdin>"

    def open_binary(self) -> IO[bytes]:
        """A fresh read-only binary handle on the content (bounded by ``limit``)."""
        if self._data is not None:
            data = self._data if self.limit is None else self._data[: self.limit]
            return io.BytesIO(data)
        if self._spool is not None:
            self._spool.seek(0)
            raw: IO[bytes] = io.BufferedReader(_NoClose(self._spool))
        else:
            assert self.path is not None
            try:
                raw = open(self.path, "rb")  # noqa: SIM115 - returned to the caller
            except OSError as e:
                raise InputError(self.display, f"cannot read file ({e.strerror or e})") from None
        if self.limit is not None:
            return io.BufferedReader(_Bounded(raw, self.limit))
        return raw

    def read_bytes(self, max_bytes: int | None = None) -> bytes:
        """The whole content, refused beyond ``max_bytes`` (default ``MAX_DOCUMENT_BYTES``)."""
        cap = MAX_DOCUMENT_BYTES if max_bytes is None else max_bytes
        if self._data is not None and self.limit is None and len(self._data) <= cap:
            return self._data
        try:
            size = self.size
        except OSError:
            size = 0
        data = b""
        if size <= cap:  # (a file growing meanwhile is caught by reading one byte more)
            try:
                with self.open_binary() as fh:
                    data = fh.read(cap + 1)
            except OSError as e:
                raise InputError(self.display, f"cannot read file ({e.strerror or e})") from None
        if size > cap or len(data) > cap:
            raise InputError(
                self.display,
                f"the file is {human_size(max(self.size, len(data)))}, more than the "
                f"{human_size(cap)} ftdiag reads as one document "
                "(set FTDIAG_MAX_DOCUMENT_MB to raise the limit)",
            )
        return data

    def read_text(self, max_bytes: int | None = None) -> str:
        return decode(self.read_bytes(max_bytes), self.display)

    @property
    def encoding(self) -> str:
        """The text encoding, judged from the head (see :func:`guess_encoding`)."""
        return guess_encoding(self.head)

    def lines(self, max_chars: int | None = None) -> Iterator[str]:
        """The file's lines, streamed, without their line ends.

        Universal newlines (``\\n``, ``\\r\\n`` and a lone ``\\r``, which progress
        bars use). A line longer than ``max_chars`` (default ``MAX_LINE_CHARS``)
        is never held in memory: it comes out as ``""`` (so callers' line
        numbers stay right) and is reported in :attr:`notes`.
        """
        cap = MAX_LINE_CHARS if max_chars is None else max_chars
        enc = self.encoding
        binary = self.open_binary()
        text = io.TextIOWrapper(binary, encoding=enc, errors="replace", newline=None)
        try:
            lineno = 0
            while True:
                line = text.readline(cap + 1)
                if not line:
                    break
                lineno += 1
                if line.endswith("\n"):
                    yield line[:-1]
                    continue
                if len(line) <= cap:  # the last line, without a line end
                    yield line
                    continue
                total = len(line)
                while True:  # skip the rest of the over-long line
                    more = text.readline(_CHUNK)
                    total += len(more)
                    if not more or more.endswith("\n"):
                        break
                self._note_long_line(lineno, total, cap)
                yield ""
        except OSError as e:
            raise InputError(self.display, f"cannot read file ({e.strerror or e})") from None
        finally:
            text.close()

    def long_lines_message(self) -> str | None:
        """Why lines were skipped, for an error message (None if none was)."""
        if not self._long_lines:
            return None
        n, length = self._long_lines[0]
        more = f" (and {len(self._long_lines) - 1} more such line(s))" if len(self._long_lines) > 1 else ""
        return (
            f"line {n} is {human_size(length)} long{more}, more than the {human_size(self._line_cap)} "
            "ftdiag reads per line (set FTDIAG_MAX_LINE_KB to raise the limit)"
        )

    def _note_long_line(self, lineno: int, length: int, cap: int) -> None:
        self._line_cap = cap
        self._long_lines.append((lineno, length))
        if len(self._long_lines) == 1:
            self.notes.append(
                f"{self.display}, line {lineno}: the line is {human_size(length)} long, more than "
                f"the {human_size(cap)} ftdiag reads per line; skipped it "
                "(set FTDIAG_MAX_LINE_KB to raise the limit)"
            )
        else:
            shown = ", ".join(str(n) for n, _ in self._long_lines[:5])
            more = f" and {len(self._long_lines) - 5} more" if len(self._long_lines) > 5 else ""
            self.notes[-1] = (
                f"{self.display}: skipped {len(self._long_lines)} line(s) longer than the "
                f"{human_size(cap)} ftdiag reads per line: line {shown}{more} "
                "(set FTDIAG_MAX_LINE_KB to raise the limit)"
            )

    @property
    def head_text(self) -> str:
        """The head decoded leniently (for sniffing only)."""
        enc = self.encoding
        if enc.startswith("utf-16"):
            return self.head.decode(enc, errors="replace")
        return self.head.decode("utf-8-sig", errors="replace")

    def describe_unknown(self) -> str:
        if self.is_dir:
            return "no training log found in this directory (see 'ftdiag formats' for what is read)"
        if not self.head:
            return "the file is empty"
        if b"\x00" in self.head[:4096] and not self.encoding.startswith("utf-16"):
            return "this looks like a binary file, not a training log (see 'ftdiag formats')"
        text = self.head_text
        first = text.splitlines()[0][:80] if text.strip() else ""
        table = _table_columns(text)
        if table:
            shown = ", ".join(table[:8]) + (", ..." if len(table) > 8 else "")
            return (
                f"not a training log format ftdiag knows: a table with columns {shown}, none of "
                "them a training metric it recognizes (a loss, an accuracy, ...); if this is a "
                "training log, name the columns with --val-metric/--train-metric"
            )
        return (
            f"not a training log format ftdiag knows (first line: {first!r}); "
            "see 'ftdiag formats', or pass --input-format"
        )


def _table_columns(text: str) -> list[str]:
    """The header of a delimited table, when the head looks like one (a first
    line of at least 3 name-like cells and a second line with as many)."""
    lines = [ln for ln in text.splitlines()[:3] if ln.strip()]
    if len(lines) < 2:
        return []
    for delim in (",", "\t", ";", "|"):
        head = [c.strip().strip('"') for c in lines[0].split(delim)]
        if (
            len(head) >= 3
            and len(lines[1].split(delim)) == len(head)
            and all(c and len(c) <= 64 and not c.replace(".", "", 1).lstrip("-").isdigit() for c in head)
        ):
            return head
    return []


class _NoClose(io.RawIOBase):
    """A view of the stdin spool that does not close it (it is read again)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._fh.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def read(self, size: int = -1) -> bytes:
        return self._fh.read(size)


def guess_encoding(head: bytes) -> str:
    """UTF-16 (by BOM, or by the zero bytes of ASCII text in UTF-16), UTF-8
    (with or without BOM), else Latin-1."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(b"\x00") * 3 >= len(sample):
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) * 4 >= len(odd) * 3 and even.count(0) * 4 < len(even):
            return "utf-16-le"
        if even.count(0) * 4 >= len(even) * 3 and odd.count(0) * 4 < len(odd):
            return "utf-16-be"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        # a multi-byte character cut at the end of the head is still UTF-8
        if e.start < len(head) - 3:
            return "latin-1"
    return "utf-8"


def decode(data: bytes, display: str) -> str:
    """UTF-8 (with or without BOM); UTF-16 with a BOM or by its zero bytes; else Latin-1."""
    enc = guess_encoding(data[:HEAD_BYTES])
    if enc.startswith("utf-16"):
        return data.decode(enc, errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _spool(stream: IO[bytes]) -> IO[bytes]:
    """A stream (stdin, a pipe) copied to memory, then to a temporary file past
    ``STDIN_SPOOL_BYTES``, so it can be read twice without holding it in memory."""
    import shutil  # standard input only: not on the path of a file's start-up
    import tempfile

    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=STDIN_SPOOL_BYTES)  # noqa: SIM115
    shutil.copyfileobj(stream, spool, _CHUNK)
    spool.seek(0)
    return spool


@contextmanager
def open_source(path: str | Path, limit: int | None = None) -> Iterator[Source]:
    """Open ``path`` ("-" for standard input) for reading, never for writing.

    ``limit``: read only the first ``limit`` bytes (a snapshot of a growing file).
    """
    if str(path) == "-":
        spool = _spool(sys.stdin.buffer)
        try:
            head = spool.read(HEAD_BYTES)
            spool.seek(0)
            yield Source(path=None, display="<stdin>", head=head, _spool=spool, limit=limit)
        finally:
            spool.close()
        return
    p = Path(path)
    display = str(path)
    if not os.path.lexists(p):
        raise InputError(display, "no such file or directory")
    try:
        mode = p.stat().st_mode
    except OSError as e:
        raise InputError(display, f"cannot read ({e.strerror or e})") from None
    if stat.S_ISDIR(mode):
        yield Source(path=p, display=display, is_dir=True)
        return
    if stat.S_ISFIFO(mode):  # a named pipe, or <(command): read once, like stdin
        try:
            with open(p, "rb") as fh:
                spool = _spool(fh)
        except OSError as e:
            raise InputError(display, f"cannot read ({e.strerror or e})") from None
        try:
            head = spool.read(HEAD_BYTES)
            spool.seek(0)
            yield Source(path=p, display=display, head=head, _spool=spool, limit=limit)
        finally:
            spool.close()
        return
    if not stat.S_ISREG(mode):
        raise InputError(display, "not a regular file (a device or a socket); ftdiag reads files, directories and '-'")
    try:
        with open(p, "rb") as fh:
            head = fh.read(HEAD_BYTES if limit is None else min(HEAD_BYTES, limit))
    except OSError as e:
        raise InputError(display, f"cannot read file ({e.strerror or e})") from None
    yield Source(path=p, display=display, head=head, limit=limit)
