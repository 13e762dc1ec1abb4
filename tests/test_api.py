from __future__ import annotations

import pytest

import ftdiag
from conftest import SAMPLES
from ftdiag.errors import InputError


@pytest.mark.parametrize("label", ["underfit", "good_fit", "overfit"])
def test_reference_cases(label: str) -> None:
    r = ftdiag.analyze(SAMPLES / f"reference_{label}.csv")
    assert r.label == label
    assert 0 < r.confidence <= 1
    assert r.evidence and any(ch.isdigit() for ch in " ".join(r.evidence))


def test_to_dict_matches_json_run() -> None:
    r = ftdiag.analyze(SAMPLES / "reference_overfit.csv", hyperparameters={"n_epochs": 12})
    d = r.to_dict()
    assert d["label"] == r.label and d["recommendations"][0]["current"] == 12
    top = r.recommendations[0]
    assert top.parameter == "n_epochs" and top.action == "decrease" and top.suggested < 12


def test_unknown_hyperparameter_is_refused() -> None:
    with pytest.raises(ftdiag.errors.UsageError):
        ftdiag.analyze(SAMPLES / "reference_overfit.csv", hyperparameters={"epochs": 3})


def test_missing_file() -> None:
    with pytest.raises(InputError, match="no such file"):
        ftdiag.analyze("does/not/exist.csv")
