"""The two kinds of series columns agree: ``array('d')`` (small files, read
without numpy) and numpy arrays (large files, pandas-based readers).

The curve statistics have one implementation (Python on lists); what differs
by kind is only how a series is normalized and filtered (``make_series``,
``Series.finite``, ...) and, for the raw points of a long series, a handful of
primitives in :mod:`ftdiag.features`. These properties check that a run built
from numpy arrays and the same run built from plain sequences give the same
features and the same verdict, and that the Python replicas of numpy's
arithmetic (``interp``, the pairwise sum, ``linspace`` indices) round alike.
"""

from __future__ import annotations

import dataclasses
import json
import math
from array import array
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SAMPLES
from ftdiag import features as F
from ftdiag.api import analyze_run
from ftdiag.diagnosis import diagnose
from ftdiag.formats import read_path
from ftdiag.run import Run, Series, epoch_at, interp, make_series
from test_json_paths import ENTRY, json_files, typed_and_plain

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
value = finite | st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e300])


def same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, through dicts, lists and tuples."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def columns(s: Series) -> list[list[float] | None]:
    return [s.steps_list(), s.values_list(), s.epochs_list()]


@st.composite
def points(draw: st.DrawFn, min_size: int = 0, max_size: int = 80) -> tuple[list[float], list[float], list[float] | None]:
    n = draw(st.integers(min_size, max_size))
    # steps: mostly ascending, sometimes repeated, out of order or not finite
    steps = sorted(draw(st.lists(st.integers(0, 3 * n + 3), min_size=n, max_size=n)))
    steps_f = [float(x) for x in steps]
    if n and draw(st.booleans()):
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        steps_f[i], steps_f[j] = steps_f[j], steps_f[i]
    if n and draw(st.integers(0, 9)) == 0:
        steps_f[draw(st.integers(0, n - 1))] = math.nan
    values = draw(st.lists(value, min_size=n, max_size=n))
    epochs = None
    if draw(st.booleans()):
        epochs = [x / 7.0 if draw(st.integers(0, 12)) else math.nan for x in steps_f]
    return steps_f, values, epochs


@SETTINGS
@given(points(), st.sampled_from(["train_loss", "valid_accuracy", "eval_f1"]))
def test_make_series_is_the_same_for_both_kinds(pts: tuple[list[float], list[float], list[float] | None], name: str) -> None:
    steps, values, epochs = pts
    plain = make_series(name, steps, values, epochs)
    numpy = make_series(name, np.asarray(steps), np.asarray(values), None if epochs is None else np.asarray(epochs))
    assert not plain.is_numpy and numpy.is_numpy
    assert isinstance(plain.values, array)
    assert same(columns(plain), columns(numpy))
    assert same(columns(plain.finite), columns(numpy.finite))
    assert plain.n_nonfinite == numpy.n_nonfinite
    assert same(plain.first_nonfinite_step, numpy.first_nonfinite_step)
    assert same([list(c) for c in plain.epoch_points()], [c.tolist() for c in numpy.epoch_points()])  # type: ignore[union-attr]
    assert same(columns(plain.as_numpy()), columns(numpy))


def run_of(kind: str, tl: tuple[list[float], list[float], list[float] | None], vl: tuple[list[float], list[float]],
           va: list[float], unit: str) -> Run:
    conv = (lambda x: x) if kind == "plain" else (lambda x: None if x is None else np.asarray(x, dtype=np.float64))
    return Run(
        source="s", format="f", name="n", x_unit=unit,  # type: ignore[arg-type]
        train_loss=make_series("train_loss", conv(tl[0]), conv(tl[1]), conv(tl[2])),
        val_loss=make_series("valid_loss", conv(vl[0]), conv(vl[1])),
        val_metric=make_series("valid_accuracy", conv(vl[0]), conv(va)),
    )


def check_both_kinds(tl: tuple[list[float], list[float], list[float] | None], vl: tuple[list[float], list[float]],
                     va: list[float], unit: str) -> None:
    a, b = run_of("plain", tl, vl, va, unit), run_of("numpy", tl, vl, va, unit)
    try:
        fa = F.compute(a)
    except ValueError as e:  # an all-NaN smoothed curve: both kinds must refuse alike
        with pytest.raises(ValueError, match=str(e)):
            F.compute(b)
        return
    fb = F.compute(b)
    assert same(dataclasses.asdict(fa), dataclasses.asdict(fb))
    da, db = diagnose(a, fa), diagnose(b, fb)
    assert (da.label, da.confidence, da.evidence) == (db.label, db.confidence, db.evidence)
    for step in (0.0, a.last_step / 3, a.last_step, a.last_step * 2):
        assert same(epoch_at(a, step), epoch_at(b, step))


@SETTINGS
@given(points(min_size=2, max_size=60), st.integers(2, 30), st.sampled_from(["step", "epoch"]), st.data())
def test_features_and_verdict_are_the_same_for_both_kinds(
    tl: tuple[list[float], list[float], list[float] | None], k: int, unit: str, data: st.DataObject
) -> None:
    vsteps = [float(i * 3 + 1) for i in range(k)]
    vloss = data.draw(st.lists(st.floats(0.01, 5.0) | value, min_size=k, max_size=k))
    vacc = data.draw(st.lists(st.integers(0, 50).map(lambda x: x / 50), min_size=k, max_size=k))
    check_both_kinds(tl, (vsteps, vloss), vacc, unit)


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([F.MAX_POINTS + 1, 3 * F.MAX_POINTS + 7]))
def test_long_series_agree_too(seed: int, n: int) -> None:
    # past MAX_POINTS: bin means, and the raw-point primitives on numpy arrays
    # (the spike count) against the same primitives on lists
    rng = np.random.default_rng(seed)
    steps = np.arange(1.0, n + 1.0)
    loss = 2 * np.exp(-np.linspace(0, 3, n)) + rng.normal(0, 0.05, n)
    loss[rng.integers(0, n, 5)] += 3.0  # spikes
    loss[rng.integers(0, n, 2)] = np.nan
    k = n // 10
    vsteps = steps[:: n // k][:k]
    vloss = 1.5 * np.exp(-np.linspace(0, 2, k)) + np.linspace(0, 0.4, k) ** 2 + rng.normal(0, 0.02, k)
    vacc = np.round(np.clip(0.4 + np.linspace(0, 0.5, k) + rng.normal(0, 0.03, k), 0, 1) * 200) / 200
    check_both_kinds(
        (steps.tolist(), loss.tolist(), (steps / 500).tolist()), (vsteps.tolist(), vloss.tolist()), vacc.tolist(), "step"
    )
    s = make_series("train_loss", steps, loss)
    assert F._count_spikes(s) == F._count_spikes(make_series("train_loss", steps.tolist(), loss.tolist())) >= 1


@SETTINGS
@given(st.lists(finite, min_size=1, max_size=40, unique=True), st.lists(value, min_size=40, max_size=40), value)
def test_interp_is_numpys(xp: list[float], fp: list[float], x: float) -> None:
    xp.sort()
    fp = fp[: len(xp)]
    ours, theirs = interp(x, xp, fp), float(np.interp(x, xp, fp))
    assert same(ours, theirs)
    inside = xp[0] + (xp[-1] - xp[0]) * 0.37
    assert same(interp(inside, xp, fp), float(np.interp(inside, xp, fp)))


@SETTINGS
@given(st.lists(finite | st.floats(-1e300, 1e300), min_size=0, max_size=700))
def test_sum_rounds_as_numpys(v: list[float]) -> None:
    assert same(F._sum(v), float(np.sum(np.asarray(v, dtype=np.float64))))


@given(st.integers(F.PAIR_POINTS + 1, 10**6))
def test_even_indices_are_numpys_linspace(n: int) -> None:
    k = F.PAIR_POINTS
    assert F._even_indices(n, k) == np.linspace(0, n - 1, k).astype(np.int64).tolist()


def test_theil_sen_and_mann_kendall_on_known_curves() -> None:
    x = [float(i) for i in range(1, 600)]
    assert F.theil_sen(x, [2.0 * t + 1 for t in x]) == 2.0
    outlier = [0.5 * t for t in x]
    outlier[10] = 1e6
    assert F.theil_sen(x, outlier) == 0.5
    tau, p = F.mann_kendall(x)
    assert tau == 1.0 and p < 1e-10
    tau, p = F.mann_kendall([1.0, 1.0, 1.0, 1.0])
    assert (tau, p) == (0.0, 1.0)
    tau, _ = F.mann_kendall([3.0, 2.0, 2.0, 1.0, 0.0])
    assert tau == pytest.approx(-0.9)  # 9 of the 10 pairs fall, one tie


@pytest.mark.parametrize("name", ["openai_overfit.csv", "openai_underfit.csv", "keras_underfit.csv",
                                  "hf_trainer_state_overfit.json", "reference_good_fit.csv"])
def test_sample_reports_do_not_depend_on_the_kind(name: str) -> None:
    """A sample read as it is (plain columns for a small file) and the same runs
    with numpy columns: the same JSON report."""
    runs = read_path(SAMPLES / name)

    def numpy_run(r: Run) -> Run:
        kw = {role: s.as_numpy() for role, s in r.series().items()}
        return dataclasses.replace(r, extra={k: s.as_numpy() for k, s in r.extra.items()}, **kw)  # type: ignore[arg-type]

    for r in runs:
        a, b = analyze_run(r), analyze_run(numpy_run(r))
        assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


@SETTINGS
@given(st.lists(finite | st.sampled_from([math.inf, -math.inf]), min_size=0, max_size=9000), st.integers(0, 8999))
def test_median_of_a_long_list_is_a_full_sorts(v: list[float], shift: int) -> None:
    # long lists take the bracketing path of _around; a full sort decides
    v = v[shift % max(1, len(v)):] + v[: shift % max(1, len(v))]
    s = sorted(v)
    n = len(s)
    expect = math.nan if n == 0 else (s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0)
    assert same(F.median(v), expect)


def test_median_of_many_slopes_brackets_and_is_exact() -> None:
    # the sizes Theil-Sen gives (79,800 values), ties and skew included
    rng = np.random.default_rng(3)
    for v in (rng.normal(size=79_800), np.round(rng.exponential(size=79_801), 2), np.r_[np.zeros(50_000), rng.normal(size=29_800)]):
        assert F.median(v.tolist()) == float(np.median(v))


# --- trainer_state.json: a small log_history in Python, a large one with numpy

def _both_sizes(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    from ftdiag.formats import _json, hf_trainer_state

    monkeypatch.setattr(_json, "FAST_MIN_BYTES", 0)  # the typed (msgspec) path too
    small = typed_and_plain(data)
    monkeypatch.setattr(hf_trainer_state, "SMALL_ENTRIES", -1)  # every file takes the large-file path
    large = typed_and_plain(data)
    return small, large


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_trainer_state_small_path_equals_the_large_path(monkeypatch: pytest.MonkeyPatch, data: st.DataObject) -> None:
    history = data.draw(st.lists(ENTRY | st.sampled_from([1, "x", None]), max_size=25))
    small, large = _both_sizes(json.dumps({"log_history": history, "max_steps": 100}).encode(), monkeypatch)
    assert small == large


def test_trainer_state_small_path_equals_the_large_path_on_real_files(monkeypatch: pytest.MonkeyPatch) -> None:
    files = [*json_files(), *sorted(SAMPLES.glob("hf_trainer_state_*.json"))]
    for f in files:
        small, large = _both_sizes(f.read_bytes(), monkeypatch)
        assert small == large, f
        monkeypatch.undo()
    assert len(files) >= 5


@SETTINGS
@given(st.lists(value, min_size=1, max_size=300), st.floats(0.0, 10.0))
def test_raw_point_primitives_agree_on_lists_and_numpy(v: list[float], threshold: float) -> None:
    # the spike count and its noise run on lists (short series) or numpy
    # arrays (series longer than MAX_POINTS): each primitive alike on both
    a = np.asarray(v, dtype=np.float64)
    with np.errstate(all="ignore"):
        assert same(F._finite(v), F._finite(a).tolist())
        fin = F._finite(v)
        assert same(F._diff(fin), F._diff(np.asarray(fin)).tolist())
        assert same(F._absdev(fin, 0.5), F._absdev(np.asarray(fin), 0.5).tolist())
        if fin:
            assert F._spike_count(fin, threshold) == F._spike_count(np.asarray(fin), threshold)


def test_spike_noise_of_a_very_long_series_is_sampled_without_changing_the_count() -> None:
    # past SPIKE_NOISE_POINTS, the spike threshold's noise comes from every
    # k-th difference of adjacent points: the same band within sampling error,
    # the same spikes found (each point is still looked at)
    rng = np.random.default_rng(7)
    n = 4 * F.SPIKE_NOISE_POINTS
    loss = 2 * np.exp(-np.linspace(0, 3, n)) + rng.normal(0, 0.05, n)
    spikes = rng.choice(n, 40, replace=False)
    loss[spikes] += 1.0
    full, _ = F.noise_band(loss, accuracy_like=False)
    sampled, _ = F.noise_band(loss, accuracy_like=False, stride=4)
    assert sampled == pytest.approx(full, rel=0.02) and sampled != full
    s = make_series("train_loss", np.arange(1.0, n + 1.0), loss)
    assert F._count_spikes(s) == F._spike_count(loss, 6 * full) == 40
