"""``ftdiag compare --dask-scheduler``: the same table from a Dask cluster
(a LocalCluster started here, in-process threads: fast)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from ftdiag.cli import cli

distributed = pytest.importorskip("distributed")


def sweep(tmp_path: Path) -> list[str]:
    # the samples, several copies each (distinct names), so that the files fall
    # into several batches, one task each
    files = []
    for i in range(3):
        for f in sorted(SAMPLES.iterdir()):
            if f.suffix in (".csv", ".json"):
                dst = tmp_path / f"{i}_{f.name}"
                shutil.copy(f, dst)
                files.append(str(dst))
    return files


def test_compare_on_a_dask_cluster_gives_the_same_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths too: made absolute for the workers
    files = [Path(f).name for f in sweep(tmp_path)]
    local = CliRunner().invoke(cli, ["compare", *files, "--format", "json", "-j", "1"])
    assert local.exit_code == 0, local.output
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        tasks: list[str] = []
        cluster.scheduler.add_plugin(_Count(tasks))
        r = CliRunner().invoke(
            cli, ["compare", *files, "--format", "json", "--dask-scheduler", cluster.scheduler_address]
        )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == json.loads(local.stdout)
    assert len(json.loads(r.stdout)["runs"]) == len(files)
    assert 1 < len(tasks) < len(files)  # one task per batch of files


class _Count(distributed.diagnostics.plugin.SchedulerPlugin):  # type: ignore[misc]
    def __init__(self, tasks: list[str]) -> None:
        self.tasks = tasks

    def update_graph(self, scheduler, *, keys, **kwargs):  # type: ignore[no-untyped-def]
        self.tasks.extend(str(k) for k in keys)


def test_unreachable_scheduler_is_a_usage_error(tmp_path: Path) -> None:
    files = sweep(tmp_path)[:2]
    r = CliRunner().invoke(cli, ["compare", *files, "--dask-scheduler", "nosuchproto://nowhere"])
    assert r.exit_code == 2
    assert "--dask-scheduler" in r.output
