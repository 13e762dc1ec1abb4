"""Inputs are never modified; -o never replaces an input; outputs are atomic.

These tests walk every command the CLI has, so a command added later is
covered without a change here (give it arguments in ``EXTRA_ARGS`` if it
needs more than an input path).
"""

from __future__ import annotations

import builtins
import os
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from ftdiag import outputs
from ftdiag.cli import cli

EXTRA_ARGS: dict[str, list[str]] = {
    "watch": ["--interval", "0.02", "--idle-timeout", "0.1"],
}
# commands whose option writes a directory rather than a file
DIR_OUTPUTS = {"plot"}


def commands() -> list[str]:
    return sorted(cli.commands)


def output_option(name: str) -> click.Option | None:
    for p in cli.commands[name].params:
        if isinstance(p, click.Option) and ("-o" in p.opts or "--output" in p.opts):
            return p
    return None


def takes_paths(name: str) -> bool:
    return any(isinstance(p, click.Argument) for p in cli.commands[name].params)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A folder of logs: the samples, with a hard link and a symlink to one."""
    d = tmp_path / "logs"
    d.mkdir()
    for f in ("reference_overfit.csv", "openai_good_fit.csv", "hf_trainer_state_overfit.json"):
        shutil.copy2(SAMPLES / f, d / f)
    return d


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p)] = (p.read_bytes(), st.st_mtime_ns, st.st_mode)
    return out


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("name", commands())
@pytest.mark.parametrize("target", ["file", "dir"])
def test_every_command_leaves_inputs_untouched(name: str, target: str, inputs: Path, tmp_path: Path) -> None:
    before = snapshot(inputs)
    arg = str(inputs / "reference_overfit.csv") if target == "file" else str(inputs)
    args = [name] + ([arg] if takes_paths(name) else []) + EXTRA_ARGS.get(name, [])
    opt = output_option(name)
    if opt is not None:
        args += [opt.opts[0], str(tmp_path / ("out" if name in DIR_OUTPUTS else "out.md"))]
    r = invoke(*args)
    assert r.exit_code in (0, 1, 2), r.output
    assert snapshot(inputs) == before


@pytest.mark.parametrize("name", [n for n in commands() if output_option(n) is not None and n not in DIR_OUTPUTS])
@pytest.mark.parametrize("how", ["same", "hardlink", "symlink", "glob", "dir"])
def test_output_never_replaces_an_input(name: str, how: str, inputs: Path, tmp_path: Path) -> None:
    target = inputs / "reference_overfit.csv"
    arg, out = str(target), str(target)
    if how == "hardlink":
        out = str(tmp_path / "hard.csv")
        os.link(target, out)
    elif how == "symlink":
        out = str(tmp_path / "sym.csv")
        os.symlink(target, out)
    elif how == "glob":
        arg = str(inputs / "*.csv")
    elif how == "dir":
        arg = str(inputs)
    before = snapshot(inputs)
    opt = output_option(name)
    assert opt is not None
    r = invoke(name, arg, opt.opts[0], out)
    assert r.exit_code == 2, r.output
    assert "refusing to overwrite" in r.stderr
    assert snapshot(inputs) == before
    assert not [p for p in inputs.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_output_beside_inputs_that_is_not_a_log_may_be_replaced(inputs: Path) -> None:
    out = inputs / "report.md"
    out.write_text("old report\n")
    r = invoke("analyze", str(inputs), "--format", "markdown", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_text().startswith("# ftdiag report")


def test_plot_files_never_replace_an_input(inputs: Path) -> None:
    # a log that happens to be named like a plot file the command would write
    r = invoke("plot", str(inputs / "reference_overfit.csv"), "-o", str(inputs))
    assert r.exit_code in (0, 2)
    assert (inputs / "reference_overfit.csv").read_bytes() == (SAMPLES / "reference_overfit.csv").read_bytes()


def test_inputs_are_opened_read_only(inputs: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    opened: list[tuple[str, str]] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file, mode="r", *a, **k):  # type: ignore[no-untyped-def]
        opened.append((str(file), str(mode)))
        return real_open(file, mode, *a, **k)

    def spy_os_open(path, flags, *a, **k):  # type: ignore[no-untyped-def]
        opened.append((str(path), "w" if flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC) else "r"))
        return real_os_open(path, flags, *a, **k)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    for args in (
        ["analyze", str(inputs), "--format", "json", "-o", str(tmp_path / "r.json")],
        ["report", str(inputs), "-o", str(tmp_path / "r.html")],
        ["watch", str(inputs / "reference_overfit.csv"), "--interval", "0.02", "--idle-timeout", "0.05"],
    ):
        assert invoke(*args).exit_code == 0
    on_inputs = [(p, m) for p, m in opened if Path(p).resolve().is_relative_to(inputs.resolve())]
    assert on_inputs  # the spy saw the reads
    assert all(not any(c in m for c in "wax+") for _, m in on_inputs), on_inputs


def test_a_failed_render_leaves_the_old_output(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import ftdiag.render.markdown as md

    out = tmp_path / "r.md"
    out.write_text("previous report\n")

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(md, "render", boom)
    r = invoke("analyze", str(SAMPLES / "reference_overfit.csv"), "--format", "markdown", "-o", str(out))
    assert r.exit_code == 3
    assert out.read_text() == "previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]


def test_an_interrupted_write_leaves_the_old_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r.json"
    out.write_text("old")
    real_replace = os.replace

    def interrupted(*a, **k):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        outputs.atomic_write(out, "new" * 1000)
    monkeypatch.setattr(os, "replace", real_replace)
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_write_errors_are_clean(tmp_path: Path) -> None:
    r = invoke("analyze", str(SAMPLES / "reference_overfit.csv"), "-o", str(tmp_path / "no" / "such" / "dir.txt"))
    assert r.exit_code == 2 and "cannot write" in r.stderr
    (tmp_path / "adir").mkdir()
    r = invoke("analyze", str(SAMPLES / "reference_overfit.csv"), "-o", str(tmp_path / "adir"))
    assert r.exit_code == 2


def test_atomic_write_keeps_permissions(tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    out.write_text("old")
    out.chmod(0o600)
    outputs.atomic_write(out, "new")
    assert out.read_text() == "new" and (out.stat().st_mode & 0o777) == 0o600
    fresh = tmp_path / "fresh.txt"
    outputs.atomic_write(fresh, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert (fresh.stat().st_mode & 0o777) == 0o666 & ~umask
