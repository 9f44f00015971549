"""start_runs / finish_runs: many runs per transaction, inputs linked before the start is announced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import flowtrail as ft
from flowtrail.core import adapter
from flowtrail.core.runs.tracking import start_run


@pytest.fixture
def raw(instance: ft.Instance) -> Any:
    path = Path(instance.config.root) / "raw.csv"
    path.write_text("x\n1\n")
    files = adapter.FileRegistry(instance)
    files.register_folder(str(path.parent))
    (artifact,) = files.inputs([str(path)])
    return artifact


def test_runs_start_with_their_inputs_linked_when_listeners_hear_of_them(instance: ft.Instance, raw: Any) -> None:
    heard: list[tuple[str, str, list[str]]] = []

    def listener(event: str, run: Any) -> None:
        heard.append((event, run.name, [a.key for a in run.inputs]))

    adapter.add_run_listener(listener)
    try:
        (workflow,) = adapter.start_runs(instance, [adapter.RunStart("Snakefile", type="pipeline", engine="test")])
        jobs = adapter.start_runs(
            instance,
            [
                adapter.RunStart("Snakefile/count", type="rule", parent=workflow, name=f"count {i}", engine="test",
                                 params={"i": i}, inputs=[raw])
                for i in range(3)
            ],
        )  # fmt: skip
    finally:
        adapter.remove_run_listener(listener)
    assert heard[1:] == [("start", f"count {i}", ["raw.csv"]) for i in range(3)]
    assert len({job.transform_id for job in jobs}) == 1 and all(job.parent_id == workflow.id for job in jobs)
    assert [job.params for job in jobs] == [{"i": i} for i in range(3)]


def test_a_batch_writes_the_same_run_rows_as_start_run(instance: ft.Instance) -> None:
    single = start_run("wf/step", type="rule", engine="test", engine_version="1.0", capture_environment=False,
                       params={"a": Path("x")})  # fmt: skip
    (batched,) = adapter.start_runs(
        instance, [adapter.RunStart("wf/step", type="rule", engine="test", engine_version="1.0", params={"a": Path("x")})]
    )
    columns = ("transform_id", "params", "status", "engine", "engine_version", "created_by", "pid", "host", "environment_id")
    assert {c: getattr(single, c) for c in columns} == {c: getattr(batched, c) for c in columns}


def test_a_run_uid_named_first_by_a_child_process_is_filled_in_and_a_started_one_refused(instance: ft.Instance) -> None:
    from flowtrail.core.runs.context import RunRef, resolve_run

    placeholder = resolve_run(instance, RunRef.parse(f"{instance.name}/wf/job/0190b0c4-0000-7000-8000-000000000001"))
    (run,) = adapter.start_runs(instance, [adapter.RunStart("wf/job", engine="test", uid=placeholder.uid)])
    assert run.id == placeholder.id and run.engine == "test"
    with pytest.raises(adapter.TrackingError, match="already registered"):
        adapter.start_runs(instance, [adapter.RunStart("wf/other", engine="test"), adapter.RunStart("wf/job", engine="test", uid=run.uid)])
    assert not ft.Transform.filter(key="wf/other").exists()  # all or nothing


def test_runs_finish_together_with_status_metrics_and_output_links(instance: ft.Instance, raw: Any) -> None:
    first, second = adapter.start_runs(instance, [adapter.RunStart("wf/a", engine="test"), adapter.RunStart("wf/b", engine="test")])
    adapter.finish_runs(
        instance,
        [
            adapter.RunEnd(first, "completed", metrics={"exit_code": 0}, outputs=[raw], output_kind="forwarded"),
            adapter.RunEnd(second, "failed", error="exit 3", metrics={"exit_code": 3}),
        ],
    )
    instance.sessions.end_read()
    done, failed = ft.Run.get(uid=first.uid), ft.Run.get(uid=second.uid)
    assert (done.status, done.metrics, failed.status, failed.error) == ("completed", {"exit_code": 0}, "failed", "exit 3")
    assert done.finished_at is not None and failed.finished_at is not None
    assert done.output_kinds == {raw.id: "forwarded"}
    with pytest.raises(adapter.TrackingError, match="final status"):
        adapter.finish_runs(instance, [adapter.RunEnd(first, "started")])
