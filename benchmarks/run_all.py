"""Every performance figure of issue 7 in one table, each beside its target.

    python benchmarks/run_all.py            # full sizes (several minutes on 2 cores)
    python benchmarks/run_all.py --quick    # small sizes, a quick look (ratios are rougher)
    python benchmarks/run_all.py --only startup,large

Each benchmark generates its own inputs in a temporary directory and measures
against a baseline taken in the same run. Run one alone for its details
(``python benchmarks/startup.py --importtime``, ...).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, print_table  # noqa: E402

BENCHES = ["startup", "large_file", "huge_log", "console_logs", "tensorboard_read", "sweep", "growth"]


def _load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, fewer repeats")
    ap.add_argument("--only", help="comma list of benchmarks: " + ", ".join(BENCHES))
    args = ap.parse_args()
    names = [n.strip() for n in args.only.split(",")] if args.only else BENCHES
    figures: list[Figure] = []
    start, load0 = time.perf_counter(), _load()
    took: list[str] = []
    for name in names:
        t0 = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            mod = importlib.import_module(name)
            figures.extend(mod.run(quick=args.quick))
        except Exception as e:  # noqa: BLE001 - one broken benchmark must not hide the others
            traceback.print_exc()
            figures.append(Figure(name, "(failed)", None, "", ok=False, note=f"{type(e).__name__}: {e}"[:120]))
        took.append(f"{name} {time.perf_counter() - t0:.0f} s")
        print(f"  {took[-1]}", file=sys.stderr, flush=True)
    print()
    mode = "quick (sizes reduced, ratios rougher)" if args.quick else "full sizes"
    print(f"ftdiag benchmarks, {mode}; {datetime.datetime.now():%Y-%m-%d %H:%M}; {os.cpu_count()} cores; "
          f"Python {sys.version.split()[0]}")
    print()
    print_table(figures)
    missed = [f for f in figures if f.ok is False]
    print(f"\n{len(figures) - len(missed)} of {len(figures)} figures within target ({mode})")
    print(f"load average (1, 5, 15 min): {load0} at the start, {_load()} at the end; "
          f"a loaded machine inflates every ratio whose baseline and command compete for the cores differently")
    print(f"total {time.perf_counter() - start:.0f} s: " + ", ".join(took))
    return 0


if __name__ == "__main__":
    sys.exit(main())
