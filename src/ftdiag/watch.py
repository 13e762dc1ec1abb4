"""``ftdiag watch``: follow a log that is still being written and re-diagnose it.

The file is polled (``os.stat``: size, modification time, inode) and read
again only when it changed, and never more often than the last analysis
allows (a slow analysis widens the interval), so a long run costs little.

What a trainer does to its log, and what the watcher does about it:

* appends rows or lines (CSV, JSONL, stdout): the file is read up to its last
  complete line, so a half-written last line is never parsed; the read is
  bounded by the size seen at the ``stat``, a consistent snapshot;
* rewrites a document at each save (``trainer_state.json``): a read that
  meets a half-written document fails, and the next change is awaited;
* replaces the file (a new inode) or truncates it: the watcher says so and
  starts over;
* deletes it: the watcher waits for it to come back.

A line is printed each time a run's verdict changes (the first verdict
included). :func:`watch` returns the exit status: 0 when stopped (idle
timeout), 1 when a label in ``exit_on`` was reached, 2 when the file never
yielded a verdict (the last error is then raised).
"""

from __future__ import annotations

import os
import stat as statmod
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import FtdiagError, InputError, UsageError
from .formats import open_source, read_source
from .formats._source import guess_encoding

if TYPE_CHECKING:  # pragma: no cover
    from .api import RunResult
    from .hyperparams import Hyperparameters
    from .mapping import ColumnMapping

TAIL_BYTES = 64 * 1024
MAX_DIR_ENTRIES = 2000


@dataclass(frozen=True)
class Event:
    """Something worth telling the user.

    ``kind``: ``verdict`` (a run's label changed; goes to stdout), ``note``
    (the file was replaced, truncated, deleted, ...), ``waiting`` (the file
    cannot be read yet, and has stopped changing).
    """

    kind: str
    message: str
    label: str | None = None
    run: str | None = None
    step: float | None = None
    confidence: float | None = None


def _fmt_step(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{int(round(x)):,}" if abs(x - round(x)) < 1e-9 else f"{x:,.2f}"


def _fmt_value(v: float) -> str:
    return f"{v:.4g}"


def describe(result: RunResult) -> str:
    """The one-line verdict: "overfitting since step 1,200: validation loss up 9% from its best"."""
    f = result.features
    unit = result.run.x_unit
    label = result.label
    if label == "overfit":
        # the loss tells the story best when it was logged and got worse; else
        # the metric that decided, when it got worse; else the first evidence
        worse = [c for c in (f.val_loss, f.val) if c is not None and c.best != 0 and (c.last - c.best) * c.sign < 0]
        cs = worse[0] if worse else None
        if cs is not None:
            change = abs(cs.last - cs.best) / abs(cs.best) * 100.0
            way = "up" if cs.sign < 0 else "down"
            return (
                f"overfitting since {unit} {_fmt_step(cs.best_step)}: validation {cs.name} {way} "
                f"{change:.0f}% from its best ({_fmt_value(cs.best)}, now {_fmt_value(cs.last)})"
            )
        return "overfitting: " + (result.evidence[0] if result.evidence else "")
    words = {"underfit": "underfitting", "good_fit": "good fit", "inconclusive": "inconclusive"}
    detail = result.diagnosis.reason if label == "inconclusive" and result.diagnosis.reason else None
    if detail is None:
        detail = result.evidence[0] if result.evidence else ""
    return f"{words.get(label, label)}: {detail}"


@dataclass
class _Signature:
    exists: bool
    ino: int = 0
    size: int = 0
    mtime_ns: int = 0
    tree: tuple[tuple[str, int, int], ...] = ()


def _dir_signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    """(relative path, size, mtime) of the files under ``root``, two levels deep,
    without following symbolic links (no loops)."""
    out: list[tuple[str, int, int]] = []
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack and len(out) < MAX_DIR_ENTRIES:
        d, depth = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if statmod.S_ISDIR(st.st_mode):
                if depth < 2:
                    stack.append((Path(e.path), depth + 1))
            elif statmod.S_ISREG(st.st_mode):
                out.append((os.path.relpath(e.path, root), st.st_size, st.st_mtime_ns))
    return tuple(sorted(out))


def _signature(path: Path) -> _Signature:
    try:
        st = path.stat()
    except OSError:
        return _Signature(False)
    if statmod.S_ISDIR(st.st_mode):
        return _Signature(True, st.st_ino, 0, st.st_mtime_ns, _dir_signature(path))
    return _Signature(True, st.st_ino, st.st_size, st.st_mtime_ns)


def complete_prefix(path: Path, size: int) -> int:
    """The length of the file up to its last line end (``size`` if it ends with
    one, or has none in its last 64 KB, or is UTF-16)."""
    if size == 0:
        return 0
    try:
        with open(path, "rb") as fh:
            head = fh.read(min(size, 4096))
            if guess_encoding(head).startswith("utf-16"):
                return size
            start = max(0, size - TAIL_BYTES)
            fh.seek(start)
            tail = fh.read(size - start)
    except OSError:
        return size
    if tail.endswith((b"\n", b"\r")):
        return size
    i = max(tail.rfind(b"\n"), tail.rfind(b"\r"))
    return start + i + 1 if i >= 0 else size


class Watcher:
    """Polls one path; :meth:`poll` returns what changed since the last call."""

    def __init__(
        self,
        path: str | Path,
        hyperparameters: Hyperparameters | None = None,
        input_format: str | None = None,
        confirm: int = 2,
        mapping: ColumnMapping | None = None,
    ) -> None:
        if str(path) == "-":
            raise UsageError("watch needs a file or a directory, not standard input")
        self.path = Path(path)
        self.display = str(path)
        self.hyperparameters = hyperparameters
        self.input_format = input_format
        self.mapping = mapping
        # a new verdict is announced once ``confirm`` reads in a row agree, or
        # when the file goes quiet: a curve still being written flips between
        # labels near the decision boundaries, and each flip is not news
        self.confirm = max(1, confirm)
        self.labels: dict[str, str] = {}  # announced, by run
        # runs whose latest verdict rests on fewer than 3 validation points (a
        # weak verdict from the amount of training, not from the curve): told,
        # but never a reason for --exit-on to stop a training run
        self.weak: set[str] = set()
        self._pending: dict[str, tuple[Event, int]] = {}
        self.results: list[RunResult] = []
        self.last_error: FtdiagError | None = None
        self.changed = False  # did the last poll see a change?
        self.read_seconds = 0.0  # how long the last read and analysis took
        self.reads = 0
        self._sig: _Signature | None = None
        self._error_told = False
        self._missing_told = False

    def poll(self) -> list[Event]:
        events: list[Event] = []
        sig = _signature(self.path)
        self.changed = sig != self._sig
        if not self.changed:
            events.extend(self._settle())
            if self.last_error is not None and not self._error_told:
                # the file stopped changing while unreadable: say why, once
                self._error_told = True
                events.append(Event("waiting", f"waiting: {self.last_error}"))
            return events
        old, self._sig = self._sig, sig
        if not sig.exists:
            if not self._missing_told:
                self._missing_told = True
                what = "was removed" if old is not None and old.exists else "does not exist yet"
                events.append(Event("note", f"{self.display} {what}; waiting for it"))
            self.last_error = InputError(self.display, "no such file or directory")
            self._error_told = True
            return events
        self._missing_told = False
        if old is not None and old.exists:
            if sig.ino != old.ino:
                events.append(Event("note", f"{self.display} was replaced; reading the new file"))
                self.labels.clear()
                self.weak.clear()
                self._pending.clear()
            elif sig.size < old.size:
                events.append(Event("note", f"{self.display} was truncated; reading it again from the start"))
                self.labels.clear()
                self.weak.clear()
                self._pending.clear()
        events.extend(self._read(sig))
        return events

    def _analyze(self, limit: int | None) -> list[RunResult]:
        from .api import analyze_path, analyze_run
        from .inputs import finish

        if self.path.is_dir():
            return analyze_path(self.path, self.hyperparameters, self.input_format, self.mapping)
        with open_source(self.path, limit=limit) as source:
            source.mapping = self.mapping
            runs = read_source(source, self.input_format)
        done, errors = finish(runs, self.mapping)
        if errors:
            raise errors[0].error
        return [analyze_run(r, self.hyperparameters) for r in done]

    def _read(self, sig: _Signature) -> list[Event]:
        t0 = time.perf_counter()
        self.reads += 1
        try:
            if self.path.is_dir():
                results = self._analyze(None)
            else:
                cut = complete_prefix(self.path, sig.size)
                try:
                    results = self._analyze(cut)
                except InputError:
                    if cut == sig.size:
                        raise
                    # a document not ending with a line end (json.dump writes none)
                    results = self._analyze(sig.size)
        except FtdiagError as e:
            # most often a document caught half-written: wait for the next change
            self.last_error = e
            self._error_told = False
            return []
        finally:
            self.read_seconds = time.perf_counter() - t0
        self.last_error = None
        self.results = results
        several = len(results) > 1
        seen: set[str] = set()
        events: list[Event] = []
        for i, r in enumerate(results):
            key = f"{r.run.name}#{i}" if several else r.run.name
            seen.add(key)
            step = r.features.last_step
            prefix = f"{r.run.name}: " if several else ""
            msg = (
                f"{prefix}{r.run.x_unit} {_fmt_step(step)}: {r.label.replace('_', ' ').upper()} "
                f"(confidence {r.confidence:.2f}): {describe(r)}"
            )
            event = Event("verdict", msg, r.label, r.run.name, step, r.confidence)
            if any(f.name == "few_validation_points" for f in r.findings):
                self.weak.add(key)
            else:
                self.weak.discard(key)
            if self.labels.get(key) == r.label:
                self._pending.pop(key, None)
                continue
            before = self._pending.get(key)
            count = before[1] + 1 if before is not None and before[0].label == r.label else 1
            if count >= self.confirm:
                self._pending.pop(key, None)
                self.labels[key] = r.label
                events.append(event)
            else:
                self._pending[key] = (event, count)
        for key in list(self._pending):
            if key not in seen:
                del self._pending[key]
        return events

    def _settle(self) -> list[Event]:
        """The file is quiet: the pending verdicts are final for now."""
        events = []
        for key, (event, _) in list(self._pending.items()):
            assert event.label is not None
            self.labels[key] = event.label
            events.append(event)
        self._pending.clear()
        return events


@dataclass
class WatchOutcome:
    status: int  # 0 stopped, 1 exit-on label reached
    reason: str
    results: list[RunResult] = field(default_factory=list)


def _last(w: Watcher) -> str:
    if not w.results:
        return ""
    parts = [f"{r.label.replace('_', ' ')} at {r.run.x_unit} {_fmt_step(r.features.last_step)}" for r in w.results]
    return f" (last verdict: {'; '.join(parts)})"


def _reached(w: Watcher, exit_on: Collection[str]) -> list[str]:
    """The --exit-on labels announced for some run, leaving out weak verdicts."""
    return sorted({lab for key, lab in w.labels.items() if lab in exit_on and key not in w.weak})


def watch(
    path: str | Path,
    emit: Callable[[Event], None],
    interval: float = 1.0,
    idle_timeout: float | None = None,
    exit_on: Collection[str] = (),
    hyperparameters: Hyperparameters | None = None,
    input_format: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    mapping: ColumnMapping | None = None,
) -> WatchOutcome:
    """Follow ``path`` until ``idle_timeout`` seconds pass without a change, or a
    run's label is in ``exit_on``, or Ctrl-C (KeyboardInterrupt). Raises the
    last error when the file never yielded a verdict by the idle timeout."""
    if interval <= 0:
        raise UsageError("--interval must be positive")
    w = Watcher(path, hyperparameters, input_format, mapping=mapping)
    try:
        return _loop(w, emit, interval, idle_timeout, exit_on, sleep, clock)
    except KeyboardInterrupt:
        return WatchOutcome(0, f"interrupted{_last(w)}", w.results)


def _loop(
    w: Watcher,
    emit: Callable[[Event], None],
    interval: float,
    idle_timeout: float | None,
    exit_on: Collection[str],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> WatchOutcome:
    last_change = clock()
    while True:
        started = clock()
        for e in w.poll():
            emit(e)
        if w.changed:
            last_change = clock()
        reached = _reached(w, exit_on)
        if reached:
            return WatchOutcome(1, f"reached {', '.join(reached)} (--exit-on)", w.results)
        if idle_timeout is not None and clock() - last_change >= idle_timeout:
            for e in w._settle():  # quiet for good: a verdict waiting for a second read is final
                emit(e)
            reached = _reached(w, exit_on)
            if reached:
                return WatchOutcome(1, f"reached {', '.join(reached)} (--exit-on)", w.results)
            if not w.labels and w.last_error is not None:
                raise w.last_error
            return WatchOutcome(0, f"no change for {idle_timeout:g} s{_last(w)}", w.results)
        # never spend more than about a third of the time analysing
        pause = max(interval, 2.0 * w.read_seconds) - (clock() - started)
        if pause > 0:
            sleep(pause)
