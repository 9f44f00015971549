"""Lineage enabled: `flowtrail nextflow run` (the CLI) with `lineage.enabled = true`, then the same
launch dir imported into a second instance with `flowtrail nextflow import`.

With lineage, task inputs and outputs come from Nextflow's lineage store (and val inputs become
params); they must agree with what the work dirs say, and the import must register the same
runs and edges as the live run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from nfhelpers import build_once, flush_and_disconnect, openlineage_to, read_events, task_table, write_gather

import flowtrail as ft
from flowtrail.cli.nextflow_commands import nextflow
from flowtrail.core.db.context import disconnect
from flowtrail.integrations.nextflow.workdir import WorkDir

pytestmark = pytest.mark.slow


def _build(folder: Path) -> dict[str, Any]:
    project = folder / "project"
    write_gather(project, lineage=True)
    events = folder / "events.ndjson"
    with openlineage_to(events), pytest.MonkeyPatch.context() as mp:
        ft.init(project)
        mp.chdir(project)
        disconnect()  # the CLI finds the instance from the working directory, as a user's would
        result = CliRunner().invoke(nextflow, ["run", "main.nf", "--outdir", "results"], catch_exceptions=False)
        flush_and_disconnect()
    ft.connect(project)
    session_uid = ft.Run.filter(parent_id__isnull=True).one().uid
    disconnect()
    imported = folder / "imported"
    ft.init(imported)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(imported)
        disconnect()
        result_import = CliRunner().invoke(nextflow, ["import", str(project)], catch_exceptions=False)
        again = CliRunner().invoke(nextflow, ["import", str(project)], catch_exceptions=False)
    disconnect()
    return {
        "root": str(project), "imported": str(imported), "events": str(events), "session": session_uid,
        "exit_code": result.exit_code, "output": result.output, "import_output": result_import.output,
        "import_exit_code": result_import.exit_code, "again_output": again.output,
    }  # fmt: skip


@pytest.fixture(scope="module")
def scenario(nextflow_ready: str, shared: Path) -> dict[str, Any]:
    return build_once(shared, "lineage", _build)


def _snapshot(session: ft.Run) -> dict[str, Any]:
    return {
        name: {"status": row["status"], "inputs": row["inputs"], "outputs": row["outputs"],
               "reference": row["run"].reference, "params": row["run"].params}
        for name, row in task_table(session).items()
    }  # fmt: skip


def test_the_cli_runs_the_pipeline_and_echoes_nextflow(scenario: dict[str, Any]) -> None:
    assert scenario["exit_code"] == 0, scenario["output"]
    assert "N E X T F L O W" in scenario["output"]
    assert "Submitted process > GATHER" in scenario["output"]


def test_lineage_gives_params_and_val_inputs(scenario: dict[str, Any], connect_to: Any) -> None:
    connect_to(scenario["root"])
    session = ft.Run.get(scenario["session"])
    # The WorkflowRun record has every param, defaults included; the command line only --outdir.
    assert session.params == {"outdir": "results", "samples": "data/*.txt"}
    assert session.metrics["lineage_store"] == str(Path(scenario["root"]) / ".lineage")
    tasks = task_table(session)
    for sample in "abc":
        assert tasks[f"SPLIT ({sample})"]["run"].params == {"tag": sample, "inputs": {"sample": sample}}
        assert tasks[f"SPLIT ({sample})"]["inputs"] == [f"data/{sample}.txt"]
    assert tasks["GATHER"]["status"] == "completed"


def test_lineage_and_work_dirs_agree(scenario: dict[str, Any], connect_to: Any) -> None:
    connect_to(scenario["root"])
    root = Path(scenario["root"])
    for row in task_table(ft.Run.get(scenario["session"])).values():
        workdir = WorkDir(row["run"].reference.split(" ", 1)[1])
        declared = sorted(os.path.relpath(p, root) for p in workdir.declared_outputs())
        staged = sorted(os.path.relpath(os.path.realpath(s.source), root) for s in workdir.staged)
        assert [k for k in row["outputs"] if k.startswith("work/")] == declared
        assert row["inputs"] == staged


def test_import_registers_the_same_runs_and_edges(scenario: dict[str, Any], connect_to: Any) -> None:
    connect_to(scenario["root"])
    live = _snapshot(ft.Run.get(scenario["session"]))
    live_session = ft.Run.get(scenario["session"])
    expected = (live_session.name, live_session.reference, live_session.params, live_session.transform.key)
    connect_to(scenario["imported"])
    assert scenario["import_exit_code"] == 0, scenario["import_output"]
    assert "is completed: 4 completed" in scenario["import_output"]
    assert "already registered" in scenario["again_output"]
    sessions = list(ft.Run.filter(parent_id__isnull=True))
    assert len(sessions) == 1
    imported = sessions[0]
    assert (imported.name, imported.reference, imported.params) == expected[:3]
    assert imported.transform.key == "project/main.nf"  # the script lies outside this instance's root
    assert imported.engine_version == "25.04.4"
    assert _snapshot(imported) == live
    for row in task_table(imported).values():
        assert "duration_ms" in row["run"].metrics and "peak_rss_bytes" in row["run"].metrics


def test_events_of_the_cli_run_are_valid(scenario: dict[str, Any], validate: Any) -> None:
    events = read_events(Path(scenario["events"]))
    assert len(events) == 10  # session + 4 tasks, START and COMPLETE each
    for event in events:
        validate(event)
    split_complete = [e for e in events if e["job"]["name"] == "main.nf:SPLIT" and e["eventType"] == "COMPLETE"]
    assert len(split_complete) == 3
    for event in split_complete:
        assert [d["name"].rsplit("/", 2)[-2:] for d in event["inputs"]][0][0] == "data"
        assert len(event["outputs"]) == 2  # the file and the folder in the work dir
