"""The ``ftdiag`` command: a thin shell over :mod:`ftdiag.api`.

It parses options, calls the API, picks a renderer and maps errors to exit
codes, in one place (:class:`_Group`):

* 0: analysed (whatever the verdict)
* 1: ``--fail-on`` matched a run's label
* 2: bad input or usage (one line naming the file and what was wrong)
* 3: internal error (traceback only with ``--debug``)

Only click is imported at module level, so ``ftdiag --help`` is fast.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from . import __version__
from .errors import FtdiagError, UsageError

EXIT_OK, EXIT_FAIL_ON, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
ISSUES_URL = "https://github.com/ftdiag/ftdiag/issues"


def _debug_enabled(ctx: click.Context | None) -> bool:
    # ``meta`` is one dict shared by the group's context and its commands'
    return bool(os.environ.get("FTDIAG_DEBUG") or (ctx is not None and ctx.meta.get(_DEBUG_KEY)))


def _print_traceback() -> None:
    import traceback  # ~10 ms at import: only when a traceback is shown

    traceback.print_exc()


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` without importing shutil (which
    imports bz2 and lzma: ~4 ms of ``ftdiag --help``): $COLUMNS, else the
    terminal's width, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    try:
        lines = int(os.environ["LINES"])
    except (KeyError, ValueError):
        lines = 0
    if columns <= 0 or lines <= 0:
        try:
            size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            size = os.terminal_size((80, 24))
        if columns <= 0:
            columns = size.columns or 80
    return columns


class _Context(click.Context):
    def make_formatter(self) -> click.HelpFormatter:
        # click's own width rule (HelpFormatter), with the columns found as above
        if self.terminal_width is None and click.formatting.FORCED_WIDTH is None:
            width = max(min(_terminal_columns(), self.max_content_width or 80) - 2, 50)
            return self.formatter_class(width=width, max_width=self.max_content_width)
        return super().make_formatter()


class _Group(click.Group):
    """Maps every error to its exit code and one line on stderr."""

    context_class = _Context

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FtdiagError as e:
            if _debug_enabled(ctx):
                _print_traceback()
            click.echo(f"ftdiag: error: {one_line(e)}", err=True)
            ctx.exit(e.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("ftdiag: interrupted", err=True)
            ctx.exit(130)
        except Exception as e:  # noqa: BLE001 - the one place internal errors are mapped
            if _debug_enabled(ctx):
                _print_traceback()
            click.echo(
                f"ftdiag: internal error: {type(e).__name__}: {one_line(e)}\n"
                f"This is a bug in ftdiag; please report it at {ISSUES_URL} "
                "(run again with --debug for a traceback).",
                err=True,
            )
            ctx.exit(EXIT_INTERNAL)


def one_line(message: object) -> str:
    """A message for stderr: one line, with control characters and escapes neutralized."""
    from .render._safe import term

    return term(message)


def _note_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    # eager, so it is recorded before any other option is checked: an error in
    # another option's value then still shows its traceback. ``ctx.meta`` is
    # shared by the group's and the command's contexts, where the error is mapped.
    if value:
        ctx.meta[_DEBUG_KEY] = True
    return value


# one instance of each path type for every option: click.Path looks up its
# gettext translation on the file system each time one is made (~0.25 ms each)
_FILE = click.Path(dir_okay=False)
_DIR = click.Path(file_okay=False)
_DEBUG_KEY = "ftdiag.debug"
debug_option = click.option("--debug", is_flag=True, is_eager=True, callback=_note_debug, help="Show tracebacks for errors.")
plots_option = click.option(
    "--plots",
    "plots_dir",
    type=_DIR,
    metavar="DIR",
    help="Also write plots (PNG and SVG) of every run into DIR.",
)
smoothing_option = click.option(
    "--smoothing",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.6,
    show_default=True,
    help="Weight of the plotted smoothing (TensorBoard's debiased EMA); 0 draws raw values only.",
)


def plot_problems() -> list[str] | None:
    """Where plots that fail to draw are told (a list), so that the rest of a
    report is still written; None under --debug, so the traceback shows."""
    return None if _debug_enabled(click.get_current_context(silent=True)) else []


def echo_plot_problems(problems: list[str] | None, where: str) -> None:
    for m in problems or []:
        click.echo(f"ftdiag: warning: {one_line(m)}; {where} (a bug in ftdiag: please report it at {ISSUES_URL}; "
                   "--debug shows the traceback)", err=True)


def write_plots_for(results: Any, plots_dir: str | None, inputs: tuple[str, ...], sweep: bool | None = None, smoothing: float = 0.6) -> None:
    """``--plots DIR``: per-run plots, plus the sweep plots for several runs (or ``sweep=True``).
    ``compare`` calls this with ``sweep=True``. A plot that fails to draw is a warning."""
    if not plots_dir or not results:
        return
    from .render.plots import PlotOptions, write_plots

    problems = plot_problems()
    files = write_plots(results, plots_dir, PlotOptions(smoothing=smoothing), inputs, sweep=sweep, problems=problems)
    echo_plot_problems(problems, "the other plots were written")
    click.echo(f"ftdiag: wrote {len(files)} plot file(s) to {one_line(plots_dir)}", err=True)


def hyperparameter_options(f: Any) -> Any:
    opts = [
        click.option("--n-epochs", type=float, help="Number of epochs the run was configured for."),
        click.option("--batch-size", type=float, help="Batch size."),
        click.option("--learning-rate-multiplier", type=float, help="Learning-rate multiplier (OpenAI)."),
        click.option("--prompt-loss-weight", type=float, help="Prompt loss weight (legacy OpenAI)."),
        click.option("--n-examples", type=float, help="Number of training examples."),
        click.option(
            "--hyperparameters",
            "hyperparameters_file",
            type=_FILE,
            help="JSON file: flat keys, or an OpenAI fine-tuning job object.",
        ),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def mapping_options(f: Any) -> Any:
    opts = [
        click.option("--train-metric", metavar="NAME", help="The training metric (column, key or tag) to judge, when names don't say."),
        click.option("--val-metric", metavar="NAME", help="The validation metric that decides the verdict (column, key or tag)."),
        click.option(
            "--higher-is-better/--lower-is-better",
            "higher_is_better",
            default=None,
            help="Direction of --val-metric/--train-metric (default: guessed from the name).",
        ),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def collect_mapping(params: dict[str, Any]) -> Any:
    """A ColumnMapping from (and removed from) the options, or None."""
    train = params.pop("train_metric", None)
    val = params.pop("val_metric", None)
    hib = params.pop("higher_is_better", None)
    if train is None and val is None and hib is None:
        return None
    from .mapping import ColumnMapping

    return ColumnMapping(train_metric=train, val_metric=val, higher_is_better=hib)


def collect_hyperparameters(params: dict[str, Any]) -> Any:
    from . import hyperparams as hpm

    hp = hpm.Hyperparameters()
    path = params.get("hyperparameters_file")
    if path:
        hp = hp.merged(hpm.load_file(path))
    flat = {k: params.get(k) for k in ("n_epochs", "batch_size", "learning_rate_multiplier", "prompt_loss_weight", "n_examples")}
    given = {k: v for k, v in flat.items() if v is not None}
    if given:
        hp = hp.merged(hpm.from_user(given))
    return hp


def parse_labels(value: str | None) -> set[str]:
    from .diagnosis import ALL_LABELS

    if not value:
        return set()
    labels = {v.strip().replace("-", "_") for v in value.split(",") if v.strip()}
    unknown = labels - set(ALL_LABELS)
    if unknown:
        raise UsageError(f"--fail-on: unknown label(s) {', '.join(sorted(unknown))}; use {', '.join(ALL_LABELS)}")
    return labels


def echo_failures(failures: Any) -> bool:
    """One stderr line per input that could not be read: an error, or a
    warning for a file skipped in a directory walk or glob while other runs
    were read. True when any was an error (exit 2)."""
    for f in failures:
        if f.skipped:
            click.echo(f"ftdiag: warning: {one_line(f.message)} (skipped; the other runs were read)", err=True)
        else:
            click.echo(f"ftdiag: error: {one_line(f.message)}", err=True)
    return any(not f.skipped for f in failures)


def emit(text: str, output: str | None, inputs: tuple[str, ...]) -> None:
    if output and output != "-":
        from .outputs import atomic_write, refuse_inputs

        refuse_inputs(output, inputs)
        atomic_write(output, text)
    else:
        click.echo(text, nl=False)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ftdiag")
@debug_option
def cli(debug: bool) -> None:
    """Diagnose fine-tuning runs: underfit, good fit or overfit, and what to change next."""


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--input-format", "input_format", help="Skip detection and read with this reader (see 'ftdiag formats').")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("-o", "--output", type=_FILE, help="Write to FILE (atomically) instead of stdout.")
@click.option("--fail-on", "fail_on", metavar="LABELS", help="Exit 1 if any run gets one of these labels (comma list).")
@plots_option
@hyperparameter_options
@mapping_options
@debug_option
def analyze(paths: tuple[str, ...], input_format: str | None, fmt: str, output: str | None, fail_on: str | None, plots_dir: str | None, debug: bool, **hp: Any) -> None:
    """Analyze training logs and print a verdict with evidence and advice."""
    from .api import analyze_many
    from .render import get_renderer

    labels = parse_labels(fail_on)
    mapping = collect_mapping(hp)
    hyper = collect_hyperparameters(hp)
    results, failures = analyze_many(paths, hyper, input_format, mapping=mapping)
    failed = echo_failures(failures)
    for r in results:
        for w in r.warnings:
            click.echo(f"ftdiag: warning: {one_line(w)}", err=True)
    color = fmt == "text" and not output and sys.stdout.isatty()
    if results or fmt == "json":
        emit(get_renderer(fmt)(results, failures, color), output, paths)
    write_plots_for(results, plots_dir, paths)
    if failed:
        sys.exit(EXIT_INPUT)
    if labels and any(r.label in labels for r in results):
        sys.exit(EXIT_FAIL_ON)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def formats(fmt: str) -> None:
    """List the log formats ftdiag reads, how each is detected, and an example."""
    from .formats import all_readers

    readers = all_readers()
    if fmt == "json":
        import json

        click.echo(
            json.dumps(
                [
                    {"name": r.name, "description": r.description, "detects": r.detects, "example": r.example, "extra": r.extra}
                    for r in readers.values()
                ],
                indent=2,
            )
        )
        return
    for r in readers.values():
        extra = f" (needs ftdiag[{r.extra}])" if r.extra else ""
        click.echo(f"{r.name}{extra}\n  {r.description}\n  detects: {r.detects}\n  example: {r.example}\n")


def _analyze_for_output(paths: tuple[str, ...], input_format: str | None, hp: dict[str, Any]) -> tuple[Any, Any]:
    from .api import analyze_many

    mapping = collect_mapping(hp)
    results, failures = analyze_many(paths, collect_hyperparameters(hp), input_format, mapping=mapping)
    echo_failures(failures)
    for r in results:
        for w in r.warnings:
            click.echo(f"ftdiag: warning: {one_line(w)}", err=True)
    return results, failures


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-o", "--output-dir", "outdir", required=True, type=_DIR, help="Directory for the plot files.")
@click.option(
    "--plot-format",
    "plot_formats",
    type=click.Choice(["png", "svg"]),
    multiple=True,
    help="File format(s) to write (repeatable); default both PNG and SVG.",
)
@smoothing_option
@click.option("--input-format", "input_format", help="Skip detection and read with this reader (see 'ftdiag formats').")
@hyperparameter_options
@mapping_options
@debug_option
def plot(paths: tuple[str, ...], outdir: str, plot_formats: tuple[str, ...], smoothing: float, input_format: str | None, debug: bool, **hp: Any) -> None:
    """Plot each run (loss and task metric, smoothed, best point marked) into DIR.

    With several runs, also their validation curves overlaid and the best
    validation value against each hyperparameter that varies. Prints the
    files written, one a line.
    """
    from .render.plots import PlotOptions, write_plots

    results, failures = _analyze_for_output(paths, input_format, hp)
    opts = PlotOptions(smoothing=smoothing, formats=tuple(dict.fromkeys(plot_formats)) or ("png", "svg"))
    problems = plot_problems()
    if results:
        for f in write_plots(results, outdir, opts, paths, problems=problems):
            click.echo(str(f))
    echo_plot_problems(problems, "the other plots were written")
    if any(not f.skipped for f in failures):
        sys.exit(EXIT_INPUT)
    if problems:  # drawing plots is this command's whole job
        click.echo(f"ftdiag: internal error: {len(problems)} plot(s) could not be drawn", err=True)
        sys.exit(EXIT_INTERNAL)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    type=_FILE,
    help="Report file: .md (plots go to a NAME-plots/ directory beside it) or .html (one self-contained file).",
)
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), help="Default: from the -o suffix, else markdown.")
@click.option("--no-plots", is_flag=True, help="Text only: draw no plots.")
@smoothing_option
@click.option("--input-format", "input_format", help="Skip detection and read with this reader (see 'ftdiag formats').")
@hyperparameter_options
@mapping_options
@debug_option
def report(paths: tuple[str, ...], output: str | None, fmt: str | None, no_plots: bool, smoothing: float, input_format: str | None, debug: bool, **hp: Any) -> None:
    """Write a post-run report to attach to a review: Markdown or self-contained HTML.

    The verdict first, the key numbers, the recommendations, findings folded
    away, and plots. Several runs make a sweep report: a summary table, then
    one section per run. Without -o the report goes to stdout (Markdown
    without plots, or HTML with them embedded).
    """
    from .render.plots import PlotOptions
    from .render.report import format_for, markdown_report, write_report

    kind = format_for(output, fmt)
    results, failures = _analyze_for_output(paths, input_format, hp)
    if results or failures:
        opts = PlotOptions(smoothing=smoothing)
        problems = plot_problems()
        if output and output != "-":
            files = write_report(results, failures, output, kind, opts, paths, plots=not no_plots, problems=problems)
            echo_plot_problems(problems, "the report has a note in its place")
            click.echo(f"ftdiag: wrote {one_line(output)}" + (f" and {len(files) - 1} plot file(s)" if len(files) > 1 else ""), err=True)
        elif kind == "html":
            from .render.html import report_html

            click.echo(report_html(results, failures, opts, plots=not no_plots, problems=problems), nl=False)
            echo_plot_problems(problems, "the report has a note in its place")
        else:
            click.echo(markdown_report(results, failures, None)[0], nl=False)
    if any(not f.skipped for f in failures):
        sys.exit(EXIT_INPUT)


@cli.command()
@click.argument("path")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between checks of the file.")
@click.option("--idle-timeout", type=float, metavar="SECONDS", help="Stop when the file has not changed for this long.")
@click.option("--exit-on", "exit_on", metavar="LABELS", help="Exit 1 as soon as a run gets one of these labels (comma list); "
              "a verdict resting on fewer than 3 validation points never triggers it.")
@click.option("--input-format", "input_format", help="Skip detection and read with this reader (see 'ftdiag formats').")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text", show_default=True,
              help="jsonl: one JSON object per verdict change.")
@hyperparameter_options
@mapping_options
@debug_option
def watch(path: str, interval: float, idle_timeout: float | None, exit_on: str | None, input_format: str | None,
          fmt: str, debug: bool, **hp: Any) -> None:
    """Follow a log that is still being written; print a line each time the verdict changes.

    Copes with a half-written last line and with a file rewritten, replaced or
    truncated underneath. Stops on Ctrl-C, after --idle-timeout, or (exit 1)
    when a label in --exit-on is reached.
    """
    import json
    import signal

    from .render._safe import json_text, term
    from .watch import Event
    from .watch import watch as follow

    labels = parse_labels(exit_on)
    mapping = collect_mapping(hp)
    hyper = collect_hyperparameters(hp)
    if idle_timeout is not None and idle_timeout < 0:
        raise UsageError("--idle-timeout must not be negative")

    def emit(e: Event) -> None:
        if e.kind != "verdict":
            click.echo(f"ftdiag: {term(e.message)}", err=True)
        elif fmt == "jsonl":
            obj = {"event": e.kind, "run": e.run, "label": e.label, "step": e.step,
                   "confidence": e.confidence, "message": e.message}
            click.echo(json_text(json.dumps(obj, ensure_ascii=False)))
        else:
            click.echo(term(e.message, limit=None))

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = None
    try:
        old = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        pass
    try:
        outcome = follow(path, emit, interval=interval, idle_timeout=idle_timeout, exit_on=labels,
                         hyperparameters=hyper, input_format=input_format, mapping=mapping)
    except KeyboardInterrupt:
        click.echo("ftdiag: stopped", err=True)
        return
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    click.echo(f"ftdiag: {outcome.reason}; stopped", err=True)
    if outcome.status:
        sys.exit(outcome.status)


@cli.command()
@click.argument("paths", nargs=-1)
@click.option("--manifest", type=_FILE, help="CSV with one row per run: a path column plus hyperparameter columns.")
@click.option("--path-column", help="The manifest's path column (default: path, file, filename, log or run_path).")
@click.option("--param", "params", multiple=True, metavar="COLUMN", help="A further manifest column that is a hyperparameter (repeatable).")
@click.option("--group-by", metavar="COLUMN", help="Compare within groups: a manifest column (e.g. task) or a hyperparameter.")
@click.option("--input-format", "input_format", help="Skip detection and read with this reader (see 'ftdiag formats').")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("-o", "--output", type=_FILE, help="Write to FILE (atomically) instead of stdout.")
@click.option("--limit", type=int, default=20, show_default=True, help="Runs shown per group in text and Markdown (0: all; JSON has all).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes [default: the number of cores].")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr [default: on a terminal, for 20 files or more].")
@click.option("--dask-scheduler", "dask_scheduler", metavar="ADDRESS", help="Run on a Dask cluster (e.g. tcp://host:8786), one task per batch of files; needs ftdiag[dask] and the files at the same paths on the workers.")
@click.option(
    "--plots",
    "plots_dir",
    type=_DIR,
    metavar="DIR",
    help="Also write plots into DIR: best validation against each varied hyperparameter, "
    "and the curves of the 50 best-ranked runs (overlaid and one per run).",
)
@hyperparameter_options
@mapping_options
@debug_option
def compare(
    paths: tuple[str, ...],
    manifest: str | None,
    path_column: str | None,
    params: tuple[str, ...],
    group_by: str | None,
    input_format: str | None,
    fmt: str,
    output: str | None,
    limit: int,
    jobs: int | None,
    progress: bool | None,
    dask_scheduler: str | None,
    plots_dir: str | None,
    debug: bool,
    **hp: Any,
) -> None:
    """Compare runs of a sweep: rank them, read the sweep as evidence, propose the next run.

    PATHS are files, directories or globs; --manifest adds one run per row with its
    hyperparameters (a manifest row's values win over the options, which win over
    what the logs record).
    """
    from .render.sweep import get as get_compare_renderer
    from .sweep import compare as run_compare

    if not paths and not manifest:
        raise UsageError("compare: give PATHS or --manifest")
    mapping = collect_mapping(hp)
    hyper = collect_hyperparameters(hp)
    bar: Any = None

    def on_jobs(n: int) -> None:
        nonlocal bar
        show = progress if progress is not None else (n >= 20 and sys.stderr.isatty())
        if show and n:
            bar = click.progressbar(length=n, label="ftdiag compare", file=sys.stderr)
            bar.__enter__()

    def step(k: int) -> None:
        if bar is not None:
            bar.update(k)

    try:
        report = run_compare(
            paths, manifest, hyper if hyper.known() else None, input_format, group_by, path_column, params, jobs, step, on_jobs,
            dask_scheduler, mapping,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    doc = report.to_dict()
    for e in report.errors:
        click.echo(f"ftdiag: error: {one_line(e['message'])}", err=True)
    for e in report.skipped:
        click.echo(f"ftdiag: warning: {one_line(e['message'])} (skipped; the other runs were read)", err=True)
    for r in report.rows:
        for w in r.get("warnings") or []:
            click.echo(f"ftdiag: warning: {one_line(w)}", err=True)
    color = fmt == "text" and not output and sys.stdout.isatty()
    if report.rows or fmt == "json":
        inputs = tuple(paths) + ((manifest,) if manifest else ())
        emit(get_compare_renderer(fmt)(doc, limit, color), output, inputs)
    if plots_dir and report.rows:
        from .render.plots import write_compare_plots

        problems = plot_problems()
        files = write_compare_plots(report.rows, plots_dir, inputs=tuple(paths) + ((manifest,) if manifest else ()),
                                    input_format=input_format, mapping=mapping, problems=problems)
        echo_plot_problems(problems, "the other plots were written")
        click.echo(f"ftdiag: wrote {len(files)} plot file(s) to {plots_dir}", err=True)
    if report.errors:
        sys.exit(EXIT_INPUT)


def main() -> None:
    cli(prog_name="ftdiag")
