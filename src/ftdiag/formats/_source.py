"""A read-only view of one input: a file, a directory, or standard input.

Inputs are opened read-only and never modified. ``head`` holds the first
kilobytes for detection, so a large file is never read twice just to sniff it.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..errors import InputError

HEAD_BYTES = 64 * 1024


@dataclass
class Source:
    path: Path | None  # None for standard input
    display: str
    head: bytes = b""
    is_dir: bool = False
    _data: bytes | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        if self._data is not None:
            return len(self._data)
        if self.path is None or self.is_dir:
            return 0
        return self.path.stat().st_size

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "<stdin>"

    def read_bytes(self) -> bytes:
        if self._data is not None:
            return self._data
        assert self.path is not None
        try:
            with open(self.path, "rb") as fh:
                return fh.read()
        except OSError as e:
            raise InputError(self.display, f"cannot read file ({e.strerror or e})") from None

    def open_binary(self) -> IO[bytes]:
        if self._data is not None:
            return io.BytesIO(self._data)
        assert self.path is not None
        try:
            return open(self.path, "rb")
        except OSError as e:
            raise InputError(self.display, f"cannot read file ({e.strerror or e})") from None

    def read_text(self) -> str:
        return decode(self.read_bytes(), self.display)

    @property
    def head_text(self) -> str:
        """The head decoded leniently (for sniffing only)."""
        return self.head.decode("utf-8-sig", errors="replace")

    def describe_unknown(self) -> str:
        if self.is_dir:
            return "no training log found in this directory (see 'ftdiag formats' for what is read)"
        if not self.head:
            return "the file is empty"
        if b"\x00" in self.head[:4096]:
            return "this looks like a binary file, not a training log (see 'ftdiag formats')"
        first = self.head_text.splitlines()[0][:80] if self.head_text.strip() else ""
        return (
            f"not a training log format ftdiag knows (first line: {first!r}); "
            "see 'ftdiag formats', or pass --input-format"
        )


def decode(data: bytes, display: str) -> str:
    """UTF-8 (with or without BOM); UTF-16 with a BOM; else Latin-1 as a last resort."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@contextmanager
def open_source(path: str | Path) -> Iterator[Source]:
    """Open ``path`` ("-" for standard input) for reading, never for writing."""
    if str(path) == "-":
        data = sys.stdin.buffer.read()
        yield Source(path=None, display="<stdin>", head=data[:HEAD_BYTES], _data=data)
        return
    p = Path(path)
    display = str(path)
    if not os.path.lexists(p):
        raise InputError(display, "no such file or directory")
    if p.is_dir():
        yield Source(path=p, display=display, is_dir=True)
        return
    try:
        with open(p, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as e:
        raise InputError(display, f"cannot read file ({e.strerror or e})") from None
    yield Source(path=p, display=display, head=head)
