"""The HTML report: one self-contained file that opens offline.

Inline CSS, plots embedded as ``data:`` PNGs, no JavaScript; readable on a
phone (fluid layout, tables scroll inside their own box) and printable (one
run per page, figures and tables kept whole). It is rendered by jinja2 with
autoescaping on, so every string from a log or a path is HTML-escaped;
control characters are replaced before that.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import __version__
from . import _words as w
from ._safe import visible

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Failure, RunResult
    from .plots import PlotOptions

@dataclass(frozen=True)
class Image:
    """An embedded picture: a ``data:`` URI with its pixel size and alt text."""

    src: str
    alt: str
    width: int
    height: int

    @classmethod
    def png(cls, data: bytes, alt: str) -> Image:
        from markupsafe import Markup

        # PNG header: the IHDR chunk holds width and height right after the signature
        width, height = struct.unpack(">II", data[16:24])
        # base64 is only [A-Za-z0-9+/=]: safe in an attribute, and marked so
        # that _finalize does not cut it like a long name
        src = Markup("data:image/png;base64," + base64.b64encode(data).decode("ascii"))
        return cls(src, alt, width, height)

    @classmethod
    def missing(cls, note: str) -> Image:
        """No picture: ``note`` says why, in its place."""
        return cls("", note, 0, 0)


def _finalize(value: Any) -> Any:
    """Every value printed by the template passes here before it is escaped:
    control, bidi and zero-width characters become visible escapes, long
    strings are cut (see :func:`ftdiag.render._safe.visible`)."""
    from markupsafe import Markup

    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return visible(value)
    return value


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("ftdiag", "render/templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
    )


def _run_context(i: int, r: RunResult, images: Sequence[Image]) -> dict[str, Any]:
    s = r.summary()
    val = r.features.val
    pct = val is not None and w.is_fraction_metric(val.name, val.sign > 0)

    def value(v: object, difference: bool = False) -> str:
        return w.metric_value(v, pct, difference) if isinstance(v, float) else w.number(v)

    unit = s.get("x_unit") or "step"
    numbers = [
        ("decided on", s.get("decided_on") or "n/a"),
        ("best validation", value(s.get("best_validation_value"))),
        (f"best validation {unit}", w.number(s.get("best_validation_step"))),
    ]
    if unit != "epoch":
        numbers.append(("best validation epoch", w.number(s.get("best_validation_epoch"))))
    numbers += [
        ("final validation", value(s.get("final_validation_value"))),
        ("final train", value(s.get("final_train_value"))),
        ("train-validation gap", value(s.get("train_validation_gap"), difference=True)),
        ("generalization loss (%)", w.number(s.get("generalization_loss_pct"))),
        ("validation points", w.number(s.get("n_validation_points"))),
        ("epochs seen", w.number(s.get("epochs"))),
    ]
    top = r.recommendations[0] if r.recommendations else None
    return {
        "anchor": f"run-{i + 1}",
        "name": r.run.name,
        "label": r.label,
        "verdict": w.verdict(r.label),
        "confidence": f"{r.confidence:.2f}" if r.label != "inconclusive" else "",
        "reason": r.diagnosis.reason,
        "best": w.best_validation(r),
        "top_change": w.change(top) if top else "",
        "top_reason": top.reason if top else "",
        "evidence": list(r.evidence),
        "images": list(images),
        "numbers": numbers,
        "recommendations": [
            {
                "parameter": rec.platform_parameter or rec.parameter,
                "action": rec.action,
                "current": w.number(rec.current),
                "suggested": w.number(rec.suggested),
                "reason": rec.reason,
                "effect": rec.expected_effect,
            }
            for rec in r.recommendations
        ],
        "findings": [{"name": x.name, "severity": x.severity, "message": x.message} for x in r.findings],
        "warnings": list(r.warnings),
        "source": r.run.source,
        "format": r.run.format,
    }


def render_html(
    results: Sequence[RunResult],
    failures: Sequence[Failure] = (),
    images: Mapping[int, Sequence[Image]] | None = None,
    sweep_images: Sequence[Image] = (),
    title: str = "ftdiag report",
    note: str = "",
) -> str:
    """The report as one HTML document; ``images[i]`` are run i's embedded plots."""
    images = images or {}
    counts = {k: sum(r.label == k for r in results) for k in ("overfit", "good_fit", "underfit", "inconclusive")}
    ctx = {
        "title": title,
        "note": note,
        "version": __version__,
        "counts": ", ".join(f"{n} {w.verdict(k).lower()}" for k, n in counts.items() if n),
        "runs": [_run_context(i, r, images.get(i, ())) for i, r in enumerate(results)],
        "sweep_images": list(sweep_images),
        "failures": [{"source": f.source, "message": f.message} for f in failures if not f.skipped],
        "skipped": [{"source": f.source, "message": f.message} for f in failures if f.skipped],
    }
    return str(_environment().get_template("report.html.j2").render(**ctx))


def report_html(
    results: Sequence[RunResult],
    failures: Sequence[Failure] = (),
    options: PlotOptions | None = None,
    plots: bool = True,
    problems: list[str] | None = None,
) -> str:
    """The HTML report with its plots drawn and embedded (PNG). With ``problems``
    (a list), a plot that cannot be drawn leaves a note in its place and a
    message there, instead of raising."""
    if not plots:
        return render_html(results, failures)
    from . import plots as p

    opts = options or p.PlotOptions()

    def embed(what: str, alt: str, draw: Any) -> Image | None:
        def make() -> Image | None:
            fig = draw()
            return None if fig is None else Image.png(p.figure_bytes(fig, "png", opts.dpi), alt)

        n = len(problems) if problems is not None else 0
        got = p._guarded(what, problems, make)
        if got is None and problems is not None and len(problems) > n:
            return Image.missing(p.plot_note(problems[-1]))
        return got

    images: dict[int, list[Image]] = {}
    for i, r in enumerate(results[: p.MAX_REPORT_PLOTS]):
        alt = f"loss and task metric of {r.run.name}, verdict {w.verdict(r.label).lower()}"
        img = embed(f"the plot of {r.run.name}", alt, lambda r=r: p.run_figure(r, opts.smoothing))
        images[i] = [img] if img is not None else []
    sweep: list[Image] = []
    if len(results) > 1:
        for what, alt, draw in (
            ("the overlaid validation curves", "validation curves of every run, overlaid",
             lambda: p.sweep_curves_figure(results, opts.smoothing)),
            ("the hyperparameter plot", "best validation value against each varied hyperparameter",
             lambda: p.sweep_hyperparameters_figure(results)),
        ):
            img = embed(what, alt, draw)
            if img is not None:
                sweep.append(img)
    note = ""
    if len(results) > p.MAX_REPORT_PLOTS:
        note = (
            f"Plots are drawn for the first {p.MAX_REPORT_PLOTS} runs only; "
            "ftdiag plot PATH... -o DIR draws every run."
        )
    return render_html(results, failures, images, sweep, note=note)
