"""Property test: a Trainer output directory, laid out as Trainer leaves it
(checkpoint-<step>/ folders saved along the way, maybe a top-level
trainer_state.json from save_state(), the summary files, a pickle never
loaded), reads back to the series of its most advanced trainer_state.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ftdiag.inputs import read_inputs
from test_roundtrip import SETTINGS, assert_series, trainer_states


def _upto(state: dict, step: int) -> dict:  # type: ignore[type-arg]
    out = dict(state)
    out["log_history"] = [e for e in state["log_history"] if e["step"] <= step]
    out["global_step"] = step
    return out


@given(
    gen=trainer_states(),
    saves=st.integers(1, 6),
    top=st.sampled_from(["final", "none", "stale"]),
    summaries=st.booleans(),
    indent=st.sampled_from([None, 2]),
)
@SETTINGS
def test_hf_output_dir_round_trip(tmp_path: Path, gen, saves: int, top: str, summaries: bool, indent) -> None:  # type: ignore[no-untyped-def]
    state, _, _ = gen
    last = state["global_step"]
    d = tmp_path / "output"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir()
    # checkpoints every save_steps, the last one at the end (numbers > 9 test step, not string, order)
    save_steps = max(1, last // saves)
    steps = sorted({*range(save_steps, last + 1, save_steps), last})
    for s in steps:
        c = d / f"checkpoint-{s}"
        c.mkdir()
        (c / "trainer_state.json").write_text(json.dumps(_upto(state, s), indent=indent))
        (c / "training_args.bin").write_bytes(b"\x80\x04not a pickle ftdiag would ever load")
    if top == "final":
        (d / "trainer_state.json").write_text(json.dumps(state, indent=indent))
    elif top == "stale" and len(steps) > 1:  # a save_state() from before the last checkpoints
        (d / "trainer_state.json").write_text(json.dumps(_upto(state, steps[0]), indent=indent))
    if summaries:
        (d / "all_results.json").write_text(json.dumps({"epoch": state["epoch"], "train_loss": 0.5}))
    runs, errors = read_inputs([str(d)])
    assert not errors, [str(e.error) for e in errors]
    (run,) = runs
    assert run.format == "hf_output_dir" and run.source == str(d)
    # the most advanced state is the whole history, whichever file held it
    train = [e for e in state["log_history"] if "loss" in e]
    evals = [e for e in state["log_history"] if "eval_loss" in e]
    assert_series(run.train_loss, [e["step"] for e in train], [e["loss"] for e in train], [e["epoch"] for e in train])
    assert_series(run.val_loss, [e["step"] for e in evals], [e["eval_loss"] for e in evals])
    assert_series(run.val_metric, [e["step"] for e in evals], [e["eval_accuracy"] for e in evals])
    expected_file = "trainer_state.json" if top == "final" else f"checkpoint-{last}/trainer_state.json"
    assert run.metadata["file"] == expected_file
    assert run.metadata["checkpoints"] == steps
    assert run.hyperparameters.n_epochs == state["num_train_epochs"]
