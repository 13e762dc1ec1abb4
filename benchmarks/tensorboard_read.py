"""TensorBoard: reading an event file of 1,000,000 scalars, ftdiag against tbparse.

    python benchmarks/tensorboard_read.py [--quick] [--profile]

Needs the ``bench`` extra (``pip install -e '.[bench]'``: tbparse and
tensorboard). Both read every point (tbparse's loader is told to keep all;
ftdiag keeps all by design); the counts are checked. Reading is timed in one
warm process each (imports excluded, median of runs; CPU time, which a loaded
shared machine disturbs least, both being single-threaded); the whole commands
(``ftdiag analyze`` against a script that loads the file with tbparse) are
reported too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _gen  # noqa: E402
from _common import (  # noqa: E402
    PY,
    Figure,
    alternate,
    compile_ftdiag,
    ftdiag_cmd,
    median_wall,
    print_table,
    run_child,
    workdir,
)

TARGET = 5.0
N, N_QUICK = 1_000_000, 100_000

# times reading in a warm process: prints "<seconds> <points>"
FTDIAG_READ = """
import sys, time
from ftdiag.formats import read_path
read_path(sys.argv[3])  # warm on a small file: imports, protobuf classes
best = []
for _ in range(int(sys.argv[2])):
    t = time.process_time(); runs = read_path(sys.argv[1]); best.append(time.process_time() - t)
n = sum(len(s) for r in runs for s in list(r.series().values()) + list(r.extra.values()))
best.sort(); print(best[len(best) // 2], n)
"""
TBPARSE_READ = """
import sys, time
from tbparse import SummaryReader
SummaryReader(sys.argv[3]).scalars  # warm on a small file: imports
best = []
for _ in range(int(sys.argv[2])):
    t = time.process_time(); df = SummaryReader(sys.argv[1]).scalars; best.append(time.process_time() - t)
best.sort(); print(best[len(best) // 2], len(df))
"""
TBPARSE_CMD = "import sys; from tbparse import SummaryReader; SummaryReader(sys.argv[1]).scalars"


def _timed_read(code: str, path: Path, repeats: int, small: Path) -> tuple[float, int]:
    out = run_child([PY, "-c", code, str(path), str(repeats), str(small)], stdout=-1).stdout.decode().split()
    return float(out[0]), int(out[1])


def run(quick: bool = False, repeats: int | None = None) -> list[Figure]:
    try:
        import tbparse  # noqa: F401
    except ImportError:
        return [Figure("tensorboard", "read 1M scalars vs tbparse", None, "x", f">= {TARGET}", False,
                       "tbparse not installed: pip install -e '.[bench]'")]
    n = N_QUICK if quick else N
    reps = repeats or (3 if quick else 1)
    compile_ftdiag()
    with workdir("tb") as d:
        path = _gen.tf_event_file(d, n)
        (d / "small").mkdir()
        small = _gen.tf_event_file(d / "small", 1000)
        t_ft, n_ft = _timed_read(FTDIAG_READ, path, reps, small)
        t_tb, n_tb = _timed_read(TBPARSE_READ, path, reps, small)
        whole = alternate({"tbparse": [PY, "-c", TBPARSE_CMD, str(path)],
                           "ftdiag": ftdiag_cmd() + ["analyze", str(path), "--format", "json"]}, 1, warmup=0)
    size_mb = path.stat().st_size / 1e6 if path.exists() else 0
    speed = t_tb / t_ft
    w_tb, w_ft = median_wall(whole["tbparse"]), median_wall(whole["ftdiag"])
    note = "" if n_ft == n_tb == n else f"points read: ftdiag {n_ft}, tbparse {n_tb}, written {n}"
    return [
        Figure("tensorboard", f"read {n:,} scalars: tbparse time / ftdiag time", speed, "x", f">= {TARGET}",
               speed >= TARGET and not note, note or f"{t_ft:.2f} s vs {t_tb:.2f} s CPU ({n / t_ft / 1e3:.0f}k points/s); every point"),
        Figure("tensorboard", "whole command: tbparse script / ftdiag analyze", w_tb / w_ft, "x",
               note=f"{w_ft:.2f} s vs {w_tb:.2f} s, imports and analysis included" + (f"; {size_mb:.0f} MB" if size_mb else "")),
    ]


def profile(quick: bool) -> None:
    import cProfile
    import pstats

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from ftdiag.formats import read_path

    with workdir("tb-profile") as d:
        path = _gen.tf_event_file(d, N_QUICK if quick else N)
        read_path(path)
        pr = cProfile.Profile()
        pr.runcall(read_path, path)
        pstats.Stats(pr).sort_stats("tottime").print_stats(15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    if args.profile:
        profile(args.quick)
        return
    t0 = time.perf_counter()
    print_table(run(args.quick, args.repeats))
    print(f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
