"""Writing outputs: always atomically (temporary file + rename), never over an input.

Every command that writes a file goes through :func:`refuse_inputs` then
:func:`atomic_write` (or :func:`atomic_path` for a library that wants a file
name), so an interrupted run leaves the old file or the new one, never half
of one, and no output ever replaces a log that was read.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UsageError

_GLOB_CHARS = "*?["


def _is_log(path: Path) -> bool:
    """Would ftdiag read this file as a training log (detection by content)?"""
    from .errors import FtdiagError
    from .formats import detect, open_source

    try:
        with open_source(path) as src:
            detect(src)
        return True
    except (FtdiagError, OSError):
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


def refuse_inputs(out: str | Path, inputs: Iterable[str | Path]) -> None:
    """Raise :class:`UsageError` if writing ``out`` would replace an input.

    An input is a file named on the command line (also through a hard or
    symbolic link), a file a glob pattern matched, or a training log inside a
    directory given as input.
    """
    o = Path(out)
    if not o.exists() or o.is_dir():
        return  # nothing there to overwrite (a directory is refused by the write)
    for i in inputs:
        s = str(i)
        if s == "-":
            continue
        if os.path.lexists(s):
            candidates = [s]
        elif any(c in s for c in _GLOB_CHARS):
            candidates = glob.glob(s, recursive=True)
        else:
            continue
        for c in candidates:
            try:
                if os.path.isdir(c):
                    if _inside(o, Path(c)) and _is_log(o):
                        raise UsageError(f"refusing to overwrite {out}: it is a training log inside the input {i}")
                elif os.path.samefile(o, c):
                    raise UsageError(f"refusing to overwrite the input file {i}")
            except OSError:
                continue


def _mode_for(p: Path) -> int:
    try:
        return os.stat(p).st_mode & 0o7777  # keep an existing file's permissions
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix) to write to; renamed over
    ``path`` when the block ends without an error, removed otherwise."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise UsageError(f"cannot write {p}: it is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=f".tmp{p.suffix}", dir=parent)
    except OSError as e:
        raise UsageError(f"cannot write {p}: {e.strerror or e}") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _mode_for(p))
        os.replace(tmp, p)
    except OSError as e:
        _unlink(tmp)
        raise UsageError(f"cannot write {p}: {e.strerror or e}") from None
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
