"""`flowtrail export openlineage` replays the registry as valid events."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner

import flowtrail as ft
from flowtrail.cli import cli
from flowtrail.core.runs.tracking import finish_run, start_run


def test_export_replays_every_run_as_valid_events(instance, tmp_path, validate):
    source = tmp_path / "in.txt"
    source.write_text("x")
    parent = start_run("pipeline", type="pipeline")
    child = start_run("pipeline/step", type="rule", parent=parent)
    child.add_inputs([ft.Artifact(source, key="in.txt").save()])
    finish_run(child, "failed", error="exit status 2")
    finish_run(parent, "failed")
    open_run = start_run("still-running")
    output = tmp_path / "events.ndjson"
    result = CliRunner().invoke(cli, ["export", "openlineage", "-o", str(output)])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(events) == 5  # START + FAIL twice, START for the open run
    for event in events:
        validate(event)
    by_run = {}
    for event in events:
        by_run.setdefault(event["run"]["runId"], []).append(event["eventType"])
    assert by_run == {parent.uid: ["START", "FAIL"], child.uid: ["START", "FAIL"], open_run.uid: ["START"]}
    fail = next(e for e in events if e["run"]["runId"] == child.uid and e["eventType"] == "FAIL")
    assert fail["run"]["facets"]["parent"]["run"]["runId"] == parent.uid
    # A managed copy is named by its storage and key, whatever the copy's own file name.
    assert (fail["inputs"][0]["namespace"], fail["inputs"][0]["name"]) == (f"file://{instance.default_storage.root}", "in.txt")


def test_export_since_filters_old_runs(instance):
    finish_run(start_run("recent"))
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%d")
    result = CliRunner().invoke(cli, ["export", "openlineage", "--since", future])
    assert result.exit_code == 0 and result.output == ""
    result = CliRunner().invoke(cli, ["export", "openlineage", "--since", "2000-01-01"])
    assert [json.loads(line)["job"]["name"] for line in result.output.splitlines()] == ["recent", "recent"]
