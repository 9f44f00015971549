"""Events from any producer land in the registry with OpenLineage's accumulate-and-fold semantics."""

from __future__ import annotations

import copy
import random
import uuid

import pytest
from corpus import corpus_rows, load_event, snapshot

import flowtrail as ft
from flowtrail.integrations.openlineage.ingest import Ingestor
from flowtrail.integrations.openlineage.reader import read_events
from flowtrail.integrations.openlineage.validation import InvalidEvent

FULL_EVENTS = corpus_rows("event")
NEGATIVES = corpus_rows("negative")


@pytest.fixture
def ingestor(instance):
    return Ingestor(instance)


def run_event(event_type, run_id, job="etl.load", inputs=(), outputs=(), time="2025-01-01T10:00:00Z", **run_facets):
    return {
        "eventType": event_type,
        "eventTime": time,
        "producer": "https://example.com/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id, "facets": run_facets},
        "job": {"namespace": "warehouse", "name": job},
        "inputs": [{"namespace": "s3://lake", "name": n} for n in inputs],
        "outputs": [{"namespace": "s3://lake", "name": n} for n in outputs],
    }


@pytest.mark.parametrize("row", FULL_EVENTS, ids=[r["local_path"] for r in FULL_EVENTS])
def test_every_full_event_of_the_corpus_is_stored(ingestor, row):
    event = load_event(row)
    if row["lenient_ok"].startswith("no"):
        # The corpus marks it as unusable even for a lenient consumer (a runId that is no UUID).
        with pytest.raises(InvalidEvent):
            ingestor.ingest([event])
        return
    result = ingestor.ingest([event])
    assert result.stored == 1
    from flowtrail.core.models import LineageEvent

    stored = LineageEvent.filter().one()
    assert stored.payload == event  # kept exactly as received


@pytest.mark.parametrize("row", NEGATIVES, ids=[r["local_path"] for r in NEGATIVES])
def test_every_negative_case_is_rejected_with_its_reason(ingestor, row, corpus):
    path = corpus / "events" / row["local_path"]
    items = list(read_events(path))
    if any(item.error for item in items):
        assert "invalid JSON" in items[0].error
        return
    with pytest.raises(InvalidEvent) as info:
        ingestor.ingest([items[0].event])
    problem = info.value.problems[0]
    assert problem.field and problem.reason
    expected_field = {"runId": "runId", "name": "name", "eventTime": "eventTime", "columnMetrics": "columnMetrics",
                      "rowCount": "rowCount"}  # fmt: skip
    assert any(word in str(info.value) for word in expected_field.values())
    from flowtrail.core.models import LineageEvent, Run

    assert LineageEvent.filter().count() == 0 and Run.filter().count() == 0  # nothing partial


def test_the_airflow_stream_replayed_twice_and_shuffled_gives_the_identical_registry(tmp_path, corpus, monkeypatch):
    events = [item.event for item in read_events(corpus / "events" / "derived" / "compat-airflow.ndjson")]
    assert len(events) == 32
    states = []
    for order in ("as sent", "twice", "shuffled"):
        project = tmp_path / order.replace(" ", "-")
        instance = ft.init(project)
        monkeypatch.chdir(project)
        ingestor = Ingestor(instance)
        if order == "as sent":
            ingestor.ingest(events)
        elif order == "twice":
            ingestor.ingest(events)
            result = ingestor.ingest(events)
            assert result.stored == 0 and result.duplicates == 32
        else:
            shuffled = events[:]
            random.Random(7).shuffle(shuffled)
            for event in shuffled:  # one by one, as an HTTP client would send them
                ingestor.ingest([event])
        states.append(snapshot())
        from flowtrail.core.db.context import disconnect

        disconnect()
    assert states[0] == states[1] == states[2]
    assert len(states[0]["runs"]) == 16
    assert {r["status"] for r in states[0]["runs"].values()} == {"completed"}


def test_events_of_a_run_accumulate_inputs_and_outputs(ingestor):
    run_id = str(uuid.uuid4())
    ingestor.ingest([run_event("START", run_id, inputs=["raw/a.csv"])])
    ingestor.ingest([run_event("COMPLETE", run_id, outputs=["clean/a.parquet"], time="2025-01-01T10:05:00Z")])
    run = ft.Run.get(uid=run_id)
    assert run.status == "completed"
    assert [a.key for a in run.inputs] == ["raw/a.csv"]
    assert [a.key for a in run.outputs] == ["clean/a.parquet"]
    assert run.transform.namespace == "warehouse" and run.transform.key == "etl.load"
    assert run.duration.total_seconds() == 300


def test_terminal_states_win_over_late_start_and_running(ingestor):
    run_id = str(uuid.uuid4())
    ingestor.ingest([run_event("COMPLETE", run_id, time="2025-01-01T10:05:00Z")])
    ingestor.ingest([run_event("RUNNING", run_id, time="2025-01-01T10:06:00Z")])
    ingestor.ingest([run_event("START", run_id, time="2025-01-01T10:00:00Z")])
    run = ft.Run.get(uid=run_id)
    assert run.status == "completed"
    assert run.started_at.replace(tzinfo=None).isoformat() == "2025-01-01T10:00:00"


def test_other_before_start_is_fine(ingestor):
    run_id = str(uuid.uuid4())
    ingestor.ingest([run_event("OTHER", run_id, time="2025-01-01T09:59:00Z")])
    assert ft.Run.get(uid=run_id).status == "scheduled"
    ingestor.ingest([run_event("START", run_id)])
    assert ft.Run.get(uid=run_id).status == "started"
    ingestor.ingest([run_event("FAIL", run_id, time="2025-01-01T10:01:00Z", errorMessage={
        "_producer": "p", "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json",
        "message": "division by zero", "programmingLanguage": "python"})])  # fmt: skip
    run = ft.Run.get(uid=run_id)
    assert run.status == "failed" and run.error == "division by zero"


def test_the_same_event_twice_changes_nothing(ingestor):
    event = run_event("COMPLETE", str(uuid.uuid4()), inputs=["x"], outputs=["y"])
    ingestor.ingest([event])
    before = snapshot()
    result = ingestor.ingest([copy.deepcopy(event)])
    assert (result.stored, result.duplicates) == (0, 1)
    assert snapshot() == before


def test_unknown_facets_and_versions_are_kept(ingestor):
    run_id = str(uuid.uuid4())
    event = run_event("START", run_id, custom_thing={"_producer": "x", "_schemaURL": "https://x/y.json", "deep": [1, 2]},
                      parent={"_producer": "x", "_schemaURL": "https://openlineage.io/spec/facets/9-9-9/ParentRunFacet.json",
                              "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "airflow", "name": "dag"}})  # fmt: skip
    event.pop("schemaURL")
    event["inputs"] = [{"namespace": "bigquery", "name": "proj.ds.table",
                        "facets": {"dataSource": {"_producer": "x", "_schemaURL": "y", "uri": "bigquery", "name": "bq"}}}]  # fmt: skip
    ingestor.ingest([event])
    run = ft.Run.get(uid=run_id)
    assert run.facets["custom_thing"]["deep"] == [1, 2]
    assert run.parent.transform.key == "dag"  # the parent arrives later; a placeholder holds its place
    table = run.inputs[0]
    assert table.key == "proj.ds.table" and table.storage.root == "bigquery" and table.storage.type == "external"
    assert table.facets["dataSource"]["uri"] == "bigquery"


def test_a_parent_arriving_after_its_child_fills_in_the_placeholder(ingestor):
    parent_id, child_id = str(uuid.uuid4()), str(uuid.uuid4())
    parent_facet = {"_producer": "x", "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ParentRunFacet.json",
                    "run": {"runId": parent_id}, "job": {"namespace": "warehouse", "name": "nightly"}}  # fmt: skip
    ingestor.ingest([run_event("COMPLETE", child_id, job="nightly.task", parent=parent_facet)])
    ingestor.ingest([run_event("START", parent_id, job="nightly")])
    child = ft.Run.get(uid=child_id)
    assert child.parent.uid == parent_id and child.parent.status == "started"
    assert ft.Run.filter(uid=parent_id).count() == 1


def test_dataset_versions_follow_the_version_facet(ingestor):
    def out(run_id, version):
        event = run_event("COMPLETE", run_id, outputs=["t"])
        event["outputs"][0]["facets"] = {"version": {"_producer": "x", "_schemaURL": "y", "datasetVersion": version}}
        return event

    ingestor.ingest([out(str(uuid.uuid4()), "v-1")])
    ingestor.ingest([out(str(uuid.uuid4()), "v-2")])
    versions = list(ft.Artifact.filter(key="t").order_by("version"))
    assert [(a.version, a.hash, a.is_latest) for a in versions] == [(1, "v-1", False), (2, "v-2", True)]


def test_dataset_and_job_events_are_stored(ingestor, corpus):
    items = list(read_events(corpus / "events" / "python-client" / "ol-python-1.54.0-emitted" / "run_dataset_job_events.ndjson"))
    kinds = [ingestor.prepare(i.event).kind for i in items]
    assert sorted(kinds) == ["dataset", "job", "run"]
    ingestor.ingest([i.event for i in items])
    from flowtrail.core.models import LineageEvent

    assert sorted(e.kind for e in LineageEvent.filter()) == ["dataset", "job", "run"]


def test_a_batch_with_one_bad_event_stores_nothing(ingestor):
    good = run_event("START", str(uuid.uuid4()))
    bad = run_event("START", "not-a-uuid")
    with pytest.raises(InvalidEvent) as info:
        ingestor.ingest([good, bad])
    assert info.value.index == 1 and info.value.problems[0].field == "run.runId"
    assert ft.Run.filter().count() == 0


def test_datasets_join_files_registered_by_flowtrail(instance, ingestor, tmp_path):
    # A workflow folder registered by an adapter, and a Spark job reading one of its files.
    workflow = tmp_path / "workflow"
    (workflow / "results").mkdir(parents=True)
    (workflow / "results" / "counts.csv").write_text("gene,count\n")
    ft.Storage.register(workflow)
    produced = ft.Artifact(workflow / "results" / "counts.csv").save()
    event = run_event("COMPLETE", str(uuid.uuid4()), job="spark.aggregate")
    event["inputs"] = [{"namespace": "file", "name": str(workflow / "results" / "counts.csv")}]
    ingestor.ingest([event])
    spark = ft.Run.get(transform__key="spark.aggregate")
    assert [a.id for a in spark.inputs] == [produced.id]
    assert produced.downstream().runs[0].uid == spark.uid


def test_own_emitted_events_reproduce_the_graph_in_a_second_instance(tmp_path, monkeypatch):
    from flowtrail.core.db.context import disconnect
    from flowtrail.core.runs.tracking import finish_run, start_run

    log = tmp_path / "events.ndjson"
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(log))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
    first = ft.init(tmp_path / "first")
    monkeypatch.chdir(tmp_path / "first")
    source = tmp_path / "raw.txt"
    source.write_text("raw")
    raw = ft.Artifact(source, key="raw.txt").save()
    pipeline = start_run("pipeline", type="pipeline")
    step = start_run("pipeline/clean", type="rule", parent=pipeline)
    step.add_inputs([raw])
    clean = tmp_path / "clean.txt"
    clean.write_text("clean")
    made = ft.Artifact(clean, key="clean.txt", run=step).save()
    finish_run(step)
    finish_run(pipeline)
    assert first.emitter.flush(10)
    upstream_first = sorted((a.key, a.hash) for a in made.upstream().artifacts)
    disconnect()
    for name in [n for n in list(__import__("os").environ) if n.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(name)

    second = ft.init(tmp_path / "second")
    monkeypatch.chdir(tmp_path / "second")
    Ingestor(second).ingest([item.event for item in read_events(log)])
    copied_step = ft.Run.get(uid=step.uid)
    assert copied_step.parent.uid == pipeline.uid
    assert copied_step.transform.namespace == "first" and copied_step.transform.key == "pipeline/clean"
    output = copied_step.outputs[0]
    assert output.hash == made.hash  # the datasetVersion facet carries the content hash
    assert sorted((a.key, a.hash) for a in output.upstream().artifacts) == upstream_first
    disconnect()


def test_tags_fill_the_features_this_registry_defines(ingestor, caplog):
    tissue = ft.Label(name="Tissue", is_type=True).save()
    ft.Label(name="liver", type=tissue).save()
    ft.Feature(name="batch", dtype=int).save()
    ft.Feature(name="tissue", dtype=tissue).save()
    ft.Feature(name="passed", dtype=bool).save()
    event = run_event("COMPLETE", str(uuid.uuid4()), outputs=("tables/counts",))
    tags = [("batch", "3"), ("tissue", "liver"), ("tissue", "spleen"), ("passed", "yes"), ("pii", "true")]
    event["outputs"][0]["facets"] = {
        "tags": {
            "_producer": "https://example.com/producer",
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/TagsDatasetFacet.json#/$defs/TagsDatasetFacet",
            "tags": [{"key": k, "value": v, "source": "SPARK"} for k, v in tags],
        }
    }
    with caplog.at_level("WARNING", logger="flowtrail"):
        ingestor.ingest([event])
    output = ft.Artifact.get(key="tables/counts")
    # The run is stored as sent; the values that fit a defined feature are set, the rest skipped.
    assert output.features.get_values() == {"batch": 3, "tissue": "liver"}
    assert "2 tag(s) did not fit" in caplog.text and "spleen" in caplog.text and "passed='yes'" in caplog.text
    assert ft.Artifact.filter(batch=3, tissue="liver").count() == 1
    assert output.facets["tags"]["tags"][-1] == {"key": "pii", "value": "true", "source": "SPARK"}


def test_feature_values_travel_between_two_registries(tmp_path, monkeypatch):
    from flowtrail.core.db.context import disconnect

    log = tmp_path / "events.ndjson"
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(log))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")

    def define_features() -> None:
        tissue = ft.Label(name="Tissue", is_type=True).save()
        ft.Label(name="liver", type=tissue).save()
        ft.Feature(name="batch", dtype=int).save()
        ft.Feature(name="tissue", dtype=tissue).save()

    first = ft.init(tmp_path / "first")
    monkeypatch.chdir(tmp_path / "first")
    define_features()
    run = ft.track()
    (tmp_path / "first" / "out.txt").write_text("out")
    made = ft.Artifact("out.txt", key="out.txt").save()
    made.features.add_values({"batch": 7, "tissue": "liver"})
    ft.finish()
    assert first.emitter.flush(10)
    disconnect()
    for name in [n for n in list(__import__("os").environ) if n.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(name)

    second = ft.init(tmp_path / "second")
    monkeypatch.chdir(tmp_path / "second")
    define_features()
    Ingestor(second).ingest([item.event for item in read_events(log)])
    copied = ft.Run.get(uid=run.uid).outputs[0]
    assert copied.features.get_values() == {"batch": 7, "tissue": "liver"}
    disconnect()
