from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest deletes old temporary directories (of every project run as this user)
# recursively, one frame per level; a tree deeper than the default limit of
# 1000 left by an interrupted or older run would end each session with a
# RecursionError. tests/test_bounds.py builds such a tree (and removes it).
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_logs"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
PUBLIC = CORPUS / "public"
LABELED = CORPUS / "labeled"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not available on this machine")
    return path
