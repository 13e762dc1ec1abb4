"""Hugging Face Trainer ``trainer_state.json``.

The curve is in ``log_history``: training entries (``loss``), evaluation
entries (``eval_loss`` and ``eval_<metric>``) and a final summary entry
(``train_loss``, ``train_runtime``), told apart only by their keys. Python's
json module writes bare ``NaN``/``Infinity``, which are accepted here.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from itertools import compress, repeat
from typing import TYPE_CHECKING, Any

from ..errors import InputError, NoDataError
from ..hyperparams import Hyperparameters
from ..run import Run, Series, is_finite_number, looks_like_task_metric, make_series
from . import CERTAIN, Reader, _json
from ._json import _parse_int, depth_exceeds, loads, loads_document
from ._source import Source, decode

if TYPE_CHECKING:  # pragma: no cover
    from ..run import Floats

# up to this many log_history entries the columns are array('d') built in
# Python (a small file needs no numpy); more take numpy's C-speed passes
SMALL_ENTRIES = 20_000

_EVAL_SKIP = re.compile(r"^eval_(runtime|samples_per_second|steps_per_second|loss)$")
_PREFERRED = ("eval_accuracy", "eval_acc", "eval_f1", "eval_macro_f1", "eval_mean_token_accuracy")


def sniff(source: Source) -> float:
    head = source.head_text.lstrip()
    if head.startswith("{") and '"log_history"' in source.head_text:
        return CERTAIN
    return 0.0


def _num(v: Any) -> float | None:
    if is_finite_number(v) or (isinstance(v, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


_ONLY_FLOAT = frozenset({float})
_ONLY_INT = frozenset({int})
_ONLY_DICT = frozenset({dict})
_NUMBERS = frozenset({float, int})


def _column(entries: list[dict[str, Any]], key: str) -> list[float | None]:
    """``_num(e.get(key))`` for every entry; plain floats pass at C speed."""
    raw: list[Any] = list(map(dict.get, entries, repeat(key)))
    if _ONLY_FLOAT.issuperset(map(type, raw)):
        return raw
    if _ONLY_INT.issuperset(map(type, raw)):
        return list(map(float, raw))
    return [v if type(v) is float else float(v) if type(v) is int else _num(v) for v in raw]


def _values(
    entries: list[dict[str, Any]], key: str, finite_floats: bool = False, plain: bool = False
) -> tuple[Floats, Any]:
    """``_column`` as a float64 array (NaN where there is no number) and the mask
    of the entries that have a number (None: all of them). Entries holding only
    floats and ints (a log's usual state) go from dicts to the array at C speed;
    ``finite_floats``: every value is a finite float or None (see
    :func:`_typed_state`), so a NaN in the array is exactly a missing value.
    ``plain``: an ``array('d')`` and a list mask, without numpy (a small file)."""
    if plain:
        col = _column(entries, key)
        if None not in col:
            return array("d", col), None  # type: ignore[arg-type]
        return array("d", [math.nan if v is None else v for v in col]), [v is not None for v in col]
    import numpy as np

    if finite_floats:
        arr = np.fromiter(map(dict.get, entries, repeat(key)), dtype=np.float64, count=len(entries))
        missing = np.isnan(arr)
        return arr, (~missing if missing.any() else None)
    raw: list[Any] = list(map(dict.get, entries, repeat(key)))
    if _NUMBERS.issuperset(map(type, raw)):
        return np.fromiter(raw, dtype=np.float64, count=len(raw)), None
    vals = [v if type(v) is float else float(v) if type(v) is int else _num(v) for v in raw]
    ok = [v is not None for v in vals]
    arr = np.array([float("nan") if v is None else v for v in vals], dtype=np.float64)
    return arr, None if all(ok) else np.array(ok, dtype=bool)


def _kinds(
    entries: list[dict[str, Any]], evk: frozenset[str], plain: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[int]]:
    """Training entries, evaluation entries and the indices of the others."""
    has_loss_it = map(dict.__contains__, entries, repeat("loss"))
    if plain:
        has_eval = [not x for x in map(evk.isdisjoint, entries)]
        has_loss = list(has_loss_it)
        train_mask = [lo and not ev for lo, ev in zip(has_loss, has_eval, strict=True)]
        others = [i for i, (lo, ev) in enumerate(zip(has_loss, has_eval, strict=True)) if not lo and not ev]
        return list(compress(entries, train_mask)), list(compress(entries, has_eval)), others
    import numpy as np

    n = len(entries)
    has_evals = ~np.fromiter(map(evk.isdisjoint, entries), dtype=bool, count=n)
    has_losses = np.fromiter(has_loss_it, dtype=bool, count=n)
    train = list(compress(entries, (has_losses & ~has_evals).tolist()))
    evals = list(compress(entries, has_evals.tolist()))
    # a few entries: the summary, odd ones
    return train, evals, np.flatnonzero(~has_losses & ~has_evals).tolist()


def _choose_metric(evals: list[dict[str, Any]], best_hint: str | None) -> str | None:
    # each eval metric with the number of entries where it is a number, in the
    # order of its first numeric occurrence (entry by entry, key by key)
    found: list[tuple[int, int, str, int]] = []
    for k in {k for keys in {tuple(e) for e in evals} for k in keys}:
        if not k.startswith("eval_") or _EVAL_SKIP.match(k):
            continue
        col = _column(evals, k)
        count = len(col) - col.count(None)
        if count:
            first = next(i for i, v in enumerate(col) if v is not None)
            found.append((first, list(evals[first]).index(k), k, count))
    keys = {k: count for _, _, k, count in sorted(found)}
    if not keys:
        return None
    for k in _PREFERRED:
        if k in keys:
            return k
    if best_hint and f"eval_{best_hint}" in keys:
        return f"eval_{best_hint}"
    task = [k for k in keys if looks_like_task_metric(k)]
    return sorted(task, key=lambda k: -keys[k])[0] if task else None


def runs_from_state(
    state: dict[str, Any],
    display: str,
    name: str,
    fmt: str = "hf_trainer_state",
    extra_warnings: tuple[str, ...] = (),
    finite_floats: bool = False,
) -> list[Run]:
    """The run in a parsed trainer_state.json. ``finite_floats``: the
    log_history entries hold only finite floats and None (:func:`_typed_state`
    made them)."""
    history = state.get("log_history")
    if not isinstance(history, list):
        raise InputError(display, "expected a 'log_history' list in trainer_state.json")
    if not history:
        raise NoDataError(
            display,
            "log_history is empty: nothing was logged (logging_steps "
            f"{state.get('logging_steps', '?')} vs max_steps {state.get('max_steps', '?')})",
        )
    # an entry's kind follows from its keys alone: evaluation when it has an
    # eval_ key, training when it has "loss" (and no eval_ key), the summary
    # when it has train_runtime or train_loss (and neither). Found with one pass
    # per key that matters, at C speed, not a tuple of keys per entry: 200,000
    # entries make this, and the columns below, the reader's main cost.
    entries = history if _ONLY_DICT.issuperset(map(type, history)) else [e for e in history if isinstance(e, dict)]
    n = len(entries)
    used: set[str] = set().union(*entries)
    eval_keys = sorted(k for k in used if k.startswith("eval_"))
    evk = frozenset(eval_keys)
    plain = n <= SMALL_ENTRIES
    train, evals, others = _kinds(entries, evk, plain)
    summaries = [entries[i] for i in others if "train_runtime" in entries[i] or "train_loss" in entries[i]]
    summary: dict[str, Any] = summaries[-1] if summaries else {}

    # step and epoch of every entry, computed once per group
    axes: dict[int, tuple[Floats, Floats]] = {}

    def axis(entries: list[dict[str, Any]]) -> tuple[Floats, Floats]:
        if id(entries) not in axes:
            steps, has_step = _values(entries, "step", finite_floats, plain)
            if has_step is not None:  # a missing step is the entry's place in its group
                if plain:
                    steps = array("d", [s if ok else i + 1.0 for i, (s, ok) in enumerate(zip(steps, has_step, strict=True))])
                else:
                    import numpy as np

                    steps = np.where(has_step, steps, np.arange(1, len(entries) + 1, dtype=np.float64))
            epochs, _ = _values(entries, "epoch", finite_floats, plain)
            axes[id(entries)] = (steps, epochs)
        return axes[id(entries)]

    def series(
        entries: list[dict[str, Any]], key: str, name: str | None = None,
        col: tuple[Floats, Any] | None = None,
    ) -> Series | None:
        vals, ok = _values(entries, key, finite_floats, plain) if col is None else col
        if not len(vals) or (ok is not None and not (any(ok) if plain else ok.any())):
            return None
        steps, epochs = axis(entries)
        if ok is None:
            return make_series(name or key, steps, vals, epochs)
        if plain:
            return make_series(
                name or key, array("d", compress(steps, ok)), array("d", compress(vals, ok)), array("d", compress(epochs, ok))
            )
        return make_series(name or key, steps[ok], vals[ok], epochs[ok])

    best_hint = None
    ckpt = state.get("best_model_checkpoint")
    metric_key = _choose_metric(evals, best_hint)
    train_metric_key = None
    for k in ("mean_token_accuracy", "accuracy", "train_accuracy"):
        if k in used and any(map(dict.__contains__, train, repeat(k))):
            train_metric_key = k
            break
    hp_values: dict[str, float] = {}
    for src, dst in (("num_train_epochs", "n_epochs"), ("train_batch_size", "batch_size")):
        v = _num(state.get(src))
        if v is not None and is_finite_number(v) and v > 0:
            hp_values[dst] = v
    lr_col = _values(train, "learning_rate", finite_floats, plain)
    if plain:
        lrs = [v for v in lr_col[0] if math.isfinite(v)]
        lr_max = max(lrs) if lrs else None
    else:
        import numpy as np

        lr = np.asarray(lr_col[0])
        fin = lr[np.isfinite(lr)]
        lr_max = float(fin.max()) if fin.size else None
    if lr_max is not None:
        hp_values["learning_rate"] = float(lr_max)
    hp = Hyperparameters(**hp_values, sources={k: "log" for k in hp_values})
    extra: dict[str, Series] = {}
    for k in ("learning_rate", "grad_norm"):
        s = series(train, k, col=lr_col if k == "learning_rate" else None)
        if s is not None:
            extra[k] = s
    # eval_ keys are only in evaluation entries
    other_evals = {k for k in eval_keys if k.endswith("_loss") and k != "eval_loss"}
    for k in sorted(other_evals):
        s = series(evals, k)
        if s is not None:
            extra[k] = s
    max_steps = _num(state.get("max_steps"))
    n_ep = _num(state.get("num_train_epochs"))
    spe = max_steps / n_ep if max_steps and n_ep else None
    val_loss = series(evals, "eval_loss")
    warnings: list[str] = list(extra_warnings)
    if val_loss is None:
        # several evaluation sets (eval_<set>_loss) and no plain eval_loss:
        # judge on the first with numbers (one logged only as null is not in
        # extra), and take the task metric of that same set
        first = next((k for k in sorted(other_evals) if k in extra), None)
        if first is not None:
            val_loss = extra.pop(first)
            prefix = first[: -len("loss")]
            same_set = _choose_metric([{k: v for k, v in e.items() if k.startswith(prefix)} for e in evals], None)
            if same_set is not None:
                metric_key = same_set
            if len(other_evals) > 1:
                warnings.append(
                    f"{display}: {len(other_evals)} evaluation sets ({', '.join(sorted(other_evals))}) "
                    f"and no plain eval_loss: diagnosed on {first}; the others are kept as extra series"
                )
    run = Run(
        source=display,
        format=fmt,
        name=name,
        train_loss=series(train, "loss"),
        val_loss=val_loss,
        train_metric=series(train, train_metric_key) if train_metric_key else None,
        val_metric=series(evals, metric_key) if metric_key else None,
        extra=extra,
        hyperparameters=hp,
        platform="huggingface",
        x_unit="step",
        steps_per_epoch=spe,
        planned_steps=max_steps,
        metadata={
            "best_model_checkpoint": ckpt,
            "best_metric": _num(state.get("best_metric")),
            "summary_train_loss": _num(summary.get("train_loss")),
        },
        warnings=tuple(warnings),
    )
    if run.train_loss is None and run.val_loss is None and run.val_metric is None:
        raise NoDataError(display, "log_history holds no loss or evaluation metric")
    return [run]


_LOG_HISTORY = re.compile(r'"log_history"\s*:\s*\[')
# a top-level scalar of an indented trainer_state.json ("  \"max_steps\": 300,")
_TOP_SCALAR = re.compile(r'^ {0,2}"(\w+)"\s*:\s*(-?[0-9][0-9.eE+-]*|null|true|false|"[^"\n]*")\s*,?\s*$', re.M)


def salvage(text: str) -> dict[str, Any] | None:
    """The complete entries of a cut-short trainer_state.json (a run still
    being written, a copy interrupted): every ``log_history`` object that
    parses, in order, up to the first that does not, plus the top-level
    scalars that can be read. None when there is no ``log_history``."""
    m = _LOG_HISTORY.search(text)
    if m is None:
        return None
    decoder = json.JSONDecoder(parse_int=_parse_int)
    entries: list[Any] = []
    pos = m.end()
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError, ValueError):
            break
        if isinstance(obj, dict) and not depth_exceeds(obj):
            entries.append(obj)
    state: dict[str, Any] = {}
    for km in _TOP_SCALAR.finditer(text):
        try:
            state.setdefault(km.group(1), json.loads(km.group(2), parse_int=_parse_int))
        except (ValueError, RecursionError):  # also a 5,000-digit integer
            pass
    state["log_history"] = entries
    return state


# every field of transformers' TrainerState: a document with another key is
# parsed the general way
_STATE_FIELDS = (
    "best_global_step", "best_metric", "best_model_checkpoint", "epoch", "eval_steps", "global_step",
    "is_hyper_param_search", "is_local_process_zero", "is_world_process_zero", "logging_steps", "max_steps",
    "num_input_tokens_seen", "num_train_epochs", "save_steps", "stateful_callbacks", "total_flos",
    "train_batch_size", "trial_name", "trial_params",
)
_DECODER: Any = None


def _typed_state(data: bytes, encoding: str, display: str) -> dict[str, Any] | None:
    """A large trainer_state.json as :func:`loads_document` parses it, faster:
    msgspec decodes ``log_history`` straight into flat dicts of finite floats
    and None (what the reader makes of numbers anyway; an integer is the float
    json's would become, a 300-digit one included), so the entries need
    neither a depth check nor a scan for long integers, and their columns are
    built without looking at each value's type; the other fields are parsed as
    json parses them. None when the document is anything else (an unknown
    field, a string, boolean, nested, NaN or out-of-range value in an entry,
    invalid JSON, ...): the general parser then gives its own result or
    message."""
    global _DECODER
    if len(data) < _json.FAST_MIN_BYTES or encoding not in ("utf-8", "utf-8-sig"):
        return None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        import msgspec
    except ImportError:  # pragma: no cover - a core dependency
        return None
    if _DECODER is None:
        scalar = float | None
        fields: list[Any] = [("log_history", list[dict[str, scalar]])]
        fields += [(k, msgspec.Raw, msgspec.UNSET) for k in _STATE_FIELDS]
        _DECODER = msgspec.json.Decoder(msgspec.defstruct("TrainerState", fields, forbid_unknown_fields=True))
    try:
        st = _DECODER.decode(body)
        state = {
            k: loads(bytes(v).decode("utf-8"), display)
            for k in _STATE_FIELDS
            if (v := getattr(st, k)) is not msgspec.UNSET
        }
    except (msgspec.DecodeError, RecursionError, ValueError, MemoryError, InputError):
        return None
    if depth_exceeds(state):
        return None
    state["log_history"] = st.log_history
    return state


def read(source: Source) -> list[Run]:
    data = source.read_bytes()
    warnings: tuple[str, ...] = ()
    try:
        state = _typed_state(data, source.encoding, source.display)
        typed = state is not None
        if state is None:
            state = loads_document(data, source.display, source.encoding, hint="; is the file truncated or still being written?")
    except InputError as e:
        saved = salvage(decode(data, source.display)) if "invalid JSON" in e.detail else None
        if not saved or not saved["log_history"]:
            raise
        state, typed = saved, False
        why = re.search(r"invalid JSON \((.*?)\)(?:;|$)", e.detail)
        warnings = (
            f"{source.display}{', ' + e.where if e.where else ''}: the JSON is cut short or broken here "
            f"({why.group(1) if why else e.detail}; a run still being written?): read the "
            f"{len(saved['log_history'])} complete log_history entries before it",
        )
    del data  # a large file's bytes are not needed beside the parsed document
    if not isinstance(state, dict):
        raise InputError(source.display, "expected a JSON object with 'log_history'")
    return runs_from_state(state, source.display, source.name, extra_warnings=warnings, finite_floats=typed)


READER = Reader(
    name="hf_trainer_state",
    description="Hugging Face Trainer trainer_state.json",
    detects="a JSON object with a 'log_history' key",
    example="ftdiag analyze output/checkpoint-500/trainer_state.json",
    sniff=sniff,
    read=read,
)
