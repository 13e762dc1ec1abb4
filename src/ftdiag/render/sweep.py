"""``ftdiag compare`` output: text for a terminal, Markdown, JSON.

Each takes the report as :meth:`ftdiag.sweep.SweepReport.to_dict` gives it, so
all three show the same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ._safe import json_text, md, term

SHORT = {
    "n_epochs": "epochs",
    "learning_rate_multiplier": "lrm",
    "learning_rate": "lr",
    "batch_size": "batch",
    "prompt_loss_weight": "plw",
    "n_examples": "examples",
}
ORDER = ("n_epochs", "learning_rate_multiplier", "learning_rate", "batch_size", "prompt_loss_weight", "n_examples")


def _v(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)


def _m(x: Any, higher: bool) -> str:
    if not isinstance(x, (int, float)):
        return "n/a"
    if higher and 0 <= x <= 1:
        return f"{100 * x:.1f}%"
    return f"{x:.4g}"


def _columns(runs: list[dict[str, Any]]) -> list[str]:
    """Hyperparameter columns: those known for some run, constant n_examples left out."""
    keys: list[str] = []
    for r in runs:
        for k in r.get("config") or {}:
            if k not in keys:
                keys.append(k)
    keys.sort(key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))
    if "n_examples" in keys and len({_v((r.get("config") or {}).get("n_examples")) for r in runs}) <= 1:
        keys.remove("n_examples")
    return keys


def _where(curve: dict[str, Any]) -> str:
    if curve.get("best_epoch") is not None:
        return f"epoch {curve['best_epoch']:.3g}"
    if curve.get("best_step") is not None:
        return f"step {curve['best_step']:g}"
    return "?"


def _rec(r: dict[str, Any] | None) -> str:
    if not r:
        return ""
    name = r.get("platform_parameter") or r.get("parameter")
    if r.get("action") == "keep":
        return f"keep {name}" + (f" = {_v(r.get('current'))}" if r.get("current") is not None else "")
    if r.get("current") is not None and r.get("suggested") is not None:
        return f"{r['action']} {name} {_v(r['current'])} -> {_v(r['suggested'])}"
    return f"{r['action']} {name}" + (f" ({r['change']})" if r.get("change") else "")


def _group_runs(doc: dict[str, Any], g: dict[str, Any]) -> list[dict[str, Any]]:
    runs = [r for r in doc["runs"] if r.get("group") == g.get("group")]
    curve = g["metric"]["curve"]
    sign = 1.0 if g["metric"]["higher_is_better"] else -1.0

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        final = (r.get(curve) or {}).get("final")
        return (r.get("rank") is None, r.get("rank") or 0, -sign * final if final is not None else 0.0, str(r.get("name")))

    return sorted(runs, key=key)


def _table_rows(g: dict[str, Any], runs: list[dict[str, Any]], cols: list[str]) -> tuple[list[str], list[list[str]]]:
    curve = g["metric"]["curve"]
    higher = g["metric"]["higher_is_better"]
    replicates = len({r.get("rank") for r in runs if r.get("rank")}) < len([r for r in runs if r.get("rank")])
    head = ["rank", "run", *[SHORT.get(c, c) for c in cols], "label", "best (where)", "final"]
    head += ["config mean"] if replicates else []
    head += ["next run"]
    body = []
    for r in runs:
        c = r.get(curve) or {}
        cfg = r.get("config") or {}
        cells = [
            _v(r.get("rank")),
            str(r.get("name")),
            *[_v(cfg.get(k)) for k in cols],
            str(r.get("label", "")),
            f"{_m(c.get('best'), higher)} ({_where(c)})" if c else "n/a",
            _m(c.get("final"), higher) if c else "n/a",
        ]
        if replicates:
            cells.append(_m(r.get("configuration_mean"), higher))
        cells.append(_rec((r.get("recommendations") or [None])[0]))
        body.append(cells)
    return head, body


def _cfg_text(cfg: dict[str, Any]) -> str:
    keys = sorted(cfg, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))
    return ", ".join(f"{k} {_v(cfg[k])}" for k in keys if k != "n_examples")


def _grid_text(g: dict[str, Any]) -> str:
    grid = g.get("grid") or []
    if not grid:
        return ""
    base = (g.get("best") or {}).get("configuration") or {}
    axes: dict[str, list[str]] = {}
    for cfg in grid:
        for k, v in cfg.items():
            if any(c.get(k) != base.get(k) for c in grid):
                vals = axes.setdefault(k, [])
                if _v(v) not in vals:
                    vals.append(_v(v))
    return " x ".join(f"{k} {{{', '.join(vals)}}}" for k, vals in axes.items())


def _title(doc: dict[str, Any]) -> str:
    n = len(doc["runs"])
    groups = doc["groups"]
    by = groups[0].get("group_by") if groups else None
    return f"{n} run(s)" + (f" in {len(groups)} groups by {by}" if by else "")


def render_text(doc: dict[str, Any], limit: int | None = 20, color: bool = False) -> str:
    lines = [f"ftdiag compare: {term(_title(doc))}"]
    for g in doc["groups"]:
        higher = g["metric"]["higher_is_better"]
        lines.append("")
        head = f"{g['group_by']} = {g['group']}: " if g.get("group_by") else ""
        lines.append(
            term(
                f"{head}{g['n_runs']} run(s), {g['n_configurations']} configuration(s); ranked by the final "
                f"{'validation loss' if g['metric']['curve'] == 'val_loss' else 'validation metric'} "
                f"({g['metric']['names']}), mean over runs sharing every hyperparameter"
            )
        )
        if g["metric"].get("mixed"):
            lines.append("  (runs log differently named metrics: ranking them together assumes they measure the same thing)")
        if g.get("unranked"):
            lines.append(term(f"  not ranked (no final value of that metric): {len(g['unranked'])} run(s)"))
        runs = _group_runs(doc, g)
        cols = _columns(runs)
        shown = runs if not limit or limit <= 0 else runs[:limit]
        hdr, body = _table_rows(g, shown, cols)
        widths = [max(len(term(x)) for x in col) for col in zip(hdr, *body, strict=True)]
        widths[-1] = 0
        for row in [hdr, *body]:
            lines.append("  " + "  ".join(term(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
        if len(shown) < len(runs):
            lines.append(f"  ... {len(runs) - len(shown)} more (--limit 0 shows all)")
        best = g.get("best")
        if not best:
            lines.append("  no run has a validation value to rank by")
            continue
        reps = f" (mean of {best['n_replicates']} runs)" if best["n_replicates"] > 1 else ""
        lines.append(
            term(
                f"  best run: {best['run']} ({_cfg_text(best['configuration'])}): final {_m(best['final'], higher)}{reps}, "
                f"best {_m(best['best'], higher)}; {best['label']}"
            )
        )
        if g.get("effects"):
            lines.append("  what the sweep shows:")
            for e in g["effects"]:
                lines.append(term(f"    - {e['sentence']}"))
        nxt = g.get("next") or {}
        ch = nxt.get("change")
        if ch:
            lines.append(term(f"  next run: {ch['action']} {ch['parameter']} {_v(ch['current'])} -> {_v(ch['suggested'])}"))
            lines.append(term(f"    because {nxt['reason']}"))
            lines.append(term(f"    configuration: {_cfg_text(nxt['configuration'])}"))
        else:
            lines.append(term(f"  next run: {nxt.get('reason', '')}"))
        grid = _grid_text(g)
        if grid:
            lines.append(term(f"  or a small grid around the best ({len(g['grid'])} runs): {grid}"))
    if doc.get("errors"):
        lines.append("")
        lines.append(f"{len(doc['errors'])} input(s) could not be read (see stderr)")
    if doc.get("skipped"):
        lines.append("")
        lines.append(f"{len(doc['skipped'])} file(s) found in a folder or by a pattern could not be read and were skipped (see stderr)")
    return "\n".join(lines) + "\n"


def render_markdown(doc: dict[str, Any], limit: int | None = 20, color: bool = False) -> str:
    out = ["# ftdiag compare", "", md(_title(doc)), ""]
    for g in doc["groups"]:
        higher = g["metric"]["higher_is_better"]
        if g.get("group_by"):
            out += [f"## {md(g['group_by'])} = {md(g['group'])}", ""]
        out += [
            f"{g['n_runs']} run(s), {g['n_configurations']} configuration(s); ranked by the final "
            f"{'validation loss' if g['metric']['curve'] == 'val_loss' else 'validation metric'} "
            f"({md(g['metric']['names'])}), mean over runs sharing every hyperparameter.",
            "",
        ]
        best = g.get("best")
        if best:
            reps = f" (mean of {best['n_replicates']} runs)" if best["n_replicates"] > 1 else ""
            out += [
                f"**Best run:** `{md(best['run'])}` ({md(_cfg_text(best['configuration']))}): final "
                f"{_m(best['final'], higher)}{reps}, best {_m(best['best'], higher)}; {md(best['label'])}",
                "",
            ]
        runs = _group_runs(doc, g)
        cols = _columns(runs)
        shown = runs if not limit or limit <= 0 else runs[:limit]
        hdr, body = _table_rows(g, shown, cols)
        out.append("| " + " | ".join(md(h) for h in hdr) + " |")
        out.append("|" + " --- |" * len(hdr))
        for row in body:
            out.append("| " + " | ".join(md(x) for x in row) + " |")
        if len(shown) < len(runs):
            out.append(f"\n{len(runs) - len(shown)} more run(s) not shown.")
        out.append("")
        if g.get("effects"):
            out += ["**What the sweep shows**", ""] + [f"- {md(e['sentence'])}" for e in g["effects"]] + [""]
        nxt = g.get("next") or {}
        ch = nxt.get("change")
        if ch:
            out += [
                f"**Next run:** {ch['action']} `{md(ch['parameter'])}` {_v(ch['current'])} → {_v(ch['suggested'])}: "
                f"{md(_cfg_text(nxt['configuration']))}",
                "",
                f"Because {md(nxt['reason'])}.",
                "",
            ]
        elif nxt:
            out += [f"**Next run:** {md(nxt.get('reason', ''))}", ""]
        grid = _grid_text(g)
        if grid:
            out += [f"Or a small grid around the best ({len(g['grid'])} runs): {md(grid)}", ""]
    if doc.get("errors"):
        out += ["## Errors", ""] + [f"- `{md(e['source'])}`: {md(e['message'])}" for e in doc["errors"]] + [""]
    if doc.get("skipped"):
        out += ["## Skipped files", "", "Found in a folder or by a pattern, these could not be read; the other runs were.", ""]
        out += [f"- `{md(e['source'])}`: {md(e['message'])}" for e in doc["skipped"]] + [""]
    return "\n".join(out)


def indented_json(doc: Any) -> str:
    """``json.dumps(doc, indent=2, allow_nan=False, ensure_ascii=False)``, the same
    text 5x faster for a large sweep: json's C encoder writes it compact (its
    indenting encoder is pure Python), msgspec indents it, copying every
    number and string as written."""
    compact = json.dumps(doc, allow_nan=False, ensure_ascii=False)
    try:
        import msgspec

        return msgspec.json.format(compact.encode("utf-8"), indent=2).decode("utf-8")
    except (ImportError, UnicodeEncodeError):  # a lone surrogate in a name: the slow way
        return json.dumps(doc, indent=2, allow_nan=False, ensure_ascii=False)


def render_json(doc: dict[str, Any], limit: int | None = None, color: bool = False) -> str:
    # C1 controls, bidi overrides ... from run names as \uXXXX, as in analyze's JSON
    return json_text(indented_json(doc)) + "\n"


def get(name: str) -> Callable[..., str]:
    return {"text": render_text, "markdown": render_markdown, "json": render_json}[name]
