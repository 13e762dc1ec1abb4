"""Property tests: write a valid file of each format from generated series,
read it back, get the same series."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftdiag.formats._yaml import parse_simple_yaml
from ftdiag.inputs import read_inputs
from ftdiag.run import Run

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
values = st.floats(min_value=1e-4, max_value=1e4, allow_nan=False, allow_infinity=False)
fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def curve(min_size: int = 2, max_size: int = 25) -> st.SearchStrategy[list[float]]:
    return st.lists(values, min_size=min_size, max_size=max_size)


def read_one(path: Path) -> Run:
    runs, errors = read_inputs([str(path)])
    assert not errors, [str(e.error) for e in errors]
    (run,) = runs
    return run


def close(a: np.ndarray, b: list[float]) -> bool:
    return bool(np.allclose(a, np.asarray(b, dtype=np.float64), rtol=1e-12, atol=0))


@SETTINGS
@given(train=curve(), val=curve(), every=st.integers(1, 7), crlf=st.booleans(), acc=st.lists(fractions, min_size=25, max_size=25))
def test_lightning_metrics_csv_round_trip(train: list[float], val: list[float], every: int, crlf: bool, acc: list[float]) -> None:
    """Sparse rows: train every ``every`` steps, validation once per epoch."""
    rows = ["epoch,step,train_loss,val_loss,val_acc"]
    step = 0
    exp_train: list[tuple[int, float]] = []
    exp_val: list[tuple[int, float, float]] = []
    ti = 0
    for e, v in enumerate(val):
        for _ in range(3):
            step += every
            if ti < len(train):
                rows.append(f"{e},{step},{train[ti]!r},,")
                exp_train.append((step, train[ti]))
                ti += 1
        rows.append(f"{e},{step},,{v!r},{acc[e]!r}")
        exp_val.append((step, v, acc[e]))
    text = ("\r\n" if crlf else "\n").join(rows) + "\n"
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "metrics.csv"
        p.write_bytes(text.encode())
        run = read_one(p)
    assert run.format == "lightning_csv"
    assert run.train_loss.steps.tolist() == [s for s, _ in exp_train]
    assert close(run.train_loss.values, [v for _, v in exp_train])
    assert run.val_loss.steps.tolist() == [s for s, _, _ in exp_val]
    assert close(run.val_loss.values, [v for _, v, _ in exp_val])
    assert close(run.val_metric.values, [a for _, _, a in exp_val])


@SETTINGS
@given(
    rows=st.lists(st.tuples(values, values, values, fractions, values), min_size=2, max_size=30),
    padded=st.booleans(),
    zero_based=st.booleans(),
)
def test_ultralytics_results_round_trip(rows: list[tuple[float, ...]], padded: bool, zero_based: bool) -> None:
    cols = ["epoch", "train/box_loss", "train/cls_loss", "metrics/mAP50-95(B)", "val/box_loss", "val/cls_loss"]

    def cell(x: object) -> str:
        s = str(x)
        return s.rjust(23) if padded else s

    lines = [",".join(cell(c) for c in cols)]
    first = 0 if zero_based else 1
    for i, (a, b, c, m, d) in enumerate(rows):
        lines.append(",".join(cell(x) for x in (first + i, repr(a), repr(b), repr(m), repr(c), repr(d))))
    with tempfile.TemporaryDirectory() as dd:
        p = Path(dd) / "results.csv"
        p.write_text("\n".join(lines) + "\n")
        run = read_one(p)
    assert run.x_unit == "epoch" and run.val_metric.steps.tolist() == list(range(1, len(rows) + 1))
    assert close(run.val_metric.values, [r[3] for r in rows])
    assert close(run.train_loss.values, [r[0] + r[1] for r in rows])
    assert close(run.val_loss.values, [r[2] + r[4] for r in rows])


@SETTINGS
@given(steps=st.lists(st.integers(0, 10**6), min_size=2, max_size=40, unique=True), vals=curve(40, 40))
def test_mlflow_metric_file_round_trip(steps: list[int], vals: list[float]) -> None:
    steps = sorted(steps)
    vals = vals[: len(steps)]
    with tempfile.TemporaryDirectory() as d:
        m = Path(d) / "run" / "metrics"
        m.mkdir(parents=True)
        (m / "val_loss").write_text("".join(f"{1700000000000 + i} {v!r} {s}\n" for i, (s, v) in enumerate(zip(steps, vals, strict=True))))
        run = read_one(m / "val_loss")
    assert run.val_loss.name == "val_loss" and run.val_loss.steps.tolist() == steps
    assert close(run.val_loss.values, vals)


@SETTINGS
@given(vals=curve(2, 40), shuffle=st.randoms(use_true_random=False))
def test_tensorboard_csv_round_trip_any_row_order(vals: list[float], shuffle) -> None:  # type: ignore[no-untyped-def]
    """Rows in any order (wall time still increases with the step): sorted back by step."""
    rows = [f"{1600000000 + 10 * i}.25,{3 * i},{v!r}" for i, v in enumerate(vals)]
    order = list(range(len(rows)))
    shuffle.shuffle(order)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "run-train-tag-epoch_accuracy.csv"
        p.write_text("Wall time,Step,Value\n" + "\n".join(rows[i] for i in order) + "\n")
        run = read_one(p)
    s = run.train_metric
    assert s.name == "train/epoch_accuracy" and s.steps.tolist() == [3 * i for i in range(len(vals))]
    expect = np.asarray(vals)
    if expect.max() > 1.0 and expect.max() <= 100.0:  # an accuracy in percent
        expect = expect / 100.0
    assert np.allclose(s.values, expect, rtol=1e-12)


@SETTINGS
@given(runs=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True), curve(2, 15), min_size=1, max_size=4))
def test_wandb_chart_export_round_trip(runs: dict[str, list[float]]) -> None:
    names = list(runs)
    n = max(len(v) for v in runs.values())
    header = ["Step"] + [c for r in names for c in (f"{r} - val/loss", f"{r} - val/loss__MIN", f"{r} - val/loss__MAX")]
    lines = [",".join(f'"{h}"' for h in header)]
    for i in range(n):
        cells = [str(10 * i)]
        for r in names:
            v = runs[r][i] if i < len(runs[r]) else None
            cells += [f'"{v!r}"' if v is not None else '""'] * 3
        lines.append(",".join(cells))
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "export.csv"
        p.write_text("\n".join(lines))
        got, errors = read_inputs([str(p)])
    assert not errors
    by = {r.name: r for r in got}
    assert set(by) == set(names)
    for r in names:
        assert by[r].val_loss.steps.tolist() == [10 * i for i in range(len(runs[r]))]
        assert close(by[r].val_loss.values, runs[r])


@SETTINGS
@given(train=curve(2, 20), val=curve(2, 20), jsonl=st.booleans(), delim=st.sampled_from([",", "\t", ";"]))
def test_generic_round_trip(train: list[float], val: list[float], jsonl: bool, delim: str) -> None:
    n = min(len(train), len(val))
    with tempfile.TemporaryDirectory() as d:
        if jsonl:
            p = Path(d) / "log.jsonl"
            p.write_text("".join(json.dumps({"global_step": 5 * i, "train_loss": train[i]}) + "\n" + json.dumps({"global_step": 5 * i, "eval_loss": val[i]}) + "\n" for i in range(n)))
        else:
            p = Path(d) / "log.csv"
            p.write_text(delim.join(["global_step", "train_loss", "eval_loss"]) + "\n" + "".join(delim.join([str(5 * i), repr(train[i]), repr(val[i])]) + "\n" for i in range(n)))
        run = read_one(p)
    assert run.format == "generic"
    assert run.train_loss.steps.tolist() == [5 * i for i in range(n)]
    assert close(run.train_loss.values, train[:n]) and close(run.val_loss.values, val[:n])


keys = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True).filter(lambda k: k not in ("yes", "no", "on", "off", "true", "false", "null"))
scalars = st.one_of(st.integers(-10**9, 10**9), st.floats(allow_nan=False, allow_infinity=False, width=64), st.booleans(), st.from_regex(r"[a-z][a-z0-9_./-]{0,15}", fullmatch=True))


@SETTINGS
@given(flat=st.dictionaries(keys, scalars, max_size=8), nested=st.dictionaries(keys, st.dictionaries(keys, scalars, max_size=4), max_size=3))
def test_simple_yaml_round_trip(flat: dict[str, object], nested: dict[str, dict[str, object]]) -> None:
    def dump(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return repr(v) if math.isfinite(v) else ".inf"
        if isinstance(v, str) and v.lower() in ("yes", "no", "on", "off", "true", "false", "null", "~"):
            return f"'{v}'"
        return str(v)

    lines = [f"{k}: {dump(v)}" for k, v in flat.items() if k not in nested]
    for k, sub in nested.items():
        if k in flat:
            continue
        lines.append(f"{k}:")
        lines += [f"  {kk}: {dump(vv)}" for kk, vv in sub.items()]
        lines.append("  things:\n  - 1\n  - 2")
    got = parse_simple_yaml("\n".join(lines) + "\n")
    expect: dict[str, object] = {k: v for k, v in flat.items() if k not in nested}
    for k, sub in nested.items():
        if k not in flat:
            expect.update({f"{k}.{kk}": vv for kk, vv in sub.items()})
    for k, v in expect.items():
        g = got[k]
        if isinstance(v, float) and not isinstance(v, bool):
            assert g == v or (isinstance(g, int) and float(g) == v)
        elif isinstance(v, str):
            assert str(g) == v or g == _num_or_none(v)
        else:
            assert g == v


def _num_or_none(v: str) -> object:
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return None
