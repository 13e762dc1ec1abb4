"""Markdown for GitHub PRs and issues: verdict first, key numbers, advice, findings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._safe import md, md_code

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Failure, RunResult


def _num(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return md(v)


def run_section(r: RunResult, level: int = 2) -> list[str]:
    h = "#" * level
    s = r.summary()
    out = [
        f"{h} {md(r.run.name)}: **{r.label.replace('_', ' ')}** (confidence {r.confidence:.2f})",
        "",
        f"Source: {md_code(r.run.source)} ({md(r.run.format)})",
        "",
    ]
    out += [f"- {md(e)}" for e in r.evidence]
    out += ["", "| quantity | value |", "| --- | --- |"]
    rows = [
        ("decided on", s.get("decided_on")),
        ("best validation", s.get("best_validation_value")),
        (f"best validation {s.get('x_unit')}", s.get("best_validation_step")),
        ("best validation epoch", s.get("best_validation_epoch")),
        ("final validation", s.get("final_validation_value")),
        ("final train", s.get("final_train_value")),
        ("train-validation gap", s.get("train_validation_gap")),
        ("generalization loss (%)", s.get("generalization_loss_pct")),
        ("validation points", s.get("n_validation_points")),
    ]
    out += [f"| {k} | {_num(v)} |" for k, v in rows]
    if r.recommendations:
        out += ["", "**Next run**", "", "| # | parameter | action | current | suggested | why |", "| --- | --- | --- | --- | --- | --- |"]
        for i, rec in enumerate(r.recommendations, 1):
            out.append(
                f"| {i} | {md(rec.platform_parameter or rec.parameter)} | {rec.action} | {_num(rec.current)} | "
                f"{_num(rec.suggested)} | {md(rec.reason)} |"
            )
    if r.findings or r.warnings:
        out += ["", "<details><summary>Findings and warnings</summary>", ""]
        out += [f"- **{md(x.name)}** ({x.severity}): {md(x.message)}" for x in r.findings]
        out += [f"- warning: {md(w)}" for w in r.warnings]
        out += ["", "</details>"]
    return out


def render(results: list[RunResult], failures: list[Failure], color: bool = False) -> str:
    lines = ["# ftdiag report", ""]
    if len(results) > 1:
        lines += ["| run | label | confidence | top recommendation |", "| --- | --- | --- | --- |"]
        for r in results:
            top = r.recommendations[0] if r.recommendations else None
            rec = f"{top.action} {top.parameter}" if top else ""
            lines.append(f"| {md(r.run.name)} | {r.label} | {r.confidence:.2f} | {md(rec)} |")
        lines.append("")
    for r in results:
        lines += run_section(r)
        lines.append("")
    if failures:
        lines += ["## Errors", ""] + [f"- {md_code(f.source)}: {md(f.message)}" for f in failures] + [""]
    return "\n".join(lines)
