"""Markdown for GitHub PRs and issues: verdict first, key numbers, advice, findings.

The same text serves ``ftdiag analyze --format markdown`` and ``ftdiag report
-o report.md``; the report adds plots, linked as image files written next to
it (GitHub strips embedded ``data:`` images). A report stays under about
``MAX_BYTES``: past it, runs are summarised in the table only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote

from .. import __version__
from . import _words as w
from ._safe import md, md_code

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Failure, RunResult

# GitHub renders comments and descriptions up to 65,536 characters; stay below.
MAX_BYTES = 60_000


def _num(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return md(v)


def _link(path: str) -> str:
    """A relative link target: every character outside the safe set percent-encoded."""
    return quote(path, safe="/._-")


def _best(r: RunResult) -> str:
    return md(w.best_validation(r))


def _value(r: RunResult, v: float | None, difference: bool = False) -> str:
    val = r.features.val
    pct = val is not None and w.is_fraction_metric(val.name, val.sign > 0)
    return md(w.metric_value(v, pct, difference)) if v is not None else "n/a"


def run_section(r: RunResult, level: int = 2, images: Sequence[tuple[str, str]] = ()) -> list[str]:
    """One run: heading with the verdict, the top recommendation, evidence, plots,
    key numbers, all recommendations, then findings folded away."""
    h = "#" * level
    s = r.summary()
    head = f"{h} {md(r.run.name)}: {w.verdict(r.label)}"
    if r.label != "inconclusive":
        head += f" (confidence {r.confidence:.2f})"
    out = [head, ""]
    if r.recommendations:
        top = r.recommendations[0]
        out += [f"**Next run:** {md(w.change(top))} ({md(top.reason)})", ""]
    elif r.diagnosis.reason:
        out += [f"**Inconclusive:** {md(r.diagnosis.reason)}", ""]
    out += [f"- {md(e)}" for e in r.evidence]
    out.append("")
    for alt, link in images:
        # no link: the plot could not be drawn and ``alt`` says so
        out += [f"![{md(alt)}]({_link(link)})" if link else f"*{md(alt)}*", ""]
    unit = s.get("x_unit") or "step"
    rows = [
        ("decided on", md(s["decided_on"]) if s.get("decided_on") else "n/a"),
        ("best validation", _value(r, s.get("best_validation_value"))),
        (f"best validation {md(unit)}", _num(s.get("best_validation_step"))),
    ]
    if unit != "epoch":
        rows.append(("best validation epoch", _num(s.get("best_validation_epoch"))))
    rows += [
        ("final validation", _value(r, s.get("final_validation_value"))),
        ("final train", _value(r, s.get("final_train_value"))),
        ("train-validation gap", _value(r, s.get("train_validation_gap"), difference=True)),
        ("generalization loss (%)", _num(s.get("generalization_loss_pct"))),
        ("validation points", _num(s.get("n_validation_points"))),
        ("epochs seen", _num(s.get("epochs"))),
    ]
    out += ["| quantity | value |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in rows]
    if r.recommendations:
        out += [
            "",
            "**Recommendations**",
            "",
            "| # | parameter | action | current | suggested | why | expected effect |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for i, rec in enumerate(r.recommendations, 1):
            out.append(
                f"| {i} | {md(rec.platform_parameter or rec.parameter)} | {md(rec.action)} | {_num(rec.current)} | "
                f"{_num(rec.suggested)} | {md(rec.reason)} | {md(rec.expected_effect)} |"
            )
    if r.findings or r.warnings:
        n = len(r.findings) + len(r.warnings)
        out += ["", f"<details><summary>Findings and warnings ({n})</summary>", ""]
        out += [f"- **{md(x.name)}** ({md(x.severity)}): {md(x.message)}" for x in r.findings]
        out += [f"- warning: {md(w_)}" for w_ in r.warnings]
        out += ["", "</details>"]
    out += ["", f"Source: {md_code(r.run.source)} ({md(r.run.format)})"]
    return out


def summary_table(results: Sequence[RunResult]) -> list[str]:
    lines = [
        "| run | verdict | confidence | best validation | top recommendation |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        top = md(w.change(r.recommendations[0])) if r.recommendations else ""
        conf = f"{r.confidence:.2f}" if r.label != "inconclusive" else ""
        lines.append(f"| {md(r.run.name)} | {w.verdict(r.label)} | {conf} | {_best(r)} | {top} |")
    return lines


def report(
    results: Sequence[RunResult],
    failures: Sequence[Failure] = (),
    images: Mapping[int, Sequence[tuple[str, str]]] | None = None,
    sweep_images: Sequence[tuple[str, str]] = (),
    max_bytes: int = MAX_BYTES,
) -> str:
    """The whole report. ``images[i]`` holds (alt text, relative path) pairs for run i."""
    images = images or {}
    lines = ["# ftdiag report", ""]
    if len(results) > 1:
        counts = {k: sum(r.label == k for r in results) for k in ("overfit", "good_fit", "underfit", "inconclusive")}
        said = ", ".join(f"{n} {w.verdict(k).lower()}" for k, n in counts.items() if n)
        lines += [f"{len(results)} runs: {said}.", ""]
        table = summary_table(results)
        budget, kept = max_bytes // 2, 2
        size = sum(len(x.encode("utf-8")) + 1 for x in table[:2])
        for row in table[2:]:
            size += len(row.encode("utf-8")) + 1
            if size > budget:
                break
            kept += 1
        lines += table[:kept]
        if kept < len(table):
            lines += ["", f"*{len(table) - kept} more run(s) not listed; `ftdiag analyze --format json` gives them all.*"]
        lines.append("")
        for alt, link in sweep_images:
            lines += [f"![{md(alt)}]({_link(link)})" if link else f"*{md(alt)}*", ""]
    tail: list[str] = []
    errors = [f for f in failures if not f.skipped]
    skipped = [f for f in failures if f.skipped]
    if errors:
        tail += ["## Errors", ""] + [f"- {md_code(f.source)}: {md(f.message)}" for f in errors] + [""]
    if skipped:
        tail += ["## Skipped files", "", "Found in a folder or by a pattern, these could not be read; the other runs were.", ""]
        tail += [f"- {md_code(f.source)}: {md(f.message)}" for f in skipped] + [""]
    tail += [f"<sub>Written by ftdiag {__version__}.</sub>", ""]
    size = len("\n".join(lines + tail).encode("utf-8"))

    def note(k: int) -> str:
        return (
            f"*{k} more run(s) are in the table above but left out here to keep the report "
            f"under {max_bytes // 1000} KB; `ftdiag analyze --format json` gives them all.*"
        )

    # room for the note, should one be needed (its length depends on paths
    # and counts, so the budget must not be spent before it is written)
    reserve = len(note(len(results)).encode("utf-8")) + 2
    left_out = 0
    for i, r in enumerate(results):
        section = run_section(r, images=images.get(i, ())) + [""]
        n = len("\n".join(section).encode("utf-8")) + 1
        if left_out or (size + n + reserve > max_bytes and i > 0):
            left_out += 1
            continue
        lines += section
        size += n
    if left_out:
        lines += [note(left_out), ""]
    return "\n".join(lines + tail)


def render(results: list[RunResult], failures: list[Failure], color: bool = False) -> str:
    return report(results, failures)
