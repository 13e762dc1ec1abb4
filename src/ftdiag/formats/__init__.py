"""Readers, one module per log format, and detection by content.

Every public module in this package (a name not starting with ``_``) defines
``READER``, a :class:`Reader`. The registry discovers them on first use, so
adding a format means adding one module and its tests, nothing else.

Detection reads the first few kilobytes (:attr:`Source.head`) and asks each
reader how sure it is that the file is its format (``sniff`` returns 0..1);
the most confident reader wins, with one rule before the score: among
confident claims (``LIKELY`` or more), the more specific evidence
(:attr:`Reader.specificity`) wins. A reader that recognises the file's own
structure (a CSV header, a JSON document's keys, magic bytes) beats one that
found a matching line somewhere in the head: a console line pasted into an
OpenAI results CSV does not make it a console log. Equal scores go to the more
specific reader too; only then does the registry's (name) order decide.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, UnknownFormatError, UsageError
from ..run import Run
from ._source import Source, open_source

__all__ = ["Reader", "Source", "all_readers", "detect", "get_reader", "open_source", "read_source"]

# sniff scores: a reader that recognises its own header with certainty says
# CERTAIN; a generic fallback reader says at most WEAK so specific readers win.
CERTAIN = 1.0
LIKELY = 0.8
WEAK = 0.3

# Reader.specificity: how specific a sniffer's evidence is (orders claims, see ``detect``)
STRUCTURE = 2  # the file's own structure: a header, a document's keys, magic bytes
LINES = 1  # a matching line somewhere in the head (console logs: a line can be pasted anywhere)
FALLBACK = 0  # generic readers


@dataclass(frozen=True)
class Reader:
    name: str
    description: str
    detects: str
    example: str
    sniff: Callable[[Source], float]
    read: Callable[[Source], list[Run]]
    # readers of directories (a training output folder, an MLflow store, ...)
    directories: bool = False
    # readers that need an optional extra say which
    extra: str | None = None
    # what the sniffer's evidence is: STRUCTURE, LINES or FALLBACK (see ``detect``)
    specificity: int = STRUCTURE


_REGISTRY: dict[str, Reader] | None = None


def all_readers() -> dict[str, Reader]:
    global _REGISTRY
    if _REGISTRY is None:
        found: dict[str, Reader] = {}
        for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if mod.name.startswith("_"):
                continue
            module = importlib.import_module(f"{__name__}.{mod.name}")
            reader = getattr(module, "READER", None)
            if isinstance(reader, Reader):
                found[reader.name] = reader
        _REGISTRY = found
    return _REGISTRY


def get_reader(name: str) -> Reader:
    readers = all_readers()
    if name not in readers:
        raise UsageError(
            f"unknown input format {name!r}; known formats: {', '.join(sorted(readers))}"
        )
    return readers[name]


def detect(source: Source) -> Reader:
    """The reader most confident that ``source`` is its format."""
    best: tuple[tuple[int, float, int], str] | None = None
    for reader in all_readers().values():
        if reader.directories != source.is_dir:
            continue
        try:
            score = float(reader.sniff(source))
        except InputError:
            raise
        except Exception:  # a sniffer must never take detection down
            score = 0.0
        if score > 0 and (best is None or _rank(score, reader) > best[0]):
            best = (_rank(score, reader), reader.name)  # on a full tie, the first in name order stays
    if best is None:
        raise UnknownFormatError(source.display, source.describe_unknown())
    return all_readers()[best[1]]


def _rank(score: float, reader: Reader) -> tuple[int, float, int]:
    """Detection order (see the module docstring): confident claims by
    specificity first, then the score, then specificity again."""
    return (reader.specificity if score >= LIKELY else -1, score, reader.specificity)


def read_source(source: Source, input_format: str | None = None) -> list[Run]:
    reader = get_reader(input_format) if input_format else detect(source)
    try:
        # damaged logs hold values (1e308) whose arithmetic overflows; readers
        # cope with the inf/NaN results, and numpy's RuntimeWarnings would
        # only reach the user's terminal as noise
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            runs = reader.read(source)
        if not runs:
            raise InputError(source.display, f"no training run found in this {reader.name} file")
    except InputError as e:
        why = source.long_lines_message()
        if why:  # an over-long line skipped is the likely reason nothing was found
            e.args = (f"{source.display}: {why}; without it: {e.detail}",)
        raise
    if source.notes:
        runs = [r.with_warnings(n for n in source.notes if n not in r.warnings) for r in runs]
    return runs


def read_path(path: str | Path, input_format: str | None = None) -> list[Run]:
    with open_source(path) as source:
        return read_source(source, input_format)
