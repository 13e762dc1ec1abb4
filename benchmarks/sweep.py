"""Sweeps: ``ftdiag compare`` over 10,000 small run files, 1 and 2 worker processes.

    python benchmarks/sweep.py [--quick] [--runs N]

Reports runs per second with ``--jobs 2`` (target: 200 on 2 cores), the
speed-up from 1 to 2 jobs (aim: 1.7x), that the progress bar was drawn on
stderr, and runs/s at a tenth of the runs (growth with the number of runs).
The per-worker rate also gives the Dask estimate quoted in README.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _gen  # noqa: E402
from _common import Figure, compile_ftdiag, ftdiag_cmd, print_table, run_child, workdir  # noqa: E402

TARGET_RATE = 200.0
TARGET_SPEEDUP = 1.7
RUNS, RUNS_QUICK = 10_000, 1_000


def _compare(d: Path, jobs: int) -> tuple[float, float, bool]:
    """Wall and CPU time of ``ftdiag compare``, and whether it drew its progress bar."""
    cmd = ftdiag_cmd() + ["compare", str(d), "--format", "json", "-j", str(jobs), "--progress"]
    r = run_child(cmd)
    return r.wall, r.cpu, b"ftdiag compare" in r.stderr


def run(quick: bool = False, runs: int | None = None) -> list[Figure]:
    n = runs or (RUNS_QUICK if quick else RUNS)
    compile_ftdiag()
    with workdir("sweep") as d:
        _gen.small_runs(d, n)
        small = d / "small"
        small.mkdir()
        for i in range(n // 10):
            (small / f"run_{i:06d}").symlink_to(d / f"run_{i:06d}")
        run_child(ftdiag_cmd() + ["compare", str(small), "--format", "json", "-j", "2"])  # warm the page cache
        t2, cpu2, bar = _compare(d, 2)
        t1, cpu1, _ = _compare(d, 1)
        t2_small, _, _ = _compare(small, 2)
    rate2, rate1 = n / t2, n / t1
    return [
        Figure("sweep", f"compare {n:,} small runs, --jobs 2: runs/s", rate2, "runs/s", f">= {TARGET_RATE:.0f}",
               rate2 >= TARGET_RATE, f"{t2:.1f} s; progress bar on stderr: {'yes' if bar else 'NO'}"),
        Figure("sweep", "speed-up from --jobs 1 to --jobs 2", t1 / t2, "x", f">= {TARGET_SPEEDUP}",
               t1 / t2 >= TARGET_SPEEDUP, f"--jobs 1: {t1:.1f} s ({rate1:.0f} runs/s)"),
        Figure("growth", f"runs/s at {n // 10:,} runs / at {n:,} runs (--jobs 2)", (n // 10 / t2_small) / rate2, "x",
               "~1 (linear)", None, f"{n // 10 / t2_small:.0f} vs {rate2:.0f} runs/s"),
        Figure("sweep", "--jobs 2 runs/s from CPU time (2 idle cores)", n / (cpu2 / 2), "runs/s",
               note=f"{cpu2:.1f} s CPU in all processes: what a machine not shared would do"),
        Figure("sweep", "Dask estimate: runs/hour per worker process", n / cpu1 * 3600, "runs/h",
               note=f"from --jobs 1 CPU time ({1000 * cpu1 / n:.1f} ms a run); N workers: about N times this"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int)
    args = ap.parse_args()
    print_table(run(args.quick, args.runs))


if __name__ == "__main__":
    main()
