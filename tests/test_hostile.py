"""Hostile content: names with markup, control characters and terminal escapes
are shown as data, never obeyed, in terminal, JSON and Markdown output."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from conftest import SAMPLES
from ftdiag.cli import cli
from ftdiag.render import _safe
from ftdiag.render._safe import html_json, html_text, md, md_code, term, visible

# what must never reach a terminal raw: ESC/CSI and other controls, bidi
# overrides, zero-width and line-separator characters, lone surrogates
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
EVIL = "\x1b[2J\x1b]0;pwned\x07<img src=x onerror=alert(1)>|**b**`c`\u202eevil[x](javascript:alert(1))"

GFM = MarkdownIt("commonmark").enable("table").enable("strikethrough")
hostile_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(list("\x1b\x07\x9b\r\n\t<>&|`*_[]()#!~\\\u202e\u2028\ufeff-=:/")),
    ),
    max_size=60,
)


def cell_texts(markdown: str) -> list[str]:
    """The text of every table cell once the Markdown is rendered (GFM tables)."""
    out = GFM.render(markdown)
    return [html.unescape(re.sub(r"</?code>", "", c)) for c in re.findall(r"<td>(.*?)</td>", out, re.S)]


@given(hostile_text)
@settings(max_examples=300, deadline=None)
def test_term_leaves_no_control_characters(s: str) -> None:
    t = term(s)
    assert not UNSAFE.search(t) and "\n" not in t


@given(hostile_text)
@settings(max_examples=300, deadline=None)
def test_markdown_cell_shows_the_text_literally(s: str) -> None:
    """Whatever the text, it renders as one table cell holding exactly that text."""
    md_cells = cell_texts(f"| a | b |\n| --- | --- |\n| x{md(s)}x | {md_code(s, in_table=True)} |\n")
    assert len(md_cells) == 2
    shown = visible(s)
    assert md_cells[0] == f"x{shown}x"
    # a code span trims one surrounding space and turns line ends into spaces
    assert md_cells[1].strip() == shown.strip() or (not shown.strip() and not md_cells[1].strip())


@given(hostile_text)
@settings(max_examples=200, deadline=None)
def test_markdown_paragraph_has_no_markup(s: str) -> None:
    out = GFM.render(f"before {md(s)} after\n")
    assert re.fullmatch(r"<p>[^<]*</p>\n", out), out  # no element from the text
    assert html.unescape(out[3:-5]) == f"before {visible(s)} after".strip()


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append(tag)

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        self.data.append(data)


@given(hostile_text)
@settings(max_examples=200, deadline=None)
def test_html_text_is_data(s: str) -> None:
    p = _Collect()
    p.feed(f'<p title="{html_text(s)}">{html_text(s)}</p>')
    p.close()
    assert p.tags == ["p"] and "".join(p.data) == visible(s)


def test_html_json_cannot_close_the_script() -> None:
    text = html_json({"name": "</script><script>alert(1)</script>&\u2028"})
    assert "</" not in text and "<" not in text
    assert json.loads(text)["name"].startswith("</script>")


def test_long_names_are_cut() -> None:
    assert len(term("x" * 10_000)) == _safe.DEFAULT_LIMIT + 1


def _hostile_keras(tmp_path: Path, filename: str) -> Path:
    metric = "\x1b]0;pwned\x07acc<b>|`x`\u202e"
    rows = (SAMPLES / "reference_overfit.csv").read_text().splitlines()
    header = f"epoch,{metric},loss,val_{metric},val_loss"
    p = tmp_path / filename
    p.write_text("\n".join([header] + rows[1:]) + "\n")
    return p


NAMES = ["run\x1b[31m<i>|x|`y`.csv", "a\nb\u202e.csv", "ok.csv"]


@pytest.mark.parametrize("filename", NAMES)
def test_names_in_terminal_output(tmp_path: Path, filename: str) -> None:
    p = _hostile_keras(tmp_path, filename)
    r = CliRunner().invoke(cli, ["analyze", str(p)])
    assert r.exit_code == 0, r.output
    assert "OVERFIT" in r.stdout
    assert not UNSAFE.search(r.stdout) and not UNSAFE.search(r.stderr)
    assert "\\x1b" in r.stdout  # shown, not obeyed


@pytest.mark.parametrize("filename", NAMES)
def test_names_in_json_output(tmp_path: Path, filename: str) -> None:
    p = _hostile_keras(tmp_path, filename)
    r = CliRunner().invoke(cli, ["analyze", str(p), "--format", "json"])
    assert r.exit_code == 0
    assert not UNSAFE.search(r.stdout.replace("\n", ""))  # escaped as \uXXXX inside strings
    (run,) = json.loads(r.stdout)["runs"]
    assert run["source"] == str(p)  # the consumer gets the real name back


@pytest.mark.parametrize("filename", NAMES)
def test_names_in_markdown_output(tmp_path: Path, filename: str) -> None:
    p = _hostile_keras(tmp_path, filename)
    r = CliRunner().invoke(cli, ["analyze", str(p), "--format", "markdown"])
    assert r.exit_code == 0
    out = GFM.render(r.stdout)
    assert "<img" not in out and "<i>" not in out and "<b>" not in out
    assert not UNSAFE.search(r.stdout.replace("\n", ""))
    # no "|" from a name split a row: every row of a table has as many cell
    # separators as its header (GFM itself silently drops surplus cells)
    for table in re.findall(r"(?m)(?:^\|.*\n?)+", r.stdout):
        rows = table.strip("\n").split("\n")
        assert len({len(re.findall(r"(?<!\\)\|", row)) for row in rows}) == 1, rows


def test_error_message_quoting_content_is_one_safe_line(tmp_path: Path) -> None:
    p = tmp_path / "bad\x1b[2J.csv"
    p.write_text("\x1b]0;pwned\x07\u202e,b\n1,2\n")
    r = CliRunner().invoke(cli, ["analyze", str(p)])
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and not UNSAFE.search(lines[0])


def test_undecodable_file_name_does_not_crash(tmp_path: Path) -> None:
    name = (b"x\xff\xfe" + b".csv").decode("utf-8", "surrogateescape")
    p = tmp_path / name
    p.write_bytes((SAMPLES / "reference_overfit.csv").read_bytes())
    for fmt in ("text", "json", "markdown"):
        r = CliRunner().invoke(cli, ["analyze", str(p), "--format", fmt])
        assert r.exit_code == 0, r.output
        assert "\\udcff" in r.stdout


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append(tag)
        self.attrs += [f"{k}={v}" for k, v in attrs if k.startswith("on") or (v or "").startswith("javascript")]


def _report_tags(p: Path) -> tuple[list[str], list[str], str]:
    r = CliRunner().invoke(cli, ["report", str(p), "--format", "html"])
    assert r.exit_code == 0, r.output
    t = _Tags()
    t.feed(r.stdout)
    return sorted(t.tags), t.attrs, r.stdout


@pytest.mark.parametrize("filename", NAMES[:2])
def test_names_in_html_report(tmp_path: Path, filename: str) -> None:
    """The same report for a hostile run and a plain one has exactly the same elements."""
    (tmp_path / "h").mkdir()
    (tmp_path / "p").mkdir()
    hostile = _hostile_keras(tmp_path / "h", filename)
    plain = tmp_path / "p" / "plain.csv"
    plain.write_text(re.sub(r"[^\x20-\x7e\n]|[<>|`]", "", hostile.read_text()))
    tags_h, attrs_h, text = _report_tags(hostile)
    tags_p, _, _ = _report_tags(plain)
    assert tags_h == tags_p
    assert attrs_h == []
    assert not UNSAFE.search(text.replace("\n", "").replace("\t", ""))


def _console_log(extra: list[str]) -> str:
    """A Trainer console log (as printed by Trainer.log), with lines inserted."""
    lines = []
    for epoch in range(1, 9):
        lines.append(" 45%|####5     | 450/1000 [00:10<00:12, 44.1it/s]")
        lines.append(repr({"loss": round(2.0 / epoch, 4), "learning_rate": 5e-05, "epoch": float(epoch)}))
        lines.append(repr({"eval_loss": round(1.0 + 0.01 * (epoch - 4) ** 2, 4), "eval_runtime": 1.0, "epoch": float(epoch)}))
        if epoch == 3:
            lines += extra
    return "\n".join(lines) + "\n"


def test_console_log_content_is_never_evaluated(tmp_path: Path) -> None:
    canary = tmp_path / "CANARY"
    payloads = [
        f"{{'loss': __import__('os').system('touch {canary}'), 'epoch': 3.5}}",
        f"{{'loss': (lambda: open('{canary}', 'w'))(), 'epoch': 3.5}}",
        f"{{'loss': [open('{canary}', 'w') for _ in [1]][0], 'epoch': 3.5}}",
        f"{{'loss': exec('open(\"{canary}\", \"w\")'), 'epoch': 3.5}}",
        "{'loss': 0.5, 'epoch': " + "[" * 5000 + "]" * 5000 + "}",
        "{'loss': 0.5, 'epoch': " + "(" * 300 + "1" + ")" * 300 + "}",
        "{'loss': " + "1" * 6000 + ", 'epoch': 3.5}",
        "{'loss': 9**9**9, 'epoch': 3.5}",
        "{'eval_loss': '" + "9" * 20_000 + "', 'epoch': 3.5}",
    ]
    p = tmp_path / "train.log"
    p.write_text(_console_log(payloads))
    r = CliRunner().invoke(cli, ["analyze", str(p), "--format", "json"])
    assert not canary.exists()
    assert r.exit_code == 0, r.output
    (run,) = json.loads(r.stdout)["runs"]
    assert run["format"] == "hf_stdout" and run["summary"]["n_validation_points"] == 8
