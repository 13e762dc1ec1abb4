"""From what the user typed to runs: files, directories, globs and ``-``.

* A file is read by the reader that detects it (or ``--input-format``).
* ``-`` is standard input.
* A glob (``runs/*/metrics.csv``, ``logs/**/*.csv``) is expanded here when the
  shell did not (quoted, or on Windows); a pattern matching nothing is an error.
* A directory: first every directory reader (``Reader.directories``) is asked
  whether the directory itself is one run (a Lightning ``version_N``, an
  MLflow run, a TensorBoard log directory, a training output directory, ...).
  If none claims it, it is walked: each subdirectory gets the same question,
  each file is detected by content, and files no reader recognizes are
  skipped silently (a walk meets README files and images). Runs found inside
  a directory are named by their path relative to it. Walks skip hidden
  entries, obviously non-log files (images, checkpoints, archives) by
  extension, and never enter a directory twice (symlink loops).
* Some formats store one metric per file (TensorBoard CSV downloads, MLflow
  metric files, W&B chart exports). Their runs carry a ``merge_key``; runs with
  the same key are combined into one run, across all the paths given, and
  only then checked for a curve (:func:`ftdiag.formats._common.require_curve`).
* A file met in a directory walk or matched by a glob that cannot be read
  (refused, unreadable, damaged) does not stop the others: its error is
  ``skippable``, and the commands show it as a warning when some run was read
  (an error, exit 2, only when nothing at all could be read).

New directory readers need nothing here: a module in :mod:`ftdiag.formats`
whose ``READER`` has ``directories=True`` is asked about every directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import FtdiagError, InputError, UnknownFormatError
from .formats import Reader, detect, get_reader, open_source, read_source, readers
from .formats._common import require_curve
from .formats._names import assign_roles
from .mapping import ColumnMapping, apply_mapping
from .run import Run, Series

# never logs: skipped by extension during a directory walk (explicit paths are always read).
# Documents (.md, .rst, .html) are skipped too: a README that quotes a few log
# lines, or an earlier ftdiag report, is not a run; code and data suffixes are
# not (logs are saved as .py, .txt or .rb in real repositories).
SKIP_SUFFIXES = frozenset(
    {
        ".md", ".markdown", ".rst", ".html", ".htm", ".css",
        ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".svg", ".ico", ".pdf",
        ".mp4", ".avi", ".mov", ".wav", ".mp3", ".flac", ".pt", ".pth", ".ckpt", ".bin",
        ".safetensors", ".h5", ".hdf5", ".keras", ".onnx", ".tflite", ".pb", ".pkl", ".pickle",
        ".joblib", ".npy", ".npz", ".parquet", ".arrow", ".feather", ".zip", ".gz", ".tgz", ".bz2",
        ".xz", ".7z", ".tar", ".whl", ".so", ".dll", ".dylib", ".pyc", ".o", ".a", ".exe", ".db",
        ".sqlite", ".lock", ".ttf", ".woff", ".woff2", ".model",
    }
)
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})
GLOB_CHARS = "*?["
# bounds of a directory walk: no training output nests deeper, and a link to
# "/" inside a run directory must not walk the whole disk
MAX_WALK_DEPTH = 32
MAX_WALK_ENTRIES = 100_000


@dataclass(frozen=True)
class Item:
    """One thing to read: a file, a directory claimed by a directory reader, or stdin."""

    path: str  # "-" for standard input
    display: str
    name: str | None = None  # run name: the path relative to the directory walked
    found_by_walk: bool = False  # unrecognized files are skipped, not errors
    reader: str | None = None  # the directory reader that claimed this directory
    skippable: bool = False  # met in a walk or a glob match: an error skips it (see ReadError)


@dataclass(frozen=True)
class ReadError:
    source: str
    error: FtdiagError
    # a file met in a directory walk or a glob match, not named by the user:
    # when other runs were read, it is skipped with a warning instead of failing the command
    skippable: bool = False


def _dir_readers() -> list[Reader]:
    return readers(directories=True)


def claim_directory(path: Path, display: str, input_format: str | None = None, top: bool = False) -> str | None:
    """The directory reader that reads ``path`` as one run, if any.

    A directory reader forced with ``--input-format`` reads the directory
    given on the command line as is; inside a walk it still has to recognize
    a directory to claim it."""
    from .formats._source import Source

    src = Source(path=path, display=display, is_dir=True)
    candidates = _dir_readers()
    if input_format:
        r = get_reader(input_format)
        if not r.directories:
            return None
        if top:
            return r.name
        candidates = [r]
    best: tuple[float, str] | None = None
    for r in candidates:
        try:
            score = float(r.sniff(src))
        except Exception:  # a sniffer must never take a walk down
            score = 0.0
        if score > 0 and (best is None or score > best[0]):
            best = (score, r.name)
    return best[1] if best else None


def _too_many(display: str) -> InputError:
    return InputError(
        display,
        f"more than {MAX_WALK_ENTRIES:,} files and folders under this directory (a link to a "
        "large tree?); give the run's own directory or a glob",
    )


def _walk(top: Path, display: str, input_format: str | None) -> Iterator[Item]:
    seen: set[tuple[int, int]] = set()
    count = 0

    def visit(d: Path, rel: str, depth: int = 0) -> Iterator[Item]:
        nonlocal count
        if depth > MAX_WALK_DEPTH:  # deeper than any training output; and recursion is bounded
            return
        try:
            st = d.stat()
        except OSError:
            return
        key = (st.st_dev, st.st_ino)
        if key in seen:
            return
        seen.add(key)
        count += 1
        if count > MAX_WALK_ENTRIES:
            raise _too_many(display)
        if rel:
            claimed = claim_directory(d, os.path.join(display, rel), input_format)
            if claimed:
                yield Item(str(d), os.path.join(display, rel), name=rel, found_by_walk=True, reader=claimed,
                           skippable=True)
                return
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            if e.name.startswith("."):
                continue
            sub = f"{rel}/{e.name}" if rel else e.name
            try:
                is_dir = e.is_dir()
            except OSError:
                continue
            if is_dir:
                if e.name in SKIP_DIRS:
                    continue
                yield from visit(Path(e.path), sub, depth + 1)
            elif e.is_file():
                count += 1
                if count > MAX_WALK_ENTRIES:
                    raise _too_many(display)
                if Path(e.name).suffix.lower() in SKIP_SUFFIXES:
                    continue
                yield Item(e.path, os.path.join(display, sub), name=sub, found_by_walk=True, skippable=True)

    yield from visit(top, "")


def expand(path: str | Path, input_format: str | None = None) -> list[Item]:
    """The items one command-line path stands for (raises InputError if none)."""
    p = str(path)
    if p == "-":
        return [Item("-", "<stdin>")]
    if not os.path.lexists(p) and any(c in p for c in GLOB_CHARS):
        import glob  # only for a pattern

        matches = sorted(glob.glob(p, recursive=True))
        if not matches:
            raise InputError(p, "no file matches this pattern")
        # runs are named by their path below the pattern's fixed part
        parts = Path(p).parts
        fixed = next(i for i, part in enumerate(parts) if any(c in part for c in GLOB_CHARS))
        root = str(Path(*parts[:fixed])) if fixed else "."
        out: list[Item] = []
        for m in matches:
            rel = Path(os.path.relpath(m, root)).as_posix()
            for item in expand(m, input_format):
                out.append(replace(item, name=f"{rel}/{item.name}" if item.name else rel, skippable=True))
        return out
    if not os.path.lexists(p):
        raise InputError(p, "no such file or directory")
    if os.path.isdir(p):
        claimed = claim_directory(Path(p), p, input_format, top=True)
        if claimed:
            return [Item(p, p, reader=claimed)]
        return list(_walk(Path(p), p, input_format))
    return [Item(p, p)]


def read_item(item: Item, input_format: str | None = None, mapping: ColumnMapping | None = None) -> list[Run]:
    """The runs in one item (an empty list: a walked file no reader knows)."""
    with open_source(item.path) as src:
        src.display = item.display
        src.mapping = mapping
        if item.reader:
            fmt = item.reader
        elif input_format:
            fmt = input_format
            reader = get_reader(input_format)
            if item.found_by_walk and (reader.directories or reader.sniff(src) <= 0):
                return []
        else:
            try:
                fmt = detect(src).name
            except UnknownFormatError:
                if item.found_by_walk:
                    return []
                raise
        runs = read_source(src, fmt)
    return _named(runs, item)


def _named(runs: list[Run], item: Item) -> list[Run]:
    if not item.name:
        return runs
    base = Path(item.path).name
    out = []
    for r in runs:
        name = item.name if r.name in (base, item.name) else f"{item.name}: {r.name}"
        out.append(replace(r, name=name))
    return out


def _merge(runs: list[Run]) -> Run:
    """Runs holding parts of one run (one metric each) combined into one."""
    if len(runs) == 1:
        return runs[0]
    series: dict[str, Series] = {}
    warnings: list[str] = []
    for r in runs:
        warnings.extend(r.warnings)
        for s in list(r.series().values()) + list(r.extra.values()):
            if s.name in series:
                warnings.append(f"{r.source}: {s.name} also came from another file; kept the first")
                continue
            series[s.name] = s
    first = runs[0]
    label = ", ".join(r.source for r in runs)
    roles = assign_roles(series, label)
    name = str(first.metadata.get("merge_name") or first.name)
    return replace(
        first,
        source=label,
        name=name,
        warnings=tuple(dict.fromkeys(warnings + roles.notes)),
        metadata={**first.metadata, "merged_from": [r.source for r in runs]},
        **roles.as_kwargs(),
    )


def finish(runs: list[Run], mapping: ColumnMapping | None) -> tuple[list[Run], list[ReadError]]:
    """Merge partial runs, apply the explicit mapping, refuse runs with no curve."""
    groups: dict[object, list[Run]] = {}
    order: list[object] = []
    for i, r in enumerate(runs):
        key = r.metadata.get("merge_key")
        k: object = ("merge", tuple(key)) if key else ("single", i)
        if k not in groups:
            groups[k] = []
            order.append(k)
        groups[k].append(r)
    out: list[Run] = []
    errors: list[ReadError] = []
    for k in order:
        group = groups[k]
        try:
            run = _merge(group)
            run = apply_mapping(run, mapping)
            if run.metadata.get("merge_key"):
                run = require_curve(run, run.source)
            out.append(run)
        except FtdiagError as e:
            errors.append(ReadError(group[0].source if len(group) == 1 else ", ".join(r.source for r in group), e))
    return out, errors


def read_inputs(
    paths: Iterable[str | Path],
    input_format: str | None = None,
    mapping: ColumnMapping | None = None,
) -> tuple[list[Run], list[ReadError]]:
    """Every run in ``paths``; a bad input becomes a :class:`ReadError`, not an exception."""
    if input_format:
        get_reader(input_format)  # an unknown name is a usage error, before anything is read
    runs: list[Run] = []
    errors: list[ReadError] = []
    for p in paths:
        try:
            items = expand(p, input_format)
        except FtdiagError as e:
            errors.append(ReadError(str(p), e))
            continue
        found = 0
        n_errors = len(errors)
        for item in items:
            try:
                got = read_item(item, input_format, mapping)
            except FtdiagError as e:
                errors.append(ReadError(item.display, e, item.skippable))
                continue
            found += len(got)
            runs.extend(got)
        if not found and len(errors) == n_errors and os.path.isdir(str(p)):
            errors.append(ReadError(str(p), no_log_found(str(p), len(items))))
    done, more = finish(runs, mapping)
    return done, errors + more


def no_log_found(path: str, looked_at: int) -> InputError:
    """A directory walked without finding any log."""
    return InputError(
        path,
        f"no training log found in this directory ({looked_at} file(s) looked at); see 'ftdiag formats' for what is read",
    )
