"""Property tests: generate valid logs in each console/JSONL format (with the
noise real captures have), parse them back, get the same series."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftdiag.formats import Source, read_source
from ftdiag.formats._lines import iter_segments

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

losses = st.floats(min_value=1e-6, max_value=50.0, allow_nan=False, allow_infinity=False)


def source_of(data: bytes, name: str = "log.txt") -> Source:
    return Source(path=Path(name), display=name, head=data[: 64 * 1024], _data=data)


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


# ---------------------------------------------------------------- the line splitter


@SETTINGS
@given(
    parts=st.lists(
        st.tuples(st.text(alphabet="ab é{}'", max_size=12), st.sampled_from(["\n", "\r", "\r\n"])), max_size=30
    ),
    chunk=st.integers(min_value=1, max_value=17),
    tail=st.text(alphabet="xyz", max_size=5),
)
def test_segments_and_line_numbers_survive_any_chunking(parts: list[tuple[str, str]], chunk: int, tail: str) -> None:
    text = "".join(a + b for a, b in parts) + tail
    expected = []
    line = 1
    for seg, sep in parts:
        if seg.strip():
            expected.append((line, seg))
        line += sep.count("\n")
    if tail.strip():
        expected.append((line, tail))
    got = list(iter_segments(source_of(text.encode()), chunk_size=chunk))
    assert got == expected


# ---------------------------------------------------------------- hf_stdout


@st.composite
def hf_logs(draw: st.DrawFn) -> tuple[str, list[float], list[float], list[float]]:
    n_epochs = draw(st.integers(min_value=1, max_value=4))
    per_epoch = draw(st.integers(min_value=1, max_value=4))
    quoted = draw(st.booleans())
    glue = draw(st.sampled_from(["\n", "\r", "  \n", "it/s]"]))
    train, ev, xs = [], [], []
    out = ["Some warning: blah\n", "  0%|          | 0/100 [00:00<?, ?it/s]"]

    def fmt(v: float) -> str:
        return f"'{v:.6g}'" if quoted else repr(v)

    for e in range(n_epochs):
        for k in range(per_epoch):
            loss = draw(losses)
            epoch = round(e + (k + 1) / (per_epoch + 1), 4)
            train.append(float(f"{loss:.6g}") if quoted else loss)
            xs.append(epoch)
            out.append(f" 10%|█         | 10/100 [00:01<00:09]{glue}{{'loss': {fmt(loss)}, 'learning_rate': {fmt(2e-5)}, 'epoch': {fmt(epoch)}}}" + " " * draw(st.integers(0, 40)) + "\n")
        v = draw(losses)
        ev.append(float(f"{v:.6g}") if quoted else v)
        out.append(f"{{'eval_loss': {fmt(v)}, 'eval_runtime': {fmt(1.5)}, 'epoch': {fmt(float(e + 1))}}}\n")
    out.append(f"{{'train_runtime': 10.0, 'train_loss': 0.5, 'epoch': {float(n_epochs)}}}\n100%|██████████| 100/100\n")
    return "".join(out), train, ev, xs


@SETTINGS
@given(log=hf_logs(), copies=st.integers(min_value=1, max_value=3))
def test_hf_stdout_round_trip(log: tuple[str, list[float], list[float], list[float]], copies: int) -> None:
    text, train, ev, xs = log
    runs = read_source(source_of((text * copies).encode()), "hf_stdout")
    assert len(runs) == copies
    for run in runs:
        assert all(close(a, b) for a, b in zip(run.train_loss.values, train, strict=True))
        assert all(close(a, b) for a, b in zip(run.train_loss.steps, xs, strict=True))
        assert all(close(a, b) for a, b in zip(run.val_loss.values, ev, strict=True))
        assert list(run.val_loss.steps) == [float(i + 1) for i in range(len(ev))]


@SETTINGS
@given(k=st.integers(min_value=1, max_value=6), e=st.sampled_from([0.01, 0.5, 1.0]))
def test_hf_stdout_rounded_epoch_ties_keep_every_point(k: int, e: float) -> None:
    lines = "".join(f"{{'loss': {i + 1.0}, 'epoch': {e}}}\n" for i in range(k))
    (run,) = read_source(source_of(lines.encode()), "hf_stdout")
    assert len(run.train_loss) == k
    assert run.train_loss.steps[-1] == e and (k == 1 or run.train_loss.steps[0] < e)
    assert list(run.train_loss.values) == [i + 1.0 for i in range(k)]


# ---------------------------------------------------------------- keras_stdout


@st.composite
def keras_logs(draw: st.DrawFn) -> tuple[str, list[list[tuple[float, float, float, float]]]]:
    fits = []
    out = []
    style = draw(st.sampled_from(["k1v2", "k2v1", "tf2v2", "k3v1"]))
    acc = "acc" if style in ("k1v2", "k2v1") else "accuracy"
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        n = draw(st.integers(min_value=1, max_value=5))
        out.append("Train on 800 samples, validate on 200 samples\n")
        fit = []
        for ep in range(1, n + 1):
            vals = (draw(losses), draw(st.floats(0, 1)), draw(losses), draw(st.floats(0, 1)))
            vals = tuple(float(f"{v:.4f}") for v in vals)
            fit.append(vals)
            lo, a, vl, va = vals
            tail = f"loss: {lo:.4f} - {acc}: {a:.4f} - val_loss: {vl:.4f} - val_{acc}: {va:.4f}"
            out.append(f"Epoch {ep}/{n}\n")
            if style == "k2v1":
                out.append(f" 32/313 [=>...] - ETA: 30s - loss: 9.9 - {acc}: 0.1\r 64/313 [==>..] - ETA: 29s - loss: 9.8 - {acc}: 0.1\r")
                out.append(f"313/313 [==============================] - 351s 1s/step - {tail}\n")
            elif style == "k3v1":
                out.append(f"  1/313 ━━━━━━━━━━━━━━━━━━━━ 5:00 1s/step - {acc}: 0.1 - loss: 9.9\r")
                out.append(f"313/313 ━━━━━━━━━━━━━━━━━━━━ 5s 2ms/step - {tail}\n")
            elif style == "tf2v2":
                out.append(f"313/313 - 5s - {tail}\n")
            else:
                out.append(f"67s - {tail}\n")
            if draw(st.booleans()):
                out.append(f"Epoch {ep:05d}: val_loss improved from inf to 0.5, saving model to m.h5\n")
        fits.append(fit)
    return "".join(out), fits


@SETTINGS
@given(log=keras_logs())
def test_keras_stdout_round_trip(log: tuple[str, list[list[tuple[float, float, float, float]]]]) -> None:
    text, fits = log
    runs = read_source(source_of(text.encode()), "keras_stdout")
    assert len(runs) == len(fits)
    for run, fit in zip(runs, fits, strict=True):
        assert list(run.train_loss.values) == [f[0] for f in fit]
        assert list(run.val_loss.values) == [f[2] for f in fit]
        assert list(run.val_loss.steps) == [float(i) for i in range(1, len(fit) + 1)]
        assert run.hyperparameters.n_epochs == len(fit)


# ---------------------------------------------------------------- LLaMA-Factory


@SETTINGS
@given(
    vals=st.lists(losses, min_size=1, max_size=20),
    dup=st.booleans(),
    cut=st.booleans(),
    crlf=st.booleans(),
)
def test_llamafactory_round_trip(vals: list[float], dup: bool, cut: bool, crlf: bool) -> None:
    lines = []
    for i, v in enumerate(vals, 1):
        row = {"current_steps": i, "total_steps": len(vals), "loss": v, "lr": 1e-4, "epoch": i / 10}
        lines.append(json.dumps(row))
        if dup:
            lines.append(json.dumps({**row, "loss": v + 1}))  # the second process
    lines.append(json.dumps({"current_steps": len(vals), "total_steps": len(vals), "epoch": len(vals) / 10}))
    text = ("\r\n" if crlf else "\n").join(lines)
    if cut:
        text += '\n{"current_steps": 9999, "loss": 0.'
    (run,) = read_source(source_of(text.encode(), "trainer_log.jsonl"), "llamafactory_jsonl")
    assert list(run.train_loss.values) == vals
    assert list(run.train_loss.steps) == [float(i) for i in range(1, len(vals) + 1)]
    assert any("multi-GPU" in w for w in run.warnings) == dup
    assert any("last line is not complete" in w for w in run.warnings) == cut


# ---------------------------------------------------------------- nanoGPT and generic console


@SETTINGS
@given(vals=st.lists(st.tuples(losses, losses), min_size=1, max_size=10), every=st.integers(1, 50))
def test_nanogpt_round_trip(vals: list[tuple[float, float]], every: int) -> None:
    text = ""
    for i, (t, v) in enumerate(vals):
        text += f"step {i * every}: train loss {t:.4f}, val loss {v:.4f}\n"
        text += f"iter {i * every}: loss {t:.4f}, time 10.00ms, mfu 1.00%\n"
    (run,) = read_source(source_of(text.encode()), "nanogpt_stdout")
    assert list(run.val_loss.values) == [float(f"{v:.4f}") for _, v in vals]
    assert list(run.train_loss.steps) == [float(i * every) for i in range(len(vals))]


@SETTINGS
@given(rows=st.lists(st.tuples(losses, st.floats(0, 100)), min_size=1, max_size=8), steps=st.integers(1, 5))
def test_console_metrics_round_trip(rows: list[tuple[float, float]], steps: int) -> None:
    text = "My training loop\n"
    expected = []
    n = len(rows)
    for i, (lo, acc) in enumerate(rows):
        ep, st_ = i // steps + 1, i % steps + 1
        text += f"  Epoch {ep}/{n} | Step {st_}/{steps} | Loss: {lo:.4f} | Accuracy: {acc:.1f}%\n"
        expected.append((ep - 1 + st_ / steps, float(f"{lo:.4f}"), float(f"{acc:.1f}") / 100))
    (run,) = read_source(source_of(text.encode()), "console_metrics")
    assert all(close(a, b) for a, b in zip(run.train_loss.steps, [e[0] for e in expected], strict=True))
    assert list(run.train_loss.values) == [e[1] for e in expected]
    assert all(close(a, e[2]) for a, e in zip(run.train_metric.values, expected, strict=True))


# ---------------------------------------------------------------- bounded storage and the dict fast path


@SETTINGS
@given(vals=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=300), cap=st.sampled_from([4, 8, 16, 64]))
def test_rows_stay_bounded_and_average_in_groups(vals: list[float], cap: int) -> None:
    from ftdiag.formats._lines import Rows

    rows = Rows(cap=cap)
    for i, v in enumerate(vals):
        rows.add({"x": float(i), "v": v})
    x, v = rows.column("x"), rows.column("v")
    assert len(x) <= cap and rows.total == len(vals)
    s = rows.stride
    # every stored point is the mean of `stride` consecutive inputs (the last may be partial)
    for j in range(len(x)):
        chunk = vals[j * s : (j + 1) * s]
        assert math.isclose(v[j], sum(chunk) / len(chunk), rel_tol=1e-9, abs_tol=1e-6)
        assert math.isclose(x[j], (j * s + j * s + len(chunk) - 1) / 2, abs_tol=1e-9)


def test_rows_keep_a_logged_nan_visible() -> None:
    from ftdiag.formats._lines import Rows

    rows = Rows(cap=4)
    for i in range(20):
        rows.add({"v": float("nan") if i == 13 else 1.0})
    assert rows.stride > 1 and np.isnan(rows.column("v")).sum() == 1


@SETTINGS
@given(
    d=st.dictionaries(
        st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        min_size=1,
        max_size=8,
    ),
    quoted=st.booleans(),
)
def test_hf_dict_fast_path_agrees_with_literal_eval(d: dict[str, float], quoted: bool) -> None:
    import ast

    from ftdiag.formats.hf_stdout import parse_dict

    text = "{" + ", ".join(f"'{k}': " + (f"'{v!r}'" if quoted else repr(v)) for k, v in d.items()) + "}"
    expected = {k: float(v) for k, v in ast.literal_eval(text).items()}
    assert parse_dict(text) == expected


@SETTINGS
@given(
    blocks=st.lists(st.lists(st.floats(-1e3, 1e3), max_size=40), max_size=12),
    cap=st.sampled_from([2, 4, 6, 16]),
)
def test_points_average_uniform_groups_within_the_cap(blocks: list[list[float]], cap: int) -> None:
    from ftdiag.formats._lines import Points

    p = Points(cap=cap)
    raw: list[float] = []
    for b in blocks:
        p.extend([float(len(raw) + i) for i in range(len(b))], b)
        raw += b
    x, y = p.arrays()
    s = p.stride
    assert p.total == len(raw) and len(x) <= cap
    assert len(x) == -(-len(raw) // s)  # ceil: uniform groups of `stride`, the last maybe partial
    for j in range(len(x)):
        chunk = raw[j * s : (j + 1) * s]
        assert math.isclose(y[j], sum(chunk) / len(chunk), rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(x[j], j * s + (len(chunk) - 1) / 2, abs_tol=1e-9)


@SETTINGS
@given(
    lines=st.lists(st.sampled_from(["iter 5: loss 1", "noise", "", "x iter 7: y", "ab"]), max_size=30),
    seps=st.lists(st.sampled_from(["\n", "\r", "\r\n"]), min_size=30, max_size=30),
    chunk=st.integers(min_value=1, max_value=9),
)
def test_pattern_scan_finds_exactly_the_matching_segments(lines: list[str], seps: list[str], chunk: int) -> None:
    import re

    text = "".join(a + b for a, b in zip(lines, seps, strict=False))
    src = source_of(text.encode())
    every = list(iter_segments(src, chunk_size=chunk))
    want = [(n, s) for n, s in every if "iter" in s]
    assert list(iter_segments(src, [re.compile(r"iter \d"), re.compile(r"r \d")], chunk_size=chunk)) == want
    assert list(iter_segments(src, re.compile("iter"), chunk_size=chunk)) == want


def test_long_logs_are_averaged_with_a_warning_and_nan_survives(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ftdiag.formats import _lines

    monkeypatch.setattr(_lines, "DEFAULT_CAP", 64)
    iters = "".join(f"iter {i}: loss {'nan' if i == 700 else 3.0 - i / 1000}, time 1.0ms, mfu 1%\n" for i in range(1000))
    (run,) = read_source(source_of(iters.encode()), "nanogpt_stdout")
    assert len(run.train_loss) <= 64 and any("averaged in groups of 16" in w for w in run.warnings)
    assert np.isnan(run.train_loss.values).sum() == 1
    hf = "".join(f"{{'loss': {2.0 - i / 1000}, 'epoch': {i / 100}}}\n" for i in range(1, 1000))
    (run,) = read_source(source_of(hf.encode()), "hf_stdout")
    assert len(run.train_loss) <= 64 and any("averaged in groups" in w for w in run.warnings)
    assert run.train_loss.values[0] < 2.0 and run.train_loss.steps[-1] <= 9.99
    keras = "".join(f"Epoch {e}/500\n10/10 - 1s - loss: {1 / e:.4f} - val_loss: {1 / e + 0.1:.4f}\n" for e in range(1, 501))
    (run,) = read_source(source_of(keras.encode()), "keras_stdout")
    assert len(run.val_loss) <= 64 and any("averaged in groups" in w for w in run.warnings)
