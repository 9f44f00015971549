"""Real Prefect flows, run offline against a local test server, recorded by ``tracked_flow``.

Each test gets a fresh flowtrail instance (SQLite, the working directory) and checks what reached
the registry: runs, their parents, statuses, parameters, inputs and outputs, and the OpenLineage
events. Nothing here asserts on Prefect's timings.
"""

from __future__ import annotations

import logging
import random
import uuid
from pathlib import Path

import pytest

pytest.importorskip("prefect")

import prefect  # noqa: E402
import prefect_flows as pf  # noqa: E402

import flowtrail as ft  # noqa: E402
from flowtrail.integrations.prefect import capture_all_tasks  # noqa: E402

pytestmark = pytest.mark.slow


def fresh() -> None:
    """End the read transaction a lazy load (``run.children``) left open in this thread's session.

    flowtrail's queries end their read transaction after running, not before, so a query right
    after a lazy load would see the snapshot the lazy load started (see the final report).
    """
    from flowtrail.core.db.context import current

    current().sessions.end_read()


def flow_run(state: prefect.State) -> ft.Run:
    """The registry run of the flow run behind a final state."""
    fresh()
    return ft.Run.get(uid=str(state.state_details.flow_run_id))


def children(run: ft.Run) -> dict[str, list[ft.Run]]:
    """Child runs by task name (task transforms are keyed ``<flow>/<task>``)."""
    found: dict[str, list[ft.Run]] = {}
    for child in run.children:
        found.setdefault(child.transform.key.removeprefix(f"{run.transform.key}/"), []).append(child)
    return found


def keys(artifacts: list[ft.Artifact]) -> list[str | None]:
    return sorted(a.key for a in artifacts)


def test_direct_calls_record_runs_parameters_inputs_and_outputs(prefect_instance, counts_csv):
    state = pf.expression(counts_csv, Path("expressed.csv"), return_state=True)
    assert state.is_completed()
    run = flow_run(state)
    flow_run_id = str(state.state_details.flow_run_id)
    assert run.uid == run.reference == flow_run_id
    assert (run.transform.key, run.transform.type, run.status) == ("expression", "pipeline", "completed")
    assert "def expression(" in run.transform.source_code and run.transform.hash
    assert run.transform.description.startswith("Load a count table")
    assert (run.engine, run.engine_version) == ("prefect", prefect.__version__)
    assert run.params == {"src": str(counts_csv), "out": "expressed.csv", "min_count": 5}
    assert run.parent is None and run.finished_at is not None

    tasks = children(run)
    assert sorted(tasks) == ["keep_expressed", "load", "write_table"]
    load, keep, write = tasks["load"][0], tasks["keep_expressed"][0], tasks["write_table"][0]
    assert load.transform.key == "expression/load"
    for child in (load, keep, write):
        assert child.transform.type == "task" and child.status == "completed"
        assert child.uid == child.reference and uuid.UUID(child.uid).version == 7  # Prefect's task run id
        assert (child.engine, child.engine_version) == ("prefect", prefect.__version__)
        assert child.metrics["retries"] == 0
    assert "def load(" in load.transform.source_code

    # an existing, unchanged path parameter is an input; the returned DataFrame an output
    assert keys(load.inputs) == ["counts.csv"] and load.params == {"src": str(counts_csv)}
    assert keys(load.outputs) == ["expression/load.parquet"]
    # the DataFrame passed on is the downstream task's input (through Prefect's task inputs), saved once
    assert keep.params == {"frame": {"type": "pandas.core.frame.DataFrame", "shape": [4, 2]}, "min_count": 5}
    assert [a.id for a in keep.inputs] == [a.id for a in load.outputs]
    assert keys(keep.outputs) == ["expression/keep_expressed.parquet"]
    assert keep.outputs[0].load().shape == (2, 2)
    # a path parameter the task created (and returned) is an output, registered in place
    assert [a.id for a in write.inputs] == [a.id for a in keep.outputs]
    assert keys(write.outputs) == ["expressed.csv"]
    assert not write.outputs[0].is_managed and Path(write.outputs[0].location) == Path("expressed.csv").resolve()
    assert ft.Artifact.filter().count() == 4


def test_submit_and_map_link_futures_through_task_inputs(prefect_instance, counts_csv):
    state = pf.fan_out(counts_csv, return_state=True)
    assert state.result() == 12
    run = flow_run(state)
    assert run.transform.key == "fan-out" and run.status == "completed"
    tasks = children(run)
    assert sorted((key, len(runs)) for key, runs in tasks.items()) == [
        ("double", 3), ("keep_expressed", 1), ("load", 1), ("total", 1),
    ]  # fmt: skip
    load, keep = tasks["load"][0], tasks["keep_expressed"][0]
    assert [a.id for a in keep.inputs] == [a.id for a in load.outputs]
    assert keep.params == {"frame": {"upstream_task_run": load.uid}, "min_count": 5}  # a future, summarised
    doubles = tasks["double"]
    assert sorted(r.params["x"] for r in doubles) == [1, 2, 3]
    assert len({r.name for r in doubles}) == 3
    total = tasks["total"][0]
    assert sorted(v["upstream_task_run"] for v in total.params["values"]) == sorted(r.uid for r in doubles)
    assert ft.Artifact.filter(key__startswith="fan-out/").count() == 2  # one per DataFrame, not per use


def test_async_flow_and_tasks(prefect_instance):
    import asyncio

    state = asyncio.run(pf.async_pipeline(1, return_state=True))
    assert state.is_completed()
    run = flow_run(state)
    assert run.status == "completed"
    increments = children(run)["async_increment"]
    assert sorted(r.params["x"] for r in increments) == [1, 2, 12]
    assert {r.status for r in increments} == {"completed"}


def test_sub_flows_nest_under_the_tracked_parent(prefect_instance):
    state = pf.outer(1, return_state=True)
    assert state.result() == 3 + 5
    run = flow_run(state)
    inner_runs = children(run)["inner"]
    assert len(inner_runs) == 2 and list(children(run)) == ["inner"]
    for inner in inner_runs:
        assert inner.transform.type == "pipeline" and inner.status == "completed"
        assert inner.uid == inner.reference and inner.parent_id == run.id
        (double,) = children(inner)["double"]
        assert double.status == "completed"
    assert sorted(children(i)["double"][0].params["x"] for i in inner_runs) == [1, 2]
    # the same sub-flow on its own is not tracked
    fresh()
    before = ft.Run.filter().count()
    assert pf.inner(5) == 11
    assert ft.Run.filter().count() == before


def test_a_flow_called_in_a_tracked_script_nests_under_it(prefect_instance):
    script = ft.track(params={"purpose": "nesting"})
    try:
        state = pf.through_helper(1, return_state=True)
    finally:
        ft.finish()
    assert flow_run(state).parent_id == script.id


def test_a_project_covers_the_flow_its_task_runs_sub_flows_and_outputs(prefect_instance, counts_csv, monkeypatch):
    state = pf.in_project(counts_csv, Path("kept.csv"), return_state=True)
    assert state.result() == 5
    run = flow_run(state)
    assert run.project.name == "Prefect Project"
    tasks = children(run)
    assert sorted(tasks) == ["inner", "keep_expressed", "load", "write_table"]
    (sub,) = tasks["inner"]
    below = [*run.children, *sub.children]
    assert len(below) == 5 and {r.project.name for r in below} == {"Prefect Project"}
    fresh()
    linked = keys(ft.Artifact.filter(projects__name="Prefect Project"))
    assert linked == ["in-project/keep_expressed.parquet", "in-project/load.parquet", "kept.csv"]  # not counts.csv
    assert ft.Run.filter(project__name="Prefect Project").count() == 6

    monkeypatch.setenv("FLOWTRAIL_PROJECT", "From Env")
    env_run = flow_run(pf.through_helper(1, return_state=True))
    assert env_run.project.name == "From Env"
    assert {r.project.name for r in env_run.children} == {"From Env"}


def test_a_failing_task_the_flow_tolerates(prefect_instance):
    state = pf.tolerant(3, return_state=True)
    assert state.result() == 6
    run = flow_run(state)
    assert run.status == "completed"
    tasks = children(run)
    failed = tasks["explode"][0]
    assert failed.status == "failed" and failed.error == "ValueError: cannot handle 3"
    assert failed.finished_at is not None
    assert tasks["double"][0].status == "completed"


def test_a_failing_flow(prefect_instance):
    with pytest.raises(KeyError):
        pf.doomed(2)
    (run,) = ft.Run.filter(transform__key="doomed")
    assert run.status == "failed" and "KeyError" in run.error
    assert run.metrics["prefect_state"] == "Failed"
    assert children(run)["double"][0].status == "completed"


def test_a_crash_aborts_the_flow_run_and_closes_its_open_task_runs(prefect_instance):
    with pytest.raises(SystemExit):
        pf.crashing(1)
    (run,) = ft.Run.filter(transform__key="crashing")
    assert run.status == "aborted" and run.metrics["prefect_state"] == "Crashed"
    tasks = children(run)
    assert tasks["double"][0].status == "completed"
    halted = tasks["halt"][0]  # Prefect runs no hook for a crashed task: the flow's end closes it
    assert halted.status == "aborted" and "before this task run reported a final state" in halted.error


def test_retries_are_counted_on_one_run(prefect_instance):
    assert pf.retrying(1) == 2
    (run,) = ft.Run.filter(transform__key="retrying/flaky")
    assert run.status == "completed"
    assert run.metrics["attempts"] == 2 and run.metrics["retries"] == 1


def test_a_cache_hit_is_marked_cached(prefect_instance):
    x = random.randrange(10**9)
    note = Path(f"note-{x}.txt")
    first = pf.caching(x, note, return_state=True)
    second = pf.caching(x, note, return_state=True)
    assert first.result() == second.result() == x * x
    assert [r.status for r in children(flow_run(first))["cached_square"]] == ["completed"]
    assert [r.status for r in children(flow_run(second))["cached_square"]] == ["cached"]
    assert flow_run(second).status == "completed"
    # the file a cached task returns stays its output (produced by the run that wrote it), not an input
    wrote, reused = children(flow_run(first))["cached_note"][0], children(flow_run(second))["cached_note"][0]
    assert reused.status == "cached" and reused.inputs == [] and reused.outputs == []
    assert keys(wrote.outputs) == [note.name] and wrote.inputs == []


def test_process_pool_workers_find_the_registry_without_environment(events, validate, tmp_path, monkeypatch):
    # The workers start in a folder without an instance and with no FLOWTRAIL_* variables: the
    # registry's location reaches them with the flow Prefect ships to them.
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    state = pf.in_processes(str(elsewhere / "data"), return_state=True)
    assert state.result() == 5
    run = flow_run(state)
    tasks = children(run)
    write, count = tasks["write_text"][0], tasks["count_chars"][0]
    assert write.status == count.status == "completed"
    assert keys(write.outputs) == ["data/greeting.txt"]  # in place: the working directory is registered
    assert [a.id for a in count.inputs] == [a.id for a in write.outputs]
    assert write.parent_id == count.parent_id == run.id
    # the workers emit their task runs' events themselves
    emitted = events()
    for event in emitted:
        validate(event)
    for child in (write, count):
        mine = [e for e in emitted if e["run"]["runId"] == child.uid]
        assert [e["eventType"] for e in mine] == ["START", "COMPLETE"]
        assert mine[-1]["run"]["facets"]["parent"]["run"]["runId"] == run.uid


def test_process_pool_workers_write_task_runs_into_the_flows_project(prefect_instance):
    folder = Path.cwd() / "pool"
    folder.mkdir()
    state = pf.pool_in_project(str(folder), return_state=True)
    assert state.result() == 5
    run = flow_run(state)
    assert run.project.name == "Pool"
    assert sorted((r.transform.key, r.project.name) for r in run.children) == [
        ("pool-in-project/count_chars", "Pool"), ("pool-in-project/write_text", "Pool"),
    ]  # fmt: skip
    fresh()
    assert keys(ft.Artifact.filter(projects__name="Pool")) == ["pool/note.txt"]


def test_an_untracked_flow_reusing_tasks_records_nothing(prefect_instance):
    assert pf.untracked(2) == 4 + 6
    assert ft.Run.filter().count() == 0
    assert pf.through_helper(4) == 8  # and tracking still works afterwards
    (run,) = ft.Run.filter(transform__key="through-helper")
    assert [c.transform.key for c in run.children] == ["through-helper/double"]


def test_tasks_created_in_the_flow_body_need_capture_all_tasks(prefect_instance):
    assert pf.dynamic(2) == 6
    (run,) = ft.Run.filter(transform__key="dynamic")
    assert run.children == []
    assert capture_all_tasks() is True
    try:
        state = pf.dynamic(3, return_state=True)
    finally:
        capture_all_tasks(False)
    assert state.result() == 9
    (made,) = flow_run(state).children
    assert made.transform.key == "dynamic/made-here" and made.params == {"y": 3}


def test_materialized_assets_are_declared_outputs_and_inputs(prefect_instance):
    source, table = Path("source.txt").resolve(), Path("table.txt").resolve()
    source.write_text("abc")
    state = pf.materialized_flow(table, source)(return_state=True)
    assert state.is_completed()
    (build,) = flow_run(state).children
    assert build.status == "completed"
    assert keys(build.outputs) == ["table.txt"] and keys(build.inputs) == ["source.txt"]
    assert build.metrics["prefect_assets"] == {"materialized": [table.as_uri()], "depends_on": [source.as_uri()]}


@pytest.fixture
def flowtrail_log():
    """Messages of the "flowtrail" logger (which may not propagate to pytest's root handler)."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    target = logging.getLogger("flowtrail")
    handler, level = Collect(level=logging.DEBUG), target.level
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    yield messages
    target.removeHandler(handler)
    target.setLevel(level)


def test_returned_dataframes_and_anndata_are_saved_below_the_size_limit(prefect_instance, flowtrail_log):
    assert pf.objects_flow()(4) == (4, 4)
    saved = {a.key: a for a in ft.Artifact.filter(key__startswith="objects/")}
    assert sorted(saved) == ["objects/make_cells.h5ad", "objects/make_frame.parquet"]
    assert saved["objects/make_frame.parquet"].load().shape == (4, 2)
    assert saved["objects/make_cells.h5ad"].n_observations == 4
    assert saved["objects/make_frame.parquet"].run.transform.key == "objects/make_frame"

    assert pf.objects_flow(save_objects=False)(5) == (5, 5)
    assert pf.objects_flow(max_copy_bytes=10)(6) == (6, 6)
    assert ft.Artifact.filter(key__startswith="objects/").count() == 2  # nothing new
    assert any("larger than 10 bytes; not saved" in m for m in flowtrail_log)
    assert ft.Run.filter(transform__key="objects/make_frame", status="completed").count() == 3


def test_registry_failures_never_reach_the_flow(prefect_instance, monkeypatch, flowtrail_log):
    from flowtrail.integrations.prefect import flow_run_rows, hook_logging, task_run_rows, writer

    def broken(*args, **kwargs):
        raise RuntimeError("registry unavailable")

    monkeypatch.setattr(hook_logging, "reported", set())
    monkeypatch.setattr(flow_run_rows.FlowRunRows, "start_flow", broken)
    assert pf.through_helper(2) == 4
    assert ft.Run.filter().count() == 0
    assert any("the Prefect flow hook failed (RuntimeError: registry unavailable)" in m for m in flowtrail_log)
    monkeypatch.undo()

    the_writer = writer.get_writer()
    monkeypatch.setattr(the_writer.recording, "reported", set())
    monkeypatch.setattr(task_run_rows.TaskRunRows, "write_runs", broken)
    assert pf.through_helper(3) == 6  # task runs cannot be written; the flow run still is
    (run,) = ft.Run.filter(transform__key="through-helper")
    assert run.status == "completed" and run.children == []
    assert any("could not record Prefect task runs: registry unavailable" in m for m in flowtrail_log)


def test_openlineage_events_use_prefect_run_ids_and_parents(events, validate, counts_csv):
    state = pf.expression(counts_csv, Path("expressed.csv"), return_state=True)
    failing = pf.tolerant(1, return_state=True)
    emitted = events()
    for event in emitted:
        validate(event)
    flow_run_id = str(state.state_details.flow_run_id)
    run = flow_run(state)
    by_run: dict[str, list[dict]] = {}
    for event in emitted:
        by_run.setdefault(event["run"]["runId"], []).append(event)
    assert [e["eventType"] for e in by_run[flow_run_id]] == ["START", "COMPLETE"]
    assert by_run[flow_run_id][0]["job"]["name"] == "expression"
    for child in run.children:
        task_events = by_run[child.uid]
        assert [e["eventType"] for e in task_events] == ["START", "COMPLETE"]
        parent = task_events[-1]["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == flow_run_id and parent["job"]["name"] == "expression"
        assert task_events[-1]["run"]["facets"]["processing_engine"]["name"] == "prefect"
        assert task_events[-1]["job"]["facets"]["jobType"]["integration"] == "PREFECT"
    load = children(run)["load"][0]
    complete = by_run[load.uid][-1]
    assert [d["name"] for d in complete["inputs"]] == [str(counts_csv)]
    # the returned DataFrame, saved into managed storage: one dataset per key, whatever the version
    assert [d["name"] for d in complete["outputs"]] == [load.outputs[0].key] == ["expression/load.parquet"]
    explode = children(flow_run(failing))["explode"][0]
    fail = by_run[explode.uid][-1]
    assert fail["eventType"] == "FAIL"
    assert fail["run"]["facets"]["errorMessage"]["message"] == "ValueError: cannot handle 1"


def test_hooks_add_no_log_lines(prefect_instance):
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(level=logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("prefect.task_runs", "prefect.flow_runs")]
    for target in loggers:
        target.addHandler(handler)
    try:
        assert pf.retrying(5) == 6
    finally:
        for target in loggers:
            target.removeHandler(handler)
    assert any("Finished in state" in m for m in messages)  # Prefect's own lines still arrive
    assert not [m for m in messages if "flowtrail" in m]


def test_flows_run_unaffected_without_a_flowtrail_instance(prefect_server, tmp_path, monkeypatch, counts_csv_outside):
    from flowtrail.core.db.context import disconnect

    disconnect()
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.csv"
    assert pf.expression(counts_csv_outside, out) == out
    assert out.read_text().splitlines()[0] == "gene,count"


@pytest.fixture
def counts_csv_outside(tmp_path: Path) -> Path:
    path = tmp_path / "counts.csv"
    path.write_text("gene,count\nA,1\nB,7\n")
    return path


def test_a_result_kept_only_in_storage_is_read_back_for_its_outputs(prefect_instance):
    state = pf.persisted(Path("persisted.txt"), return_state=True)
    assert state.is_completed()
    (task,) = children(flow_run(state))["write_persisted"]
    assert [Path(a.location) for a in task.outputs] == [Path("persisted.txt").resolve()]


def test_a_save_inside_a_task_is_an_output_of_the_task_run(prefect_instance):
    state = pf.saving("made.txt", return_state=True)
    uid = state.result()
    (task_run,) = flow_run(state).children
    made = ft.Artifact.get(uid=uid)
    assert made.run.uid == task_run.uid and task_run.transform.key == "saving/save_inside"
    assert [a.uid for a in task_run.outputs] == [uid]
    (nested,) = task_run.children  # a tracked function called in the task is a child run of it
    assert nested.transform.key == "prefect_flows:scaled" and nested.params == {"x": 2}


def test_tasks_of_the_same_name_in_two_flows_are_two_transforms(prefect_instance, counts_csv):
    pf.expression(counts_csv, Path("expressed.csv"))
    pf.other_loader(counts_csv)
    loads = ft.Transform.filter(key__endswith="/load").order_by("key")
    assert [(t.key, t.version) for t in loads] == [("expression/load", 1), ("other-loader/load", 1)]
