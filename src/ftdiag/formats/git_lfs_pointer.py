"""Git LFS pointer files: recognised so they can be refused clearly.

A repository that stores logs with Git LFS checks out a three-line pointer
(``version https://git-lfs.github.com/spec/v1`` / ``oid sha256:...`` /
``size N``) until ``git lfs pull`` fetches the real file. Such a pointer is
never a training log; this reader only says so.
"""

from __future__ import annotations

import re

from ..errors import NoDataError
from ..run import Run
from . import CERTAIN, Reader
from ._source import Source

_POINTER = re.compile(rb"^version https://git-lfs\.github\.com/spec/v1\s*\n")
_OID = re.compile(rb"oid sha256:([0-9a-f]{64})")
_SIZE = re.compile(rb"size (\d{1,18})")


def is_pointer(head: bytes) -> bool:
    return bool(_POINTER.match(head.lstrip(b"\xef\xbb\xbf")))


def sniff(source: Source) -> float:
    return CERTAIN if is_pointer(source.head) else 0.0


def read(source: Source) -> list[Run]:
    size = _SIZE.search(source.head)
    oid = _OID.search(source.head)
    what = ""
    if size:
        what = f" (the real file is {int(size.group(1)):,} bytes"
        what += f", object {oid.group(1).decode()[:12]}...)" if oid else ")"
    raise NoDataError(
        source.display,
        f"this is a Git LFS pointer, not the log{what}: run 'git lfs pull' in the repository, then analyze the file again",
    )


READER = Reader(
    name="git_lfs_pointer",
    description="Git LFS pointer files (refused: the real file has not been fetched)",
    detects="first line 'version https://git-lfs.github.com/spec/v1'",
    example="ftdiag analyze trainer_log.jsonl  (after 'git lfs pull')",
    sniff=sniff,
    read=read,
)
