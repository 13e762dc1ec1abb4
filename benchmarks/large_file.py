"""One large file: ``ftdiag analyze`` against the fastest plain reader of the format.

    python benchmarks/large_file.py [--quick] [--profile]

* an OpenAI results CSV of 1,000,000 steps (validation every 10 steps) against
  a script doing only ``pandas.read_csv`` on it;
* a Hugging Face ``trainer_state.json`` of 200,000 log entries against a
  script doing only ``json.load``.

Wall time and peak memory (``ru_maxrss`` of the child) as ratios, medians of
alternating runs. ``--profile`` prints where ftdiag's time goes (cProfile,
in one process) for each file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _gen  # noqa: E402
from _common import (  # noqa: E402
    PY,
    Figure,
    alternate,
    compile_ftdiag,
    ftdiag_cmd,
    mb,
    median_rss,
    median_wall,
    print_table,
    workdir,
)

TARGET = 1.5
CSV_STEPS, CSV_STEPS_QUICK = 1_000_000, 100_000
JSON_ENTRIES, JSON_ENTRIES_QUICK = 200_000, 20_000

READ_CSV = "import sys, pandas; pandas.read_csv(sys.argv[1])"
JSON_LOAD = "import sys, json\nwith open(sys.argv[1], encoding='utf-8') as f: json.load(f)"


def _compare(bench: str, what: str, path: Path, baseline_code: str, baseline_name: str, repeats: int) -> list[Figure]:
    cmds = {
        "baseline": [PY, "-c", baseline_code, str(path)],
        "ftdiag": ftdiag_cmd() + ["analyze", str(path), "--format", "json"],
    }
    res = alternate(cmds, repeats)
    tb, tf = median_wall(res["baseline"]), median_wall(res["ftdiag"])
    rb, rf = median_rss(res["baseline"]), median_rss(res["ftdiag"])
    size = path.stat().st_size
    return [
        Figure(bench, f"{what}: time / {baseline_name}", tf / tb, "x", f"<= {TARGET}", tf / tb <= TARGET,
               f"{tf:.2f} s vs {tb:.2f} s; {mb(size) / tf:.0f} MB/s; median of {repeats}"),
        Figure(bench, f"{what}: peak memory / {baseline_name}", rf / rb, "x", f"<= {TARGET}", rf / rb <= TARGET,
               f"{mb(rf):.0f} MB vs {mb(rb):.0f} MB"),
    ]


def run(quick: bool = False, repeats: int | None = None) -> list[Figure]:
    n = repeats or 3
    compile_ftdiag()
    steps = CSV_STEPS_QUICK if quick else CSV_STEPS
    entries = JSON_ENTRIES_QUICK if quick else JSON_ENTRIES
    figures: list[Figure] = []
    with workdir("large") as d:
        csv_path = _gen.openai_csv(d / "step_metrics.csv", steps)
        figures += _compare("large", f"OpenAI CSV {steps:,} steps", csv_path, READ_CSV, "pandas.read_csv", n)
        csv_path.unlink()
        json_path = _gen.trainer_state(d / "trainer_state.json", entries)
        figures += _compare("large", f"trainer_state {entries:,} entries", json_path, JSON_LOAD, "json.load", n)
    return figures


def profile(quick: bool) -> None:
    import cProfile
    import pstats

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from ftdiag.api import analyze_path

    with workdir("large-profile") as d:
        files = [
            _gen.openai_csv(d / "step_metrics.csv", CSV_STEPS_QUICK if quick else CSV_STEPS),
            _gen.trainer_state(d / "trainer_state.json", JSON_ENTRIES_QUICK if quick else JSON_ENTRIES),
        ]
        for f in files:
            print(f"\n== {f.name}")
            pr = cProfile.Profile()
            pr.runcall(analyze_path, f)
            pstats.Stats(pr).sort_stats("cumulative").print_stats(25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--profile", action="store_true", help="cProfile of ftdiag on each file instead")
    args = ap.parse_args()
    if args.profile:
        profile(args.quick)
        return
    print_table(run(args.quick, args.repeats))


if __name__ == "__main__":
    main()
