"""RunRows: run rows past the ORM for bulk recorders, the same columns as start_run writes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import flowtrail as ft
from flowtrail.core import adapter
from flowtrail.core.adapter.objects import save_objects
from flowtrail.core.adapter.run_rows import RunRows
from flowtrail.core.runs.tracking import start_run

COLUMNS = ("transform_id", "params", "status", "engine", "engine_version", "created_by", "pid", "host", "environment_id")


def test_bulk_rows_are_the_rows_start_run_writes(instance: ft.Instance) -> None:
    single = start_run("wf/step", type="task", engine="test", engine_version="1.0", params={"a": Path("x")})
    rows = RunRows(instance)
    with rows.transaction() as session:
        transform_id = rows.transform_id(session, "wf/step", type="task")
        (run_id,) = rows.insert(session, [
            rows.new_row("bulk-1", transform_id=transform_id, params={"a": Path("x")}, engine="test",
                         engine_version="1.0", environment_id=rows.environment_id(session)),
        ])  # fmt: skip
    instance.sessions.end_read()
    bulk = ft.Run.get(uid="bulk-1")
    assert bulk.id == run_id
    assert {c: getattr(single, c) for c in COLUMNS} == {c: getattr(bulk, c) for c in COLUMNS}
    assert bulk.started_at is not None and bulk.finished_at is None


def test_started_and_already_ended_runs_go_in_together_and_finish_in_one_statement(instance: ft.Instance) -> None:
    rows = RunRows(instance)
    ended = dt.datetime(2026, 1, 2, 3, 4, 5)
    with rows.transaction() as session:
        transform_id = rows.transform_id(session, "wf/task", type="task", source_code="def task(): ...")
        quick = rows.new_row("quick", transform_id=transform_id, engine="test")
        quick.update(rows.final_columns("completed", finished_at=ended, metrics={"attempts": 1}))
        long = rows.new_row("long", transform_id=transform_id, engine="test")
        quick_id, long_id = rows.insert(session, [quick, long])
    with rows.transaction() as session:
        rows.finish(session, [(long_id, rows.final_columns("failed", finished_at=ended, error="boom", metrics=None))])
    instance.sessions.end_read()
    done, failed = ft.Run.get(id=quick_id), ft.Run.get(id=long_id)
    assert (done.status, done.metrics, done.finished_at) == ("completed", {"attempts": 1}, ended)
    assert (failed.status, failed.error, failed.finished_at) == ("failed", "boom", ended)
    assert done.transform.source_code == "def task(): ..." and done.transform_id == failed.transform_id
    with pytest.raises(adapter.TrackingError, match="final status"):
        rows.final_columns("started", finished_at=ended)


def test_a_uid_registered_before_is_found_and_can_be_started_again(instance: ft.Instance) -> None:
    from sqlalchemy.exc import IntegrityError

    rows = RunRows(instance)
    with rows.transaction() as session:
        transform_id = rows.transform_id(session, "wf/flow", type="pipeline")
        (run_id,) = rows.insert(session, [rows.new_row("flow-run", transform_id=transform_id, engine="test")])
        rows.finish(session, [(run_id, rows.final_columns("failed", finished_at=dt.datetime(2026, 1, 1), error="x"))])
    with pytest.raises(IntegrityError), rows.transaction() as session:
        rows.insert(session, [rows.new_row("flow-run", transform_id=transform_id, engine="test")])
    with rows.transaction() as session:
        assert rows.existing(session, ["flow-run", "unknown"]) == {"flow-run": (run_id, None)}
        rows.restart(session, run_id)
    instance.sessions.end_read()
    run = ft.Run.get(id=run_id)
    assert (run.status, run.finished_at, run.error) == ("started", None, None)


def test_a_transform_is_remembered_only_once_its_transaction_committed(instance: ft.Instance) -> None:
    rows = RunRows(instance)
    with pytest.raises(RuntimeError), rows.transaction() as session:
        rows.transform_id(session, "wf/gone", type="task")
        raise RuntimeError("rolled back")
    with rows.transaction() as session:
        transform_id = rows.transform_id(session, "wf/gone", type="task")
    instance.sessions.end_read()
    assert ft.Transform.get(key="wf/gone").id == transform_id


def test_input_links_skip_existing_ones(instance: ft.Instance, tmp_path: Path) -> None:
    path = Path(instance.config.root) / "raw.csv"
    path.write_text("x\n1\n")
    files = adapter.FileRegistry(instance)
    (raw,) = files.inputs([str(path)])
    rows = RunRows(instance)
    with rows.transaction() as session:
        transform_id = rows.transform_id(session, "wf/read", type="task")
        (run_id,) = rows.insert(session, [rows.new_row("reader", transform_id=transform_id, engine="test")])
        assert rows.link_inputs(session, [(run_id, raw.id), (run_id, raw)]) == 1
    with rows.transaction() as session:
        assert rows.link_inputs(session, [(run_id, raw.id)]) == 0
    instance.sessions.end_read()
    assert [a.id for a in ft.Run.get(id=run_id).inputs] == [raw.id]


def test_objects_are_saved_in_the_given_instance_and_a_bad_one_is_left_out(instance: ft.Instance) -> None:
    skipped: list[tuple[Any, BaseException]] = []
    frame = pd.DataFrame({"gene": ["A", "B"], "count": [1, 7]})
    good = ft.Artifact.from_dataframe(frame, key="objects/frame.parquet")
    bad = ft.Artifact.from_dataframe(frame.assign(count=[2, 8]), key="objects/bad.parquet")
    bad._source = str(Path(instance.config.root) / "vanished.parquet")  # its bytes are gone before the save
    saved = save_objects(instance, [good, bad], lambda artifact, exc: skipped.append((artifact, exc)))
    assert saved[0] is not None and saved[0].key == "objects/frame.parquet" and saved[0].run_id is None
    assert saved[1] is None and skipped and skipped[0][0] is bad
    again = save_objects(instance, [ft.Artifact.from_dataframe(frame, key="objects/frame.parquet")], skipped.append)
    assert again[0] is not None and again[0].id == saved[0].id  # identical content: the registered record
