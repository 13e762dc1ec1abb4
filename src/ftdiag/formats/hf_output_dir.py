"""A Hugging Face Trainer output directory (``output_dir``).

The curve lives in ``trainer_state.json``: at the top level after
``trainer.save_state()``, and in every ``checkpoint-<step>/``. The most
advanced one is read: checkpoints are ordered by their step number (so
``checkpoint-1000`` comes after ``checkpoint-999``, unlike string order), and
the top-level file wins when its ``global_step`` is at least the latest
checkpoint's. Only that one file is parsed (plus the top-level one to learn
its step). A directory with only ``all_results.json`` is not claimed: walked,
its summary file is refused with its own message (see :mod:`.hf_summary`) and
TensorBoard logs in ``runs/`` are read. ``training_args.bin`` is a pickle and is never loaded.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import InputError, NoDataError
from ..run import Run
from . import CERTAIN, Reader
from ._json import loads
from ._source import Source, decode
from .hf_summary import refusal
from .hf_trainer_state import runs_from_state

_CKPT = re.compile(r"^checkpoint-(\d{1,18})$")
SUMMARIES = ("all_results.json", "train_results.json", "eval_results.json")


def checkpoints(d: Path) -> list[tuple[int, Path]]:
    """``(step, trainer_state.json)`` of each checkpoint, by step number."""
    out = []
    try:
        entries = list(d.iterdir())
    except OSError:
        return []
    for p in entries:
        m = _CKPT.match(p.name)
        if m and (p / "trainer_state.json").is_file():
            out.append((int(m.group(1)), p / "trainer_state.json"))
    return sorted(out)


def sniff(source: Source) -> float:
    d = source.path
    if d is None or not source.is_dir:
        return 0.0
    if (d / "trainer_state.json").is_file() or checkpoints(d):
        return CERTAIN
    # only all_results.json: not claimed, so a directory walk still reads
    # what else is there (TensorBoard logs in runs/) and says what the
    # summary file is
    return 0.0


def _load(path: Path, display: str) -> dict[str, Any]:
    try:
        text = decode(path.read_bytes(), display)
    except OSError as e:
        raise InputError(display, f"cannot read file ({e.strerror or e})") from None
    state = loads(text, display, hint="; is the file truncated or still being written?")
    if not isinstance(state, dict):
        raise InputError(display, "expected a JSON object with 'log_history'")
    return state


def read(source: Source) -> list[Run]:
    d = source.path
    if d is None or not source.is_dir:
        raise InputError(source.display, "expected a training output directory")
    ckpts = checkpoints(d)
    top = d / "trainer_state.json"
    chosen: Path | None = None
    state: dict[str, Any] | None = None
    if top.is_file():
        top_state = _load(top, str(top))
        step = top_state.get("global_step")
        if not ckpts or (isinstance(step, (int, float)) and step >= ckpts[-1][0]):
            chosen, state = top, top_state
    if state is None and ckpts:
        chosen = ckpts[-1][1]
        state = _load(chosen, str(chosen))
    if state is None or chosen is None:
        for s in SUMMARIES:
            p = d / s
            if p.is_file():
                try:
                    summary = loads(decode(p.read_bytes(), str(p)), str(p))
                except (OSError, InputError):
                    summary = {}
                raise refusal(f"{source.display}: no trainer_state.json, only {s}", summary if isinstance(summary, dict) else {})
        raise NoDataError(source.display, "no trainer_state.json here or in a checkpoint-*/ directory")
    rel = chosen.relative_to(d).as_posix()
    runs = runs_from_state(state, f"{source.display.rstrip('/')}/{rel}", d.name or source.display, fmt="hf_output_dir")
    note = f"read {rel}" + (f" (the latest of {len(ckpts)} checkpoints)" if chosen != top and len(ckpts) > 1 else "")
    out = []
    for r in runs:
        meta = dict(r.metadata)
        meta.update({"file": rel, "checkpoints": [s for s, _ in ckpts], "note": note})
        out.append(replace(r, source=source.display, metadata=meta))
    return out


READER = Reader(
    name="hf_output_dir",
    description="Hugging Face Trainer output directory: the latest checkpoint-*/trainer_state.json, or the top-level one",
    detects="a directory with trainer_state.json or checkpoint-<step>/trainer_state.json",
    example="ftdiag analyze output/",
    sniff=sniff,
    read=read,
    directories=True,
)
