"""Parsing JSON from logs, bounded.

``json.loads`` accepts Python's bare ``NaN``/``Infinity``. Nesting deeper than
``MAX_JSON_DEPTH`` is refused with a clear message (real training logs nest a
few levels; a deeper document is damaged or hostile, and deep structures make
recursive code fail later), as is a record longer than the caller allows.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import InputError

MAX_JSON_DEPTH = 64


def depth_exceeds(obj: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``obj`` nests containers more than ``limit`` levels deep.

    Level by level, iteratively (no recursion), looking only at containers: a
    fraction of what parsing the document cost."""
    if type(obj) is not dict and type(obj) is not list:
        return False
    level = [obj]
    depth = 1
    while level:
        if depth > limit:
            return True
        nxt: list[Any] = []
        for o in level:
            values = o.values() if type(o) is dict else o
            nxt.extend([v for v in values if type(v) is dict or type(v) is list])
        level = nxt
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
