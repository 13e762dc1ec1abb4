"""Start-up discipline: what ``ftdiag --help`` and ``ftdiag analyze <small file>``
may import (heavy libraries only where they pay; see DEVELOPERS.md).

Each check runs in a fresh interpreter so that ``sys.modules`` shows exactly
what the command loaded. No timings here: those are in benchmarks/startup.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conftest import ROOT, SAMPLES
from ftdiag.features import MAX_POINTS, median

# Importing any of these costs from tens of milliseconds (numpy.ma, via
# np.median: use ftdiag.features.median) to seconds (scipy.stats); readers of
# optional formats import their libraries inside read(), never at module level,
# because detection imports every reader module.
HEAVY = (
    "pandas", "scipy", "matplotlib", "numpy.ma", "tensorboard", "tbparse", "tensorflow",
    "google.protobuf", "torch", "mlflow", "dask", "distributed", "pyarrow", "yaml", "PIL",
)

PROBE = """
import json, sys
args, heavy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["ftdiag"] + args
from ftdiag.cli import main
try:
    main()
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
print("\\nLOADED=" + json.dumps(loaded))
"""


def loaded_by(*args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    p = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args)), json.dumps(list(heavy))],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    line = [x for x in p.stdout.splitlines() if x.startswith("LOADED=")]
    assert line, p.stderr[-2000:]
    return json.loads(line[-1].removeprefix("LOADED="))


def test_help_imports_only_click() -> None:
    assert loaded_by("--help", heavy=HEAVY + ("numpy",)) == [], "ftdiag --help must import only click"


def test_analyze_small_files_loads_nothing_heavy() -> None:
    # every sample in one call: detection imports every reader module, and each
    # format's read path runs
    files = sorted(str(p) for p in SAMPLES.iterdir() if p.suffix in (".csv", ".json"))
    assert len(files) >= 3
    loaded = loaded_by("analyze", *files, "--format", "json")
    assert loaded == [], (
        "imported at start-up: import these inside the function that needs them "
        "(numpy.ma comes from np.median / np.unique: use ftdiag.features.median, set())"
    )


# the readers whose small files are read, judged and reported without numpy
NUMPY_FREE = ("openai_*.csv", "keras_*.csv", "reference_*.csv", "hf_trainer_state_*.json")


@pytest.mark.parametrize("fmt", ["json", "markdown", "text"])
def test_small_files_are_analyzed_without_numpy(fmt: str) -> None:
    files = sorted(str(p) for pattern in NUMPY_FREE for p in SAMPLES.glob(pattern))
    assert len(files) >= 3
    loaded = loaded_by("analyze", *files, "--format", fmt, heavy=HEAVY + ("numpy",))
    assert loaded == [], (
        "numpy imported on the small-file path: keep small series in array('d') columns "
        "(see ftdiag.run.Series) and import numpy inside the functions that need it"
    )


@given(arrays(np.float64, st.integers(1, 60), elements=st.floats(-1e6, 1e6) | st.just(float("nan"))))
def test_median_is_numpys_median(a: np.ndarray) -> None:
    ours, theirs = float(median(a)), float(np.median(a))
    assert ours == theirs or (np.isnan(ours) and np.isnan(theirs))
    # a long numpy column takes the partitioning path: the same value
    long = np.resize(a, MAX_POINTS + 1 + a.size % 2)
    ours, theirs = median(long), float(np.median(long))
    assert ours == theirs or (np.isnan(ours) and np.isnan(theirs))
