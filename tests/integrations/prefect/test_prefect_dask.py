"""Tasks on a distributed task runner (``prefect-dask``, a local Dask cluster) are runs of their flow run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("prefect_dask")

import prefect_dask_flows as pdf  # noqa: E402
from test_prefect_tracking import children, flow_run, keys  # noqa: E402

pytestmark = pytest.mark.slow


def test_every_task_on_dask_workers_is_a_run_of_its_flow_run_with_its_edges(prefect_instance):
    folder = Path.cwd() / "dask"
    folder.mkdir()
    state = pdf.on_dask(str(folder), return_state=True)
    result = state.result()
    assert result["chars"] == 2 + 4
    assert os.getpid() not in (result["pid0"], result["pid1"])  # the tasks ran in Dask's worker processes

    run = flow_run(state)
    assert run.status == "completed"
    tasks = children(run)
    assert sorted((key, len(runs)) for key, runs in tasks.items()) == [
        ("count_chars", 2), ("worker_pid", 2), ("write_text", 2),
    ]  # fmt: skip
    assert all(child.status == "completed" and child.parent_id == run.id for runs in tasks.values() for child in runs)
    writes = {child.outputs[0].key: child for child in tasks["write_text"]}
    assert sorted(writes) == ["dask/a.txt", "dask/bb.txt"]
    for reader in [*tasks["count_chars"], *tasks["worker_pid"]]:
        (read,) = reader.inputs
        assert read.run_id == writes[read.key].id  # connected to the task that wrote it
    assert keys([a for runs in tasks.values() for child in runs for a in child.outputs]) == ["dask/a.txt", "dask/bb.txt"]
