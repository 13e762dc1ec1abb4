from __future__ import annotations

from pathlib import Path

import pytest

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
