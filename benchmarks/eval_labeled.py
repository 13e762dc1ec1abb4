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
from collections.abc import Callable, Sequence
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=DEFAULT)
    args = ap.parse_args()
    with open(args.corpus / "truth.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    confusion: Counter[tuple[str, str]] = Counter()
    results = []
    for row in rows:
        res = analyze_path(args.corpus / row["file"], hyperparameters(row))[0]
        results.append(res)
        truth = row["truth_label"]
        confusion[(truth, res.label)] += 1
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
    print_advice(rows, results)
    print_compare(args.corpus, rows)


# --- advice -----------------------------------------------------------------------------
# Score: the top recommendation is one of best_moves (``keep`` when that is empty),
# averaged within each truth label, then across the three labels.

MOVES = (
    "keep",
    "n_epochs:increase",
    "n_epochs:decrease",
    "learning_rate_multiplier:increase",
    "learning_rate_multiplier:decrease",
    "batch_size:increase",
    "batch_size:decrease",
    "prompt_loss_weight:decrease",
)


def best_moves(row: dict[str, str]) -> set[str]:
    return set(filter(None, row["best_moves"].split(";"))) or {"keep"}


def advice_score(rows: Sequence[dict[str, str]], moves: Sequence[str]) -> tuple[float, dict[str, float]]:
    """Label-balanced share of runs whose move is one of their best_moves."""
    return _score([r["truth_label"] for r in rows], [best_moves(r) for r in rows], moves)


def _score(truth: Sequence[str], good: Sequence[set[str]], moves: Sequence[str]) -> tuple[float, dict[str, float]]:
    hits: dict[str, list[int]] = defaultdict(list)
    for t, g, move in zip(truth, good, moves, strict=True):
        hits[t].append(int(move in g))
    per = {t: sum(v) / len(v) for t, v in hits.items() if v}
    return sum(per.values()) / len(per), per


def top_moves(results, policy=None, labels: Sequence[str] | None = None, cache: dict | None = None) -> list[str]:  # type: ignore[no-untyped-def,type-arg]
    """The primary move of each run, re-running only the advice's decision (cheap).

    ``labels`` replaces the verdicts (e.g. by the true ones); ``cache`` keeps each
    run's settings (:func:`ftdiag.advice.context`) across calls.
    """
    from ftdiag.advice import DEFAULT_POLICY, RULE_MOVES, context, decide

    policy = policy or DEFAULT_POLICY
    cache = {} if cache is None else cache
    out = []
    for i, res in enumerate(results):
        if i not in cache:
            cache[i] = (context(res.run, res.features), frozenset(x.name for x in res.diagnosis.findings))
        ctx, found = cache[i]
        label = res.diagnosis.label if labels is None else labels[i]
        rules = decide(label, ctx, res.features, found, policy)
        out.append(RULE_MOVES[rules[0]] if rules else "keep")
    return out


def policy_grid() -> list:  # type: ignore[type-arg]
    """The thresholds a leave-one-task-out fit may choose from (defaults included)."""
    from ftdiag.advice import Policy

    grid = []
    for few in (0.0, 2.0, 3.0, 4.0, 8.0):
        for many in (2.0, 3.0, 4.0, 6.0, 99.0):
            for low in (0.02, 0.05, 0.1):
                for room in (0.1, 0.2, 0.5):
                    for first in ("learning_rate_multiplier", "n_epochs"):
                        grid.append(Policy(few, many, low, room, first))
    return grid


def loto(rows: Sequence[dict[str, str]], results, moves_for: Callable[..., list[str]]) -> tuple[float, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Leave one task out: pick the policy best on the other tasks, score the held-out one.

    Returns the label-balanced score of the pooled held-out moves, and each task's
    own label-balanced score.
    """
    import numpy as np

    grid = policy_grid()
    cache: dict = {}  # type: ignore[type-arg]
    good = [best_moves(r) for r in rows]
    all_moves = [moves_for(results, p, cache) for p in grid]
    hits = np.array([[m in g for m, g in zip(moves, good, strict=True)] for moves in all_moves], dtype=float)
    truth = np.array([r["truth_label"] for r in rows])
    task = np.array([r["task"] for r in rows])
    pooled: list[str] = [""] * len(rows)
    per_task = {}
    for t in sorted(set(task.tolist())):
        train = task != t
        by_label = [hits[:, train & (truth == lab)].mean(axis=1) for lab in LABELS if (train & (truth == lab)).any()]
        best = int(np.argmax(np.mean(by_label, axis=0)))
        test = np.flatnonzero(task == t)
        for i in test:
            pooled[i] = all_moves[best][i]
        per_task[t] = advice_score([rows[i] for i in test], [pooled[i] for i in test])[0]
    return advice_score(rows, pooled)[0], per_task


def print_advice(rows: Sequence[dict[str, str]], results) -> None:  # type: ignore[no-untyped-def]
    moves = top_moves(results)
    score, per = advice_score(rows, moves)
    print(f"advice score (top recommendation in best_moves, label-balanced): {score:.3f}")
    print("  " + "  ".join(f"{t} {per[t]:.3f}" for t in LABELS if t in per))
    fixed = {m: advice_score(rows, [m] * len(rows))[0] for m in MOVES}
    best_fixed = max(fixed, key=lambda m: fixed[m])
    print(f"best fixed rule: always {best_fixed}: {fixed[best_fixed]:.3f}  (ftdiag is {100 * (score - fixed[best_fixed]):+.1f} points)")
    print("  fixed rules: " + ", ".join(f"{m} {v:.3f}" for m, v in sorted(fixed.items(), key=lambda kv: -kv[1])))
    truth_labels = [r["truth_label"] for r in rows]
    oracle, oper = advice_score(rows, top_moves(results, labels=truth_labels))
    print(
        f"advice score given the true verdict (advice rules alone): {oracle:.3f}  ("
        + "  ".join(f"{t} {oper[t]:.3f}" for t in LABELS if t in oper)
        + ")"
    )
    pooled, per_task = loto(rows, results, lambda res, p, cache: top_moves(res, p, None, cache))
    print(
        f"leave-one-task-out (thresholds refit on the other tasks): {pooled:.3f}  ("
        + "  ".join(f"{t} {v:.3f}" for t, v in per_task.items())
        + ")"
    )
    moves_true = lambda res, p, cache: top_moves(res, p, truth_labels, cache)  # noqa: E731
    pooled_t, per_task_t = loto(rows, results, moves_true)
    print(
        f"leave-one-task-out given the true verdict: {pooled_t:.3f}  ("
        + "  ".join(f"{t} {v:.3f}" for t, v in per_task_t.items())
        + ")"
    )


# --- compare ---------------------------------------------------------------------------
# ftdiag compare over the corpus with truth.csv as the manifest, one group per task:
# the best run it names (from the logs alone) must have an ``obj`` (held-out accuracy,
# which ftdiag never sees) within the task's ``delta`` of the task's best ``obj``.


def print_compare(corpus: Path, rows: Sequence[dict[str, str]], jobs: int | None = None) -> None:
    from ftdiag.sweep import compare

    by_name = {r["file"]: r for r in rows}
    report = compare(manifest=corpus / "truth.csv", group_by="task", jobs=jobs)
    print("compare (truth.csv as manifest, --group-by task): the best run's obj against the task's best obj")
    ok = 0
    for g in report.groups:
        task = g["group"]
        best = by_name[g["best"]["run"]]
        objs = [float(r["obj"]) for r in rows if r["task"] == task]
        top, delta = max(objs), float(best["delta"])
        got = float(best["obj"])
        hit = got >= top - delta
        ok += hit
        cfg = ", ".join(f"{k} {v:g}" for k, v in g["best"]["configuration"].items() if isinstance(v, float))
        print(
            f"  {task:16s} best run {best['file']} ({cfg}): obj {got:.3f}, task best {top:.3f}, "
            f"delta {delta:.3f}: {'within' if hit else 'NOT within'}"
        )
    print(f"  {ok}/{len(report.groups)} tasks within delta")


if __name__ == "__main__":
    main()
