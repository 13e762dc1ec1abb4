"""Writing reports: Markdown with its plots next to it, or one self-contained HTML file.

Every file is written atomically and never over an input (see :mod:`ftdiag.outputs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import _words as w

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Failure, RunResult
    from .plots import PlotOptions

REPORT_FORMATS = ("markdown", "html")


def format_for(path: str | None, fmt: str | None) -> str:
    """The report format: as asked, else from the output's suffix, else Markdown."""
    if fmt:
        return fmt
    if path and Path(path).suffix.lower() in (".html", ".htm"):
        return "html"
    return "markdown"


def plots_dir_for(out: Path) -> Path:
    """Where a Markdown report's images go: ``report-plots/`` beside ``report.md``."""
    return out.with_name(f"{out.stem}-plots")


def markdown_report(
    results: Sequence[RunResult],
    failures: Sequence[Failure],
    out: Path | None,
    options: PlotOptions | None = None,
    inputs: Iterable[str] = (),
    plots: bool = True,
    problems: list[str] | None = None,
) -> tuple[str, list[Path]]:
    """The Markdown text, and the plot files written for it (none without ``out``:
    a report on stdout has nowhere to put images). A plot that cannot be drawn
    leaves a note in its place and a message in ``problems`` (when given; else
    it raises)."""
    from .markdown import report

    if out is None or not plots or not results:
        return report(results, failures), []
    from . import plots as p

    opts = options or p.PlotOptions()
    png_only = p.PlotOptions(smoothing=opts.smoothing, formats=("png",), dpi=opts.dpi)
    pdir = plots_dir_for(out)
    ins = list(inputs)
    # only the runs whose sections can be shown, and at most MAX_REPORT_PLOTS
    told: list[str] = []  # this report's plot problems, whatever the caller wants to hear
    per_run = p.write_run_plots(
        results[: min(p.MAX_REPORT_PLOTS, _shown(results, failures))], pdir, png_only, ins,
        told if problems is not None else None,
    )
    images = {
        # an empty link: the plot could not be drawn, and the text says so in its place
        i: [(f"plot of {r.run.name}: {w.verdict(r.label).lower()}", f"{pdir.name}/{files[0].name}") if files
            else (_missing(r.run.name, told), "")]
        for i, (r, files) in enumerate(zip(results, per_run, strict=False))
    }
    written = [f for files in per_run for f in files]
    sweep_images: list[tuple[str, str]] = []
    if len(results) > 1:
        n = len(told)
        sweep_files = p.write_sweep_plots(results, pdir, png_only, ins, told if problems is not None else None)
        written += sweep_files
        alts = {
            "sweep-curves": "validation curves of every run, overlaid",
            "sweep-hyperparameters": "best validation value against each varied hyperparameter",
        }
        sweep_images = [(alts.get(f.stem, f.stem), f"{pdir.name}/{f.name}") for f in sweep_files]
        sweep_images += [(p.plot_note(m), "") for m in told[n:]]
    if problems is not None:
        problems.extend(told)
    return report(results, failures, images, sweep_images), written


def _missing(name: str, told: Sequence[str]) -> str:
    """The note in place of a run's plot that could not be drawn."""
    from .plots import plot_note

    return plot_note(next((m for m in told if m.startswith(f"the plot of {name} ")), "the plot could not be drawn"))


def _shown(results: Sequence[RunResult], failures: Sequence[Failure]) -> int:
    """How many run sections the Markdown report has room for (with their image links)."""
    from .markdown import report

    text = report(results, failures, {i: [("plot of a run: verdict", "r-plots/" + "x" * 60 + ".png")] for i in range(len(results))})
    return sum(1 for line in text.splitlines() if line.startswith("## ") and line != "## Errors")


def write_report(
    results: Sequence[RunResult],
    failures: Sequence[Failure],
    out: str | Path,
    fmt: str,
    options: PlotOptions | None = None,
    inputs: Iterable[str] = (),
    plots: bool = True,
    problems: list[str] | None = None,
) -> list[Path]:
    """Write the report (and, for Markdown, its images); returns every file written.
    ``problems``: see :func:`markdown_report`."""
    from ..outputs import atomic_write, refuse_inputs

    path = Path(out)
    ins = list(inputs)
    refuse_inputs(path, ins)
    if fmt == "html":
        from .html import report_html

        atomic_write(path, report_html(results, failures, options, plots=plots, problems=problems))
        return [path]
    if fmt != "markdown":
        raise ValueError(fmt)
    text, files = markdown_report(results, failures, path, options, ins, plots=plots, problems=problems)
    atomic_write(path, text)
    return files + [path]
