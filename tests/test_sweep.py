"""ftdiag compare: a small sweep built here, the labeled corpus's truth.csv as a manifest,
the CLI through CliRunner."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import ftdiag
from conftest import LABELED, SAMPLES, need
from ftdiag.cli import cli
from ftdiag.errors import InputError, UsageError
from ftdiag.sweep import compare, read_manifest, summarize

# A sweep of Keras runs: multiplier x epochs x 2 seeds. Validation accuracy rises with
# the multiplier and with epochs; the best configuration is (lrm 0.2, 6 epochs).
LRMS = (0.05, 0.1, 0.2)
EPOCHS = (3, 6)


def _curve(lrm: float, n_epochs: int, seed: int) -> list[tuple[int, float, float, float, float]]:
    rate = {0.05: 0.25, 0.1: 0.45, 0.2: 0.7}[lrm]
    out = []
    for e in range(n_epochs):
        progress = 1 - math.exp(-rate * (e + 1))
        jitter = (0.004 if seed else -0.004) * (1 if e % 2 else -1)
        va = 0.3 + 0.55 * progress + jitter
        ta = min(0.99, va + 0.02 + 0.01 * e)
        out.append((e, ta, 1.2 - ta, va, 1.25 - va))
    return out


def make_sweep(root: Path, groups: tuple[str, ...] = ("a",)) -> Path:
    runs = root / "runs"
    runs.mkdir(parents=True)
    rows = []
    for g in groups:
        for lrm in LRMS:
            for n_ep in EPOCHS:
                for seed in (0, 1):
                    name = f"{g}_lrm{lrm}_ep{n_ep}_s{seed}.csv"
                    lines = ["epoch,accuracy,loss,val_accuracy,val_loss"]
                    lines += [",".join(f"{x:.4f}" if isinstance(x, float) else str(x) for x in row) for row in _curve(lrm, n_ep, seed)]
                    (runs / name).write_text("\n".join(lines) + "\n")
                    rows.append(
                        {"file": f"runs/{name}", "task": g, "seed": seed, "n_epochs": n_ep,
                         "learning_rate_multiplier": lrm, "batch_size": 16, "n_train_examples": 400}
                    )
    manifest = root / "sweep.csv"
    with open(manifest, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return manifest


def test_best_run_effects_and_next_configuration(tmp_path: Path) -> None:
    manifest = make_sweep(tmp_path)
    rep = compare(manifest=manifest, jobs=1)
    assert not rep.errors and len(rep.rows) == 12
    (g,) = rep.groups
    assert g["n_configurations"] == 6  # seeds are replicates
    best = g["best"]
    assert best["configuration"]["learning_rate_multiplier"] == 0.2 and best["configuration"]["n_epochs"] == 6
    assert best["run"].startswith("runs/a_lrm0.2_ep6_") and best["n_replicates"] == 2
    eff = {e["parameter"]: e for e in g["effects"]}
    assert eff["learning_rate_multiplier"]["direction"] == "higher"
    assert eff["n_epochs"]["direction"] == "higher"
    assert [lv["value"] for lv in eff["learning_rate_multiplier"]["levels"]] == list(LRMS)
    # the next run changes one setting, from the best configuration
    nxt = g["next"]
    changed = {k for k, v in nxt["configuration"].items() if nxt["from"].get(k) != v}
    assert len(changed) == 1 and nxt["change"]["parameter"] in changed and nxt["reason"]
    assert nxt["change"]["action"] == "increase"
    # a grid of at most 3 x 3 around the best, containing the best itself
    assert 1 < len(g["grid"]) <= 9 and any(c == best["configuration"] for c in g["grid"])
    ranks = [r["rank"] for r in rep.rows]
    assert min(ranks) == 1 and max(ranks) == 6


def test_processes_give_the_same_report(tmp_path: Path) -> None:
    manifest = make_sweep(tmp_path)
    one = compare(manifest=manifest, jobs=1).to_dict()
    seen: list[int] = []
    two = compare(manifest=manifest, jobs=2, progress=seen.append).to_dict()
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert sum(seen) == 12


def test_group_by_a_manifest_column(tmp_path: Path) -> None:
    manifest = make_sweep(tmp_path, groups=("x", "y"))
    rep = compare(manifest=manifest, group_by="task", jobs=1)
    assert [g["group"] for g in rep.groups] == ["x", "y"]
    for g in rep.groups:
        assert g["n_runs"] == 12 and g["best"]["run"].startswith(f"runs/{g['group']}_lrm0.2_ep6")


def test_directory_without_manifest_uses_what_the_logs_say(tmp_path: Path) -> None:
    make_sweep(tmp_path)
    rep = compare([tmp_path / "runs"], jobs=1)
    assert len(rep.rows) == 12
    (g,) = rep.groups
    # epochs come from the epoch column; the multiplier is unknown, so 2 configurations
    assert g["n_configurations"] == 2 and g["best"]["configuration"]["n_epochs"] == 6
    assert g["effects"][0]["parameter"] == "n_epochs"


def test_summarize_ranks_losses_lower_first() -> None:
    def row(name: str, final: float, ep: float) -> dict[str, object]:
        c = {"name": "eval_loss", "higher_is_better": False, "best": final, "best_step": 1.0, "best_epoch": 1.0, "final": final, "n": 5, "noise": 0.01}
        return {"name": name, "config": {"n_epochs": ep}, "val_metric": None, "val_loss": c, "recommendations": [], "label": "good_fit"}

    rows = [row("a", 0.9, 1), row("b", 0.5, 2), row("c", 0.7, 3)]
    (g,) = summarize(rows)
    assert g["metric"]["curve"] == "val_loss" and g["best"]["run"] == "b"
    assert g["effects"][0]["direction"] == "peak"


def test_truth_csv_works_as_a_manifest() -> None:
    truth = need(LABELED / "truth.csv")
    jobs = read_manifest(truth)
    with open(truth, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(jobs) == len(rows)
    for job, row in zip(jobs[:50], rows[:50], strict=True):
        assert Path(job.path) == LABELED / row["file"] and Path(job.path).exists()
        assert job.hyperparameters["n_epochs"] == float(row["n_epochs"])
        assert job.hyperparameters["n_examples"] == float(row["n_train_examples"])
        assert job.input_format == row["format"]  # a known reader name is used
        assert job.labels["task"] == row["task"] and "obj" in job.labels  # kept as a label, never used


def test_compare_on_part_of_the_labeled_corpus(tmp_path: Path) -> None:
    """A subset of truth.csv, written elsewhere with paths relative to it."""
    truth = need(LABELED / "truth.csv")
    with open(truth, newline="") as fh:
        rows = list(csv.DictReader(fh))
    keep = [r for r in rows if r["task"] in ("sort", "synth_f20") and r["n_epochs"] in ("4", "8")][:60]
    rel = os.path.relpath(LABELED, tmp_path)
    for r in keep:
        r["file"] = f"{rel}/{r['file']}"
    m = tmp_path / "subset.csv"
    with open(m, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(keep[0]))
        w.writeheader()
        w.writerows(keep)
    rep = compare(manifest=m, group_by="task", jobs=2)
    assert not rep.errors and len(rep.rows) == len(keep)
    for g in rep.groups:
        mine = [r for r in keep if r["task"] == g["group"]]
        best = next(r for r in mine if r["file"].endswith(Path(g["best"]["run"]).name))
        # the best run is chosen from the logs: its final validation value is the group's top
        finals = [r["val_metric"]["final"] for r in rep.rows if r["group"] == g["group"] and r["val_metric"]]
        assert g["best"]["final"] <= max(finals) + 1e-12
        assert best["task"] == g["group"]


def test_manifest_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("run,n_epochs\nx,3\n")
    with pytest.raises(UsageError, match="path column"):
        read_manifest(bad)
    bad.write_text("path,n_epochs\nx.csv,three\n")
    with pytest.raises(InputError, match="row 2"):
        read_manifest(bad)
    with pytest.raises(UsageError, match="nope"):
        read_manifest(bad, path_column="nope")


def test_api_is_exported() -> None:
    assert ftdiag.compare is compare


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["compare", *args], catch_exceptions=False)


def test_cli_text_json_markdown(tmp_path: Path) -> None:
    manifest = make_sweep(tmp_path)
    r = invoke("--manifest", str(manifest), "-j", "1")
    assert r.exit_code == 0, r.output
    assert "best run: runs/a_lrm0.2_ep6" in r.stdout and "next run:" in r.stdout and "what the sweep shows" in r.stdout
    assert "rank" in r.stdout.splitlines()[2]
    r = invoke("--manifest", str(manifest), "-j", "1", "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["schema_version"] == 1 and doc["kind"] == "compare" and doc["ftdiag_version"] == ftdiag.__version__
    assert len(doc["runs"]) == 12 and doc["groups"][0]["best"]["configuration"]["learning_rate_multiplier"] == 0.2
    one = doc["runs"][0]
    assert set(one) >= {"source", "label", "recommendations", "config", "rank", "val_metric"}
    out = tmp_path / "sweep.md"
    r = invoke("--manifest", str(manifest), "-j", "1", "--format", "markdown", "-o", str(out))
    text = out.read_text()
    assert r.exit_code == 0 and text.startswith("# ftdiag compare") and "**Best run:**" in text and "| rank |" in text


def test_cli_paths_globs_and_progress(tmp_path: Path) -> None:
    make_sweep(tmp_path)
    r = invoke(str(tmp_path / "runs" / "*_ep6_*.csv"), "-j", "2", "--progress", "--limit", "3")
    assert r.exit_code == 0, r.output
    assert "ftdiag compare" in r.stderr  # the progress bar's label, on stderr
    assert "more (--limit 0 shows all)" in r.stdout


def test_cli_bad_inputs_exit_2_but_report_the_rest(tmp_path: Path) -> None:
    manifest = make_sweep(tmp_path)
    with open(manifest, "a") as fh:
        fh.write("runs/missing.csv,a,0,3,0.1,16,400\n")
    r = invoke("--manifest", str(manifest), "-j", "1")
    assert r.exit_code == 2
    assert "missing.csv" in r.stderr and "best run:" in r.stdout
    r = invoke("-j", "1")
    assert r.exit_code == 2 and "PATHS or --manifest" in r.stderr
    r = invoke(str(SAMPLES / "reference_overfit.csv"), "--group-by", "task")
    assert r.exit_code == 2 and "--group-by" in r.stderr


def test_cli_options_apply_to_every_run(tmp_path: Path) -> None:
    r = invoke(*(str(SAMPLES / f"reference_{x}.csv") for x in ("underfit", "good_fit", "overfit")), "-j", "1",
               "--format", "json", "--batch-size", "8")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and all(x["config"]["batch_size"] == 8 for x in doc["runs"])


def test_a_metric_of_the_other_direction_is_not_ranked_with_the_rest() -> None:
    def row(name: str, metric: str, hib: bool, final: float) -> dict[str, object]:
        c = {"name": metric, "higher_is_better": hib, "best": final, "best_step": 1.0, "best_epoch": 1.0,
             "final": final, "n": 5, "noise": 0.01}
        return {"name": name, "config": {}, "val_metric": c, "val_loss": None, "recommendations": [], "label": "good_fit"}

    rows = [row("acc1", "val_accuracy", True, 0.7), row("acc2", "eval_accuracy", True, 0.8), row("cer", "eval_cer", False, 1.0)]
    (g,) = summarize(rows)
    assert g["best"]["run"] == "acc2" and g["unranked"] == ["cer"] and g["metric"]["mixed"]
    assert rows[2]["rank"] is None


def test_json_report_text_is_what_json_indents() -> None:
    """The fast indented JSON of a compare report is json.dumps(indent=2)'s text."""
    import random
    import struct

    from ftdiag.render.sweep import indented_json

    truth = need(LABELED / "truth.csv")
    rows = read_manifest(truth)[:40]
    doc = compare([j.path for j in rows], jobs=1).to_dict()
    rng = random.Random(0)
    floats = [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(3000)]
    tricky = {
        "floats": [x for x in floats if math.isfinite(x)] + [1e16, 1e-7, -0.0, 5e-324, 2**70],
        "text": ["é\u2028\x1b\x00 \"\\", "", "a: b, [c]", "\u202e"],
        "empty": [[], {}, [{}], {"a": []}],
    }
    for d in (doc, tricky):
        assert indented_json(d) == json.dumps(d, indent=2, allow_nan=False, ensure_ascii=False)
    assert indented_json({"bad": "\ud800"}) == json.dumps({"bad": "\ud800"}, indent=2, ensure_ascii=False)
