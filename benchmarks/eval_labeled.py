"""Evaluate ftdiag's verdicts and advice on the labeled corpus.

    python benchmarks/eval_labeled.py [--corpus ../shared/corpus/labeled] [--no-loto]

Prints, for ftdiag and for three simple rules computed here (a train-validation
gap threshold, patience-3 early stopping, Prechelt's GL5): balanced accuracy
(mean of per-class recalls; ``inconclusive`` counts as wrong, and its rate is
given separately), per-class recall, the confusion matrix, the share of
good_fit runs called overfit, and calibration by confidence bucket. Because
the verdict model is fitted on this corpus (benchmarks/fit_verdict_model.py),
the same figures are printed leaving one task out: each task's runs judged by
a model fitted (and calibrated) on the other tasks only.

Then the advice figures (see ``print_advice``): how often the top
recommendation is one of ``best_moves`` (``keep`` when that is empty).
Hyperparameters are passed from truth.csv as a user would pass them.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ftdiag.api import analyze_path  # noqa: E402
from ftdiag.diagnosis import LABELS  # noqa: E402
from ftdiag.run import Run, Series  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "labeled"
HP_KEYS = ("n_epochs", "learning_rate_multiplier", "batch_size", "prompt_loss_weight")
COLS = list(LABELS) + ["inconclusive"]


def hyperparameters(row: dict[str, str]) -> dict[str, float]:
    hp = {k: float(row[k]) for k in HP_KEYS if row.get(k)}
    if row.get("n_train_examples"):
        hp["n_examples"] = float(row["n_train_examples"])
    return hp


# --------------------------------------------------------------------------
# verdict figures

# (truth, predicted label, confidence)
Verdict = tuple[str, str, float]


def verdict_figures(verdicts: Sequence[Verdict]) -> dict[str, float]:
    confusion = Counter((t, p) for t, p, _ in verdicts)
    out: dict[str, float] = {}
    for t in LABELS:
        n = sum(v for (a, _), v in confusion.items() if a == t)
        out[f"recall_{t}"] = confusion[(t, t)] / n if n else float("nan")
    out["balanced_accuracy"] = sum(out[f"recall_{t}"] for t in LABELS) / len(LABELS)
    out["inconclusive_rate"] = sum(p == "inconclusive" for _, p, _ in verdicts) / len(verdicts)
    n_good = sum(t == "good_fit" for t, _, _ in verdicts)
    out["good_fit_called_overfit"] = confusion[("good_fit", "overfit")] / n_good if n_good else float("nan")
    return out


def print_verdicts(title: str, verdicts: Sequence[Verdict], calibration: bool = True) -> dict[str, float]:
    fig = verdict_figures(verdicts)
    confusion = Counter((t, p) for t, p, _ in verdicts)
    print(f"== {title}")
    print(
        f"balanced accuracy: {fig['balanced_accuracy']:.3f}   (inconclusive counted wrong; "
        f"inconclusive rate {fig['inconclusive_rate']:.3f})"
    )
    print("  recall " + "  ".join(f"{t} {fig['recall_' + t]:.3f}" for t in LABELS))
    print(f"  good_fit runs called overfit: {fig['good_fit_called_overfit']:.3f}")
    print("  confusion (rows truth, columns predicted):")
    print("            " + " ".join(f"{c:>12s}" for c in COLS))
    for t in LABELS:
        print(f"  {t:9s} " + " ".join(f"{confusion[(t, c)]:12d}" for c in COLS))
    if calibration:
        print_calibration(verdicts)
    return fig


BUCKETS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)


def print_calibration(verdicts: Sequence[Verdict]) -> None:
    """Accuracy by confidence bucket (inconclusive verdicts have no confidence to check)."""
    judged = [(t == p, c) for t, p, c in verdicts if p != "inconclusive"]
    print("  calibration (verdicts other than inconclusive):")
    print("    confidence      runs  mean conf  accuracy")
    gaps = []
    for lo, hi in zip(BUCKETS[:-1], BUCKETS[1:], strict=True):
        sel = [(ok, c) for ok, c in judged if lo <= c < hi]
        if not sel:
            continue
        acc = sum(ok for ok, _ in sel) / len(sel)
        mc = sum(c for _, c in sel) / len(sel)
        gaps.append(len(sel) * abs(acc - mc))
        print(f"    {lo:.1f}-{min(hi, 1.0):.1f}     {len(sel):6d}     {mc:.3f}     {acc:.3f}")
    if judged:
        print(f"    expected calibration error: {sum(gaps) / len(judged):.3f}")


# --------------------------------------------------------------------------
# the simple rules people use, computed here from the raw curves


def _fin(s: Series | None) -> Series | None:
    if s is None:
        return None
    f = s.finite.as_numpy()  # a small file's columns are array('d'): these rules use numpy's
    return f if len(f) else None


def _still_best_at_end(run: Run) -> bool:
    """The naive reading of 'still improving': the last evaluation is the best."""
    v = _fin(run.val_metric) or _fin(run.val_loss)
    if v is None:
        return False
    o = v.values if v.higher_is_better else -v.values
    return bool(o[-1] >= o.max())


def rule_gap(run: Run, threshold: float = 0.10) -> str:
    """Overfit when the final train-validation gap exceeds 10 accuracy points
    (10% of the training loss when no accuracy is logged); underfit when the
    last evaluation is the best; else good fit."""
    tm, vm = _fin(run.train_metric), _fin(run.val_metric)
    tl, vl = _fin(run.train_loss), _fin(run.val_loss)
    if vm is None and vl is None:
        return "inconclusive"
    if tm is not None and vm is not None:
        gap = float(tm.values[-1] - vm.values[-1])
    elif tl is not None and vl is not None and tl.values[-1] > 0:
        gap = float((vl.values[-1] - tl.values[-1]) / tl.values[-1])
    else:
        gap = 0.0
    if gap > threshold:
        return "overfit"
    return "underfit" if _still_best_at_end(run) else "good_fit"


def rule_patience(run: Run, patience: int = 3) -> str:
    """Overfit when early stopping on validation loss with patience 3 would have
    stopped before the end; underfit when the last evaluation is the best."""
    v = _fin(run.val_loss) or _fin(run.val_metric)
    if v is None:
        return "inconclusive"
    o = v.values if v.higher_is_better else -v.values
    best, wait = -math.inf, 0
    for x in o[:-1].tolist():
        if x > best:
            best, wait = x, 0
        else:
            wait += 1
            if wait >= patience:
                return "overfit"
    return "underfit" if _still_best_at_end(run) else "good_fit"


def rule_gl5(run: Run, threshold: float = 5.0) -> str:
    """Prechelt's GL5: overfit when validation loss ever rose 5% above its
    minimum so far; underfit when the last evaluation is the best."""
    v = _fin(run.val_loss)
    if v is None:
        return "inconclusive" if _fin(run.val_metric) is None else (
            "underfit" if _still_best_at_end(run) else "good_fit"
        )
    e = v.values
    if np.all(e > 0):
        gl = 100.0 * (e / np.minimum.accumulate(e) - 1.0)
        if np.any(gl > threshold):
            return "overfit"
    return "underfit" if _still_best_at_end(run) else "good_fit"


RULES = {
    "train-validation gap > 10 points": rule_gap,
    "patience-3 early stopping": rule_patience,
    "Prechelt GL5": rule_gl5,
}


def evaluate_verdicts(rows: Sequence[dict[str, str]], results: Sequence) -> dict[str, dict[str, float]]:  # type: ignore[type-arg]
    """ftdiag's figures and the three simple rules', on the same runs."""
    ours = [(row["truth_label"], r.label, r.confidence) for row, r in zip(rows, results, strict=True)]
    out = {"ftdiag": print_verdicts("ftdiag (coefficients fitted on the whole corpus)", ours)}
    for name, rule in RULES.items():
        vs = [(row["truth_label"], rule(r.run), 1.0) for row, r in zip(rows, results, strict=True)]
        out[name] = print_verdicts(f"simple rule: {name}", vs, calibration=False)
    return out


def evaluate_loto(corpus: Path) -> dict[str, float]:
    """Each task's runs judged by models fitted and calibrated without that task."""
    import fit_verdict_model as fvm
    from ftdiag.diagnosis import diagnose

    items = fvm.load(corpus)
    verdicts: list[Verdict] = []
    per_task: dict[str, list[Verdict]] = defaultdict(list)
    for task in sorted({it.task for it in items}):
        models = fvm.fit_all([it for it in items if it.task != task])
        for it in items:
            if it.task == task:
                d = diagnose(it.run, it.features, models=models)
                v = (it.truth, d.label, d.confidence)
                verdicts.append(v)
                per_task[task].append(v)
    fig = print_verdicts("ftdiag leaving one task out (the figure that counts)", verdicts)
    print("  per held-out task: " + "  ".join(
        f"{t} {verdict_figures(v)['balanced_accuracy']:.3f}" for t, v in per_task.items()
    ))
    return fig


def print_verdict_report(rows: Sequence[dict[str, str]], results, corpus: Path, loto: bool = True) -> None:  # type: ignore[no-untyped-def]
    figs = evaluate_verdicts(rows, results)
    best_rule = max(v["balanced_accuracy"] for k, v in figs.items() if k != "ftdiag")
    print(f"best simple rule: {best_rule:.3f}")
    if loto:
        fig = evaluate_loto(corpus)
        print(f"leave-one-task-out margin over the best simple rule: {fig['balanced_accuracy'] - best_rule:+.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=DEFAULT)
    ap.add_argument("--no-loto", action="store_true", help="skip the verdict model's leave-one-task-out refits")
    ap.add_argument(
        "--no-hyperparameters", action="store_true", help="pass no hyperparameters (a user who gives none)"
    )
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    with open(args.corpus / "truth.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    results = []
    for row in rows:
        hp = None if args.no_hyperparameters else hyperparameters(row)
        results.append(analyze_path(args.corpus / row["file"], hp)[0])
    print(f"runs: {len(rows)}")
    print_verdict_report(rows, results, args.corpus, loto=not args.no_loto)
    print_advice(rows, results, None if args.no_loto else args.corpus)
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


def policy_blocks() -> dict[str, list[dict[str, object]]]:
    """The thresholds a leave-one-task-out fit may choose from (defaults included),
    by the verdict whose runs they affect. A run's move depends on one block only,
    and the score is a weighted sum over runs, so each block is fitted on its own."""
    underfit = [
        {"few_steps_per_epoch": few, "underfit_many_epochs": many, "lrm_low": low, "lrm_room": room}
        for few in (0.0, 2.0, 3.0, 4.0, 8.0)
        for many in (2.0, 3.0, 4.0, 6.0, 99.0)
        for low in (0.02, 0.05, 0.1)
        for room in (0.1, 0.2, 0.5)
    ]
    return {
        "overfit": [{"overfit_first": v} for v in ("learning_rate_multiplier", "n_epochs")],
        "underfit": underfit,
        "inconclusive": [{"lrm_far_above": v} for v in (1.0, 2.0, 5.0, 1e9)],
    }


def loto(rows: Sequence[dict[str, str]], results, labels: Sequence[str] | None = None) -> tuple[float, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Leave one task out: fit the policy's thresholds on the other tasks, score the
    held-out one. ``labels`` replaces the verdicts (e.g. by the true ones).

    Returns the label-balanced score of the pooled held-out moves, and each task's
    own label-balanced score.
    """
    from dataclasses import replace

    from ftdiag.advice import DEFAULT_POLICY

    used = [res.diagnosis.label for res in results] if labels is None else list(labels)
    good = [best_moves(r) for r in rows]
    truth = [r["truth_label"] for r in rows]
    cache: dict = {}  # type: ignore[type-arg]
    blocks = policy_blocks()
    # hits of every candidate of every block, on every run
    hits = {
        block: [[m in g for m, g in zip(top_moves(results, replace(DEFAULT_POLICY, **c), labels, cache), good, strict=True)] for c in cands]
        for block, cands in blocks.items()
    }
    tasks = sorted({r["task"] for r in rows})
    pooled: list[str] = [""] * len(rows)
    per_task = {}
    for t in tasks:
        chosen: dict[str, object] = {}
        train = [i for i, r in enumerate(rows) if r["task"] != t]
        w = Counter(truth[i] for i in train)
        for block, cands in blocks.items():
            mine = [i for i in train if used[i] == block]
            best = max(range(len(cands)), key=lambda k: sum(hits[block][k][i] / w[truth[i]] for i in mine))
            chosen.update(cands[best])
        policy = replace(DEFAULT_POLICY, **chosen)  # type: ignore[arg-type]
        test = [i for i, r in enumerate(rows) if r["task"] == t]
        moves = top_moves([results[i] for i in test], policy, None if labels is None else [labels[i] for i in test])
        for i, m in zip(test, moves, strict=True):
            pooled[i] = m
        per_task[t] = advice_score([rows[i] for i in test], moves)[0]
    return advice_score(rows, pooled)[0], per_task


def heldout_labels(corpus: Path, rows: Sequence[dict[str, str]]) -> list[str]:
    """Each run's verdict from the verdict model fitted without its task (as
    ``evaluate_loto`` does), aligned with ``rows``."""
    import fit_verdict_model as fvm
    from ftdiag.diagnosis import diagnose

    items = fvm.load(corpus)
    by_file: dict[str, str] = {}
    for task in sorted({it.task for it in items}):
        models = fvm.fit_all([it for it in items if it.task != task])
        for it in items:
            if it.task == task:
                by_file[it.row["file"]] = diagnose(it.run, it.features, models=models).label
    return [by_file[r["file"]] for r in rows]


def print_advice(rows: Sequence[dict[str, str]], results, corpus: Path | None = None) -> None:  # type: ignore[no-untyped-def]
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
    pooled, per_task = loto(rows, results)
    print(
        f"leave-one-task-out (thresholds refit on the other tasks): {pooled:.3f}  ("
        + "  ".join(f"{t} {v:.3f}" for t, v in per_task.items())
        + ")"
    )
    if corpus is not None:
        held = heldout_labels(corpus, rows)
        pooled_h, per_task_h = loto(rows, results, held)
        print(
            f"leave-one-task-out for both the verdict model and the advice thresholds (the figure that counts): "
            f"{pooled_h:.3f}  (" + "  ".join(f"{t} {v:.3f}" for t, v in per_task_h.items()) + ")"
        )
    pooled_t, per_task_t = loto(rows, results, truth_labels)
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
