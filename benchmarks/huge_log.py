"""A huge text log: a 1 GB Hugging Face Trainer console log in one streaming pass.

    python benchmarks/huge_log.py [--quick] [--size-mb N]

``ftdiag analyze`` on the log (generated in a temporary directory, never kept):
peak memory (``ru_maxrss`` of the child) must stay under 300 MB whatever the
size, and the throughput is reported in MB/s, beside ``wc -l`` (one pass over
the same bytes, the floor of any streaming reader) measured in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _gen  # noqa: E402
from _common import Figure, compile_ftdiag, ftdiag_cmd, mb, print_table, run_child, workdir  # noqa: E402

LIMIT_MB = 300
SIZE_MB, SIZE_MB_QUICK = 1000, 100


def run(quick: bool = False, size_mb: int | None = None) -> list[Figure]:
    size = (size_mb or (SIZE_MB_QUICK if quick else SIZE_MB)) * 1_000_000
    compile_ftdiag()
    with workdir("hugelog") as d:
        path = _gen.hf_stdout(d / "train.log", size)
        real = path.stat().st_size
        ft = run_child(ftdiag_cmd() + ["analyze", str(path), "--format", "json", "--input-format", "hf_stdout"])
        wc = run_child(["wc", "-l", str(path)]) if shutil.which("wc") else None
    rss = mb(ft.maxrss)
    figs = [
        Figure("huge log", f"HF stdout {mb(real):,.0f} MB: peak memory", rss, "MB", f"< {LIMIT_MB} MB", rss < LIMIT_MB,
               "one streaming pass"),
        Figure("huge log", f"HF stdout {mb(real):,.0f} MB: throughput", mb(real) / ft.wall, "MB/s",
               note=f"{ft.wall:.1f} s" + (f"; wc -l: {mb(real) / wc.wall:,.0f} MB/s" if wc else "")),
    ]
    return figs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size-mb", type=int)
    args = ap.parse_args()
    print_table(run(args.quick, args.size_mb))


if __name__ == "__main__":
    main()
