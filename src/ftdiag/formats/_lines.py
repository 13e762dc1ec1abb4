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
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ._source import Source

CHUNK = 1 << 20
MAX_LINE = 1 << 18  # 256 K characters
TAIL = 1 << 14  # characters of the end of the file kept for messages
_SEP = re.compile(r"[\r\n]")


def head_text(source: Source) -> str:
    """The head decoded as the streaming reader decodes the file (for sniffing)."""
    return source.head_text.lstrip("\ufeff")


@dataclass
class LineStats:
    lines: int = 0  # \n-terminated lines seen (plus a final unterminated one)
    truncated: list[int] = field(default_factory=list)  # line numbers of over-long segments
    tail: str = ""  # the last characters of the file


def iter_segments(
    source: Source,
    pattern: re.Pattern[str] | None = None,
    stats: LineStats | None = None,
    max_line: int = MAX_LINE,
    chunk_size: int = CHUNK,
) -> Iterator[tuple[int, str]]:
    """``(line number, segment)`` for each ``\\n``/``\\r``-delimited segment
    (only those matching ``pattern`` when given); empty segments are skipped."""
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
                yield from _emit(block, lineno, pattern)
                lineno += block.count("\n")
            if len(carry) > max_line:
                # keep the head of an over-long segment; "\r" ends it without
                # counting a line (its real end is found after the skip)
                yield from _emit(carry[:max_line] + "\r", lineno, pattern)
                st.truncated.append(lineno)
                carry = ""
                skipping = True
            if final:
                break
    st.lines = lineno - 1


def _emit(block: str, lineno: int, pattern: re.Pattern[str] | None) -> Iterator[tuple[int, str]]:
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
    counted_to = 0
    done_to = -1
    for m in pattern.finditer(block):
        if m.start() < done_to:
            continue
        start = max(block.rfind("\n", 0, m.start()), block.rfind("\r", 0, m.start())) + 1
        em = _SEP.search(block, m.start())
        end = em.start() if em else len(block)
        lineno += block.count("\n", counted_to, start)
        counted_to = start
        done_to = end + 1
        yield lineno, block[start:end]
