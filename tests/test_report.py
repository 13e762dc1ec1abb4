"""``ftdiag report``: Markdown (golden files) and self-contained HTML."""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, SAMPLES
from ftdiag.api import analyze_many
from ftdiag.cli import cli
from ftdiag.render import markdown

GOLDEN = ROOT / "tests" / "golden"
SWEEP = [f"sample_logs/reference_{x}.csv" for x in ("underfit", "good_fit", "overfit")]


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("FTDIAG_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing; run with FTDIAG_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; FTDIAG_UPDATE_GOLDEN=1 rewrites it after review"


@pytest.fixture()
def in_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository root, so sources print as relative paths (stable goldens)."""
    monkeypatch.chdir(ROOT)
    return ROOT


def test_markdown_report_one_run(in_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "review.md"
    r = invoke("report", "sample_logs/reference_overfit.csv", "-o", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    check_golden("report_reference_overfit.md", text)
    # verdict first, then the numbers, the recommendations, and findings folded away
    lines = text.splitlines()
    first_heading = next(i for i, x in enumerate(lines) if x.startswith("## "))
    assert "OVERFIT" in lines[first_heading]
    assert lines[first_heading + 2].startswith("**Next run:**")
    order = [text.index(x) for x in ("OVERFIT", "| quantity | value |", "**Recommendations**", "Source:")]
    assert order == sorted(order)
    # the plot is a file next to the report, linked relatively
    (link,) = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert link == "review-plots/reference_overfit_csv.png"
    assert (tmp_path / link).read_bytes().startswith(b"\x89PNG")
    assert "data:" not in text


def test_markdown_report_sweep(in_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep.md"
    r = invoke("report", *SWEEP, "-o", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    check_golden("report_sweep.md", text)
    # summary table first, then a section per run
    table = text.index("| run | verdict |")
    sections = [m.start() for m in re.finditer(r"^## ", text, re.M)]
    assert len(sections) == 3 and table < sections[0]
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (tmp_path / link).is_file()
    assert "sweep-plots/sweep-curves.png" in text
    assert len(text.encode("utf-8")) < markdown.MAX_BYTES
    assert "<details><summary>" in text or all("Findings" not in s for s in text.split("## ")[1:])


def test_markdown_on_stdout_has_no_plots(in_root: Path) -> None:
    r = invoke("report", "sample_logs/reference_overfit.csv")
    assert r.exit_code == 0
    assert r.stdout.startswith("# ftdiag report") and "![" not in r.stdout
    # the same text as analyze --format markdown
    assert r.stdout == invoke("analyze", "sample_logs/reference_overfit.csv", "--format", "markdown").stdout


def test_markdown_stays_under_budget() -> None:
    results, _ = analyze_many([SAMPLES / n for n in sorted(os.listdir(SAMPLES)) if n.endswith((".csv", ".json"))])
    many = results * 40
    text = markdown.report(many, [])
    assert len(text.encode("utf-8")) <= markdown.MAX_BYTES
    assert "left out here to keep the report" in text and "more run(s) not listed" in text
    full = markdown.report(results, [])
    assert "left out" not in full and full.count("\n## ") == len(results)


def test_markdown_escapes_names() -> None:
    (r,), _ = analyze_many([SAMPLES / "reference_overfit.csv"])
    from dataclasses import replace

    from ftdiag.api import RunResult

    evil = RunResult(
        replace(r.run, name="<img src=x onerror=alert(1)> **bold** `tick`", source="a`b<script>.csv"),
        r.features, r.diagnosis, r.recommendations, r.warnings,
    )
    text = markdown.report([evil], [])
    # CommonMark shows a backslash-escaped "<" as text: no raw HTML survives
    rest = text.replace("``a`b<script>.csv``", "")
    assert not re.search(r"(?<!\\)<(img|script)", rest)
    assert "\\<img src=x" in rest and "\\*\\*bold" in rest
    assert "``a`b<script>.csv``" in text  # a code span shows its content literally


def _sweep_html(tmp_path: Path, *paths: str) -> str:
    out = tmp_path / "report.html"
    r = invoke("report", *paths, "-o", str(out))
    assert r.exit_code == 0, r.output
    return out.read_text(encoding="utf-8")


def test_html_report_is_self_contained(in_root: Path, tmp_path: Path) -> None:
    text = _sweep_html(tmp_path, *SWEEP)
    assert text.startswith("<!DOCTYPE html>")
    assert "<script" not in text.lower()  # no JavaScript
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", text)  # nothing fetched
    assert '<meta name="viewport"' in text and "@media print" in text
    srcs = re.findall(r'<img src="([^"]+)"', text)
    assert len(srcs) == 3 + 1  # one plot per run, plus the overlaid sweep curves
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    # summary table links to one section per run
    anchors = re.findall(r'<a href="#(run-\d+)">', text)
    assert anchors == ["run-1", "run-2", "run-3"]
    for a in anchors:
        assert f'id="{a}"' in text
    assert list(tmp_path.iterdir()) == [tmp_path / "report.html"]  # one file, nothing beside it


def test_html_is_reproducible(in_root: Path, tmp_path: Path) -> None:
    a = invoke("report", "sample_logs/reference_overfit.csv", "--format", "html", "--no-plots").stdout
    b = invoke("report", "sample_logs/reference_overfit.csv", "--format", "html", "--no-plots").stdout
    assert a == b and "<img" not in a
    one = _sweep_html(tmp_path, "sample_logs/hf_trainer_state_good_fit.json")
    two = _sweep_html(tmp_path, "sample_logs/hf_trainer_state_good_fit.json")
    assert one == two and "<img" in one


def test_html_escapes_everything_from_logs(tmp_path: Path) -> None:
    name = "<script>alert(1)</script>&\x1b[31m\"'"
    from dataclasses import replace

    from ftdiag.api import RunResult
    from ftdiag.render.html import render_html

    (r,), _ = analyze_many([SAMPLES / "reference_overfit.csv"])
    evil = RunResult(replace(r.run, name=name, source=name), r.features, r.diagnosis, r.recommendations, ("warn <b>x</b>",))
    text = render_html([evil, r])
    assert "<script" not in text and "<b>" not in text and "\x1b" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;\\x1b[31m&#34;&#39;" in text
    assert html.unescape(text).count("<script>alert(1)</script>") >= 3  # heading, table, source


def test_report_refuses_to_overwrite_input(tmp_path: Path) -> None:
    log = tmp_path / "run.csv"
    shutil.copy(SAMPLES / "reference_overfit.csv", log)
    before = log.read_bytes()
    r = invoke("report", str(log), "-o", str(log))
    assert r.exit_code == 2 and "refusing" in r.stderr
    assert log.read_bytes() == before


def test_report_with_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("nothing,useful\n1,2\n")
    out = tmp_path / "r.md"
    r = invoke("report", str(SAMPLES / "reference_overfit.csv"), str(bad), "-o", str(out), "--no-plots")
    assert r.exit_code == 2 and "bad.csv" in r.stderr
    text = out.read_text()
    assert "## Errors" in text and "bad.csv" in text and "OVERFIT" in text
    assert not (tmp_path / "r-plots").exists()


def test_report_format_from_suffix(tmp_path: Path) -> None:
    r = invoke("report", str(SAMPLES / "reference_good_fit.csv"), "-o", str(tmp_path / "x.HTML"), "--no-plots")
    assert r.exit_code == 0 and (tmp_path / "x.HTML").read_text().startswith("<!DOCTYPE html>")
    r = invoke("report", str(SAMPLES / "reference_good_fit.csv"), "-o", str(tmp_path / "x.txt"), "--no-plots")
    assert r.exit_code == 0 and (tmp_path / "x.txt").read_text().startswith("# ftdiag report")


def test_readme_sample_report_command(in_root: Path, tmp_path: Path) -> None:
    """README's documented command still works and docs/ holds what it writes."""
    import shlex

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^ftdiag report (sample_logs/.*?) -o docs/sample_report\.md", readme.replace("\\\n", " "), re.M | re.S)
    assert m, "README no longer documents the sample report command"
    args = shlex.split(m.group(1))
    out = tmp_path / "sample_report.md"
    r = invoke("report", *args, "-o", str(out))
    assert r.exit_code == 0, r.output
    made = sorted(p.name for p in (tmp_path / "sample_report-plots").iterdir())
    assert made == sorted(p.name for p in (ROOT / "docs" / "sample_report-plots").iterdir())
    assert (ROOT / "docs" / "sample_report.html").is_file() and (ROOT / "docs" / "sample_report.md").is_file()
    for link in re.findall(r"\]\((docs/[^)]+)\)", readme):
        assert (ROOT / link).is_file(), link


def test_reports_bound_the_number_of_plots(in_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ftdiag.render import plots

    monkeypatch.setattr(plots, "MAX_REPORT_PLOTS", 1)
    r = invoke("report", *SWEEP[:2], "-o", str(tmp_path / "r.md"))
    assert r.exit_code == 0, r.output
    text = (tmp_path / "r.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == ["r-plots/sweep-curves.png", "r-plots/reference_underfit_csv.png"]
    assert sorted(p.name for p in (tmp_path / "r-plots").iterdir()) == ["reference_underfit_csv.png", "sweep-curves.png"]
    r = invoke("report", *SWEEP[:2], "-o", str(tmp_path / "r.html"))
    text = (tmp_path / "r.html").read_text()
    assert text.count("<img ") == 2 and "Plots are drawn for the first 1 runs only" in text
