"""Growth: time per million steps at 10^4, 10^5 and 10^6 steps (linear = flat).

    python benchmarks/growth.py [--quick]

``ftdiag.api.analyze_path`` on OpenAI results files of each size in one warm
process (pandas imported, so every size takes the same path), CPU time, median
of three. Growth with the number of runs is in benchmarks/sweep.py.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _gen  # noqa: E402
from _common import PY, ROOT, Figure, print_table, workdir  # noqa: E402

SIZES, SIZES_QUICK = (10_000, 100_000, 1_000_000), (1_000, 10_000, 100_000)

TIMER = """
import sys, time, pandas  # noqa: F401 - the large-file path, for every size
from ftdiag.api import analyze_path
for p in sys.argv[1:]:
    analyze_path(p)
    ts = []
    for _ in range(3):
        t = time.process_time(); analyze_path(p); ts.append(time.process_time() - t)
    ts.sort(); print(ts[1])
"""


def run(quick: bool = False) -> list[Figure]:
    sizes = SIZES_QUICK if quick else SIZES
    with workdir("growth") as d:
        files = [_gen.openai_csv(d / f"steps_{n}.csv", n) for n in sizes]
        env_path = str(ROOT / "src")
        out = subprocess.run([PY, "-c", TIMER, *map(str, files)], capture_output=True, text=True, check=True,
                             env={**__import__("os").environ, "PYTHONPATH": env_path})
    times = [float(x) for x in out.stdout.split()]
    per_m = [t / n * 1e6 for t, n in zip(times, sizes, strict=True)]
    spread = max(per_m[1:]) / min(per_m[1:])
    figs = [
        Figure("growth", f"seconds per million steps at {n:,} steps", pm, "s", note=f"{t:.3f} s CPU")
        for n, t, pm in zip(sizes, times, per_m, strict=True)
    ]
    figs.append(Figure("growth", f"per-million time, {sizes[-1]:,} vs {sizes[1]:,} steps", per_m[-1] / per_m[1], "x",
                       "~1 (linear)", None,
                       f"fixed cost per file shows at {sizes[0]:,}; spread of the larger two {spread:.2f}x; "
                       f"median {statistics.median(per_m):.2f} s per million"))
    return figs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print_table(run(args.quick))


if __name__ == "__main__":
    main()
