"""Importing runs made with plain `nextflow run` (no flowtrail, no lineage): one with Nextflow's
default trace (`-with-trace`: formatted values, no workdir column), then a `-resume` with one
changed input and no trace at all, so the log is the only record of the second run's tasks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from nfhelpers import FAST_JVM, build_once, task_table, write_gather

import flowtrail as ft
from flowtrail.cli.nextflow_commands import nextflow
from flowtrail.core.db.context import disconnect
from flowtrail.core.errors import FlowtrailError
from flowtrail.integrations.nextflow import import_run

pytestmark = pytest.mark.slow


def _nextflow(project: Path, *args: str) -> None:
    env = {**os.environ, "NXF_OPTS": os.environ.get("NXF_OPTS") or FAST_JVM, "NXF_ANSI_LOG": "false"}
    done = subprocess.run(["nextflow", "run", "main.nf", *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _build(folder: Path) -> dict[str, Any]:
    project = folder / "launch"
    write_gather(project)
    _nextflow(project, "-with-trace")
    (project / "data" / "b.txt").write_text("bravo\nbeta\ngamma\n")
    _nextflow(project, "-resume")
    registry = folder / "registry"
    ft.init(registry)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(registry)
        disconnect()
        first = CliRunner().invoke(nextflow, ["import", "--all", str(project)], catch_exceptions=False)
        second = CliRunner().invoke(nextflow, ["import", "--all", str(project)], catch_exceptions=False)
    disconnect()
    history = [line.split("\t")[2] for line in (project / ".nextflow" / "history").read_text().splitlines()]
    return {"launch": str(project), "registry": str(registry), "first": first.output, "second": second.output,
            "codes": [first.exit_code, second.exit_code], "names": history}  # fmt: skip


@pytest.fixture(scope="module")
def scenario(nextflow_ready: str, shared: Path) -> dict[str, Any]:
    return build_once(shared, "import", _build)


@pytest.fixture
def sessions(scenario: dict[str, Any], connect_to: Any) -> list[ft.Run]:
    connect_to(scenario["registry"])
    return list(ft.Run.filter(parent_id__isnull=True).order_by("id"))


def test_every_run_is_imported_once(scenario: dict[str, Any], sessions: list[ft.Run]) -> None:
    assert scenario["codes"] == [0, 0]
    assert [s.name for s in sessions] == scenario["names"]
    assert scenario["first"].count("is completed") == 2
    assert "nothing new to import" in scenario["second"]
    first, second = sessions
    assert first.metrics["tasks"] == {"completed": 4}
    assert second.metrics["tasks"] == {"cached": 2, "completed": 2}
    assert first.reference == second.reference  # one session, resumed
    assert first.metrics["command"] == "nextflow run main.nf -with-trace"
    assert first.transform.key == "launch/main.nf" and first.engine_version == "25.04.4"


def test_the_default_trace_fills_metrics(sessions: list[ft.Run]) -> None:
    tasks = task_table(sessions[0])
    split = tasks["SPLIT (a)"]["run"]
    assert split.params == {"tag": "a"}
    for key in ("duration_ms", "realtime_ms", "submitted_at", "rchar_bytes", "exit_code"):
        assert key in split.metrics, key
    assert isinstance(split.metrics["duration_ms"], int) and isinstance(split.metrics["rchar_bytes"], int)
    assert tasks["SPLIT (a)"]["inputs"] == ["data/a.txt"]
    key = split.reference.split(" ", 1)[1].split("/work/", 1)[1]
    assert tasks["SPLIT (a)"]["outputs"] == [f"work/{key}/a.upper.txt", f"work/{key}/stats_a"]
    # No -trace PublishDir log lines and no lineage store: published copies are not known.
    assert not ft.Artifact.filter(key__startswith="results/").exists()


def test_a_run_without_trace_is_read_from_its_log(sessions: list[ft.Run]) -> None:
    before, after = task_table(sessions[0]), task_table(sessions[1])
    assert {n: r["status"] for n, r in after.items()} == {
        "SPLIT (a)": "cached", "SPLIT (b)": "completed", "SPLIT (c)": "cached", "GATHER": "completed",
    }  # fmt: skip
    assert after["SPLIT (a)"]["run"].metrics["cached_from_run"] == before["SPLIT (a)"]["run"].uid
    rerun = after["SPLIT (b)"]["run"]
    assert rerun.metrics["exit_code"] == 0 and rerun.started_at < rerun.finished_at
    # An import hashes files as they are now: data/b.txt changed before both runs were imported,
    # so both runs' SPLIT (b) read "the" current version (a live run would have told them apart).
    assert [(a.key, a.version) for a in rerun.inputs] == [("data/b.txt", 1)]
    assert rerun.inputs[0].id == before["SPLIT (b)"]["run"].inputs[0].id
    upstream = {a.id for s in "ac" for a in before[f"SPLIT ({s})"]["run"].outputs if a.key.endswith(".upper.txt")}
    upstream |= {a.id for a in rerun.outputs if a.key.endswith(".upper.txt")}
    assert {a.id for a in after["GATHER"]["run"].inputs} == upstream


def test_import_errors_say_what_to_do(scenario: dict[str, Any], connect_to: Any, tmp_path: Path) -> None:
    connect_to(scenario["registry"])
    with pytest.raises(FlowtrailError, match="No .nextflow.log"):
        import_run(tmp_path)
    with pytest.raises(FlowtrailError, match="No run named 'nope'"):
        import_run(scenario["launch"], run="nope")
