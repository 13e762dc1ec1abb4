"""Theil-Sen's slopes in Python (a small file, numpy not loaded) or with numpy
(loaded already for a long series): the same slope, bit for bit."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ftdiag.features as features

VALUES = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1.0, 1e308, -1e308])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    xs=st.lists(st.integers(0, 60).map(float), min_size=2, max_size=120),
    ys=st.lists(VALUES, min_size=120, max_size=120),
)
def test_numpy_slopes_give_the_python_median(monkeypatch: pytest.MonkeyPatch, xs: list[float], ys: list[float]) -> None:
    import numpy  # noqa: F401 - the numpy path is taken only when numpy is loaded

    xs = sorted(xs)  # repeated x (no slope) happen, as with repeated steps
    ys = ys[: len(xs)]
    monkeypatch.setattr(features, "_NUMPY_PAIRS", 10**9)
    in_python = features.theil_sen(xs, ys)
    monkeypatch.setattr(features, "_NUMPY_PAIRS", 0)
    with_numpy = features.theil_sen(xs, ys)
    assert with_numpy == in_python or (math.isnan(with_numpy) and math.isnan(in_python))


def test_numpy_path_is_taken_for_long_curves(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy  # noqa: F401

    calls = []
    real = features._theil_sen_numpy
    monkeypatch.setattr(features, "_theil_sen_numpy", lambda x, y: calls.append(len(x)) or real(x, y))
    xs = [float(i) for i in range(1000)]
    assert features.theil_sen(xs, [2.0 * x + 1 for x in xs]) == 2.0
    assert calls == [features.PAIR_POINTS]
    assert features.theil_sen(xs[:10], [2.0 * x for x in xs[:10]]) == 2.0  # short: Python
    assert calls == [features.PAIR_POINTS]
