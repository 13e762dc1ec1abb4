"""Synthetic inputs for the benchmarks, written to a temporary directory.

Curves look like real runs (a decaying loss with noise, an accuracy that rises,
validation that bottoms out and then slowly worsens) so that every stage of the
analysis does its real work; the numbers are seeded and reproducible.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path


def _loss(i: int, n: int, rng: random.Random) -> float:
    x = i / n
    return 0.35 + 2.2 * math.exp(-6 * x) + rng.gauss(0, 0.08)


def _val_loss(i: int, n: int, rng: random.Random) -> float:
    x = i / n
    return 0.6 + 2.0 * math.exp(-6 * x) + 0.5 * max(0.0, x - 0.6) ** 2 + rng.gauss(0, 0.03)


def openai_csv(path: Path, n_steps: int, val_every: int = 10, seed: int = 0) -> Path:
    """An OpenAI fine-tuning results file (current columns) of ``n_steps`` rows."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy,"
                 "full_valid_loss,full_valid_mean_token_accuracy\n")
        buf: list[str] = []
        for i in range(1, n_steps + 1):
            tl = _loss(i, n_steps, rng)
            ta = min(1.0, max(0.0, 1.05 - tl / 2.6))
            if i % val_every == 0:
                vl = _val_loss(i, n_steps, rng)
                va = min(1.0, max(0.0, 1.0 - vl / 2.8))
                val = f"{vl:.5f},{va:.5f}"
            else:
                val = ","
            full = f"{_val_loss(i, n_steps, rng):.5f},0.71234" if i == n_steps else ","
            buf.append(f"{i},{tl:.5f},{ta:.5f},{val},{full}\n")
            if len(buf) >= 10000:
                fh.write("".join(buf))
                buf.clear()
        fh.write("".join(buf))
    return path


def trainer_state(path: Path, n_entries: int, eval_every: int = 10, seed: int = 0) -> Path:
    """A Hugging Face ``trainer_state.json`` with ``n_entries`` log_history entries
    (a training entry per logged step, an evaluation entry every ``eval_every``)."""
    rng = random.Random(seed)
    n_eval = n_entries // (eval_every + 1)
    n_train = n_entries - n_eval - 1
    steps_per_epoch = max(1, n_train // 3)
    history: list[dict[str, float]] = []
    step = 0
    for _ in range(n_train):
        step += 1
        history.append({
            "epoch": round(step / steps_per_epoch, 4),
            "grad_norm": round(abs(rng.gauss(1.5, 0.4)), 4),
            "learning_rate": 5e-5 * (1 - step / (n_train + 1)),
            "loss": round(_loss(step, n_train, rng), 4),
            "step": step,
        })
        if step % eval_every == 0 and len(history) < n_entries - 1:
            vl = _val_loss(step, n_train, rng)
            history.append({
                "epoch": round(step / steps_per_epoch, 4),
                "eval_accuracy": round(min(1.0, 1.0 - vl / 2.8), 4),
                "eval_loss": round(vl, 4),
                "eval_runtime": 12.3,
                "eval_samples_per_second": 81.2,
                "eval_steps_per_second": 10.2,
                "step": step,
            })
    history.append({"epoch": 3.0, "step": step, "total_flos": 1.2e15, "train_loss": 0.9,
                    "train_runtime": 9876.5, "train_samples_per_second": 12.3, "train_steps_per_second": 1.5})
    state = {
        "best_metric": None, "best_model_checkpoint": None, "epoch": 3.0, "eval_steps": eval_every,
        "global_step": step, "is_hyper_param_search": False, "is_local_process_zero": True,
        "is_world_process_zero": True, "log_history": history, "logging_steps": 1,
        "max_steps": step, "num_train_epochs": 3, "save_steps": 500, "train_batch_size": 8,
    }
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=2)
    return path


def tf_event_file(directory: Path, n_scalars: int, seed: int = 0) -> Path:
    """A TensorBoard event file (PyTorch SummaryWriter's layout: one simple_value
    per Event) of ``n_scalars`` points: train/loss and train/learning_rate every
    step, eval/loss and eval/accuracy every 10 steps. Needs ``tensorboard`` and
    ``google-crc32c`` (the ``bench`` extra)."""
    import struct

    import google_crc32c
    from tensorboard.compat.proto import event_pb2

    def masked(b: bytes) -> int:
        crc = google_crc32c.value(b)
        return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    def record(data: bytes) -> bytes:
        head = struct.pack("<Q", len(data))
        return head + struct.pack("<I", masked(head)) + data + struct.pack("<I", masked(data))

    rng = random.Random(seed)
    n_steps = max(1, int(n_scalars / 2.2))
    path = directory / "events.out.tfevents.1700000000.bench.1.0"
    ev = event_pb2.Event()
    written = 0
    with open(path, "wb") as fh:
        ev.wall_time = 1.7e9
        ev.file_version = "brain.Event:2"
        fh.write(record(ev.SerializeToString()))
        ev = event_pb2.Event()
        v = ev.summary.value.add()
        buf: list[bytes] = []
        step = 0
        while written < n_scalars:
            step += 1
            points = [("train/loss", _loss(step, n_steps, rng)), ("train/learning_rate", 5e-5 * (1 - step / (n_steps + 1)))]
            if step % 10 == 0:
                vl = _val_loss(step, n_steps, rng)
                points += [("eval/loss", vl), ("eval/accuracy", 1.0 - vl / 2.8)]
            for tag, value in points:
                if written >= n_scalars:
                    break
                ev.wall_time = 1.7e9 + step
                ev.step = step
                v.tag = tag
                v.simple_value = value
                buf.append(record(ev.SerializeToString()))
                written += 1
            if len(buf) >= 20000:
                fh.write(b"".join(buf))
                buf.clear()
        fh.write(b"".join(buf))
    return path


def small_runs(directory: Path, n_runs: int, steps: int = 120, seed: int = 0) -> list[Path]:
    """``n_runs`` small OpenAI results files (``steps`` rows, validation every 4
    steps), as a sweep leaves them: one folder per run. Curves differ by run
    (under-, well and over-trained) so that each analysis does its real work."""
    rng = random.Random(seed)
    paths = []
    for i in range(n_runs):
        d = directory / f"run_{i:06d}"
        d.mkdir(parents=True)
        speed = rng.choice([1.0, 3.0, 6.0])
        over = rng.choice([0.0, 0.3, 1.0])
        rows = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
        for s in range(1, steps + 1):
            x = s / steps
            tl = 0.3 + 2.0 * math.exp(-speed * x) + rng.gauss(0, 0.05)
            ta = min(1.0, max(0.0, 1.0 - tl / 2.5))
            if s % 4 == 0:
                vl = 0.5 + 2.0 * math.exp(-speed * x) + over * x * x + rng.gauss(0, 0.03)
                rows.append(f"{s},{tl:.5f},{ta:.5f},{vl:.5f},{min(1.0, max(0.0, 1.0 - vl / 2.8)):.5f}")
            else:
                rows.append(f"{s},{tl:.5f},{ta:.5f},,")
        p = d / "step_metrics.csv"
        p.write_text("\n".join(rows) + "\n")
        paths.append(p)
    return paths


def hf_stdout(path: Path, size_bytes: int, seed: int = 0) -> Path:
    """A Hugging Face Trainer console log of about ``size_bytes``: tqdm bars
    (several ``\\r`` updates per logged step), a training dict per step, an
    evaluation dict every 50, warnings now and then, a summary at the end."""
    rng = random.Random(seed)
    per_step = 255  # bytes written per logged step, roughly
    n_steps = max(10, size_bytes // per_step)
    total = n_steps * 10
    buf: list[str] = []
    written = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("***** Running training *****\n  Num examples = 80000\n  Num Epochs = 3\n")
        for s in range(1, n_steps + 1):
            epoch = 3.0 * s / n_steps
            it = s * 10
            for k in range(3):
                buf.append(f"\r {100 * it // total:3d}%|#####     | {it - 3 + k}/{total} [01:02<03:04, {rng.uniform(4, 6):.2f}it/s]")
            buf.append(
                f"\n{{'loss': {_loss(s, n_steps, rng):.4f}, 'grad_norm': {abs(rng.gauss(1.5, 0.4)):.4f}, "
                f"'learning_rate': {5e-5 * (1 - s / (n_steps + 1)):.4e}, 'epoch': {epoch:.4f}}}\n"
            )
            if s % 50 == 0:
                vl = _val_loss(s, n_steps, rng)
                buf.append(
                    f"{{'eval_loss': {vl:.4f}, 'eval_accuracy': {1 - vl / 2.8:.4f}, 'eval_runtime': 12.34, "
                    f"'eval_samples_per_second': 81.2, 'eval_steps_per_second': 10.1, 'epoch': {epoch:.4f}}}\n"
                )
            if s % 997 == 0:
                buf.append("UserWarning: torch.utils.checkpoint: please pass in use_reentrant=True or use_reentrant=False explicitly.\n")
            if len(buf) >= 8000:
                chunk = "".join(buf)
                fh.write(chunk)
                written += len(chunk)
                buf.clear()
        buf.append("{'train_runtime': 9876.5, 'train_samples_per_second': 24.3, 'train_steps_per_second': 3.04, 'train_loss': 0.91, 'epoch': 3.0}\n")
        fh.write("".join(buf))
    return path
