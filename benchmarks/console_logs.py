"""Large console logs: ``ftdiag analyze`` on 1 GB Keras and nanoGPT captures.

    python benchmarks/console_logs.py [--quick] [--size-mb N]

Generates, in a temporary directory, console captures of about ``--size-mb``
(1000 MB; 100 MB with ``--quick``) in the shapes people save:

* a Keras ``model.fit`` verbose=1 log: every progress update kept
  (``ETA:`` lines joined by ``\\r``), the final bar of each epoch with ``val_*``;
* a nanoGPT log (``iter N: loss X, time ...`` lines, an evaluation every 250).

For each: wall time, throughput and peak memory (``ru_maxrss`` of the child),
against the target of issue 7 (< 300 MB peak on 1 GB). The Hugging Face
console log has its own benchmark, ``huge_log.py``; ``--with-hf`` adds one here
(tqdm bars with ``\\r`` updates, a dict line every 50 steps).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, compile_ftdiag, ftdiag_cmd, mb, print_table, run_child, workdir  # noqa: E402

PEAK_TARGET_MB = 300.0


def write_hf(fh: TextIO, size: int) -> None:
    step, epoch_steps = 0, 5000
    bar = "{p:3d}%|{b:<40}| {s}/{t} [01:02<03:04,  5.67it/s]"
    while fh.tell() < size:
        step += 1
        total = epoch_steps * 20
        fh.write("\r" + bar.format(p=100 * step // total % 101, b="#" * (step % 40), s=step, t=total))
        if step % 50 == 0:
            ep = step / epoch_steps
            loss = 2.0 * math.exp(-ep / 4) + 0.01 * math.sin(step)
            fh.write(f"\n{{'loss': {loss:.4f}, 'grad_norm': 1.23, 'learning_rate': 2e-05, 'epoch': {ep:.2f}}}\n")
        if step % epoch_steps == 0:
            ep = step / epoch_steps
            fh.write(f"\n{{'eval_loss': {1.5 * math.exp(-ep / 5) + 0.02 * ep:.4f}, 'eval_accuracy': 0.8, "
                     f"'eval_runtime': 12.3, 'epoch': {ep:.1f}}}\n")
    fh.write("\n{'train_runtime': 100.0, 'train_loss': 0.5, 'epoch': 20.0}\n")


def write_keras(fh: TextIO, size: int) -> None:
    epoch, n_batches = 0, 1875
    while fh.tell() < size:
        epoch += 1
        fh.write(f"Epoch {epoch}/100000\n")
        loss = 2.0 * math.exp(-epoch / 30)
        for b in range(1, n_batches, 3):
            fh.write(f"\r{b:4d}/{n_batches} [{'=' * (30 * b // n_batches):.<30}] - ETA: 3s - loss: {loss + 0.1:.4f} - accuracy: 0.5000")
        fh.write(f"\r{n_batches}/{n_batches} [==============================] - 5s 2ms/step - loss: {loss:.4f} "
                 f"- accuracy: 0.8000 - val_loss: {loss * 1.1 + 0.001 * epoch:.4f} - val_accuracy: 0.7800\n")


def write_nanogpt(fh: TextIO, size: int) -> None:
    it = 0
    while fh.tell() < size:
        loss = 4.0 * math.exp(-it / 200000) + 0.5
        if it % 250 == 0:
            fh.write(f"step {it}: train loss {loss:.4f}, val loss {loss * 1.05:.4f}\n")
        fh.write(f"iter {it}: loss {loss + 0.05 * math.sin(it):.4f}, time 143.12ms, mfu 12.34%\n")
        it += 1


WRITERS: dict[str, Callable[[TextIO, int], None]] = {
    "keras_stdout": write_keras,
    "nanogpt_stdout": write_nanogpt,
}


def run(quick: bool = False, size_mb: float | None = None, with_hf: bool = False) -> list[Figure]:
    size_mb = size_mb or (100.0 if quick else 1000.0)
    compile_ftdiag()
    figures: list[Figure] = []
    writers = {"hf_stdout": write_hf, **WRITERS} if with_hf else WRITERS
    with workdir("console") as d:
        for fmt, writer in writers.items():
            path = d / f"{fmt}.log"
            with open(path, "w", encoding="utf-8", newline="") as fh:
                writer(fh, int(size_mb * 1e6))
            size = path.stat().st_size
            r = run_child([*ftdiag_cmd(), "analyze", str(path), "--format", "json"])
            path.unlink()
            figures += [
                Figure("console_logs", f"{fmt} {mb(size):.0f} MB: peak memory", mb(r.maxrss), "MB",
                       f"< {PEAK_TARGET_MB:.0f}", mb(r.maxrss) < PEAK_TARGET_MB),
                Figure("console_logs", f"{fmt} {mb(size):.0f} MB: wall time", r.wall, "s", "", None,
                       f"{mb(size) / r.wall:.0f} MB/s"),
            ]
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100 MB files instead of 1000 MB")
    ap.add_argument("--size-mb", type=float)
    ap.add_argument("--with-hf", action="store_true", help="also a Hugging Face console log (see huge_log.py)")
    args = ap.parse_args()
    print_table(run(args.quick, args.size_mb, args.with_hf))


if __name__ == "__main__":
    main()
