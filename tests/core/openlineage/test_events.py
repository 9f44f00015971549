"""Every run's START, COMPLETE and FAIL go out as schema-valid OpenLineage events."""

from __future__ import annotations

import json

import pytest

import flowtrail as ft
from flowtrail.core.runs.tracking import finish_run, start_run


@pytest.fixture
def events(instance, tmp_path, monkeypatch):
    """Configure the client's file transport, reconnect, and return a reader of what was emitted."""
    log = tmp_path / "events.ndjson"
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(log))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
    connected = ft.connect(instance.config.root)
    assert connected.emitter is not None

    def read() -> list[dict]:
        assert connected.emitter.flush(10)
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    return read


def test_track_emits_start_and_complete_with_datasets(events, validate, tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text("a,b\n1,2\n")
    source = ft.Artifact(raw, key="raw.csv").save()
    run = ft.track(params={"k": 1})
    frame = source.load()
    out = ft.Artifact.from_dataframe(frame, key="out.parquet").save()
    ft.finish()
    emitted = events()
    assert [e["eventType"] for e in emitted] == ["START", "COMPLETE"]
    for event in emitted:
        validate(event)
        assert event["run"]["runId"] == run.uid
        assert event["job"]["namespace"] == "project"  # the instance's name
    complete = emitted[1]
    assert complete["job"]["name"] == run.transform.key
    # Managed copies are named by the managed storage root and their key, not the copy's file name.
    managed = f"file://{source.storage.root}"
    assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [(managed, "raw.csv")]
    output = complete["outputs"][0]
    assert (output["namespace"], output["name"]) == (managed, "out.parquet")
    assert complete["run"]["facets"]["flowtrail"]["params"] == {"k": 1}
    assert output["facets"]["version"]["datasetVersion"] == out.hash
    assert output["facets"]["flowtrail"]["uid"] == out.uid
    assert output["facets"]["flowtrail"]["hashType"] == "md5"
    assert output["facets"]["storage"] == {**output["facets"]["storage"], "storageLayer": "file", "fileFormat": "parquet"}
    assert [f["name"] for f in output["facets"]["schema"]["fields"]] == ["a", "b"]
    engine = complete["run"]["facets"]["processing_engine"]
    assert engine["name"] == "python" and engine["openlineageAdapterVersion"] == ft.__version__
    assert complete["job"]["facets"]["jobType"]["integration"] == "FLOWTRAIL"
    assert complete["job"]["facets"]["jobType"]["jobType"] == "SCRIPT"


def test_a_failed_run_emits_fail_with_the_error(events, validate):
    @ft.tracked()
    def explode() -> None:
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        explode()
    emitted = events()
    assert [e["eventType"] for e in emitted] == ["START", "FAIL"]
    for event in emitted:
        validate(event)
    assert emitted[1]["run"]["facets"]["errorMessage"]["message"] == "RuntimeError: out of memory"
    assert "raise RuntimeError" in emitted[1]["job"]["facets"]["sourceCode"]["sourceCode"]


def test_nested_runs_carry_parent_and_root(events, validate):
    workflow = start_run("workflow", type="pipeline")
    step = start_run("workflow/step", type="rule", parent=workflow)
    leaf = start_run("workflow/step/sub", type="task", parent=step)
    for run in (leaf, step, workflow):
        finish_run(run)
    emitted = events()
    assert len(emitted) == 6
    for event in emitted:
        validate(event)
    leaf_event = next(e for e in emitted if e["run"]["runId"] == leaf.uid and e["eventType"] == "COMPLETE")
    parent = leaf_event["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == step.uid and parent["job"]["name"] == "workflow/step"
    assert parent["root"]["run"]["runId"] == workflow.uid and parent["root"]["job"]["name"] == "workflow"
    top = next(e for e in emitted if e["run"]["runId"] == workflow.uid)
    assert "parent" not in top["run"]["facets"]


def test_aborted_runs_emit_abort(events, validate):
    run = start_run("interrupted")
    finish_run(run, "aborted")
    assert [e["eventType"] for e in events()] == ["START", "ABORT"]


def test_s3_datasets_follow_the_naming_spec(events, validate, s3_bucket):
    import s3fs

    fs = s3fs.S3FileSystem()
    fs.pipe(f"{s3_bucket}/cohort/samples.csv", b"id\n1\n")
    remote = ft.Artifact(f"{s3_bucket}/cohort/samples.csv").save()
    run = start_run("read-s3")
    run.add_inputs([remote])
    finish_run(run)
    complete = events()[-1]
    validate(complete)
    dataset = complete["inputs"][0]
    assert dataset["namespace"] == s3_bucket  # s3://bucket
    assert dataset["name"] == "cohort/samples.csv"
    assert dataset["facets"]["storage"]["storageLayer"] == "s3"


def test_run_ids_are_uuid7_and_equal_the_registry_uids(events):
    run = start_run("ids")
    finish_run(run)
    emitted = events()
    assert {e["run"]["runId"] for e in emitted} == {run.uid}
    assert run.uid[14] == "7"  # the UUID version digit


def test_the_validator_itself_rejects_broken_events(events, validate):
    import jsonschema

    run = start_run("checked")
    finish_run(run)
    event = events()[-1]
    validate(event)
    broken = json.loads(json.dumps(event))
    broken["run"]["runId"] = "not-a-uuid"
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    broken = json.loads(json.dumps(event))
    broken["run"]["facets"]["processing_engine"].pop("version")
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_feature_values_labels_and_the_project_travel_as_tags(events, validate, tmp_path):
    tissue = ft.Label(name="Tissue", is_type=True).save()
    ft.Label(name="liver", type=tissue).save()
    donor = ft.Label(name="donor-7").save()
    ft.Feature(name="batch", dtype=int).save()
    ft.Feature(name="tissue", dtype=tissue).save()
    run = ft.track(project="Atlas")
    (tmp_path / "out.txt").write_text("x")
    out = ft.Artifact(tmp_path / "out.txt", key="out.txt").save()
    out.features.add_values({"batch": 3, "tissue": "liver"})
    out.labels.add(donor)
    ft.finish()
    complete = events()[-1]
    validate(complete)
    assert complete["run"]["runId"] == run.uid
    # The client adds a tag of its own (its version) beside ours.
    assert {"key": "project", "value": "Atlas", "source": "FLOWTRAIL"} in complete["run"]["facets"]["tags"]["tags"]
    tags = {(t["key"], t["value"]) for t in complete["outputs"][0]["facets"]["tags"]["tags"]}
    assert tags == {("batch", "3"), ("tissue", "liver"), ("label", "donor-7")}
