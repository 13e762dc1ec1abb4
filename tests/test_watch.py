"""``ftdiag watch``: a real writer process, half-written lines, rewritten,
replaced and truncated files, Ctrl-C, --idle-timeout and --exit-on."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import ftdiag
from conftest import ROOT, SAMPLES
from ftdiag.cli import cli
from ftdiag.hyperparams import Hyperparameters
from ftdiag.watch import Watcher, complete_prefix, describe, watch

# a writer that appends a file in pieces, cutting every line in two with a
# flush (and a pause) in between, as a trainer's CSV logger does when caught
# mid-write
APPEND_WRITER = textwrap.dedent(
    """
    import sys, time
    src, dst, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    lines = open(src, newline="").read().splitlines(keepends=True)
    with open(dst, "w", newline="") as fh:
        for ln in lines:
            half = len(ln) // 2
            fh.write(ln[:half]); fh.flush(); time.sleep(delay)
            fh.write(ln[half:]); fh.flush(); time.sleep(delay)
    """
)

# rewrites trainer_state.json in place at each "save", log_history growing,
# leaving the document half-written for a moment each time (as json.dump into
# an open("w") file does)
REWRITE_WRITER = textwrap.dedent(
    """
    import json, sys, time
    src, dst, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    state = json.load(open(src))
    history = state["log_history"]
    for n in range(1, len(history) + 1):
        text = json.dumps(dict(state, log_history=history[:n]), indent=2)
        with open(dst, "w") as fh:
            fh.write(text[: len(text) // 2]); fh.flush(); time.sleep(delay)
            fh.write(text[len(text) // 2:]); fh.flush()
        time.sleep(delay)
    """
)

VERDICT_LINE = re.compile(r"^(step|epoch) [\d,.]+: (UNDERFIT|GOOD FIT|OVERFIT|INCONCLUSIVE) \(confidence [\d.]+\): .+")


def start_writer(script: str, src: Path, dst: Path, delay: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", script, str(src), str(dst), str(delay)])


def watch_cli(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["watch", *args])


def watch_while_writing(script: str, src: Path, dst: Path, delay: float, *args: str, kill: bool = False):  # type: ignore[no-untyped-def]
    """Run ``ftdiag watch DST ARGS`` while a writer process writes SRC into DST."""
    writer = start_writer(script, src, dst, delay)
    try:
        return watch_cli(str(dst), *args)
    finally:
        if kill:
            writer.kill()
        writer.wait(timeout=60)


def test_follows_a_csv_written_row_by_row(tmp_path: Path) -> None:
    dst = tmp_path / "training.log"
    r = watch_while_writing(APPEND_WRITER, SAMPLES / "reference_overfit.csv", dst, 0.01,
                            "--interval", "0.05", "--idle-timeout", "2", "--format", "jsonl")
    assert r.exit_code == 0, r.output
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events and all(VERDICT_LINE.match(e["message"]) for e in events)
    # each line is a change
    labels = [e["label"] for e in events]
    assert all(a != b for a, b in zip(labels, labels[1:], strict=False))
    # the verdict it ends on is what 'analyze' says of the finished file
    assert labels[-1] == ftdiag.analyze(dst).label
    assert "no change for 2 s" in r.stderr and "Traceback" not in r.output
    assert dst.read_bytes() == (SAMPLES / "reference_overfit.csv").read_bytes()


def test_exit_on_overfit_exits_1_while_the_writer_goes_on(tmp_path: Path) -> None:
    dst = tmp_path / "training.log"
    r = watch_while_writing(APPEND_WRITER, SAMPLES / "reference_overfit.csv", dst, 0.02,
                            "--interval", "0.05", "--idle-timeout", "20", "--exit-on", "overfit", kill=True)
    assert r.exit_code == 1, r.output
    last = r.stdout.strip().splitlines()[-1]
    assert VERDICT_LINE.match(last) and "OVERFIT" in last
    assert re.search(r"overfitting since epoch [\d,]+: validation val_loss up \d+% from its best", last)
    assert "reached overfit" in r.stderr


def test_exit_on_ignores_a_verdict_resting_on_one_or_two_validation_points(tmp_path: Path) -> None:
    """With hyperparameters known, two epochs get a weak verdict (few_points model): told,
    but it must not stop a training run; the third epoch's curve verdict does."""
    rows = (SAMPLES / "reference_overfit.csv").read_text().splitlines(keepends=True)
    dst = tmp_path / "training.log"
    hp = Hyperparameters(learning_rate_multiplier=2.0, n_examples=800, batch_size=8, n_epochs=2)
    ticks = iter(range(10_000))

    def follow(n_rows: int) -> tuple[int, list[str | None]]:
        dst.write_text("".join(rows[: n_rows + 1]))
        events: list[str | None] = []
        out = watch(dst, lambda e: events.append(e.label), interval=1, idle_timeout=3, exit_on={"overfit", "underfit", "good_fit"},
                    hyperparameters=hp, sleep=lambda s: None, clock=lambda: float(next(ticks)))
        return out.status, events

    status, events = follow(2)
    weak = ftdiag.analyze(dst, hyperparameters=hp)
    assert "few_validation_points" in {f.name for f in weak.findings}
    assert events and events[-1] in {"overfit", "underfit", "good_fit"}  # told
    assert status == 0  # but not acted on
    status, events = follow(len(rows) - 1)
    assert status == 1 and events[-1] == "overfit"


def test_follows_trainer_state_rewritten_at_each_save(tmp_path: Path) -> None:
    dst = tmp_path / "trainer_state.json"
    r = watch_while_writing(REWRITE_WRITER, SAMPLES / "hf_trainer_state_overfit.json", dst, 0.01,
                            "--interval", "0.03", "--idle-timeout", "2", "--format", "jsonl")
    assert r.exit_code == 0, r.output
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events
    assert events[-1]["label"] == ftdiag.analyze(dst).label
    # half-written documents were waited out, not reported as errors
    assert "error" not in r.stderr


def _rows(src: Path, n: int) -> str:
    lines = src.read_text().splitlines(keepends=True)
    return "".join(lines[:n])


def test_half_written_last_line_is_not_read(tmp_path: Path) -> None:
    src = SAMPLES / "reference_overfit.csv"
    full = src.read_text().splitlines(keepends=True)
    p = tmp_path / "training.log"
    # the last row cut inside a number: "8,0.9" of "8,0.9xxx,..."
    p.write_text("".join(full[:9]) + full[9][:4])
    assert complete_prefix(p, p.stat().st_size) == len("".join(full[:9]).encode())
    w = Watcher(p)
    w.poll()
    (r,) = w.results
    assert len(r.run.train_loss) == 8
    assert r.run.train_loss.values.tolist() == [float(x.split(",")[2]) for x in full[1:9]]


def test_document_without_final_newline_is_read_whole(tmp_path: Path) -> None:
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps(json.loads((SAMPLES / "hf_trainer_state_overfit.json").read_text()), indent=2))
    assert not p.read_text().endswith("\n")
    w = Watcher(p)
    w.poll()
    assert w.results and w.last_error is None


def test_replaced_and_truncated_files_are_read_again(tmp_path: Path) -> None:
    p = tmp_path / "training.log"
    p.write_text(_rows(SAMPLES / "reference_overfit.csv", 13))
    w = Watcher(p, confirm=1)
    events = w.poll()
    assert [e.label for e in events] == ["overfit"]
    # replaced by another run (a new inode)
    other = tmp_path / "other.log"
    other.write_text(_rows(SAMPLES / "reference_underfit.csv", 13))
    os.replace(other, p)
    events = w.poll()
    assert any(e.kind == "note" and "replaced" in e.message for e in events)
    assert [e.label for e in events if e.kind == "verdict"] == ["underfit"]
    # truncated in place and started again (a restarted trainer), now shorter
    with open(p, "r+") as fh:
        fh.truncate(0)
        fh.write(_rows(SAMPLES / "reference_overfit.csv", 11))
    events = w.poll()
    assert any(e.kind == "note" and "truncated" in e.message for e in events)
    assert [e.label for e in events if e.kind == "verdict"] == ["overfit"]


def test_removed_file_is_waited_for(tmp_path: Path) -> None:
    p = tmp_path / "training.log"
    w = Watcher(p, confirm=1)
    assert any("does not exist yet" in e.message for e in w.poll())
    assert w.poll() == []  # said once
    p.write_text(_rows(SAMPLES / "reference_overfit.csv", 13))
    assert [e.label for e in w.poll()] == ["overfit"]
    p.unlink()
    assert any("was removed" in e.message for e in w.poll())


def test_a_flip_is_announced_only_once_confirmed_or_when_the_file_is_quiet(tmp_path: Path) -> None:
    p = tmp_path / "training.log"
    p.write_text(_rows(SAMPLES / "reference_overfit.csv", 13))
    w = Watcher(p)  # confirm=2
    assert w.poll() == []  # first read: pending
    (e,) = w.poll()  # no change: the file is quiet, the verdict stands
    assert e.label == "overfit"


def test_unreadable_file_is_reported_once_it_stops_changing(tmp_path: Path) -> None:
    p = tmp_path / "training.log"
    p.write_text("this is not a log\n")
    w = Watcher(p)
    assert w.poll() == []
    (e,) = w.poll()
    assert e.kind == "waiting" and "training.log" in e.message


def test_idle_timeout_on_a_file_that_never_appears_is_exit_2(tmp_path: Path) -> None:
    r = watch_cli(str(tmp_path / "nope.csv"), "--interval", "0.02", "--idle-timeout", "0.1")
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines()[-1].startswith("ftdiag: error: ") and "no such file" in r.stderr


def test_idle_timeout_on_a_finished_file(tmp_path: Path) -> None:
    r = watch_cli(str(SAMPLES / "reference_underfit.csv"), "--interval", "0.02", "--idle-timeout", "0.2")
    assert r.exit_code == 0
    (line,) = r.stdout.splitlines()
    assert VERDICT_LINE.match(line) and "UNDERFIT" in line and "underfitting" in line
    assert "last verdict: underfit at epoch 12" in r.stderr


def test_watch_usage_errors() -> None:
    assert watch_cli("-", "--idle-timeout", "0").exit_code == 2
    r = watch_cli(str(SAMPLES / "reference_overfit.csv"), "--exit-on", "bogus")
    assert r.exit_code == 2 and "bogus" in r.stderr
    assert watch_cli(str(SAMPLES / "reference_overfit.csv"), "--interval", "0").exit_code == 2


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_stop_cleanly(tmp_path: Path, sig: int) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ftdiag", "watch", str(SAMPLES / "reference_overfit.csv"), "--interval", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # a terminal's Ctrl-C reaches a process whose SIGINT is not ignored; a
        # test run from a background job inherits SIGINT ignored (the shell's
        # rule for background jobs), and Python then keeps it ignored
        preexec_fn=_sigint_default,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the verdict: it is running
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "OVERFIT" in first
    assert "interrupted" in err and "last verdict: overfit" in err and "Traceback" not in err


def test_describe_overfit_names_the_turn() -> None:
    r = ftdiag.analyze(SAMPLES / "reference_overfit.csv")
    text = describe(r)
    best = r.features.val_loss
    assert best is not None
    assert text.startswith(f"overfitting since epoch {int(best.best_step)}: validation val_loss up ")


def _llamafactory_log(n: int = 40) -> str:
    """LLaMA-Factory trainer_log.jsonl: training lines, an eval line every 5 steps (overfitting late)."""
    lines = []
    for s in range(1, n + 1):
        base = {"current_steps": s, "total_steps": n, "epoch": s / 10, "percentage": 100 * s / n,
                "elapsed_time": f"0:00:{s:02d}", "remaining_time": "0:00:10"}
        lines.append(json.dumps(dict(base, loss=round(2.0 * 0.93**s, 4), lr=5e-5)))
        if s % 5 == 0:
            lines.append(json.dumps(dict(base, eval_loss=round(1.0 + 0.004 * (s - 15) ** 2, 4))))
    return "\n".join(lines) + "\n"


def _hf_console_log(n_epochs: int = 12) -> str:
    lines = ["***** Running training *****", "  Num examples = 1000", f"  Num Epochs = {n_epochs}"]
    for e in range(1, n_epochs + 1):
        lines.append(" 45%|####5     | 450/1000 [00:10<00:12, 44.1it/s]")
        lines.append(repr({"loss": round(2.0 * 0.8**e, 4), "learning_rate": 5e-05, "epoch": float(e)}))
        lines.append(repr({"eval_loss": round(1.0 + 0.01 * (e - 4) ** 2, 4), "eval_runtime": 1.0, "epoch": float(e)}))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("name", "make"), [("trainer_log.jsonl", _llamafactory_log), ("train.log", _hf_console_log)]
)
def test_follows_jsonl_and_console_logs(tmp_path: Path, name: str, make) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / f"src-{name}"
    src.write_text(make())
    dst = tmp_path / name
    r = watch_while_writing(APPEND_WRITER, src, dst, 0.003, "--interval", "0.05", "--idle-timeout", "2", "--format", "jsonl")
    assert r.exit_code == 0, r.output
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events and events[-1]["label"] == ftdiag.analyze(dst).label
    assert "error" not in r.stderr


def test_watches_a_training_output_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    state = json.loads((SAMPLES / "hf_trainer_state_overfit.json").read_text())
    ck = out / "checkpoint-1"
    ck.mkdir(parents=True)
    (ck / "trainer_state.json").write_text(json.dumps(dict(state, log_history=state["log_history"][:4])))
    w = Watcher(out, confirm=1)
    w.poll()
    assert w.results and w.last_error is None
    before = w.results[0].features.last_step
    assert w.poll() == [] and not w.changed
    ck2 = out / "checkpoint-2"  # the next save
    ck2.mkdir()
    (ck2 / "trainer_state.json").write_text(json.dumps(state))
    w.poll()
    assert w.changed and w.results[0].features.last_step > before
