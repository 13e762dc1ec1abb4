"""TensorBoard event files and log directories (the ``tensorboard`` extra).

Event files are written inside each test with the tensorboard package's own
writer (``EventFileWriter``), as PyTorch's SummaryWriter does."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("tensorboard")

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2  # noqa: E402
from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: E402

from ftdiag.cli import cli  # noqa: E402
from ftdiag.errors import MissingDependencyError  # noqa: E402
from ftdiag.formats import detect, open_source  # noqa: E402
from ftdiag.inputs import read_inputs  # noqa: E402
from ftdiag.run import Run  # noqa: E402


def simple(tag: str, value: float) -> summary_pb2.Summary.Value:
    return summary_pb2.Summary.Value(tag=tag, simple_value=value)


def tf2_scalar(tag: str, value: float, first: bool, as_content: bool = False) -> summary_pb2.Summary.Value:
    """A TF2-style scalar: a rank-0 float tensor; metadata only with the first point."""
    t = tensor_pb2.TensorProto(dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto())
    if as_content:
        t.tensor_content = np.asarray([value], dtype="<f4").tobytes()
    else:
        t.float_val.append(value)
    v = summary_pb2.Summary.Value(tag=tag, tensor=t)
    if first:
        v.metadata.plugin_data.plugin_name = "scalars"
    return v


def write_events(logdir: Path, points: list[tuple[int, list[summary_pb2.Summary.Value]]], t0: float = 1.7e9, suffix: str = "") -> Path:
    logdir.mkdir(parents=True, exist_ok=True)
    before = set(logdir.iterdir())
    w = EventFileWriter(str(logdir), filename_suffix=suffix)
    for i, (step, values) in enumerate(points):
        w.add_event(event_pb2.Event(wall_time=t0 + i, step=step, summary=summary_pb2.Summary(value=values)))
    w.close()
    (path,) = set(logdir.iterdir()) - before
    return path


def overfit_curve(n: int = 40) -> tuple[list[float], list[float]]:
    train = [2.0 * 0.92**i for i in range(n)]
    val = [1.0 + 0.002 * (i - 15) ** 2 for i in range(n)]
    return train, val


def runs(*paths: Path) -> list[Run]:
    got, errors = read_inputs([str(p) for p in paths])
    if errors:
        raise errors[0].error
    return got


def test_pytorch_style_simple_values_every_point(tmp_path: Path) -> None:
    n = 12000  # more than TensorBoard's default reservoir of 10,000 per tag
    pts = [(s, [simple("train/loss", 1.0 / (1 + s))]) for s in range(n)]
    pts += [(s, [simple("eval/loss", 0.5 + (s - 6000) ** 2 / 1e8), simple("eval/accuracy", 0.7)]) for s in range(0, n, 1000)]
    f = write_events(tmp_path / "run1", pts)
    with open_source(f) as s:
        assert detect(s).name == "tensorboard"
    (run,) = runs(f)
    assert len(run.train_loss) == n and run.train_loss.values[123] == pytest.approx(1.0 / 124, rel=1e-6)
    assert run.val_loss.name == "eval/loss" and len(run.val_loss) == 12
    assert run.val_metric.name == "eval/accuracy"


def test_tf2_tensor_scalars_and_keras_layout_directory(tmp_path: Path) -> None:
    train, val = overfit_curve()
    logdir = tmp_path / "logs" / "fit"
    write_events(logdir / "train", [(e, [tf2_scalar("epoch_loss", train[e], e == 0)]) for e in range(40)])
    write_events(logdir / "validation", [(e, [tf2_scalar("epoch_loss", val[e], e == 0, as_content=True)]) for e in range(40)])
    (run,) = runs(logdir)
    assert run.format == "tensorboard" and run.name == "fit"
    assert run.train_loss.name == "train/epoch_loss" and run.val_loss.name == "validation/epoch_loss"
    assert run.val_loss.values.tolist() == pytest.approx(val, rel=1e-6)
    # a folder of several such runs is walked, each run on its own
    write_events(tmp_path / "logs" / "other" / "train", [(e, [tf2_scalar("epoch_loss", 1.0, e == 0)]) for e in range(3)])
    write_events(tmp_path / "logs" / "other" / "validation", [(e, [tf2_scalar("epoch_loss", 1.0, e == 0)]) for e in range(3)])
    assert sorted(r.name for r in runs(tmp_path / "logs")) == ["fit", "other"]
    # the two files of the Keras layout given one by one are combined
    files = sorted((logdir).rglob("*tfevents*"))
    (combined,) = runs(*files)
    assert combined.train_loss is not None and combined.val_loss is not None


def test_resumed_run_appends_a_second_file(tmp_path: Path) -> None:
    d = tmp_path / "run"
    write_events(d, [(s, [simple("loss", 2.0 - s / 100)]) for s in range(0, 100, 10)], t0=1.7e9, suffix=".a")
    write_events(d, [(s, [simple("loss", 1.0 - s / 1000)]) for s in range(100, 200, 10)], t0=1.7e9 + 500, suffix=".b")
    (run,) = runs(d)
    assert len(run.train_loss) == 20 and run.train_loss.steps[-1] == 190


def test_hparams_and_cli(tmp_path: Path) -> None:
    from tensorboard.plugins.hparams import summary_v2

    d = tmp_path / "hp_run"
    train, val = overfit_curve()
    hp = summary_v2.hparams_pb({"learning_rate": 0.01, "batch_size": 64, "optimizer": "adam"})
    write_events(d, [(0, list(hp.value))] + [(e, [simple("Loss/train", train[e]), simple("Loss/val", val[e])]) for e in range(40)])
    (run,) = runs(d)
    assert run.hyperparameters.learning_rate == 0.01 and run.hyperparameters.batch_size == 64
    r = CliRunner().invoke(cli, ["analyze", str(d)])
    assert r.exit_code == 0, r.output
    assert "OVERFIT" in r.stdout and "Loss/val" in r.stdout


def test_truncated_event_file_keeps_what_was_written(tmp_path: Path) -> None:
    f = write_events(tmp_path / "r", [(s, [simple("loss", 1.0 / (s + 1)), simple("val_loss", 1.0)]) for s in range(30)])
    data = f.read_bytes()
    cut = tmp_path / "cut" / f.name
    cut.parent.mkdir()
    cut.write_bytes(data[:-7])
    (run,) = runs(cut)
    assert len(run.train_loss) == 29 and any("cut short" in w for w in run.warnings)
    damaged = tmp_path / "bad" / f.name
    damaged.parent.mkdir()
    mid = len(data) // 2
    damaged.write_bytes(data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1 :])
    (run,) = runs(damaged)
    assert 0 < len(run.train_loss) < 30 and any("check" in w for w in run.warnings)


def test_event_file_without_scalars_is_refused(tmp_path: Path) -> None:
    f = write_events(tmp_path / "g", [])
    r = CliRunner().invoke(cli, ["analyze", str(f)])
    assert r.exit_code == 2 and "no scalar" in r.stderr


def test_missing_extra_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = write_events(tmp_path / "m", [(s, [simple("loss", 1.0)]) for s in range(3)])
    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'ftdiag\[tensorboard\]'"):
        runs(f)
    r = CliRunner().invoke(cli, ["analyze", str(f)])
    assert r.exit_code == 2 and "ftdiag[tensorboard]" in r.stderr and "Traceback" not in r.output


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    vals=st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=32), min_size=2, max_size=60),
    tf2=st.booleans(),
    steps=st.integers(1, 1000),
)
def test_event_file_round_trip(tmp_path_factory: pytest.TempPathFactory, vals: list[float], tf2: bool, steps: int) -> None:
    d = tmp_path_factory.mktemp("prop")
    pts = [
        (i * steps, [tf2_scalar("val_loss", v, i == 0, as_content=bool(i % 2)) if tf2 else simple("val_loss", v)])
        for i, v in enumerate(vals)
    ]
    f = write_events(d, pts)
    (run,) = runs(f)
    assert run.val_loss.steps.tolist() == [i * steps for i in range(len(vals))]
    assert run.val_loss.values.tolist() == vals  # float32 values come back exactly
