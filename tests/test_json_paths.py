"""The fast JSON document path (msgspec, a faster depth check, a columnar
trainer_state reader) gives exactly what the plain path gives."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ftdiag.formats._json as json_mod
from conftest import LABELED, PUBLIC, need
from ftdiag.errors import InputError
from ftdiag.formats._json import MAX_JSON_DEPTH, depth_exceeds, loads, loads_document
from ftdiag.formats._source import decode, guess_encoding
from ftdiag.formats.hf_trainer_state import runs_from_state
from ftdiag.run import Series


def reference_depth_exceeds(obj: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """The straightforward depth check: containers are exact dicts and lists."""
    if type(obj) is not dict and type(obj) is not list:
        return False
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if d > limit:
            return True
        values = o.values() if type(o) is dict else o
        stack.extend((v, d + 1) for v in values if type(v) is dict or type(v) is list)
    return False


class SubDict(dict):  # type: ignore[type-arg]
    pass


SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3)
NESTED = st.recursive(
    SCALAR,
    lambda kids: st.lists(kids, max_size=4)
    | st.dictionaries(st.text(max_size=2), kids, max_size=4)
    | st.dictionaries(st.text(max_size=2), kids, max_size=2).map(SubDict),
    max_leaves=30,
)


@given(NESTED, st.integers(0, 8))
def test_depth_check_equals_the_reference(obj: Any, limit: int) -> None:
    assert depth_exceeds(obj, limit) == reference_depth_exceeds(obj, limit)


def same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, and of the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def plain(data: bytes) -> Any:
    return loads(decode(data, "f"), "f")


def outcome(fn: Any, data: bytes) -> Any:
    try:
        return ("ok", fn(data))
    except InputError as e:
        return ("error", str(e))


@pytest.fixture
def fast_always(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_mod, "FAST_MIN_BYTES", 0)


@pytest.mark.usefixtures("fast_always")
@pytest.mark.parametrize(
    "data",
    [
        b'{"log_history": [{"loss": NaN, "step": 1}]}',
        b'{"a": [Infinity, -Infinity]}',
        b'{"big": ' + b"9" * 320 + b"}",
        b'{"pad": "' + b"x" * ((1 << 20) - 150) + b'", "big": ' + b"9" * 300 + b"}",  # across a 1 MB slice
        b'{"big": ' + b"9" * 40 + b", \"neg\": -0, \"f\": 1e400}",
        b'{"a": 1, "a": 2}',
        b"\xef\xbb\xbf{\"bom\": 1.5}",
        b'{"s": "\\ud800"}',
        b'{"latin": "\xe9"}',
        "{\"utf16\": 1}".encode("utf-16"),
        b'{"truncated": [1, 2',
        b'{"a": 1} trailing',
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
        b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH,
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_loads_document_equals_the_plain_path(data: bytes) -> None:
    fast = outcome(lambda d: loads_document(d, "f", guess_encoding(d[:65536])), data)
    slow = outcome(plain, data)
    assert fast[0] == slow[0]
    assert fast[1] == slow[1] if fast[0] == "error" else same(fast[1], slow[1])


@pytest.mark.usefixtures("fast_always")
@settings(max_examples=60)
@given(NESTED.filter(lambda o: not isinstance(o, SubDict)))
def test_loads_document_equals_the_plain_path_on_any_document(obj: Any) -> None:
    data = json.dumps(obj).encode()
    assert same(loads_document(data, "f", "utf-8"), plain(data))


def json_files() -> list[Path]:
    files = sorted(need(PUBLIC / "hf_trainer_state").glob("*.json"))
    files += sorted(need(LABELED / "runs").glob("*.json"))[:40]
    return files


@pytest.mark.usefixtures("fast_always")
def test_loads_document_equals_the_plain_path_on_real_files() -> None:
    for f in json_files():
        data = f.read_bytes()
        assert same(loads_document(data, str(f), guess_encoding(data[:65536])), plain(data)), f


# --- the trainer_state reader against the straightforward one it replaced ----

_EVAL_SKIP = re.compile(r"^eval_(runtime|samples_per_second|steps_per_second|loss)$")


def _num(v: Any) -> float | None:
    if (isinstance(v, (int, float)) and not isinstance(v, bool)) or isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def reference_columns(history: list[Any]) -> dict[str, tuple[list[float], list[float], list[float]]]:
    """(steps, values, epochs) of every key of training and evaluation entries,
    as the original per-entry loop built them."""
    train, evals = [], []
    for entry in history:
        if not isinstance(entry, dict):
            continue
        if "loss" in entry and not any(k.startswith("eval_") for k in entry):
            train.append(entry)
        elif any(k.startswith("eval_") for k in entry):
            evals.append(entry)
    out = {}
    for group, entries in (("train", train), ("eval", evals)):
        for key in {k for e in entries for k in e}:
            steps, values, epochs = [], [], []
            for i, e in enumerate(entries):
                v = _num(e.get(key))
                if v is None:
                    continue
                s = _num(e.get("step"))
                steps.append(s if s is not None else float(i + 1))
                values.append(v)
                ep = _num(e.get("epoch"))
                epochs.append(ep if ep is not None else float("nan"))
            if values:
                out[f"{group}:{key}"] = (steps, values, epochs)
    return out


def check_series(s: Series | None, ref: tuple[list[float], list[float], list[float]] | None) -> None:
    """``s`` is what make_series makes of the reference columns."""
    from ftdiag.run import make_series

    if ref is None:
        assert s is None
        return
    assert s is not None
    want = make_series(s.name, *ref)
    for a, b in ((s.steps, want.steps), (s.values, want.values), (s.epochs, want.epochs)):
        assert a is not None and b is not None
        assert np.array_equal(a, b, equal_nan=True)


def check_run(history: list[Any]) -> None:
    state = {"log_history": history, "num_train_epochs": 3, "max_steps": 100}
    try:
        (run,) = runs_from_state(state, "f", "f")
    except InputError:
        return
    ref = reference_columns(history)
    check_series(run.train_loss, ref.get("train:loss"))
    for name, s in run.extra.items():
        if name in ("learning_rate", "grad_norm"):
            check_series(s, ref.get(f"train:{name}"))
        else:
            check_series(s, ref.get(f"eval:{name}"))
    if run.val_metric is not None:
        check_series(run.val_metric, ref.get(f"eval:{run.val_metric.name}"))
    if run.train_metric is not None:
        check_series(run.train_metric, ref.get(f"train:{run.train_metric.name}"))
    lrs = [v for v in ref.get("train:learning_rate", ([], [], []))[1] if math.isfinite(v)]
    # Hyperparameters drops what is not a finite non-negative number
    assert run.hyperparameters.learning_rate == (max(lrs) if lrs and max(lrs) >= 0 else None)


VALUE = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats() | st.sampled_from(["1.5", "x", "nan"])
ENTRY = st.dictionaries(
    st.sampled_from(
        ["loss", "step", "epoch", "learning_rate", "grad_norm", "eval_loss", "eval_accuracy",
         "eval_f1", "eval_runtime", "eval_bleu", "eval_dev_loss", "accuracy", "train_loss", "train_runtime"]
    ),
    VALUE,
    max_size=6,
)


@settings(max_examples=150)
@given(st.lists(ENTRY | st.sampled_from([1, "x", None]), max_size=25))
def test_trainer_state_reader_equals_the_reference(history: list[Any]) -> None:
    check_run(history)


def test_trainer_state_reader_equals_the_reference_on_real_files() -> None:
    n = 0
    for f in json_files():
        state = json.loads(f.read_text())
        if isinstance(state, dict) and isinstance(state.get("log_history"), list):
            check_run(state["log_history"])
            n += 1
    assert n >= 5


# --- trainer_state.json's typed msgspec path against the general parser ------

def _runs_outcome(runs_or_error: Any) -> Any:
    if isinstance(runs_or_error, str):
        return runs_or_error
    (run,) = runs_or_error
    series = {k: (s.steps.tolist(), s.values.tolist(), None if s.epochs is None else s.epochs.tolist())
              for k, s in [*((r, getattr(run, r)) for r in ("train_loss", "val_loss", "train_metric", "val_metric")),
                           *run.extra.items()] if s is not None}
    return repr((series, run.hyperparameters, run.metadata, run.warnings, run.steps_per_epoch, run.planned_steps))


def typed_and_plain(data: bytes) -> tuple[Any, Any]:
    from ftdiag.formats import hf_trainer_state as hts

    def general() -> Any:
        try:
            state = loads(decode(data, "f"), "f")
            return runs_from_state(state, "f", "f") if isinstance(state, dict) else "not a dict"
        except InputError as e:
            return str(e)

    state = hts._typed_state(data, guess_encoding(data[:65536]), "f")
    if state is None:
        return None, None
    try:
        fast = runs_from_state(state, "f", "f", finite_floats=True)
    except InputError as e:
        fast = str(e)
    return _runs_outcome(fast), _runs_outcome(general())


@pytest.mark.usefixtures("fast_always")
@pytest.mark.parametrize(
    "data",
    [
        b'{"log_history": [{"loss": 1, "step": 1}, {"eval_loss": 2, "step": 1, "epoch": 0.5}], "max_steps": 10}',
        b'{"log_history": [{"loss": NaN, "step": 1}]}',  # msgspec refuses NaN: the general path
        b'{"log_history": [{"loss": 1e400, "step": 1}]}',
        b'{"log_history": [{"loss": 0.5, "step": ' + b"9" * 320 + b"}]}",
        b'{"log_history": [{"loss": 0.5, "step": 1}], "max_steps": ' + b"9" * 320 + b"}",
        b'{"log_history": [{"loss": 0.5, "step": 12345678901234567890123}]}',
        b'{"log_history": [{"loss": 0.5, "step": 1, "nested": {"a": 1}}]}',
        b'{"log_history": [{"loss": 0.5, "step": 1}], "unknown_field": 1}',
        b'{"log_history": [{"loss": 0.5, "step": 1}], "stateful_callbacks": ' + b"[" * 70 + b"]" * 70 + b"}",
        b'{"log_history": [{"loss": -0, "step": 1, "loss": 2}], "num_train_epochs": "3"}',
        b'{"log_history": [{"loss": 0.5, "step": null}, {"loss": null, "step": 2, "epoch": 1}, {"eval_loss": 1}]}',
        b'{"log_history": [{"loss": "0.5", "step": 1}, {"loss": true, "step": 2}]}',  # strings, booleans: general path
        b'{"log_history": []}',
        b'{"max_steps": 3}',
        b'[{"log_history": []}]',
    ],
)
def test_trainer_state_typed_path_equals_the_plain_path(data: bytes) -> None:
    fast, slow = typed_and_plain(data)
    assert fast == slow


TOP = st.dictionaries(
    st.sampled_from(["max_steps", "num_train_epochs", "train_batch_size", "best_metric", "best_model_checkpoint",
                     "logging_steps", "stateful_callbacks", "not_a_trainer_field"]),
    NESTED.filter(lambda o: not isinstance(o, SubDict)),
    max_size=4,
)


@pytest.mark.usefixtures("fast_always")
@settings(max_examples=150)
@given(st.lists(ENTRY | st.sampled_from([1, "x", None]), max_size=25), TOP)
def test_trainer_state_typed_path_equals_the_plain_path_on_any_state(history: list[Any], top: dict[str, Any]) -> None:
    data = json.dumps({**top, "log_history": history}).encode()
    fast, slow = typed_and_plain(data)
    assert fast == slow


@pytest.mark.usefixtures("fast_always")
def test_trainer_state_typed_path_equals_the_plain_path_on_real_files() -> None:
    n = 0
    for f in json_files():
        fast, slow = typed_and_plain(f.read_bytes())
        assert fast == slow, f
        n += fast is not None
    assert n >= 5  # real files take the typed path
