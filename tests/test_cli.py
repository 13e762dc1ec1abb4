from __future__ import annotations

import json

from click.testing import CliRunner

from conftest import SAMPLES
from ftdiag import __version__
from ftdiag.cli import cli


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_version_and_help() -> None:
    r = run("--version")
    assert r.exit_code == 0 and __version__ in r.output
    r = run("-h")
    assert r.exit_code == 0 and "analyze" in r.output


def test_analyze_json_is_one_versioned_object() -> None:
    r = run("analyze", str(SAMPLES / "reference_overfit.csv"), "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["schema_version"] == 1 and doc["ftdiag_version"] == __version__
    (one,) = doc["runs"]
    assert set(one) >= {"source", "format", "label", "confidence", "evidence", "summary", "recommendations"}
    assert one["label"] == "overfit"
    assert one["recommendations"][0]["parameter"] in {"n_epochs", "learning_rate_multiplier"}


def test_several_files_and_fail_on() -> None:
    files = [str(SAMPLES / f"reference_{x}.csv") for x in ("underfit", "good_fit", "overfit")]
    r = run("analyze", *files, "--format", "json")
    assert r.exit_code == 0
    labels = [x["label"] for x in json.loads(r.stdout)["runs"]]
    assert labels == ["underfit", "good_fit", "overfit"]
    assert run("analyze", *files, "--fail-on", "overfit").exit_code == 1
    assert run("analyze", files[1], "--fail-on", "overfit,underfit").exit_code == 0


def test_missing_file_is_exit_2_with_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(cli, ["analyze", str(tmp_path / "nope.csv")])
    assert r.exit_code == 2
    assert "nope.csv" in r.stderr and "no such file" in r.stderr
    assert "Traceback" not in r.output


def test_debug_adds_the_traceback_to_an_internal_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import ftdiag.api

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("planted bug")

    monkeypatch.setattr(ftdiag.api, "analyze_run", boom)
    sample = str(SAMPLES / "reference_overfit.csv")
    r = CliRunner().invoke(cli, ["analyze", sample])
    assert r.exit_code == 3 and "planted bug" in r.stderr and "Traceback" not in r.stderr
    for args in (["analyze", sample, "--debug"], ["--debug", "analyze", sample]):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 3, args
        assert "Traceback" in r.stderr and "ftdiag: internal error: RuntimeError: planted bug" in r.stderr


def test_unknown_content_is_exit_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "x.csv"
    p.write_text("a,b,c\n1,2,3\n")
    r = CliRunner().invoke(cli, ["analyze", str(p)])
    assert r.exit_code == 2 and "x.csv" in r.stderr


def test_bad_usage_is_exit_2() -> None:
    r = CliRunner().invoke(cli, ["analyze", str(SAMPLES / "reference_overfit.csv"), "--fail-on", "bogus"])
    assert r.exit_code == 2 and "bogus" in r.stderr


def test_internal_error_is_exit_3(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import ftdiag.api

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom")

    monkeypatch.setattr(ftdiag.api, "analyze_many", boom)
    r = CliRunner().invoke(cli, ["analyze", str(SAMPLES / "reference_overfit.csv")])
    assert r.exit_code == 3
    assert "internal error" in r.stderr and "Traceback" not in r.stderr


def test_output_file_is_written_and_input_protected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r.md"
    r = run("analyze", str(SAMPLES / "reference_good_fit.csv"), "--format", "markdown", "-o", str(out))
    assert r.exit_code == 0 and r.stdout == ""
    assert out.read_text().startswith("# ftdiag report")
    src = tmp_path / "in.csv"
    src.write_bytes((SAMPLES / "reference_good_fit.csv").read_bytes())
    before = src.read_bytes()
    r = CliRunner().invoke(cli, ["analyze", str(src), "-o", str(src)])
    assert r.exit_code == 2 and src.read_bytes() == before


def test_hyperparameter_options_and_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"object": "fine_tuning.job", "hyperparameters": {"n_epochs": 6, "batch_size": 4, "learning_rate_multiplier": 2.0}}))
    r = run("analyze", str(SAMPLES / "openai_overfit.csv"), "--hyperparameters", str(job), "--n-epochs", "8", "--format", "json")
    hp = json.loads(r.stdout)["runs"][0]["hyperparameters"]
    assert hp["n_epochs"] == 8 and hp["batch_size"] == 4 and hp["learning_rate_multiplier"] == 2.0


def test_formats_lists_readers() -> None:
    r = run("formats")
    assert r.exit_code == 0
    for name in ("openai", "hf_trainer_state", "keras_csv"):
        assert name in r.output
