"""A failing process: PREP succeeds, BAD exits 3 (writing to stderr), SLOW is killed when the
pipeline stops. Also a launch that fails before any log exists (an unknown option)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from nfhelpers import FAILING, FAST_JVM, build_once, flush_and_disconnect, openlineage_to, read_events, task_table

import flowtrail as ft
from flowtrail.cli.nextflow_commands import nextflow
from flowtrail.core.db.context import disconnect
from flowtrail.core.errors import FlowtrailError
from flowtrail.integrations.nextflow import run

pytestmark = pytest.mark.slow


def _build(folder: Path) -> dict[str, Any]:
    project = folder / "project"
    project.mkdir()
    (project / "main.nf").write_text(FAILING)
    events = folder / "events.ndjson"
    with openlineage_to(events), pytest.MonkeyPatch.context() as mp:
        ft.init(project)
        mp.chdir(project)
        disconnect()
        result = CliRunner().invoke(nextflow, ["run", "--quiet", "main.nf"], catch_exceptions=False)
        flush_and_disconnect()
    ft.connect(project)
    session = ft.Run.filter(parent_id__isnull=True).one().uid
    bad_launch = run("main.nf", ["-no-such-option"], launch_dir=project, echo=False, env={"NXF_OPTS": FAST_JVM})
    disconnect()
    return {"root": str(project), "events": str(events), "session": session, "exit_code": result.exit_code,
            "stderr": result.output, "bad_launch": bad_launch.run.uid, "bad_launch_code": bad_launch.return_code}  # fmt: skip


@pytest.fixture(scope="module")
def scenario(nextflow_ready: str, shared: Path) -> dict[str, Any]:
    return build_once(shared, "failure", _build)


def test_a_failed_task_is_a_failed_run_with_exit_code_and_stderr(scenario: dict[str, Any], connect_to: Any) -> None:
    connect_to(scenario["root"])
    assert scenario["exit_code"] == 1
    tasks = task_table(ft.Run.get(scenario["session"]))
    assert {name: row["status"] for name, row in tasks.items()} == {
        "PREP (1)": "completed", "BAD (1)": "failed", "SLOW (1)": "aborted",
    }  # fmt: skip
    bad = tasks["BAD (1)"]["run"]
    assert bad.metrics["exit_code"] == 3 and bad.metrics["nextflow_status"] == "FAILED"
    assert bad.error == "exit code 3; tail of .command.err:\nreading 1\nfatal: disk on fire"
    assert tasks["BAD (1)"]["outputs"] == []
    assert tasks["BAD (1)"]["inputs"] == tasks["SLOW (1)"]["inputs"] == [a for a in tasks["PREP (1)"]["outputs"]]
    assert tasks["SLOW (1)"]["run"].metrics["nextflow_status"] == "ABORTED"
    assert bad.finished_at is not None and tasks["SLOW (1)"]["run"].finished_at is not None


def test_the_session_fails_with_nextflow_error(scenario: dict[str, Any], connect_to: Any) -> None:
    connect_to(scenario["root"])
    session = ft.Run.get(scenario["session"])
    assert session.status == "failed"
    assert session.metrics["exit_code"] == 1
    assert session.metrics["tasks"] == {"aborted": 1, "completed": 1, "failed": 1}
    assert session.error.startswith("Error executing process > 'BAD (1)'")
    assert "terminated with an error exit status (3)" in session.error
    assert "is failed: 1 aborted, 1 completed, 1 failed" in scenario["stderr"]


def test_failure_events(scenario: dict[str, Any], connect_to: Any, validate: Any) -> None:
    connect_to(scenario["root"])
    events = read_events(Path(scenario["events"]))
    for event in events:
        validate(event)
    tasks = task_table(ft.Run.get(scenario["session"]))
    final = {e["run"]["runId"]: e for e in events if e["eventType"] != "START"}
    bad = final[tasks["BAD (1)"]["run"].uid]
    assert bad["eventType"] == "FAIL"
    assert "fatal: disk on fire" in bad["run"]["facets"]["errorMessage"]["message"]
    assert bad["run"]["facets"]["errorMessage"]["programmingLanguage"] == "nextflow"
    assert final[tasks["SLOW (1)"]["run"].uid]["eventType"] == "ABORT"
    assert final[scenario["session"]]["eventType"] == "FAIL"


def test_a_launch_without_log_ends_and_is_recorded(scenario: dict[str, Any], connect_to: Any) -> None:
    connect_to(scenario["root"])
    failed = ft.Run.get(scenario["bad_launch"])
    assert scenario["bad_launch_code"] == 1
    assert failed.status == "failed" and failed.children == []
    assert "Unknown option: -no-such-option" in failed.error


def test_background_runs_are_refused(nextflow_ready: str, instance: ft.Instance, tmp_path: Path) -> None:
    with pytest.raises(FlowtrailError, match="-bg"):
        run("main.nf", ["-bg"], launch_dir=tmp_path)
