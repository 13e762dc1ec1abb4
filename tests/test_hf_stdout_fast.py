"""The regular-expression reading of a Trainer console dict gives exactly what
ast.literal_eval gives (or declines)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ftdiag.formats.hf_stdout import _parse_flat, _parse_literal

KEYS = st.sampled_from(["loss", "eval_loss", "learning_rate", "epoch", "grad_norm", "eval/acc", "a-b", "x.y"])
NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**35), 10**35).map(str),
    st.sampled_from(["0", "-0", "05", "1.", "-.5", "1e5", "1E-300", "1e999", "-0.0", "1_000", "+1", "0x10"]),
)
VALUE_TEXT = st.one_of(
    NUMBER_TEXT,
    NUMBER_TEXT.map(lambda t: f"'{t}'"),
    st.sampled_from(["'nan'", "'inf'", "'-inf'", "'12%'", "'abc'", "None", "True", "'a\\\\b'", "[1]", "''"]),
)


def same(a: dict[str, float] | None, b: dict[str, float] | None) -> bool:
    if a is None or b is None:
        return a is b
    return list(a) == list(b) and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or (a[k] == b[k] and math.copysign(1, a[k]) == math.copysign(1, b[k]))
        for k in a
    )


@given(st.lists(st.tuples(KEYS, VALUE_TEXT), min_size=1, max_size=6), st.sampled_from([", ", ",", " , "]), st.booleans())
def test_fast_dict_reading_equals_literal_eval(pairs: list[tuple[str, str]], sep: str, trailing: bool) -> None:
    text = "{" + sep.join(f"'{k}': {v}" for k, v in pairs) + ("," if trailing else "") + "}"
    fast: Any = _parse_flat(text)
    if fast is not None:
        assert same(fast, _parse_literal(text)), text


def test_the_usual_dicts_take_the_fast_way() -> None:
    for text in (
        "{'loss': 0.5123, 'grad_norm': 1.2345, 'learning_rate': 4.9e-05, 'epoch': 0.03}",
        "{'loss': '0.1162', 'grad_norm': '3.84', 'learning_rate': '1.988e-05', 'epoch': '0.02'}",
        "{'eval_loss': 0.41, 'eval_accuracy': 0.9, 'eval_runtime': 12.3, 'epoch': 1.0}",
    ):
        assert _parse_flat(text) is not None
        assert same(_parse_flat(text), _parse_literal(text))
