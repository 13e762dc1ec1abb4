"""Mutation fuzzer: corrupt real logs and check ``ftdiag analyze`` never crashes.

    python benchmarks/fuzz.py [--inputs 100000] [--seed 1] [--out fuzz-out]
                              [--time-limit SECONDS] [--timeout 20] [--json]
                              [--plots-rate 0.002]

Takes every file under ``sample_logs/`` and ``../shared/corpus/public/``,
corrupts it (truncation, byte and bit flips, deleted, duplicated and shuffled
lines, huge numbers, NaN/inf, other encodings, very long lines, deeply nested
JSON, wrong JSON types, control characters, Python literals with code in them,
splices of two files, ...; one to three mutations stacked) and runs the whole
``ftdiag analyze`` through the CLI (click's CliRunner) in text, JSON or Markdown
form, from a file or from standard input (some as an HTML ``report``, a few of
those with their plots drawn: ``--plots-rate``). About
8% of the inputs are directories laid out as trainers leave them, with
mutated files inside; a quarter of those go through ``compare`` instead.
Each outcome is one of:

* result: exit 0 with a well-formed report (and no warning telling of a bug,
  such as a plot that could not be drawn);
* clean error: exit 2 with exactly one ``ftdiag: error: ...`` line naming the input;
* crash: anything else (exit 3 is an internal error; an uncaught exception;
  a malformed report; a second error line); and
* hang: an input that took more than ``--timeout`` seconds.

Crashes and hangs are saved in ``--out`` as reproducers (the input, and a
``.txt`` with the seed file, the mutations and the traceback), one per
distinct failure. The test suite runs the same fuzzer in a quick mode
(``tests/test_fuzz.py``); this script is the long mode.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from click.testing import CliRunner  # noqa: E402

from ftdiag.cli import cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ROOT.parent / "shared" / "corpus" / "public"
SAMPLES = ROOT / "sample_logs"
CANARY_NAME = "FTDIAG_FUZZ_CANARY"

Mutator = Callable[[bytes, random.Random], bytes]
_NUM = re.compile(rb"(?<![A-Za-z_])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


# ---------------------------------------------------------------- mutators


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _join(lines: list[bytes]) -> bytes:
    return b"\n".join(lines)


def truncate(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    if rng.random() < 0.5:  # at a line end, as a crashed writer leaves it
        ends = [m.end() for m in re.finditer(rb"\n", data)] or [len(data)]
        return data[: rng.choice(ends)]
    return data[: rng.randrange(len(data))]


def byte_flips(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def bit_flips(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def special_bytes(data: bytes, rng: random.Random) -> bytes:
    """Structural characters where they hurt most: quotes, delimiters, brackets."""
    if not data:
        return data
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        b[rng.randrange(len(b))] = rng.choice(b'",;\t|{}[]:\'\\\r\n\x00 e.-+')
    return bytes(b)


def delete_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, max(1, len(lines) // 3))):
        if len(lines) > 1:
            del lines[rng.randrange(len(lines))]
    return _join(lines)


def duplicate_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 10)):
        i = rng.randrange(len(lines))
        j = rng.randrange(len(lines) + 1) if rng.random() < 0.5 else i
        lines.insert(j, lines[i])
    return _join(lines)


def shuffle_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    if rng.random() < 0.3:
        head, body = lines[:1], lines[1:]
        body.reverse()
        return _join(head + body)
    for _ in range(rng.randint(1, 10)):
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    return _join(lines)


HUGE = [b"1e308", b"1e309", b"-1e400", b"9" * 400, b"1" * 5000, b"1e-400", b"-0", b"0", b"4.9e-324",
        b"1.7976931348623157e308", b"-9223372036854775809", b"18446744073709551616", b"1e99999999"]
NONFINITE = [b"nan", b"NaN", b"-nan", b"inf", b"-inf", b"Infinity", b"-Infinity", b"null", b"None", b"",
             b"NA", b"#N/A", b"1.#INF", b"nan(ind)"]


def _replace_numbers(data: bytes, rng: random.Random, pool: list[bytes], rate: float) -> bytes:
    def sub(m: re.Match[bytes]) -> bytes:
        return rng.choice(pool) if rng.random() < rate else m.group(0)

    return _NUM.sub(sub, data)


def huge_numbers(data: bytes, rng: random.Random) -> bytes:
    return _replace_numbers(data, rng, HUGE, rng.choice([0.01, 0.1, 0.5]))


def nan_inf(data: bytes, rng: random.Random) -> bytes:
    return _replace_numbers(data, rng, NONFINITE, rng.choice([0.02, 0.2, 0.8, 1.0]))


def constant_numbers(data: bytes, rng: random.Random) -> bytes:
    """Every number the same: flat curves, zero variance."""
    v = rng.choice([b"0", b"1", b"0.5", b"-1", b"1e-12"])
    return _NUM.sub(lambda m: v, data)


def reencode(data: bytes, rng: random.Random) -> bytes:
    text = data.decode("utf-8", "replace")
    if rng.random() < 0.4:  # non-ASCII so the encodings differ
        extra = rng.choice(["é", "ß", "中文", "🙂", "\u00a0", "Ω"])
        lines = text.split("\n")
        i = rng.randrange(len(lines))
        lines[i] = lines[i] + extra
        text = "\n".join(lines)
    enc = rng.choice(["utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1252", "utf-8-sig", "utf-32", "cp037"])
    return text.encode(enc, "replace")


def line_endings(data: bytes, rng: random.Random) -> bytes:
    return data.replace(b"\n", rng.choice([b"\r\n", b"\r", b"\n\n", b"\r\r\n"]))


def long_line(data: bytes, rng: random.Random) -> bytes:
    n = rng.choice([5_000, 70_000, 300_000, LONG_LINE_MAX])
    unit = rng.choice([b"1.5,", b"9", b"[", b"{\"a\":", b"x", b",", b"\"", b"\t", b"0.1 "])
    line = (unit * (n // len(unit) + 1))[:n]
    lines = _lines(data)
    mode = rng.random()
    if mode < 0.3:  # a huge line of its own
        lines.insert(rng.randrange(len(lines) + 1), line)
    elif mode < 0.6:  # an existing line made huge
        i = rng.randrange(len(lines))
        lines[i] = lines[i] + line
    elif mode < 0.8:  # the whole file on one line
        return data.replace(b"\n", b" ") + line
    else:  # progress bars: carriage returns, no newline
        return data + b"\r".join([b" 45%|####      | 450/1000 [00:10<00:12]"] * (n // 40 + 1))
    return _join(lines)


def deep_json(data: bytes, rng: random.Random) -> bytes:
    d = rng.choice([70, 500, 990, 5_000, 100_000])
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    deep = opener * d + b"1" + closer * d
    mode = rng.random()
    if mode < 0.3:
        return opener * d + data + closer * d
    if mode < 0.7:  # replace a value inside the document
        m = list(_NUM.finditer(data))
        if m:
            x = rng.choice(m)
            return data[: x.start()] + deep + data[x.end():]
    lines = _lines(data)  # a JSONL record or a stdout dict line
    lines.insert(rng.randrange(len(lines) + 1), deep)
    return _join(lines)


_JSON_VALUES = [b'"0.5"', b"[]", b"{}", b"null", b"true", b"[1,2]", b'{"loss": 1}', b'"x"',
                b'"' + b"a" * 1000 + b'"', b"-1", b"1" * 5000, b'"NaN"', b"1e999"]


def json_types(data: bytes, rng: random.Random) -> bytes:
    """A JSON value of the wrong type where a number, list or object was."""
    targets = list(re.finditer(rb'(?<=: )(-?\d[\d.eE+-]*|\[\]|\{\}|null|true|false|"[^"\n]{0,40}")', data))
    if not targets:
        return data
    out = data
    for x in sorted(rng.sample(targets, min(len(targets), rng.randint(1, 5))), key=lambda m: -m.start()):
        out = out[: x.start()] + rng.choice(_JSON_VALUES) + out[x.end():]
    return out


def json_keys(data: bytes, rng: random.Random) -> bytes:
    """Rename, remove or retarget keys such as log_history, step, eval_loss."""
    keys = list(re.finditer(rb'"([A-Za-z_/][^"\n]{0,40})"(?=\s*:)', data))
    if not keys:
        return data
    x = rng.choice(keys)
    new = rng.choice([b'"step"', b'"loss"', b'"eval_loss"', b'"log_history"', b'"epoch"', b'""', b'"eval_accuracy"',
                      b'"__proto__"', b'"\\u0000"'])
    return data[: x.start()] + new + data[x.end():]


CONTROL = [b"\x1b[2J", b"\x1b]0;x\x07", b"\x00", b"\x7f", b"\xc2\x9b", b"\xe2\x80\xae", b"\xef\xbb\xbf",
           b"<script>", b"|", b"`", b"\\", b"%s%n", b"\xff\xfe", b"\xed\xa0\x80"]


def control_chars(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(b) + 1)
        b[i:i] = rng.choice(CONTROL)
    return bytes(b)


def header_mangle(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    first = lines[0]
    sep = b"," if b"," in first else b"\t"
    cells = first.split(sep)
    action = rng.random()
    if action < 0.25 and len(cells) > 1:
        del cells[rng.randrange(len(cells))]
    elif action < 0.5:
        cells.insert(rng.randrange(len(cells) + 1), rng.choice([b"step", b"epoch", b"loss", b"val_loss", b"", b"x"]))
    elif action < 0.75:
        rng.shuffle(cells)
    else:
        i = rng.randrange(len(cells))
        cells[i] = cells[i] + rng.choice([b"\x1b[31m", b"<b>", b" ", b'"', b"|"])
    lines[0] = sep.join(cells)
    return _join(lines)


def literal_payloads(data: bytes, rng: random.Random) -> bytes:
    """Python dict lines (as Trainer prints them) with code in them: must never run."""
    canary = str(Path(tempfile.gettempdir()) / CANARY_NAME).encode()
    payloads = [
        b"{'loss': __import__('os').system('touch " + canary + b"'), 'epoch': 1.0}",
        b"{'loss': (lambda: open('" + canary + b"', 'w'))(), 'epoch': 1.0}",
        b"{'loss': 0.5, 'learning_rate': 1e-05, 'epoch': " + b"(" * 200 + b"1" + b")" * 200 + b"}",
        b"{'loss': 0.5, 'epoch': [" + b"[" * 5000 + b"]" * 5000 + b"]}",
        b"{'eval_loss': '" + b"9" * 200_000 + b"', 'epoch': 2.0}",
        b"{'loss': 1e999, 'grad_norm': nan, 'epoch': 0.5}",
        b"{'loss': 0.3, 'epoch': 1.0, **{'a': 1}}",
        b"{'loss': 0.3, " * 3000 + b"}",
        b"{'train_runtime': 1.0, 'train_loss': " + b"1" * 5000 + b"}",
    ]
    lines = _lines(data)
    for _ in range(rng.randint(1, 3)):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(payloads))
    return _join(lines)


def garbage_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 5)):
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        lines.insert(rng.randrange(len(lines) + 1), junk)
    return _join(lines)


def empty_like(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    return rng.choice([b"", b"\n", b"   \n\n", lines[0], lines[0] + b"\n", b"\xef\xbb\xbf", b"\x00" * 100,
                       _join(lines[:2]), b"{}", b"[]", b"null", b'{"log_history": []}', b'{"log_history": null}'])


def repeat_file(data: bytes, rng: random.Random) -> bytes:
    return data * rng.randint(2, 4)


MUTATORS: dict[str, Mutator] = {
    f.__name__: f
    for f in (
        truncate, byte_flips, bit_flips, special_bytes, delete_lines, duplicate_lines, shuffle_lines,
        huge_numbers, nan_inf, constant_numbers, reencode, line_endings, long_line, deep_json, json_types,
        json_keys, control_chars, header_mangle, literal_payloads, garbage_lines, empty_like, repeat_file,
    )
}
LONG_LINE_MAX = 1_200_000  # above the 1 MiB line limit
PLOTS_TIME_SCALE = 4.0  # an HTML report with plots has this many times the --timeout and --slow


def splice(a: bytes, b: bytes, rng: random.Random) -> bytes:
    return a[: rng.randrange(len(a) + 1)] + b[rng.randrange(len(b) + 1):]


# ---------------------------------------------------------------- running


@dataclass
class Seed:
    path: Path
    data: bytes


def seed_files(roots: Iterable[Path] | None = None) -> list[Seed]:
    """Every file under sample_logs/ and the public corpus (those present)."""
    roots = list(roots) if roots is not None else [SAMPLES, PUBLIC]
    out: list[Seed] = []
    for root in roots:
        if not root.exists():
            continue
        for p in sorted(root.rglob("*")):
            if p.is_file() and not p.is_symlink():
                out.append(Seed(p, p.read_bytes()))
    return out


def generated_seeds(folder: Path) -> list[Seed]:
    """Seeds no corpus file provides: TensorBoard event files (binary records
    with CRCs), written with the tensorboard package when it is installed."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        return []
    out = []
    for kind in ("train", "validation"):
        d = folder / kind
        d.mkdir(parents=True, exist_ok=True)
        w = EventFileWriter(str(d))
        for step in range(30):
            v = 2.0 * 0.9**step if kind == "train" else 1.0 + 0.002 * (step - 12) ** 2
            vals = [summary_pb2.Summary.Value(tag="epoch_loss", simple_value=v)]
            if kind == "validation":
                vals.append(summary_pb2.Summary.Value(tag="epoch_accuracy", simple_value=0.9 - 0.001 * (step - 12) ** 2))
            w.add_event(event_pb2.Event(wall_time=1.7e9 + step, step=step, summary=summary_pb2.Summary(value=vals)))
        w.close()
        (f,) = list(d.iterdir())
        out.append(Seed(Path(f"events.out.tfevents.{kind}"), f.read_bytes()))
    return out


# directory layouts that directory readers claim: (kind, {relative path: seed-name hint})
DIR_LAYOUTS = ("lightning", "mlflow", "tensorboard", "hf_output", "walk")


def build_dir(root: Path, kind: str, seeds: list[Seed], rng: random.Random, mutate: Callable[[bytes], bytes]) -> Path:
    """A directory of mutated files laid out the way a trainer leaves them."""
    import shutil

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)

    def pick(hint: str) -> bytes:
        found = [s for s in seeds if hint in str(s.path)]
        return (rng.choice(found) if found else rng.choice(seeds)).data

    def put(rel: str, data: bytes) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    if kind == "lightning":
        put("version_0/metrics.csv", mutate(pick("lightning_csv")))
        put("version_0/hparams.yaml", mutate(b"lr: 0.001\nbatch_size: 32\nmax_epochs: 10\n"))
    elif kind == "mlflow":
        for name in ("loss", "val_loss", "val_accuracy"):
            put(f"run/metrics/{name}", mutate(pick("mlflow")) if rng.random() < 0.7 else pick("mlflow"))
        put("run/params/learning_rate", mutate(b"0.001"))
        put("run/meta.yaml", mutate(b"run_name: fuzz\nstatus: 3\n"))
        put("run/tags/mlflow.runName", mutate(b"fuzz-run"))
    elif kind == "tensorboard":
        put("logs/fit/train/events.out.tfevents.1", mutate(pick("tfevents.train")))
        put("logs/fit/validation/events.out.tfevents.2", mutate(pick("tfevents.validation")))
    elif kind == "hf_output":
        state = pick("hf_trainer_state")
        put("out/checkpoint-10/trainer_state.json", mutate(state))
        put("out/trainer_state.json", mutate(state) if rng.random() < 0.5 else state)
        put("out/all_results.json", mutate(b'{"epoch": 3.0, "eval_loss": 0.5, "train_loss": 0.4}'))
    else:  # a folder walked: several logs, hidden files, a symlink loop, junk
        for i in range(rng.randint(1, 4)):
            s = rng.choice(seeds)
            put(f"runs/r{i}/{s.path.name}", mutate(s.data))
        put("runs/.hidden.csv", b"epoch,loss\n0,1\n")
        put("runs/notes.txt", mutate(b"some notes\n"))
        try:
            os.symlink(root / "runs", root / "runs" / "r0" / "loop")
        except OSError:
            pass
    return root


@dataclass
class Outcome:
    kind: str  # result | error | crash | hang
    detail: str = ""


def _tally(stats: Stats, outcome: Outcome, what: str, data: bytes | None, target: str, fmt: str,
           out_dir: Path | None, seed: int, i: int) -> None:
    """Count a directory input's outcome; save the tree of a failing one."""
    import shutil

    if stats.count(outcome.kind):
        sig = f"{outcome.kind}: {_signature(outcome.detail)}"
        if sig not in stats.crash_kinds:
            repro = "(not saved)"
            if out_dir is not None:
                out_dir.mkdir(parents=True, exist_ok=True)
                repro = str(out_dir / f"{outcome.kind}-dir-{i}")
                shutil.copytree(Path(target).parent if Path(target).name != "runs" else target, repro, symlinks=True)
                Path(repro + ".info").write_text(
                    f"{what}\ncommand: ftdiag {' '.join(command_for(fmt, target, None))}\n"
                    f"input #{i} of --seed {seed}\n\n{outcome.detail}\n"
                )
            stats.crash_kinds[sig] = repro


@dataclass
class Stats:
    inputs: int = 0
    results: int = 0
    errors: int = 0
    crashes: int = 0
    hangs: int = 0
    seconds: float = 0.0
    by_mutator: Counter[str] = field(default_factory=Counter)
    slow: int = 0  # inputs slower than ``slow_seconds`` (not failures; reproducers saved)
    crash_kinds: dict[str, str] = field(default_factory=dict)  # signature -> reproducer
    slow_inputs: list[str] = field(default_factory=list)
    slowest: list[tuple[float, str]] = field(default_factory=list)

    def count(self, kind: str) -> bool:
        """Count one outcome (result | error | hang | crash); True for a failure."""
        if kind == "result":
            self.results += 1
        elif kind == "error":
            self.errors += 1
        elif kind == "hang":
            self.hangs += 1
        else:
            self.crashes += 1
        return kind not in ("result", "error")

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs, "results": self.results, "clean_errors": self.errors,
            "crashes": self.crashes, "hangs": self.hangs, "distinct_crashes": len(self.crash_kinds),
            "slow": self.slow, "slow_reproducers": self.slow_inputs[:20],
            "seconds": round(self.seconds, 1), "reproducers": sorted(self.crash_kinds.values()),
            "slowest": [(round(t, 2), d) for t, d in sorted(self.slowest, reverse=True)[:5]],
        }


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so ftdiag's own handlers do not catch it."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


# characters that must never reach the terminal raw (see ftdiag.render._safe)
_UNSAFE_OUT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def check(result: Any, fmt: str, display: str, many: bool = False) -> Outcome:
    """Classify one CLI outcome (a click Result). ``many``: the input was a
    directory, so several error lines (one per bad file) and warnings may
    come with exit 2."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return Outcome("crash", f"uncaught {type(exc).__name__}: {exc}\n{tb}")
    code = result.exit_code
    err_lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    if code == 0:
        if fmt == "json":
            try:
                doc = json.loads(result.stdout)
                runs = doc["runs"]
                assert runs and not doc["errors"]
                for r in runs:
                    assert r["label"] in ("underfit", "good_fit", "overfit", "inconclusive"), r["label"]
                    c = r["confidence"]
                    assert c is None or 0.0 <= c <= 1.0, c
            except Exception as e:  # noqa: BLE001
                return Outcome("crash", f"exit 0 with a malformed JSON report: {type(e).__name__}: {e}")
        elif not result.stdout.strip():
            return Outcome("crash", "exit 0 with no output")
        elif fmt == "html" and "<html" not in result.stdout[:2000].lower():
            return Outcome("crash", "exit 0 without an HTML document")
        bad = _UNSAFE_OUT.search(result.stdout) or _UNSAFE_OUT.search(result.stderr)
        if bad:
            return Outcome("crash", f"unneutralized character {bad.group(0)!r} in the output")
        if any(not ln.startswith("ftdiag: warning: ") for ln in err_lines):
            return Outcome("crash", f"exit 0 with something else than warnings on stderr: {result.stderr[:500]}")
        bug = next((ln for ln in err_lines if "a bug in ftdiag" in ln), None)
        if bug:  # a plot that failed to draw: the report survives it, the fuzzer counts it
            return Outcome("crash", f"a bug told as a warning: {bug[:500]}")
        return Outcome("result")
    if code == 2:
        errors = [ln for ln in err_lines if ln.startswith("ftdiag: error: ")]
        if many:
            others = [ln for ln in err_lines if not ln.startswith(("ftdiag: error: ", "ftdiag: warning: "))]
            if not errors or others:
                return Outcome("crash", f"exit 2 with stray stderr lines:\n{result.stderr[:2000]}")
            errors = errors[:1]
        elif len(errors) != 1 or len(err_lines) != 1:
            return Outcome("crash", f"exit 2 without exactly one error line:\n{result.stderr[:2000]}")
        if _UNSAFE_OUT.search(errors[0]):
            return Outcome("crash", f"unneutralized character in the error line: {errors[0][:300]!r}")
        missing_extra = "pip install 'ftdiag[" in errors[0]  # an optional reader's package: not about the file
        if display not in errors[0] and _safe_display(display) not in errors[0] and not missing_extra:
            return Outcome("crash", f"error line does not name the input {display!r}: {errors[0][:300]}")
        return Outcome("error")
    return Outcome("crash", f"exit {code}:\n{result.stderr[:3000]}")


def _safe_display(display: str) -> str:
    from ftdiag.render._safe import term

    return term(display)


def command_for(fmt: str, target: str, forced: str | None) -> list[str]:
    """``analyze TARGET --format FMT`` (or, for html, the report command; for
    ``compare:FMT``, the compare command in one process)."""
    if fmt.startswith("compare:"):
        args = ["compare", target, "--format", fmt.split(":", 1)[1], "--jobs", "1"]
    elif fmt == "html":
        args = ["report", target, "--format", "html", "--no-plots"]
    elif fmt == "html+plots":
        args = ["report", target, "--format", "html"]
    else:
        args = ["analyze", target, "--format", fmt]
    return args + (["--input-format", forced] if forced else [])


def run_one(
    data: bytes, name: str, fmt: str, via_stdin: bool, workdir: Path, timeout: float, forced: str | None = None,
    is_dir: bool = False,
) -> tuple[Outcome, Any]:
    runner = CliRunner()
    if is_dir:
        args, display, stdin = command_for(fmt, name, None), name, None
    elif via_stdin:
        args, display, stdin = command_for(fmt, "-", forced), "<stdin>", data
    else:
        path = workdir / name
        path.write_bytes(data)
        args, display, stdin = command_for(fmt, str(path), forced), str(path), None
    if timeout and hasattr(signal, "setitimer"):
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = runner.invoke(cli, args, input=stdin)
        if caught:  # a Python warning would reach the user's stderr
            w = caught[0]
            return Outcome("crash", f"stray {w.category.__name__} ({w.filename}:{w.lineno}): {w.message}"), result
    except _Timeout:
        return Outcome("hang", f"took more than {timeout} s"), None
    finally:
        if timeout and hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    return check(result, fmt.split(":")[-1].split("+")[0], display, many=is_dir), result


def _debug_traceback(data: bytes, name: str, fmt: str, via_stdin: bool, workdir: Path, forced: str | None) -> str:
    runner = CliRunner(env={"FTDIAG_DEBUG": "1"})
    if via_stdin:
        r = runner.invoke(cli, command_for(fmt, "-", forced), input=data)
    else:
        p = workdir / name
        p.write_bytes(data)
        r = runner.invoke(cli, command_for(fmt, str(p), forced))
    return r.stderr[-6000:]


def _signature(detail: str) -> str:
    """Group crashes: exception type plus the last ftdiag frame."""
    frames = re.findall(r'File "[^"]*?(ftdiag/[^"]+)", line (\d+), in (\w+)', detail)
    exc = re.findall(r"^(\w+(?:Error|Exception|Warning)\b[^\n]{0,60})", detail, re.M)
    head = detail.splitlines()[0][:80] if detail else ""
    where = f"{frames[-1][0]}:{frames[-1][2]}" if frames else head
    return f"{exc[-1].split(':')[0] if exc else head} @ {where}"


def fuzz(
    n_inputs: int,
    seed: int = 1,
    seeds: list[Seed] | None = None,
    out_dir: Path | None = None,
    time_limit: float | None = None,
    timeout: float = 20.0,
    max_long_line: int | None = None,
    progress: Callable[[Stats], None] | None = None,
    dir_rate: float = 0.08,
    slow_seconds: float = 5.0,
    plots_rate: float = 0.0,
) -> Stats:
    """Run ``n_inputs`` mutated inputs; returns the tallies (see the module docstring)."""
    global LONG_LINE_MAX
    if max_long_line is not None:
        LONG_LINE_MAX = max_long_line
    seeds = list(seeds if seeds is not None else seed_files())
    if not seeds:
        raise SystemExit("no seed files found")
    with tempfile.TemporaryDirectory(prefix="ftdiag-fuzz-seeds-") as gen:
        seeds += generated_seeds(Path(gen))
    rng = random.Random(seed)
    stats = Stats()
    names = sorted(MUTATORS)
    from ftdiag.formats import all_readers

    file_readers = sorted(r.name for r in all_readers().values() if not r.directories)
    canary = Path(tempfile.gettempdir()) / CANARY_NAME
    canary.unlink(missing_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ftdiag-fuzz-") as tmp:
        workdir = Path(tmp)
        for i in range(n_inputs):
            if time_limit is not None and time.perf_counter() - start > time_limit:
                break
            if rng.random() < dir_rate:
                kind = rng.choice(DIR_LAYOUTS)
                dchain: list[str] = []

                def mutate(b: bytes, dchain: list[str] = dchain) -> bytes:
                    m = rng.choice(names)
                    dchain.append(m)
                    return MUTATORS[m](b, rng)

                root = build_dir(workdir / "dir", kind, seeds, rng, mutate)
                target = str(root / {"lightning": "version_0", "mlflow": "run", "tensorboard": "logs/fit",
                                     "hf_output": "out", "walk": "runs"}[kind])
                fmt = rng.choice(["text", "json", "markdown"])
                if rng.random() < 0.25:  # a sweep of the folder: the compare command
                    fmt = f"compare:{fmt}"
                outcome, _ = run_one(b"", target, fmt, False, workdir, timeout, None, is_dir=True)
                stats.inputs += 1
                stats.by_mutator[f"dir:{kind}" + (" (compare)" if fmt.startswith("compare:") else "")] += 1
                _tally(stats, outcome, f"dir:{kind} <- {'+'.join(dchain)}", None, target, fmt, out_dir, seed, i)
                continue
            s = rng.choice(seeds)
            data = s.data
            chain: list[str] = []
            if rng.random() < 0.08:
                other = rng.choice(seeds)
                data = splice(data, other.data, rng)
                chain.append(f"splice({other.path.name})")
            for _ in range(rng.choices([1, 2, 3], weights=[6, 3, 1])[0]):
                m = rng.choice(names)
                data = MUTATORS[m](data, rng)
                chain.append(m)
            fmt = rng.choices(["text", "json", "markdown", "html"], weights=[30, 40, 25, 5])[0]
            if plots_rate and rng.random() < plots_rate:  # an HTML report with its plots drawn (slow)
                fmt = "html+plots"
            via_stdin = rng.random() < 0.05
            # sometimes the wrong reader is forced on the file (--input-format)
            forced = rng.choice(file_readers) if file_readers and rng.random() < 0.1 else None
            if forced:
                chain.append(f"--input-format {forced}")
            name = f"in{i % 7}_{s.path.name}"
            t0 = time.perf_counter()
            # drawing plots takes about half a second a run, up to 50 runs in a report
            scale = PLOTS_TIME_SCALE if fmt == "html+plots" else 1.0
            outcome, _ = run_one(data, name, fmt, via_stdin, workdir, timeout * scale, forced)
            dt = time.perf_counter() - t0
            stats.inputs += 1
            for m in chain:
                stats.by_mutator[m] += 1
            if len(stats.slowest) < 5 or dt > min(stats.slowest)[0]:
                stats.slowest.append((dt, f"{s.path.name} <- {'+'.join(chain)} ({fmt})"))
                stats.slowest = sorted(stats.slowest, reverse=True)[:5]
            if dt > slow_seconds * scale and outcome.kind in ("result", "error"):
                stats.slow += 1
                if out_dir is not None and len(stats.slow_inputs) < 20:
                    out_dir.mkdir(parents=True, exist_ok=True)
                    rp = out_dir / f"slow-{hashlib.sha1(data).hexdigest()[:12]}{s.path.suffix or '.bin'}"
                    rp.write_bytes(data)
                    Path(str(rp) + ".info").write_text(
                        f"{dt:.1f} s\nseed file: {s.path}\nmutations: {' + '.join(chain)}\n"
                        f"command: ftdiag {' '.join(command_for(fmt, 'FILE', forced))}\n"
                    )
                    stats.slow_inputs.append(f"{dt:.1f} s {rp}")
            if canary.exists():
                outcome = Outcome("crash", "log content was executed: the canary file was created")
                canary.unlink()
            if stats.count(outcome.kind):
                detail = outcome.detail
                if outcome.kind != "hang" and "Traceback" not in detail:
                    detail += "\n" + _debug_traceback(data, name, fmt, via_stdin, workdir, forced)
                sig = f"{outcome.kind}: {_signature(detail)}"
                if sig not in stats.crash_kinds:
                    repro = "(not saved)"
                    if out_dir is not None:
                        out_dir.mkdir(parents=True, exist_ok=True)
                        digest = hashlib.sha1(data).hexdigest()[:12]
                        repro = str(out_dir / f"{outcome.kind}-{digest}{s.path.suffix or '.bin'}")
                        Path(repro).write_bytes(data)
                        Path(repro + ".info").write_text(
                            f"seed file: {s.path}\nmutations: {' + '.join(chain)}\n"
                            f"command: ftdiag {' '.join(command_for(fmt, '-' if via_stdin else 'FILE', forced))}"
                            f"{' (stdin)' if via_stdin else ''}\n"
                            f"input #{i} of --seed {seed}\n\n{detail}\n"
                        )
                    stats.crash_kinds[sig] = repro
            if progress is not None and (i + 1) % 1000 == 0:
                progress(stats)
    stats.seconds = time.perf_counter() - start
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=10_000, help="how many mutated inputs to try")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("fuzz-out"), help="where reproducers are saved")
    ap.add_argument("--time-limit", type=float, default=None, help="stop after this many seconds")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds before one input counts as a hang")
    ap.add_argument("--json", action="store_true", help="print the tallies as JSON")
    ap.add_argument("--slow", type=float, default=5.0, help="seconds above which an input is listed as slow")
    ap.add_argument("--corpus", type=Path, action="append", help="seed folder (default: sample_logs and the public corpus)")
    ap.add_argument("--plots-rate", type=float, default=0.002,
                    help="share of inputs given to an HTML report with its plots drawn (slow: ~1 s each)")
    a = ap.parse_args(argv)
    seeds = seed_files(a.corpus)

    def progress(s: Stats) -> None:
        el = time.perf_counter() - t0
        print(f"  {s.inputs} inputs, {s.results} results, {s.errors} clean errors, {s.crashes} crashes, "
              f"{s.hangs} hangs ({el:.0f} s)", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    print(f"fuzzing with {len(seeds)} seed files, seed {a.seed}", file=sys.stderr)
    stats = fuzz(a.inputs, a.seed, seeds, a.out, a.time_limit, a.timeout, progress=progress, slow_seconds=a.slow,
                 plots_rate=a.plots_rate)
    d = stats.to_dict()
    if a.json:
        print(json.dumps(d | {"by_mutator": dict(stats.by_mutator), "distinct": stats.crash_kinds}, indent=2))
    else:
        print(f"inputs tried:   {d['inputs']}  ({d['seconds']} s, {d['inputs'] / max(d['seconds'], 1e-9):.0f}/s)")
        print(f"results:        {d['results']}")
        print(f"clean errors:   {d['clean_errors']}")
        print(f"crashes:        {d['crashes']} ({d['distinct_crashes']} distinct)")
        print(f"hangs:          {d['hangs']}")
        print(f"slow (> {a.slow:g} s; > {a.slow * PLOTS_TIME_SCALE:g} s for a report with plots): {d['slow']}")
        for line in stats.slow_inputs[:10]:
            print(f"    {line}")
        for sig, repro in stats.crash_kinds.items():
            print(f"  {sig}\n    reproducer: {repro}")
        print("slowest inputs: " + "; ".join(f"{t} s {what}" for t, what in d["slowest"]))
    return 1 if stats.crashes or stats.hangs else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
