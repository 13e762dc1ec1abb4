"""ftdiag: diagnose fine-tuning runs from their logs.

Only the version lives here eagerly; everything else is imported on first use so
that ``ftdiag --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .api import RunResult, analyze, analyze_many
    from .sweep import compare

__all__ = ["__version__", "analyze", "analyze_many", "RunResult", "compare"]


def __getattr__(name: str) -> Any:
    if name in ("analyze", "analyze_many", "RunResult"):
        from . import api

        return getattr(api, name)
    if name == "compare":
        from .sweep import compare

        return compare
    raise AttributeError(f"module 'ftdiag' has no attribute {name!r}")
