"""Resource bounds on huge inputs: peak memory and time of ``ftdiag analyze``.

    python benchmarks/bounds.py [--size-mb 1024] [--keep DIR] [--case NAME ...]

Writes each case (default 1 GB) to a temporary directory, runs ``ftdiag
analyze`` on it in a child process and reports the exit status, the first
line of stderr, wall time and the child's peak resident memory, beside the
peak for a small file (the interpreter and libraries). The point: memory
follows the data used, not the size of the file.

Cases:
  single_line_csv   a CSV header followed by 1 GB without a line end
  single_line_json  a trainer_state.json written on one 1 GB line
  stdout_log        a training console log: 1 GB of progress bars ('\\r') and
                    noise around a few hundred metric lines
  progress_only     1 GB of tqdm '\\r' updates and nothing else
  stdin             the single-line CSV piped through standard input
  csv_rows          a valid Keras CSV of size/16: every row is data used
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 8 * 1024 * 1024


def _fill(fh, unit: bytes, n: int) -> None:  # type: ignore[no-untyped-def]
    block = unit * max(1, CHUNK // len(unit))
    written = 0
    while written < n:
        part = block[: n - written]
        fh.write(part)
        written += len(part)


def single_line_csv(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        fh.write(b"epoch,loss,val_loss,")
        _fill(fh, b"1.2345,", size)


def single_line_json(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        fh.write(b'{"global_step": 1, "log_history": [')
        _fill(fh, b'{"loss": 0.5, "step": 1, "epoch": 0.1}, ', size)
        fh.write(b'{"loss": 0.5, "step": 2}]}')


def stdout_log(path: Path, size: int) -> None:
    """Hugging Face Trainer console output: tqdm bars with '\\r', dict lines."""
    bar = b" 45%|####5     | 450/1000 [00:10<00:12, 44.1it/s]\r"
    per_epoch = max(1, size // 300)
    with open(path, "wb") as fh:
        fh.write(b"***** Running training *****\n  Num examples = 100000\n  Num Epochs = 300\n"
                 b"  Total optimization steps = 30000\n")
        step = 0
        for epoch in range(1, 301):
            _fill(fh, bar, per_epoch)
            step += 100
            loss = 2.0 / epoch
            fh.write(b"\n" + repr({"loss": round(loss, 4), "learning_rate": 5e-05, "epoch": float(epoch)}).encode() + b"\n")
            if epoch % 10 == 0:
                ev = {"eval_loss": round(1.5 / epoch ** 0.5 + epoch / 400, 4), "eval_runtime": 1.0, "epoch": float(epoch)}
                fh.write(repr(ev).encode() + b"\n")


def progress_only(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        _fill(fh, b" 45%|####5     | 450/1000 [00:10<00:12, 44.1it/s]\r", size)


def csv_rows(path: Path, size: int) -> None:
    size //= 16
    with open(path, "wb") as fh:
        fh.write(b"epoch,accuracy,loss,val_accuracy,val_loss\n")
        i = 0
        written = 0
        rows = []
        while written < size:
            row = f"{i},{0.5 + 0.4 * (1 - 1 / (i + 2)):.6f},{1 / (i + 2):.6f},{0.5 + 0.3 * (1 - 1 / (i + 2)):.6f},{1.2 / (i + 2) ** 0.5:.6f}\n".encode()
            rows.append(row)
            written += len(row)
            i += 1
            if len(rows) >= 10000:
                fh.write(b"".join(rows))
                rows = []
        fh.write(b"".join(rows))


CASES: dict[str, Callable[[Path, int], None]] = {
    "single_line_csv": single_line_csv,
    "single_line_json": single_line_json,
    "stdout_log": stdout_log,
    "progress_only": progress_only,
    "stdin": single_line_csv,
    "csv_rows": csv_rows,
}

_CHILD = """
import resource, sys, time
t = time.perf_counter()
from ftdiag.cli import main
sys.argv = ["ftdiag", "analyze", sys.argv[1]]
try:
    main()
except SystemExit as e:
    code = e.code or 0
else:
    code = 0
print(f"@@ {code} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} {time.perf_counter() - t:.2f}", file=sys.stderr)
"""


def measure(path: str, stdin_path: Path | None = None) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        p = subprocess.run([sys.executable, "-c", _CHILD, path], stdin=stdin, capture_output=True, text=True, env=env)
    finally:
        if stdin_path:
            stdin.close()  # type: ignore[union-attr]
    lines = p.stderr.strip().splitlines()
    code, rss_kb, secs = lines[-1].split()[1:]
    first = next((ln for ln in lines[:-1]), "")
    return {"exit": int(code), "peak_mb": int(rss_kb) / 1024, "seconds": float(secs), "stderr": first[:160],
            "stdout": p.stdout.splitlines()[0][:120] if p.stdout else ""}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    ap.add_argument("--keep", type=Path, help="write the inputs here and keep them")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    size = a.size_mb * 1024 * 1024
    out = []
    base = measure(str(ROOT / "sample_logs" / "reference_overfit.csv"))
    print(f"baseline (a small file): peak {base['peak_mb']:.0f} MB, {base['seconds']:.2f} s", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="ftdiag-bounds-") as tmp:
        folder = a.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for name in a.case or list(CASES):
            path = folder / f"{name}.log"
            t0 = time.perf_counter()
            CASES[name](path, size)
            made = time.perf_counter() - t0
            m = measure("-", path) if name == "stdin" else measure(str(path))
            m.update(case=name, size_mb=round(path.stat().st_size / 2**20), extra_mb=round(m["peak_mb"] - base["peak_mb"]))  # type: ignore[operator]
            out.append(m)
            print(f"{name:17} {m['size_mb']:>6} MB  exit {m['exit']}  peak {m['peak_mb']:6.0f} MB "
                  f"(+{m['extra_mb']} MB)  {m['seconds']:6.1f} s  (written in {made:.0f} s)\n"
                  f"                  {m['stderr'] or m['stdout']}", flush=True)
            if not a.keep:
                path.unlink()
    if a.json:
        print(json.dumps({"baseline": base, "cases": out}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
