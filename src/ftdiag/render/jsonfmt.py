"""The JSON report: one object, versioned (``schema_version``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Failure, RunResult


def render(results: list[RunResult], failures: list[Failure], color: bool = False) -> str:
    from ..api import report_dict
    from ._safe import json_text

    text = json.dumps(report_dict(results, failures), indent=2, allow_nan=False, ensure_ascii=False)
    return json_text(text) + "\n"
