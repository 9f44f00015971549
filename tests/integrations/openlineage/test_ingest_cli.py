"""`flowtrail ingest` reads JSON, JSON arrays and NDJSON, lists what it rejects, keeps the rest."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import uuid

from click.testing import CliRunner

import flowtrail as ft
from flowtrail.cli import cli


def event(run_id: str | None = None) -> dict:
    return {
        "eventType": "COMPLETE", "eventTime": "2025-01-01T00:00:00Z", "producer": "https://example.com",
        "run": {"runId": run_id or str(uuid.uuid4())}, "job": {"namespace": "ns", "name": "job"},
        "outputs": [{"namespace": "s3://bucket", "name": "out/table"}],
    }  # fmt: skip


def test_ingest_files_of_every_shape(instance, tmp_path, corpus):
    ndjson = tmp_path / "events.ndjson"
    ndjson.write_text("\n".join(json.dumps(event()) for _ in range(3)) + "\n")
    array = tmp_path / "events.json"
    array.write_text(json.dumps([event(), event()], indent=2))
    single = tmp_path / "one.json"
    single.write_text(json.dumps(event(), indent=2))
    zipped = tmp_path / "more.ndjson.gz"
    zipped.write_bytes(gzip.compress((json.dumps(event()) + "\n").encode()))
    airflow = corpus / "events" / "derived" / "compat-airflow.ndjson"
    result = CliRunner().invoke(cli, ["ingest", str(ndjson), str(array), str(single), str(zipped), str(airflow)])
    assert result.exit_code == 0, result.output
    assert "Stored 39 events" in result.output
    again = CliRunner().invoke(cli, ["ingest", str(ndjson)])
    assert "Stored 0 events (3 already present)" in again.output


def test_bad_lines_are_listed_and_the_good_ones_kept(instance, tmp_path):
    mixed = tmp_path / "mixed.ndjson"
    bad = event()
    bad["run"]["runId"] = "nope"
    mixed.write_text("\n".join([json.dumps(event()), "{not json", json.dumps(bad), json.dumps(event())]) + "\n")
    result = CliRunner().invoke(cli, ["ingest", str(mixed)])
    assert result.exit_code == 1
    assert f"{mixed}:2: (json): invalid JSON" in result.output
    assert f"{mixed}:3: run.runId: must be a UUID" in result.output
    assert ft.Run.filter().count() == 2


def test_a_parent_known_only_by_name_is_left_open_after_the_ingesting_process_ends(instance, tmp_path):
    from flowtrail.core.runs.reaping import reap_runs

    parent_id, child_id = str(uuid.uuid4()), str(uuid.uuid4())
    child = event(child_id)
    child["run"]["facets"] = {"parent": {"_producer": "x", "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ParentRunFacet.json",
                                         "run": {"runId": parent_id}, "job": {"namespace": "ns", "name": "dag"}}}  # fmt: skip
    events = tmp_path / "child.ndjson"
    events.write_text(json.dumps(child) + "\n")
    done = subprocess.run([shutil.which("flowtrail") or "flowtrail", "ingest", str(events)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Stored 1 event" in done.stdout
    # The placeholder was written by a process that is gone now: it is the events' run, not that
    # process's, so the reaper must not end it.
    assert reap_runs(instance) == []
    parent = ft.Run.get(uid=parent_id)
    assert (parent.status, parent.started_at, parent.engine, parent.pid, parent.host) == ("scheduled", None, None, None, None)
    assert ft.Run.get(uid=child_id).parent.uid == parent_id
