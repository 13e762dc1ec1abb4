"""A plot that fails to draw (a bug) does not lose the report: the report is
written with a note in the plot's place and a warning (exit 0); the other
plots are drawn. ``plot``, whose whole job is plots, exits 3 after drawing the
others; --debug lets the exception through for its traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import ftdiag.render.plots as plots
from conftest import SAMPLES
from ftdiag.cli import cli

GOOD = str(SAMPLES / "openai_good_fit.csv")
BAD = str(SAMPLES / "openai_overfit.csv")  # its plot is made to fail


@pytest.fixture
def broken_plot(monkeypatch):  # type: ignore[no-untyped-def]
    real = plots.run_figure

    def run_figure(r, *a, **k):  # type: ignore[no-untyped-def]
        if "overfit" in r.run.name:
            raise RuntimeError("planted plot failure")
        return real(r, *a, **k)

    monkeypatch.setattr(plots, "run_figure", run_figure)


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def _warned(stderr: str) -> str:
    (line,) = [ln for ln in stderr.splitlines() if "could not be drawn (" in ln]
    assert line.startswith("ftdiag: warning: the plot of openai_overfit.csv could not be drawn (RuntimeError: planted")
    return line


def test_markdown_report_notes_the_missing_plot(tmp_path: Path, broken_plot: None) -> None:
    out = tmp_path / "report.md"
    r = invoke("report", GOOD, BAD, "-o", str(out))
    assert r.exit_code == 0, r.output
    assert "the report has a note in its place" in _warned(r.stderr)
    text = out.read_text()
    (note,) = [ln for ln in text.splitlines() if "could not be drawn" in ln]
    assert note.startswith("*The plot of openai\\_overfit.csv could not be drawn") and "RuntimeError: planted" in note
    links = [ln for ln in text.splitlines() if ln.startswith("![plot of")]
    assert len(links) == 1 and "openai_good_fit" in links[0]
    assert (tmp_path / "report-plots" / "openai_good_fit_csv.png").is_file()
    assert not (tmp_path / "report-plots" / "openai_overfit_csv.png").exists()


@pytest.mark.parametrize("to_stdout", [False, True])
def test_html_report_notes_the_missing_plot(tmp_path: Path, broken_plot: None, to_stdout: bool) -> None:
    out = tmp_path / "report.html"
    args = ["report", GOOD, BAD, "--format", "html"] + ([] if to_stdout else ["-o", str(out)])
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    _warned(r.stderr)
    html = r.stdout if to_stdout else out.read_text()
    assert "The plot of openai_overfit.csv could not be drawn (RuntimeError: planted plot failure)" in html
    # the good run's plot and the overlaid curves are embedded (no hyperparameter varies)
    assert html.count("data:image/png;base64,") == 2


def test_a_failing_sweep_figure_is_a_note_too(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise ValueError("planted sweep failure")

    monkeypatch.setattr(plots, "sweep_curves_figure", boom)
    out = tmp_path / "report.md"
    r = invoke("report", GOOD, BAD, "-o", str(out))
    assert r.exit_code == 0, r.output
    assert "the overlaid validation curves could not be drawn (ValueError: planted sweep failure)" in r.stderr
    (note,) = [ln for ln in out.read_text().splitlines() if "could not be drawn" in ln]
    assert note.startswith("*The overlaid validation curves could not be drawn") and "ValueError: planted" in note


def test_analyze_and_compare_plots_warn_and_draw_the_rest(tmp_path: Path, broken_plot: None) -> None:
    r = invoke("analyze", GOOD, BAD, "--plots", str(tmp_path / "a"))
    assert r.exit_code == 0, r.output
    _warned(r.stderr)
    assert (tmp_path / "a" / "openai_good_fit_csv.png").is_file()
    r = invoke("compare", GOOD, BAD, "--jobs", "1", "--plots", str(tmp_path / "c"))
    assert r.exit_code == 0, r.output
    _warned(r.stderr)
    assert (tmp_path / "c" / "sweep-curves.png").is_file()


def test_plot_command_draws_the_rest_then_exits_3(tmp_path: Path, broken_plot: None) -> None:
    r = invoke("plot", GOOD, BAD, "-o", str(tmp_path), "--plot-format", "svg")
    assert r.exit_code == 3, r.output
    _warned(r.stderr)
    assert "ftdiag: internal error: 1 plot(s) could not be drawn" in r.stderr
    assert (tmp_path / "openai_good_fit_csv.svg").is_file() and (tmp_path / "sweep-curves.svg").is_file()
    assert not (tmp_path / "openai_overfit_csv.svg").exists()


@pytest.mark.parametrize(
    ("env", "before", "after"),
    [
        ({"FTDIAG_DEBUG": "1"}, [], []),
        ({}, [], ["--debug"]),  # the command's option
        ({}, ["--debug"], []),  # the group's option
    ],
)
def test_debug_shows_the_plot_failure(
    tmp_path: Path, broken_plot: None, env: dict[str, str], before: list[str], after: list[str]
) -> None:
    args = [*before, "report", GOOD, BAD, "-o", str(tmp_path / "report.md"), *after]
    r = CliRunner(env=env).invoke(cli, args)
    assert r.exit_code == 3
    assert "Traceback" in r.stderr and "planted plot failure" in r.stderr


def test_without_debug_the_plot_failure_is_a_warning(tmp_path: Path, broken_plot: None) -> None:
    r = invoke("report", GOOD, BAD, "-o", str(tmp_path / "report.md"))
    assert r.exit_code == 0 and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "loss",
    [
        lambda e: 1.7e308 if e % 2 else -1.7e308,  # matplotlib's transform went singular (LinAlgError)
        lambda e: 1e305 * (e + 1),  # nothing drawable on the loss panel: an empty legend warned
    ],
)
def test_extreme_values_are_left_out_of_the_plot(tmp_path: Path, loss) -> None:  # type: ignore[no-untyped-def]
    """Found by the fuzzer (HTML reports with plots): values near 1e308 broke the figure."""
    import warnings

    p = tmp_path / "training.log"
    rows = ["epoch,loss,val_loss,accuracy,val_accuracy"]
    for e in range(10):
        rows.append(f"{e},{loss(e)!r},{loss(e) * 2!r},{0.5 + e * 0.03},{0.6 + e * 0.02}")
    p.write_text("\n".join(rows) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = invoke("report", str(p), "--format", "html")
    assert r.exit_code == 0, r.output
    assert "could not be drawn" not in r.stderr
    assert r.stdout.count("data:image/png;base64,") == 1
    assert not caught, [f"{w.category.__name__}: {w.message}" for w in caught]
