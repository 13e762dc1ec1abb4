"""Parsing JSON from logs, bounded.

``json.loads`` accepts Python's bare ``NaN``/``Infinity``. Nesting deeper than
``MAX_JSON_DEPTH`` is refused with a clear message (real training logs nest a
few levels; a deeper document is damaged or hostile, and deep structures make
recursive code fail later), as is a record longer than the caller allows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import chain
from typing import Any

from ..errors import InputError

MAX_JSON_DEPTH = 64

_CONTAINERS = frozenset({dict, list})
_ONLY_DICT = frozenset({dict})
_ONLY_LIST = frozenset({list})


def _values(level: list[Any]) -> Iterator[Any]:
    """The items of every container in ``level`` (dicts and lists), chained;
    at C speed when the level is all dicts or all lists, as a JSON log's are."""
    if _ONLY_DICT.issuperset(map(type, level)):
        return chain.from_iterable(map(dict.values, level))
    if _ONLY_LIST.issuperset(map(type, level)):
        return chain.from_iterable(level)
    return chain.from_iterable(o.values() if type(o) is dict else o for o in level)


def depth_exceeds(obj: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``obj`` nests containers more than ``limit`` levels deep.

    Level by level, iteratively (no recursion), looking only at containers
    (exact dicts and lists, as JSON makes them); a level without containers
    (the values of 200,000 log_history entries) is checked at C speed."""
    if type(obj) is not dict and type(obj) is not list:
        return False
    level = [obj]
    depth = 1
    while level:
        if depth > limit:
            return True
        if _CONTAINERS.isdisjoint(map(type, _values(level))):
            return False
        if _ONLY_DICT.issuperset(map(type, _values(level))):  # log_history: a list of dicts
            level = list(_values(level))
        else:
            level = [v for v in _values(level) if type(v) is dict or type(v) is list]
        depth += 1
    return False


def _parse_int(s: str) -> int | float:
    # an integer too large for a float (or for int(): thousands of digits) is
    # no step count or metric; as a float it becomes inf, which readers drop
    return int(s) if len(s) < 300 else float(s)


def loads(text: str, display: str, where: str | None = None, hint: str = "") -> Any:
    """Parse one JSON document or record; every failure is an :class:`InputError`.

    ``where`` names the record (``"line 12"``) when the text is one line of a
    JSONL file; otherwise the decoder's line and column are given.
    """
    try:
        obj = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as e:
        loc = where or f"line {e.lineno}, column {e.colno}"
        raise InputError(display, f"invalid JSON ({e.msg}){hint}", where=loc) from None
    except RecursionError:
        raise InputError(
            display, f"JSON nested more than {MAX_JSON_DEPTH} levels deep; not a training log", where=where
        ) from None
    except ValueError as e:  # an integer with thousands of digits (int_max_str_digits)
        raise InputError(display, f"invalid JSON ({e})", where=where) from None
    if isinstance(obj, (dict, list)) and depth_exceeds(obj):
        raise InputError(
            display, f"JSON nested more than {MAX_JSON_DEPTH} levels deep; not a training log", where=where
        )
    return obj


# From this size a whole JSON document is parsed with msgspec (2.5x faster than
# json for a 200,000-entry log_history; same values); smaller ones with json,
# which is already imported.
FAST_MIN_BYTES = 1024 * 1024
# digits become "0", every other byte " ": a run of 300 "0" marks an integer
# that _parse_int turns into a float (left to the json path)
_ONLY_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGITS = b"0" * 300


def loads_document(data: bytes, display: str, encoding: str, hint: str = "") -> Any:
    """:func:`loads` of a whole file's bytes (``encoding`` as judged from its head).

    Large UTF-8 documents are parsed by msgspec when it gives exactly what
    json gives: it refuses what json refuses and also NaN/Infinity and deep
    nesting, and a 300-digit integer (a float for json) is left to json;
    anything msgspec refuses goes through :func:`loads`, with its messages.
    """
    from ._source import decode

    if len(data) >= FAST_MIN_BYTES and encoding in ("utf-8", "utf-8-sig"):
        body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
        obj = _msgspec_decode(body)
        if obj is not _FAILED:
            if isinstance(obj, (dict, list)) and depth_exceeds(obj):
                raise InputError(display, f"JSON nested more than {MAX_JSON_DEPTH} levels deep; not a training log")
            return obj
    return loads(decode(data, display), display, hint=hint)


_FAILED = object()


def has_long_digits(body: bytes) -> bool:
    """Whether ``body`` holds a run of 300 digits (an integer json turns into a float)."""
    # in 1 MB slices (overlapping by a run's length): no second copy of a big file
    step = 1 << 20
    for start in range(0, len(body), step):
        if _LONG_DIGITS in body[start : start + step + len(_LONG_DIGITS)].translate(_ONLY_DIGITS):
            return True
    return False


def _msgspec_decode(body: bytes) -> Any:
    try:
        import msgspec
    except ImportError:  # pragma: no cover - a core dependency; json still works
        return _FAILED
    if has_long_digits(body):
        return _FAILED
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, ValueError, MemoryError):
        return _FAILED
