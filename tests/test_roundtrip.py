"""Property tests: a valid log written in each format reads back to the same series.

The generators write files the way the trainers do (OpenAI's results CSV,
trainer_state.json as Trainer dumps it, Keras CSVLogger and pandas dumps),
with the variations seen in real files: sparse validation, CRLF, other
separators, a BOM, UTF-16. Readers added later carry their own round-trip
tests beside their other tests, or get one here.
"""

from __future__ import annotations

import json
import math
from array import array
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftdiag.formats import read_path
from ftdiag.run import Series

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

loss = st.floats(min_value=1e-6, max_value=50.0, allow_nan=False)
acc = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
encoding = st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])
newline = st.sampled_from(["\n", "\r\n"])


def assert_series(s: Series | None, steps: list[float], values: list[float], epochs: list[float] | None = None) -> None:
    if not values:
        assert s is None or len(s.finite) == 0
        return
    assert s is not None
    assert s.steps.tolist() == [float(x) for x in steps]
    assert s.values.tolist() == values  # repr() round-trips floats exactly
    if epochs is not None:
        assert s.epochs is not None and s.epochs.tolist() == epochs


def write(tmp: Path, name: str, text: str, enc: str, nl: str) -> Path:
    p = tmp / name
    p.write_bytes(text.replace("\n", nl).encode(enc))
    return p


@st.composite
def openai_rows(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(3, 60))
    every = draw(st.sampled_from([1, 3, 10, 0]))  # validation every k steps, or never
    rows = []
    for step in range(1, n + 1):
        has_val = every and step % every == 0
        rows.append(
            (step, draw(loss), draw(acc), draw(loss) if has_val else None, draw(acc) if has_val else None)
        )
    return rows


@given(openai_rows(), encoding, newline)
@SETTINGS
def test_openai_current_roundtrip(tmp_path: Path, rows, enc: str, nl: str) -> None:  # type: ignore[no-untyped-def]
    cell = lambda v: "" if v is None else repr(v)  # noqa: E731
    text = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n" + "".join(
        ",".join([str(r[0])] + [cell(v) for v in r[1:]]) + "\n" for r in rows
    )
    (run,) = read_path(write(tmp_path, "step_metrics.csv", text, enc, nl))
    assert run.format == "openai"
    assert_series(run.train_loss, [r[0] for r in rows], [r[1] for r in rows])
    assert_series(run.train_metric, [r[0] for r in rows], [r[2] for r in rows])
    val = [r for r in rows if r[3] is not None]
    assert_series(run.val_loss, [r[0] for r in val], [r[3] for r in val])
    assert_series(run.val_metric, [r[0] for r in val], [r[4] for r in val])


@given(openai_rows(), st.booleans())
@SETTINGS
def test_openai_legacy_roundtrip(tmp_path: Path, rows, with_validation: bool) -> None:  # type: ignore[no-untyped-def]
    head = "step,elapsed_tokens,elapsed_examples,training_loss,training_sequence_accuracy,training_token_accuracy"
    if with_validation:
        head += ",validation_loss,validation_sequence_accuracy,validation_token_accuracy"
    lines = [head]
    for i, (step, tl, ta, vl, va) in enumerate(rows):
        cells = [str(step), str(1000 * (i + 1)), str(4 * (i + 1)), repr(tl), "0.0", repr(ta)]
        if with_validation:
            cells += ["" if vl is None else repr(vl), "" if vl is None else "1.0", "" if va is None else repr(va)]
        lines.append(",".join(cells))
    p = tmp_path / "results.csv"
    p.write_text("\n".join(lines) + "\n")
    (run,) = read_path(p)
    assert run.format == "openai_legacy"
    assert_series(run.train_loss, [r[0] for r in rows], [r[1] for r in rows])
    assert_series(run.train_metric, [r[0] for r in rows], [r[2] for r in rows])
    val = [r for r in rows if r[3] is not None] if with_validation else []
    assert_series(run.val_loss, [r[0] for r in val], [r[3] for r in val])
    assert_series(run.val_metric, [r[0] for r in val], [r[4] for r in val])


@st.composite
def trainer_states(draw):  # type: ignore[no-untyped-def]
    steps_per_epoch = draw(st.integers(2, 50))
    n_epochs = draw(st.integers(1, 6))
    log_every = draw(st.integers(1, steps_per_epoch))
    history = []
    train, evals = [], []
    for step in range(1, steps_per_epoch * n_epochs + 1):
        ep = step / steps_per_epoch
        if step % log_every == 0:
            e = {"epoch": ep, "grad_norm": draw(loss), "learning_rate": 5e-5, "loss": draw(loss), "step": step}
            history.append(e)
            train.append(e)
        if step % steps_per_epoch == 0:
            e = {"epoch": ep, "eval_accuracy": draw(acc), "eval_loss": draw(loss), "eval_runtime": 1.5,
                 "eval_samples_per_second": 100.0, "eval_steps_per_second": 10.0, "step": step}
            history.append(e)
            evals.append(e)
    history.append({"epoch": float(n_epochs), "step": steps_per_epoch * n_epochs, "total_flos": 1e12,
                    "train_loss": 0.5, "train_runtime": 10.0})
    state = {"best_metric": None, "epoch": float(n_epochs), "global_step": steps_per_epoch * n_epochs,
             "log_history": history, "logging_steps": log_every, "max_steps": steps_per_epoch * n_epochs,
             "num_train_epochs": n_epochs, "train_batch_size": 8}
    return state, train, evals


@given(trainer_states(), st.sampled_from([None, 2]), newline)
@SETTINGS
def test_hf_trainer_state_roundtrip(tmp_path: Path, gen, indent, nl: str) -> None:  # type: ignore[no-untyped-def]
    state, train, evals = gen
    p = write(tmp_path, "trainer_state.json", json.dumps(state, indent=indent, sort_keys=True) + "\n", "utf-8", nl)
    (run,) = read_path(p)
    assert run.format == "hf_trainer_state"
    assert_series(run.train_loss, [e["step"] for e in train], [e["loss"] for e in train], [e["epoch"] for e in train])
    assert_series(run.val_loss, [e["step"] for e in evals], [e["eval_loss"] for e in evals], [e["epoch"] for e in evals])
    assert_series(run.val_metric, [e["step"] for e in evals], [e["eval_accuracy"] for e in evals])
    assert run.val_metric is not None and run.val_metric.name == "eval_accuracy"
    assert run.hyperparameters.n_epochs == state["num_train_epochs"]
    assert run.hyperparameters.batch_size == 8


@st.composite
def keras_histories(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 40))
    acc_name = draw(st.sampled_from(["accuracy", "acc"]))
    rows = [(draw(acc), draw(loss), draw(acc), draw(loss)) for _ in range(n)]
    return acc_name, rows


@given(keras_histories(), st.sampled_from(["csvlogger", "pandas"]), st.sampled_from([",", ";", "\t"]), newline, encoding)
@SETTINGS
def test_keras_roundtrip(tmp_path: Path, gen, style: str, sep: str, nl: str, enc: str) -> None:  # type: ignore[no-untyped-def]
    name, rows = gen
    if style == "csvlogger":  # alphabetical columns, 0-based epoch
        head = ["epoch", name, "loss", f"val_{name}", "val_loss"]
        body = [[str(i), repr(a), repr(lo), repr(va), repr(vl)] for i, (a, lo, va, vl) in enumerate(rows)]
    else:  # pd.DataFrame(history.history).to_csv(): unnamed index, insertion order
        head = ["", "loss", name, "val_loss", f"val_{name}"]
        body = [[str(i), repr(lo), repr(a), repr(vl), repr(va)] for i, (a, lo, va, vl) in enumerate(rows)]
    text = "\n".join(sep.join(r) for r in [head] + body) + "\n"
    (run,) = read_path(write(tmp_path, "training.log", text, enc, nl))
    assert run.format == "keras_csv" and run.x_unit == "epoch"
    epochs = [float(i + 1) for i in range(len(rows))]
    assert_series(run.train_loss, epochs, [r[1] for r in rows])
    assert_series(run.val_loss, epochs, [r[3] for r in rows])
    assert_series(run.train_metric, epochs, [r[0] for r in rows])
    assert_series(run.val_metric, epochs, [r[2] for r in rows])


def test_series_values_are_float64_arrays(tmp_path: Path) -> None:
    p = tmp_path / "training.log"
    p.write_text("epoch,loss,val_loss\n0,1.5,1.6\n1,1.0,1.2\n")
    (run,) = read_path(p)
    assert run.val_loss is not None
    # a small file's columns are array('d') (no numpy needed), a large one's numpy: float64 either way
    v = run.val_loss.values
    assert (v.typecode == "d") if isinstance(v, array) else (v.dtype == np.float64)
    assert run.val_loss.np_values.dtype == np.float64
    assert not any(math.isnan(v) for v in run.val_loss.values)


# ---- directory readers (their files' formats have their own property tests in
# tests/test_readers_properties.py and tests/test_console_properties.py); read
# through ftdiag.inputs, as the CLI does


def read_all(*paths: Path):  # type: ignore[no-untyped-def]
    from ftdiag.inputs import read_inputs

    runs, errors = read_inputs([str(p) for p in paths])
    assert not errors, [str(e.error) for e in errors]
    return runs


@st.composite
def epoch_curves(draw, min_epochs: int = 3):  # type: ignore[no-untyped-def]
    n = draw(st.integers(min_epochs, 25))
    return [(draw(loss), draw(loss), draw(acc)) for _ in range(n)]


@given(epoch_curves())
@SETTINGS
def test_lightning_version_dir_roundtrip(tmp_path: Path, curves) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "lightning_logs" / "version_0"
    d.mkdir(parents=True, exist_ok=True)
    lines = ["epoch,step,train_loss,val_loss"]
    for e, (tl, vl, _) in enumerate(curves):
        lines += [f"{e},{(e + 1) * 10 - 1},{tl!r},", f"{e},{(e + 1) * 10 - 1},,{vl!r}"]
    (d / "metrics.csv").write_text("\n".join(lines) + "\n")
    (d / "hparams.yaml").write_text("batch_size: 32\nmax_epochs: 7\n")
    (run,) = read_all(d)
    assert_series(run.val_loss, [(e + 1) * 10 - 1 for e in range(len(curves))], [c[1] for c in curves])
    assert run.hyperparameters.batch_size == 32


@given(epoch_curves())
@SETTINGS
def test_mlflow_run_dir_roundtrip(tmp_path: Path, curves) -> None:  # type: ignore[no-untyped-def]
    run_dir = tmp_path / "mlruns" / "0" / "abc123"
    (run_dir / "metrics").mkdir(parents=True, exist_ok=True)
    (run_dir / "params").mkdir(exist_ok=True)
    for k, name in ((0, "loss"), (1, "val_loss"), (2, "val_accuracy")):
        (run_dir / "metrics" / name).write_text(
            "".join(f"{1664364007310 + i} {c[k]!r} {i}\n" for i, c in enumerate(curves))
        )
    (run_dir / "params" / "batch_size").write_text("16")
    (run_dir / "meta.yaml").write_text("run_name: rt\nstatus: 3\n")
    (run,) = read_all(run_dir)
    steps = list(range(len(curves)))
    assert_series(run.train_loss, steps, [c[0] for c in curves])
    assert_series(run.val_loss, steps, [c[1] for c in curves])
    assert_series(run.val_metric, steps, [c[2] for c in curves])
