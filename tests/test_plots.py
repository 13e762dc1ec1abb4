"""Plots: structure (log axis, best marker, overfit shading, labels, legend),
reproducible bytes, one image comparison, and the ``plot`` command."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import ROOT, SAMPLES
from ftdiag.api import RunResult, analyze
from ftdiag.cli import cli
from ftdiag.render import plots

ALL_SAMPLES = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".csv", ".json"))
BASELINE = ROOT / "tests" / "baseline" / "reference_overfit.png"
# RMS difference (0-255 scale) tolerated against the baseline: anti-aliasing and
# font hinting move a few pixels between platforms; a changed curve, marker or
# label moves far more (see test_image_comparison_can_fail).
RMS_TOLERANCE = 6.0


def result(name: str) -> RunResult:
    return analyze(SAMPLES / name)


def artists_with_gid(fig, gid: str) -> list:  # type: ignore[no-untyped-def]
    return list(fig.findobj(lambda a: a.get_gid() == gid))


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_run_figure_structure(name: str) -> None:
    r = result(name)
    fig = plots.run_figure(r)
    panels = {ax.get_title(loc="left").split(":")[0]: ax for ax in fig.axes if ax.get_title(loc="left")}
    # one panel for losses, one for the task metric when the log has one
    assert "loss" in panels
    assert ("task metric" in panels) == (r.run.val_metric is not None or r.run.train_metric is not None)
    # log scale for the loss exactly when it spans more than a decade
    losses = np.concatenate([s.finite.values for s in (r.run.train_loss, r.run.val_loss) if s is not None])
    spans_decade = losses.min() > 0 and losses.max() / losses.min() > 10
    assert panels["loss"].get_yscale() == ("log" if spans_decade else "linear")
    # labels and legends: every panel says what it shows and has a legend naming train and validation
    for ax in panels.values():
        assert ax.get_ylabel()
        legend = ax.get_legend()
        assert legend is not None
        texts = [t.get_text() for t in legend.get_texts()]
        assert any("val" in t for t in texts), texts
    bottom = list(panels.values())[-1]
    assert bottom.get_xlabel() == ("epoch" if r.run.x_unit == "epoch" else "step")
    # title: name and verdict; caption: the top recommendation
    title = fig.get_suptitle()
    assert r.run.name in title and plots.w.verdict(r.label) in title
    if r.recommendations:
        caption = " ".join(fig.get_supxlabel().split())
        assert plots.w.change(r.recommendations[0]) in caption
    # the best validation point is marked, at the step and value the verdict used
    val = r.features.val
    best = artists_with_gid(fig, plots.GID_BEST)
    if r.label == "inconclusive" or val is None:
        assert best == []
    else:
        (marker,) = best
        assert marker.get_xdata()[0] == pytest.approx(val.best_step)
        assert marker.get_ydata()[0] == pytest.approx(val.best)
        assert "best" in marker.get_label()
    # the region after the best point is shaded only when the verdict is overfit
    shaded = artists_with_gid(fig, plots.GID_OVERFIT)
    if r.label == "overfit":
        assert shaded and val is not None
        assert all(s.get_window_extent().width > 0 for s in shaded)
    else:
        assert shaded == []


def test_overfit_and_not_overfit_are_both_covered() -> None:
    labels = {result(n).label for n in ALL_SAMPLES}
    assert "overfit" in labels and len(labels) >= 2


def test_epochs_marked_on_step_runs_when_known() -> None:
    hf = result("hf_trainer_state_good_fit.json")  # steps, 30 steps per epoch
    fig = plots.run_figure(hf)
    (sec,) = artists_with_gid(fig, plots.GID_EPOCH_AXIS)
    assert sec.get_xlabel() == "epoch"
    assert plots.steps_per_epoch(hf.run) == pytest.approx(hf.run.last_step / hf.run.epochs_seen)
    keras = result("reference_overfit.csv")  # already in epochs
    assert not artists_with_gid(plots.run_figure(keras), plots.GID_EPOCH_AXIS)


def test_smoothing_weight_changes_only_the_smoothed_line() -> None:
    r = result("openai_overfit.csv")

    def lines(weight: float) -> dict[str, np.ndarray]:
        ax = plots.run_figure(r, smoothing=weight).axes[0]
        return {ln.get_label(): np.asarray(ln.get_ydata()) for ln in ax.get_lines() if not ln.get_gid()}

    a, b = lines(0.6), lines(0.9)
    raw = [k for k in a if k.endswith("(raw)")]
    smooth = [k for k in a if not k.startswith("_") and k in b]
    assert raw and smooth
    for k in raw:
        np.testing.assert_array_equal(a[k], b[k])
    for k in smooth:
        assert not np.allclose(a[k], b[k])
    # weight 0.6 is TensorBoard's debiased EMA of the raw points
    ys = r.run.train_loss.finite.values  # type: ignore[union-attr]
    expected = plots.ema_debiased(ys, 0.6)
    assert any(len(v) == len(expected) and np.allclose(v, expected) for v in a.values())


def test_mathtext_in_names_is_literal() -> None:
    assert plots.mpl_text("lr=$1e-3$\x1b[31m") == r"lr=\$1e-3\$\x1b[31m"


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_bytes_are_reproducible(fmt: str) -> None:
    r = result("reference_overfit.csv")
    a = plots.figure_bytes(plots.run_figure(r), fmt)
    b = plots.figure_bytes(plots.run_figure(r), fmt)
    assert a == b
    if fmt == "svg":
        text = a.decode("utf-8")
        assert "<dc:date>" not in text and "Matplotlib v" not in text
    else:
        assert a.startswith(b"\x89PNG") and b"tIME" not in a and b"Software" not in a


def _rms(a: bytes, b: bytes) -> float:
    from PIL import Image

    ia = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"), dtype=float)
    ib = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=float)
    if ia.shape != ib.shape:
        return float("inf")
    return float(np.sqrt(np.mean((ia - ib) ** 2)))


def test_png_is_150_dpi() -> None:
    from PIL import Image

    png = plots.figure_bytes(plots.run_figure(result("reference_overfit.csv")), "png")
    with Image.open(io.BytesIO(png)) as im:
        assert round(im.info["dpi"][0]) == 150
        width_in = im.size[0] / 150
    assert 7 <= width_in <= 9


def comparable_png(r: RunResult, smoothing: float = 0.6) -> bytes:
    """The run's figure with fixed title and caption: the comparison is about the
    drawing, not the wording of verdicts and advice (golden files cover those)."""
    fig = plots.run_figure(r, smoothing)
    fig.suptitle("title", fontsize=12, fontweight="bold")
    fig.supxlabel("caption line one\ncaption line two", fontsize=8, ha="left", x=0.01)
    return plots.figure_bytes(fig, "png")


def test_image_comparison() -> None:
    png = comparable_png(result("reference_overfit.csv"))
    if os.environ.get("FTDIAG_UPDATE_BASELINE"):
        BASELINE.parent.mkdir(exist_ok=True)
        BASELINE.write_bytes(png)
    rms = _rms(png, BASELINE.read_bytes())
    assert rms <= RMS_TOLERANCE, f"plot differs from {BASELINE} (RMS {rms:.2f}); FTDIAG_UPDATE_BASELINE=1 rewrites it"


def test_image_comparison_can_fail() -> None:
    """The tolerance is tight enough to see a different picture of the same size."""
    r = result("reference_overfit.csv")
    base = BASELINE.read_bytes()
    assert _rms(comparable_png(result("reference_good_fit.csv")), base) > RMS_TOLERANCE
    assert _rms(comparable_png(r, smoothing=0.0), base) > RMS_TOLERANCE


def test_sweep_figures() -> None:
    runs = [result(n) for n in ("hf_trainer_state_overfit.json", "hf_trainer_state_good_fit.json", "reference_overfit.csv")]
    curves = plots.sweep_curves_figure(runs)
    assert curves is not None
    (ax,) = curves.axes
    shown = [t.get_text() for t in ax.get_legend().get_texts()]
    assert shown == [r.run.name for r in runs]  # all three are accuracy-like: overlaid together
    assert ax.get_xlabel() == "fraction of training"  # steps and epochs mixed
    assert len(artists_with_gid(curves, plots.GID_BEST)) == 3
    hp = plots.sweep_hyperparameters_figure(runs)
    assert hp is not None
    varied = plots.varied_hyperparameters(runs)
    assert set(varied) == {"batch_size", "learning_rate"}  # the two HF runs differ in these
    visible = [a for a in hp.axes if a.get_visible()]
    assert sorted(a.get_xlabel() for a in visible) == sorted(varied)
    for a in visible:
        pts = sum(len(c.get_offsets()) for c in a.collections)
        assert pts == len(varied[a.get_xlabel()])
        assert "best validation" in a.get_ylabel()
    lr = next(a for a in visible if a.get_xlabel() == "learning_rate")
    assert lr.get_xscale() == "log"  # 0.0002 to 0.05
    # nothing varies: no hyperparameter figure
    assert plots.sweep_hyperparameters_figure([runs[0], runs[0]]) is None


def test_plot_command(tmp_path: Path) -> None:
    out = tmp_path / "plots"
    files = [str(SAMPLES / n) for n in ("hf_trainer_state_overfit.json", "hf_trainer_state_good_fit.json")]
    r = CliRunner().invoke(cli, ["plot", *files, "-o", str(out), "--smoothing", "0.8"])
    assert r.exit_code == 0, r.output
    listed = r.stdout.split()
    names = sorted(Path(p).name for p in listed)
    assert names == sorted(
        f"{stem}.{ext}"
        for stem in ("hf_trainer_state_overfit_json", "hf_trainer_state_good_fit_json", "sweep-curves", "sweep-hyperparameters")
        for ext in ("png", "svg")
    )
    assert all(Path(p).stat().st_size > 1000 for p in listed)
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporary files
    # one format only
    r = CliRunner().invoke(cli, ["plot", files[0], "-o", str(tmp_path / "svg"), "--plot-format", "svg"])
    assert r.exit_code == 0 and [Path(p).suffix for p in r.stdout.split()] == [".svg"]


def test_plot_command_errors(tmp_path: Path) -> None:
    good = str(SAMPLES / "reference_overfit.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    r = CliRunner().invoke(cli, ["plot", good, str(bad), "-o", str(tmp_path / "out")])
    assert r.exit_code == 2 and "bad.csv" in r.stderr
    assert (tmp_path / "out" / "reference_overfit_csv.png").exists()  # the good run is still plotted
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = CliRunner().invoke(cli, ["plot", good, "-o", str(blocker / "sub")])
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = CliRunner().invoke(cli, ["plot", good, "-o", str(tmp_path / "o"), "--smoothing", "1"])
    assert r.exit_code == 2


def test_plots_refuse_to_overwrite_an_input(tmp_path: Path) -> None:
    from ftdiag.errors import UsageError

    r = result("reference_overfit.csv")
    victim = tmp_path / "reference_overfit_csv.png"  # an input that sits where a plot would go
    victim.write_bytes(b"precious")
    with pytest.raises(UsageError, match="refusing"):
        plots.write_run_plots([r], tmp_path, inputs=[str(victim)])
    assert victim.read_bytes() == b"precious"


def test_analyze_plots_option(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["analyze", str(SAMPLES / "reference_overfit.csv"), "--plots", str(tmp_path / "p")])
    assert r.exit_code == 0 and "OVERFIT" in r.stdout
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["reference_overfit_csv.png", "reference_overfit_csv.svg"]


def test_matplotlib_not_imported_for_analyze() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from ftdiag.cli import cli\n"
        f"r = CliRunner().invoke(cli, ['analyze', {str(SAMPLES / 'reference_overfit.csv')!r}, '--format', 'json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in ('matplotlib', 'jinja2', 'PIL') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_compare_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ftdiag.sweep import compare
    from test_sweep import EPOCHS, LRMS, make_sweep

    manifest = make_sweep(tmp_path / "a")
    rows = compare(manifest=manifest, jobs=1).rows
    figs = dict(plots.compare_figures(rows, max_runs=3))
    # best validation against each varied hyperparameter, from every run's row
    hp = figs["sweep-hyperparameters"]
    visible = {a.get_xlabel(): a for a in hp.axes if a.get_visible()}
    assert set(visible) == {"n_epochs", "learning_rate_multiplier"}  # batch size and examples are fixed
    for a in visible.values():
        assert sum(len(c.get_offsets()) for c in a.collections) == len(rows) == len(LRMS) * len(EPOCHS) * 2
    lrm = visible["learning_rate_multiplier"]
    xs = sorted({float(x) for c in lrm.collections for x, _ in c.get_offsets()})
    assert xs == list(LRMS)
    # curves for the best-ranked runs only: overlaid, then one figure each
    best = sorted((r for r in rows if r["rank"]), key=lambda r: r["rank"])[:3]
    legend = [t.get_text() for t in figs["sweep-curves"].axes[0].get_legend().get_texts()]
    assert legend == [r["name"] for r in best]
    per_run = [k for k in figs if not k.startswith("sweep-")]
    assert len(per_run) == 3
    # through the command: files in DIR, message on stderr (2 runs' curves keep it quick)
    monkeypatch.setattr(plots, "MAX_REPORT_PLOTS", 2)
    out = tmp_path / "plots"
    r = CliRunner().invoke(cli, ["compare", "--manifest", str(manifest), "-j", "1", "--plots", str(out)])
    assert r.exit_code == 0, r.output
    made = sorted(p.name for p in out.iterdir())
    assert "sweep-hyperparameters.png" in made and "sweep-curves.svg" in made
    assert len(made) == 2 * (2 + 2)
    assert f"wrote {len(made)} plot file(s)" in r.stderr


def test_compare_plots_by_group(tmp_path: Path) -> None:
    from ftdiag.sweep import compare
    from test_sweep import make_sweep

    rows = compare(manifest=make_sweep(tmp_path, groups=("x", "y")), group_by="task", jobs=1).rows
    stems = [k for k, _ in plots.compare_figures(rows, max_runs=0)]
    assert stems == ["sweep-hyperparameters-x", "sweep-hyperparameters-y"]
