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

Start-up time: importing every reader module costs ~30 ms (mostly compiling
their regular expressions), a tenth of ``ftdiag analyze`` on a small file. So
:data:`_INDEX` says, for the readers it knows, whether they read directories
and a cheap necessary condition on the head for their ``sniff`` to say more
than 0; a reader whose condition fails is neither imported nor asked, which
leaves the result unchanged (``tests/test_registry.py`` checks it on every
sample and corpus file). A module missing from the index (a new reader) is
imported and asked every time, so it works before anyone indexes it.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, UnknownFormatError, UsageError
from ..run import Run
from ._source import Source, open_source

__all__ = [
    "Reader", "Source", "all_readers", "candidates", "detect", "get_reader", "open_source", "read_source", "readers",
]

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
_LOADED: dict[str, Reader | None] = {}  # by module name; None: the module has no READER
_MODULES: list[str] | None = None
_DIR_READERS: list[Reader] | None = None


@dataclass(frozen=True)
class _Head:
    """What the index looks at: the file's name, its first bytes, them decoded."""

    name: str
    head: bytes
    text: str


def _any(*literals: str) -> Callable[[_Head], bool]:
    return lambda h: any(x in h.text for x in literals)


# Known reader modules: (reads directories, necessary condition for sniff > 0 or
# None for "always ask"). Each condition is a literal its sniff cannot do without.
_INDEX: dict[str, tuple[bool, Callable[[_Head], bool] | None]] = {
    # tables: header_of() decides; cheap to import, always asked
    "openai": (False, None),
    "keras_csv": (False, None),
    "lightning_csv": (False, None),
    "eval_grid_csv": (False, lambda h: "epoch" in h.text.lower()),  # its sniff wants an epoch column
    "tensorboard_csv": (False, None),
    "ultralytics": (False, None),
    "wandb_csv": (False, None),
    "generic": (False, None),
    # JSON documents and lines
    "hf_trainer_state": (False, _any('"log_history"')),
    "hf_summary": (False, _any("{")),
    "llamafactory_jsonl": (False, _any('"total_steps"')),
    # console captures: a metric dict / banner, an "Epoch k/N" header, nanoGPT's
    # "step N: train loss" / "iter N: loss", and "name: value" or "name=value" pairs
    "hf_stdout": (False, _any("{'", "Running training", "use_cache=True", "transformers/trainer.py",
                              "TrainOutput(", "Num examples = ", "Total optimization steps = ")),
    "keras_stdout": (False, _any("Epoch ")),
    "nanogpt_stdout": (False, _any("step ", "iter ")),
    "console_metrics": (False, _any(":", "=")),
    # "<timestamp> <value> <step>" lines
    "mlflow": (False, lambda h: h.text.lstrip().lstrip("\ufeff").lstrip()[:1].isdigit()),
    "git_lfs_pointer": (False, lambda h: b"git-lfs" in h.head),
    "tensorboard": (False, lambda h: "tfevents" in h.name or b"brain.Event:" in h.head),
    # directories
    "hf_output_dir": (True, None),
    "lightning_dir": (True, None),
    "mlflow_run": (True, None),
    "tensorboard_dir": (True, None),
}


def _module_names() -> list[str]:
    global _MODULES
    if _MODULES is None:
        # the package's own modules (os.scandir: pkgutil costs ~3 ms to import)
        names = {
            e.name.partition(".")[0]
            for d in __path__
            for e in os.scandir(d)
            if e.name.endswith((".py", ".pyc")) and not e.name.startswith("_") and e.is_file()
        }
        _MODULES = sorted(names)
    return _MODULES


def _load(module_name: str) -> Reader | None:
    if module_name not in _LOADED:
        module = importlib.import_module(f"{__name__}.{module_name}")
        reader = getattr(module, "READER", None)
        _LOADED[module_name] = reader if isinstance(reader, Reader) else None
    return _LOADED[module_name]


def all_readers() -> dict[str, Reader]:
    """Every reader, by name (imports every reader module)."""
    global _REGISTRY
    if _REGISTRY is None:
        found: dict[str, Reader] = {}
        for name in _module_names():
            reader = _load(name)
            if reader is not None:
                found[reader.name] = reader
        _REGISTRY = found
    return _REGISTRY


def _select(directories: bool, head: _Head | None = None) -> list[Reader]:
    """The readers of directories (or of files), in name order, without those
    whose index condition fails on ``head``; only these are imported."""

    def may_claim(name: str) -> bool:
        known = _INDEX.get(name)
        return known is None or head is None or known[1] is None or known[1](head)

    if _REGISTRY is not None:  # every reader is imported already
        return [r for r in _REGISTRY.values() if r.directories == directories and may_claim(r.name)]
    out = []
    for name in _module_names():
        known = _INDEX.get(name)
        if known is not None and known[0] != directories or not may_claim(name):
            continue
        reader = _load(name)
        if reader is not None and reader.directories == directories:
            out.append(reader)
    return out


def readers(directories: bool) -> list[Reader]:
    """The readers of directories (or of files), in name order, importing only those."""
    global _DIR_READERS
    if _REGISTRY is None and directories:  # asked of every folder of a walk: once
        if _DIR_READERS is None:
            _DIR_READERS = _select(True)
        return list(_DIR_READERS)
    return _select(directories)


def candidates(source: Source) -> list[Reader]:
    """The readers that might recognize ``source``, in name order: the others'
    sniff would say 0 (see :data:`_INDEX`), so they are not even imported."""
    if source.is_dir:
        return _select(True)
    return _select(False, _Head(source.name.lower(), source.head, source.head_text))


def get_reader(name: str) -> Reader:
    if name in _module_names():  # a reader is named as its module: import only that one
        reader = _load(name)
        if reader is not None and reader.name == name:
            return reader
    readers = all_readers()
    if name not in readers:
        raise UsageError(
            f"unknown input format {name!r}; known formats: {', '.join(sorted(readers))}"
        )
    return readers[name]


def detect(source: Source) -> Reader:
    """The reader most confident that ``source`` is its format."""
    best: tuple[tuple[int, float, int], Reader] | None = None
    for reader in candidates(source):
        try:
            score = float(reader.sniff(source))
        except InputError:
            raise
        except Exception:  # a sniffer must never take detection down
            score = 0.0
        if score > 0 and (best is None or _rank(score, reader) > best[0]):
            best = (_rank(score, reader), reader)  # on a full tie, the first in name order stays
    if best is None:
        raise UnknownFormatError(source.display, source.describe_unknown())
    return best[1]


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
