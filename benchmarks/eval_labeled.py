"""Evaluate ftdiag's verdicts and advice on the labeled corpus.

    python benchmarks/eval_labeled.py [--corpus ../shared/corpus/labeled]

Prints balanced accuracy (mean of per-class recalls; ``inconclusive`` counts
as wrong), per-class recall, the confusion matrix, and how often the top
recommendation is one of ``best_moves`` (``keep`` when that is empty).
Hyperparameters are passed from truth.csv as a user would pass them.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ftdiag.api import analyze_path  # noqa: E402
from ftdiag.diagnosis import LABELS  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "labeled"
HP_KEYS = ("n_epochs", "learning_rate_multiplier", "batch_size", "prompt_loss_weight")


def hyperparameters(row: dict[str, str]) -> dict[str, float]:
    hp = {k: float(row[k]) for k in HP_KEYS if row.get(k)}
    if row.get("n_train_examples"):
        hp["n_examples"] = float(row["n_train_examples"])
    return hp


def move_of(result) -> str:  # type: ignore[no-untyped-def]
    if not result.recommendations:
        return "keep"
    top = result.recommendations[0]
    return "keep" if top.action == "keep" else f"{top.parameter}:{top.action}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=DEFAULT)
    args = ap.parse_args()
    with open(args.corpus / "truth.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    confusion: Counter[tuple[str, str]] = Counter()
    advice: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        res = analyze_path(args.corpus / row["file"], hyperparameters(row))[0]
        truth = row["truth_label"]
        confusion[(truth, res.label)] += 1
        moves = set(filter(None, row["best_moves"].split(";"))) or {"keep"}
        advice[truth].append(int(move_of(res) in moves))
    recalls = {}
    for t in LABELS:
        n = sum(v for (a, _), v in confusion.items() if a == t)
        recalls[t] = confusion[(t, t)] / n if n else float("nan")
    bal = sum(recalls.values()) / len(recalls)
    print(f"runs: {len(rows)}")
    print(f"balanced accuracy: {bal:.3f}")
    for t in LABELS:
        print(f"  recall {t:9s} {recalls[t]:.3f}")
    cols = list(LABELS) + ["inconclusive"]
    print("confusion (rows truth, columns predicted):")
    print("            " + " ".join(f"{c:>12s}" for c in cols))
    for t in LABELS:
        print(f"  {t:9s} " + " ".join(f"{confusion[(t, c)]:12d}" for c in cols))
    score = sum(sum(v) / len(v) for v in advice.values()) / len(advice)
    print(f"advice score (top recommendation in best_moves, label-balanced): {score:.3f}")


if __name__ == "__main__":
    main()
