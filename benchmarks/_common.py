"""Shared helpers for the benchmarks: child processes, timing, the figures table.

Every figure is measured against a baseline taken in the same run (absolute
times on a shared 2-core machine are noise), as the median of several runs
that alternate between the command and its baseline.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_logs"
PY = sys.executable


def ftdiag_cmd() -> list[str]:
    """How a user runs ftdiag: the console script beside this Python, else ``-m``."""
    script = Path(PY).parent / "ftdiag"
    if script.exists():
        return [str(script)]
    found = shutil.which("ftdiag")
    return [found] if found else [PY, "-m", "ftdiag"]


def compile_ftdiag() -> None:
    """Write ftdiag's bytecode, as ``pip install`` does for a regular install.

    An editable install under ``PYTHONDONTWRITEBYTECODE`` (set on some
    machines) would otherwise recompile every module on every run (~25 ms),
    which no installed user pays.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("ftdiag")
    if spec is None or not spec.submodule_search_locations:
        return
    for loc in spec.submodule_search_locations:
        compileall.compile_dir(loc, quiet=1)


@dataclass
class Figure:
    bench: str
    name: str
    value: float | None
    unit: str
    target: str = ""
    ok: bool | None = None  # None: no target (information)
    note: str = ""

    def cells(self) -> list[str]:
        if self.value is None:
            v = "n/a"
        elif self.unit == "x":
            v = f"{self.value:.2f}x"
        elif abs(self.value) >= 100:
            v = f"{self.value:,.0f} {self.unit}"
        else:
            v = f"{self.value:.3g} {self.unit}"
        status = {True: "ok", False: "MISS", None: ""}[self.ok]
        return [self.bench, self.name, v, self.target, status, self.note]


def print_table(figures: Sequence[Figure], file=None) -> None:  # type: ignore[no-untyped-def]
    out = file or sys.stdout
    head = ["bench", "figure", "value", "target", "", "note"]
    rows = [head] + [f.cells() for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for j, r in enumerate(rows):
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip(), file=out)
        if j == 0:
            print("  ".join("-" * w for w in widths), file=out)
    out.flush()


@dataclass
class ChildResult:
    wall: float  # seconds
    maxrss: int  # bytes, peak resident set of the child
    returncode: int
    stdout: bytes = b""
    cpu: float = 0.0  # user + system seconds of the child and the children it waited for
    stderr: bytes = b""


def run_child(cmd: Sequence[str], stdout: int | None = subprocess.DEVNULL, env: dict[str, str] | None = None,
              cwd: str | Path | None = None, check: bool = True) -> ChildResult:
    """Run ``cmd``; wall time and the peak RSS of that child alone (``wait4``)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(list(cmd), stdout=stdout, stderr=subprocess.PIPE, env=env, cwd=cwd)
    out = b""
    if stdout == subprocess.PIPE:
        assert p.stdout is not None
        out = p.stdout.read()
    assert p.stderr is not None
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{err.decode(errors='replace')[-2000:]}")
    return ChildResult(wall, usage.ru_maxrss * 1024, p.returncode, out, usage.ru_utime + usage.ru_stime, err)


def alternate(cmds: dict[str, Sequence[str]], repeats: int, warmup: int = 1) -> dict[str, list[ChildResult]]:
    """Run each command ``repeats`` times, interleaved, after ``warmup`` untimed rounds."""
    for _ in range(warmup):
        for c in cmds.values():
            run_child(c)
    res: dict[str, list[ChildResult]] = {k: [] for k in cmds}
    for _ in range(repeats):
        for k, c in cmds.items():
            res[k].append(run_child(c))
    return res


def median_wall(rs: Sequence[ChildResult]) -> float:
    return statistics.median(r.wall for r in rs)


def median_rss(rs: Sequence[ChildResult]) -> float:
    return statistics.median(r.maxrss for r in rs)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=f"ftdiag-bench-{prefix}-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def mb(n: float) -> float:
    return n / 1e6
