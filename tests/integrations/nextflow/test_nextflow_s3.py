"""Work dirs on object storage: the real work dirs of the scatter/gather run, copied to an
S3-compatible server (moto) under ``s3://bucket/work``, read through fsspec, and registered.

Nextflow's S3 support (the nf-amazon plugin) cannot be installed offline, so the pipeline ran
locally; what is tested here is everything the adapter reads from a work dir, through s3fs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nfhelpers import build_gather, build_once

import flowtrail as ft
from flowtrail.integrations.nextflow.recorder import Recorder
from flowtrail.integrations.nextflow.trace import TraceReader, TraceRecord
from flowtrail.integrations.nextflow.workdir import WorkDir

pytestmark = pytest.mark.slow


@pytest.fixture
def s3_work(nextflow_ready: str, shared: Path, s3_bucket: str) -> dict[str, Any]:
    import s3fs

    scenario = build_once(shared, "gather", build_gather)  # shared with test_nextflow_run
    trace = Path(scenario["state_dirs"][0]) / "trace.txt"
    records = TraceReader(str(trace)).read_all()
    fs = s3fs.S3FileSystem()
    local_work = Path(scenario["root"]) / "work"
    moved = []
    for record in records:
        local = Path(record.workdir)
        remote = f"{s3_bucket}/work/{local.relative_to(local_work).as_posix()}"
        fs.put(str(local), remote, recursive=True)
        moved.append(TraceRecord({**record.values, "workdir": remote}))
    return {"scenario": scenario, "records": moved, "bucket": s3_bucket}


def test_a_work_dir_on_s3_is_read_through_fsspec(s3_work: dict[str, Any]) -> None:
    record = next(r for r in s3_work["records"] if r.get("name") == "SPLIT (a)")
    workdir = WorkDir(record.workdir)
    assert workdir.location.startswith("s3://") and workdir.full_hash == record.workdir[-33:].replace("/", "")
    assert workdir.header.name == "SPLIT (a)"
    assert workdir.header.outputs == ["a.upper.txt", "stats_a"]
    assert [s.name for s in workdir.staged] == ["a.txt"]
    assert workdir.exit_code() == 0
    assert sorted(workdir.declared_outputs()) == [f"{record.workdir}/a.upper.txt", f"{record.workdir}/stats_a"]
    assert workdir.stderr_tail() == ""


def test_tasks_with_s3_work_dirs_register_s3_artifacts(
    s3_work: dict[str, Any], instance: ft.Instance, tmp_path: Path
) -> None:
    bucket = s3_work["bucket"]
    recorder = Recorder(tmp_path, instance=instance, parent=None, tasks_from_log=False)
    recorder.info.session_id = "00000000-0000-4000-8000-000000000000"
    recorder.info.run_name = "remote_run"
    recorder.info.workdir = f"{bucket}/work"
    recorder.info.version = "25.04.4"
    recorder.trace_records(s3_work["records"])
    session = recorder.close(0)
    tasks = {run.name: run for run in session.children}
    assert {name: run.status for name, run in tasks.items()} == {
        "SPLIT (a)": "completed", "SPLIT (b)": "completed", "SPLIT (c)": "completed", "GATHER": "completed",
    }  # fmt: skip
    split = tasks["SPLIT (a)"]
    outputs = {a.key: a for a in split.outputs}
    prefix = split.reference.split(" ", 1)[1].split(f"{bucket}/", 1)[1]
    assert set(outputs) == {f"{prefix}/a.upper.txt", f"{prefix}/stats_a"}
    assert all(a.storage.root == bucket for a in outputs.values())
    assert outputs[f"{prefix}/stats_a"].kind == "folder" and outputs[f"{prefix}/stats_a"].n_files == 2
    # The staged input is the local file the pipeline read (its path is in the wrapper).
    assert [a.location for a in split.inputs] == [str(Path(s3_work["scenario"]["root"]) / "data" / "a.txt")]
    # GATHER's staged inputs are local paths of the original run: here they are other artifacts
    # than the S3 copies, which is what the wrapper says it read.
    assert len(tasks["GATHER"].inputs) == 3
