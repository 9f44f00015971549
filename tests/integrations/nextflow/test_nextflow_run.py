"""A real scatter/gather pipeline run through the runner, then resumed with one changed input.

Three samples go through SPLIT (a file output, a directory output and a scratch file; copies
published with publishDir), GATHER concatenates them. The second run changes sample b and uses
-resume: SPLIT (a) and (c) are cached, SPLIT (b) and GATHER run again. Lineage is disabled: inputs
and outputs come from the work dirs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from nfhelpers import build_gather, build_once, read_events, task_table

import flowtrail as ft
from flowtrail.integrations.nextflow import import_all
from flowtrail.integrations.nextflow.trace import FIELDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scenario(nextflow_ready: str, shared: Path) -> dict[str, Any]:
    return build_once(shared, "gather", build_gather)


@pytest.fixture
def runs(scenario: dict[str, Any], connect_to: Any) -> tuple[ft.Run, ft.Run]:
    connect_to(scenario["root"])
    return ft.Run.get(scenario["runs"][0]), ft.Run.get(scenario["runs"][1])


def test_the_sessions_are_runs_of_the_pipeline(scenario: dict[str, Any], runs: tuple[ft.Run, ft.Run]) -> None:
    first, second = runs
    assert scenario["codes"] == [0, 0]
    for session in (first, second):
        assert session.engine == "nextflow" and session.engine_version == "25.04.4"
        assert session.transform.key == "main.nf" and session.transform.type == "pipeline"
        assert "process SPLIT" in session.transform.source_code
        assert session.transform.reference == str(Path(scenario["root"]) / "main.nf")
        assert re.fullmatch(r"[a-z]+_[a-z]+", session.name)
        assert session.params == {"outdir": "results"}
        assert session.status == "completed" and session.parent is None
        assert session.metrics["exit_code"] == 0
        assert session.started_at <= session.finished_at
    # -resume continues the session: same session id, a new run name.
    assert re.fullmatch(r"[0-9a-f-]{36}", first.reference) and second.reference == first.reference
    assert second.name != first.name
    assert first.transform.id == second.transform.id
    assert first.metrics["tasks"] == {"completed": 4}
    assert second.metrics["tasks"] == {"cached": 2, "completed": 2}


def test_each_task_is_a_run_of_its_process(runs: tuple[ft.Run, ft.Run]) -> None:
    first, _ = runs
    tasks = task_table(first)
    assert set(tasks) == {"SPLIT (a)", "SPLIT (b)", "SPLIT (c)", "GATHER"}
    split_transforms = {tasks[f"SPLIT ({s})"]["run"].transform.id for s in "abc"}
    assert len(split_transforms) == 1, "the tasks of one process share one Transform"
    split = tasks["SPLIT (a)"]["run"]
    gather = tasks["GATHER"]["run"]
    assert split.transform.key == "main.nf:SPLIT" and split.transform.type == "process"
    assert split.transform.source_code.startswith("process SPLIT {") and "tr a-z A-Z" in split.transform.source_code
    assert "process GATHER" not in split.transform.source_code
    assert gather.transform.key == "main.nf:GATHER"
    for row in tasks.values():
        task = row["run"]
        assert task.status == "completed" and task.parent_id == first.id
        assert task.engine == "nextflow" and task.engine_version == "25.04.4"
        full_hash, workdir = task.reference.split(" ", 1)
        assert re.fullmatch(r"[0-9a-f]{32}", full_hash)
        assert workdir.endswith(f"/work/{full_hash[:2]}/{full_hash[2:]}") and Path(workdir).is_dir()
        metrics = task.metrics
        assert metrics["exit_code"] == 0 and metrics["nextflow_status"] == "COMPLETED"
        for key in ("duration_ms", "realtime_ms", "submitted_at", "started_at", "completed_at", "native_id", "cpus"):
            assert key in metrics, key
        assert task.started_at <= task.finished_at
    assert split.params == {"tag": "a"}
    assert gather.params is None


def test_inputs_outputs_and_published_copies(runs: tuple[ft.Run, ft.Run]) -> None:
    first, _ = runs
    tasks = task_table(first)
    split_a = tasks["SPLIT (a)"]
    work_a = split_a["run"].reference.split(" ", 1)[1]
    key_a = work_a.split("/work/", 1)[1]
    assert split_a["inputs"] == ["data/a.txt"]
    # Declared outputs (a file and a folder) and their published copies; no scratch file.
    assert split_a["outputs"] == sorted(
        [f"work/{key_a}/a.upper.txt", f"work/{key_a}/stats_a", "results/a.upper.txt", "results/stats_a"]
    )
    assert not ft.Artifact.filter(key__endswith=".tmp").exists()
    folder = ft.Artifact.get(key=f"work/{key_a}/stats_a")
    assert folder.kind == "folder" and folder.n_files == 2
    # An upstream output staged downstream is the same artifact.
    upstream = {a.id for s in "abc" for a in tasks[f"SPLIT ({s})"]["run"].outputs if a.key.endswith(".upper.txt")
                and a.key.startswith("work/")}  # fmt: skip
    gather = tasks["GATHER"]["run"]
    assert {a.id for a in gather.inputs} == upstream
    assert [a.key.rsplit("/", 1)[1] for a in gather.outputs] == ["all.txt", "all.txt"]
    # A published copy: produced by the same task run, same content, says what it copies.
    for name in ("results/a.upper.txt", "results/stats_a"):
        copy = ft.Artifact.get(key=name)
        original = ft.Artifact.get(key=f"work/{key_a}/{name.split('/', 1)[1]}")
        assert copy.run_id == original.run_id == split_a["run"].id
        assert copy.hash == original.hash and copy.kind == original.kind
        assert copy.description == f"Published by Nextflow (copy) from {original.key}"


def test_resume_caches_unchanged_tasks_and_reruns_the_changed_one(runs: tuple[ft.Run, ft.Run]) -> None:
    first, second = runs
    before, after = task_table(first), task_table(second)
    assert {name: row["status"] for name, row in after.items()} == {
        "SPLIT (a)": "cached", "SPLIT (b)": "completed", "SPLIT (c)": "cached", "GATHER": "completed",
    }  # fmt: skip
    for sample in "ac":
        cached, original = after[f"SPLIT ({sample})"]["run"], before[f"SPLIT ({sample})"]["run"]
        assert cached.metrics["cached"] is True
        assert cached.metrics["cached_from_run"] == original.uid
        assert cached.reference == original.reference  # same task hash and work dir
        assert cached.outputs == []  # the outputs stay with the run that made them
        assert [a.id for a in cached.inputs] == [a.id for a in original.inputs]
    # The changed input is a new version of the same key.
    b_old = before["SPLIT (b)"]["run"].inputs[0]
    b_new = after["SPLIT (b)"]["run"].inputs[0]
    assert (b_old.key, b_new.key) == ("data/b.txt", "data/b.txt")
    assert (b_old.version, b_new.version) == (1, 2) and b_new.uid[:16] == b_old.uid[:16]
    assert after["SPLIT (b)"]["run"].reference != before["SPLIT (b)"]["run"].reference
    # GATHER reads the two cached outputs of the first run and the new one.
    gather_in = {a.id for a in after["GATHER"]["run"].inputs}
    kept = {a.id for s in "ac" for a in before[f"SPLIT ({s})"]["run"].outputs if a.key.startswith("work/")
            and a.key.endswith(".upper.txt")}  # fmt: skip
    new_b = {
        a.id for a in after["SPLIT (b)"]["run"].outputs if a.key.startswith("work/") and a.key.endswith(".upper.txt")
    }
    assert gather_in == kept | new_b
    # Republished: unchanged copies stay one artifact, the changed one gets a version.
    assert ft.Artifact.get(key="results/a.upper.txt", is_latest=True).version == 1
    b_copy = ft.Artifact.get(key="results/b.upper.txt", is_latest=True)
    assert b_copy.version == 2 and b_copy.run_id == after["SPLIT (b)"]["run"].id
    assert ft.Artifact.get(key="results/all.txt", is_latest=True).run_id == after["GATHER"]["run"].id


def test_openlineage_events_are_valid_and_complete(
    scenario: dict[str, Any], runs: tuple[ft.Run, ft.Run], validate: Any
) -> None:
    events = read_events(Path(scenario["events"]))
    for event in events:
        validate(event)
    first, second = runs
    all_runs = [first, *first.children, second, *second.children]
    by_run: dict[str, list[str]] = {}
    for event in events:
        by_run.setdefault(event["run"]["runId"], []).append(event["eventType"])
    assert by_run == {run.uid: ["START", "COMPLETE"] for run in all_runs}
    gather = task_table(first)["GATHER"]["run"]
    complete = next(e for e in events if e["run"]["runId"] == gather.uid and e["eventType"] == "COMPLETE")
    assert complete["job"]["name"] == "main.nf:GATHER"
    assert complete["job"]["facets"]["jobType"]["integration"] == "NEXTFLOW"
    assert complete["job"]["facets"]["jobType"]["jobType"] == "PROCESS"
    assert complete["job"]["facets"]["sourceCode"]["language"] == "shell"
    engine = complete["run"]["facets"]["processing_engine"]
    assert (engine["name"], engine["version"]) == ("nextflow", "25.04.4")
    parent = complete["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == first.uid and parent["job"]["name"] == "main.nf"
    assert sorted(d["name"] for d in complete["inputs"]) == sorted(a.location for a in gather.inputs)
    # Nextflow publishes after a task completes and the emitter builds each event from the
    # registry in the background: the COMPLETE event lists the work-dir outputs, and the published
    # copy too when it was registered before the event was built.
    work_outputs = {a.location for a in gather.outputs if a.key.startswith("work/")}
    emitted = {d["name"] for d in complete["outputs"]}
    assert work_outputs <= emitted <= {a.location for a in gather.outputs}
    assert all(d["namespace"] == "file" for d in complete["inputs"] + complete["outputs"])
    session = next(e for e in events if e["run"]["runId"] == first.uid and e["eventType"] == "COMPLETE")
    assert session["job"]["facets"]["jobType"]["jobType"] == "PIPELINE"
    assert "parent" not in session["run"]["facets"]


def test_registration_ends_soon_after_the_pipeline(scenario: dict[str, Any]) -> None:
    # The benchmark measures this properly; here only a loose bound on a busy machine.
    assert all(seconds < 15 for seconds in scenario["registration_s"]), scenario["registration_s"]


def test_the_runner_keeps_its_files_out_of_the_launch_dir(scenario: dict[str, Any]) -> None:
    root = Path(scenario["root"])
    for name in ("stdout.txt", "stderr.txt", "rc.txt"):
        assert not (root / name).exists()
    state = Path(scenario["state_dirs"][0])
    assert state.parent == root / ".nextflow" / "flowtrail"
    assert (state / "trace.txt").read_text().splitlines()[0].split("\t") == FIELDS.split(",")
    assert (state / "rc.txt").read_text().strip() == "0"
    assert (root / ".nextflow.log").exists() and (root / ".nextflow.log.1").exists()


def test_importing_runs_that_are_registered_adds_nothing(scenario: dict[str, Any], runs: tuple[ft.Run, ft.Run]) -> None:
    count = ft.Run.filter().count()
    assert import_all(scenario["root"]) == []
    assert ft.Run.filter().count() == count
