"""A small, safe reader for the simple YAML that trainers write beside their logs.

Lightning's ``hparams.yaml``, Ultralytics' ``args.yaml`` and MLflow's
``meta.yaml`` are block mappings of scalars (``lr: 0.001``, ``epochs: 30``),
sometimes nested. That is all ftdiag needs from them (a few hyperparameters),
so this reads exactly that and nothing else: nested mappings become dotted
keys, scalars become int/float/bool/None/str, and anything else (lists,
``!!python/object`` tags, anchors, flow collections, multi-line strings) is
skipped. No code is ever run, and a malformed line is ignored rather than
fatal, since these files only add hyperparameters to a curve read elsewhere.
PyYAML would read more, but nothing here needs more, and it is not a core
dependency.
"""

from __future__ import annotations

import re
from typing import Any

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[^\s#:][^:#]*?|'[^']*'|\"[^\"]*\")\s*:(?:\s+(?P<value>.*?))?\s*$")
_INT = re.compile(r"^[-+]?\d+$")
_FLOAT = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")


def scalar(text: str) -> Any:
    t = text.strip()
    if t.startswith(("'", '"')) and t.endswith(t[0]) and len(t) >= 2:
        return t[1:-1]
    if " #" in t:
        t = t.split(" #", 1)[0].strip()
    low = t.lower()
    if low in ("null", "~", ""):
        return None
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in (".inf", "+.inf"):
        return float("inf")
    if low == "-.inf":
        return float("-inf")
    if low == ".nan":
        return float("nan")
    if _INT.match(t):
        # thousands of digits: no hyperparameter (and int() refuses them)
        return int(t) if len(t) < 300 else float(t)
    if _FLOAT.match(t):
        return float(t)
    return t


def parse_simple_yaml(text: str) -> dict[str, Any]:
    """Flat ``{dotted.key: scalar}`` from a block-mapping YAML document."""
    out: dict[str, Any] = {}
    stack: list[tuple[int, str]] = []  # (indent, key) of the open mappings
    skip_indent: int | None = None  # inside a value we don't read (list, tag, block string)
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if skip_indent is not None:
            if indent > skip_indent or stripped.startswith("- ") and indent == skip_indent:
                continue
            skip_indent = None
        m = None if stripped.startswith("-") else _KEY.match(line)
        if m is None:
            continue
        key = m.group("key").strip().strip("'\"")
        value = m.group("value")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        full = ".".join([k for _, k in stack] + [key])
        if value is None or value == "":
            stack.append((indent, key))
            continue
        if value.startswith(("!", "&", "*", "[", "{", "|", ">")):
            if value.startswith(("!", "|", ">", "&")):
                skip_indent = indent
            continue
        out[full] = scalar(value)
    return out
