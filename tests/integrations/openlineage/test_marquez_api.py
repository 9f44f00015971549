"""The Marquez API as Marquez's own clients read it: the fields its web UI uses, the marquez-python
client against a live `flowtrail serve` app, and lineage with Marquez's semantics.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import httpx
import pytest
from corpus import CORPUS
from live_server import LiveServer

import flowtrail as ft
from flowtrail.core.runs.tracking import finish_run, start_run
from flowtrail.integrations.openlineage.server import create_app

WAREHOUSE = "postgres://db:5432"
# What Marquez's web UI reads of a job (a job without them blanks the page).
JOB_FIELDS = {"id", "type", "name", "simpleName", "parentJobName", "parentJobUuid", "createdAt", "updatedAt",
              "namespace", "inputs", "outputs", "location", "description", "latestRun", "latestRuns", "facets",
              "currentVersion", "tags", "labels"}  # fmt: skip
DATASET_FIELDS = {"id", "type", "name", "physicalName", "createdAt", "updatedAt", "namespace", "sourceName", "fields",
                  "tags", "lastModifiedAt", "description", "facets", "currentVersion", "deleted"}  # fmt: skip
RUN_FIELDS = {"id", "createdAt", "updatedAt", "nominalStartTime", "nominalEndTime", "state", "startedAt", "endedAt",
              "durationMs", "args", "jobVersion", "inputDatasetVersions", "outputDatasetVersions", "facets"}  # fmt: skip


@pytest.fixture
def server(instance):
    live = LiveServer(create_app(instance))
    yield live
    live.stop()


def run_event(job, inputs=(), outputs=(), run_id=None, namespace="dbt", event_type="COMPLETE", ds_namespace=WAREHOUSE,
              version=None, parent=None):  # fmt: skip
    facets = {} if parent is None else {"parent": {
        "_producer": "https://example.com/dbt", "_schemaURL": "https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json",
        "run": {"runId": parent[0]}, "job": {"namespace": namespace, "name": parent[1]},
    }}  # fmt: skip

    def dataset(name):
        facets = {} if version is None else {"version": {
            "_producer": "https://example.com/dbt", "datasetVersion": version,
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json",
        }}  # fmt: skip
        return {"namespace": ds_namespace, "name": name, "facets": facets}

    return {
        "eventType": event_type, "eventTime": "2025-03-01T12:00:00Z", "producer": "https://example.com/dbt",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id or str(uuid.uuid4()), "facets": facets},
        "job": {"namespace": namespace, "name": job},
        "inputs": [dataset(n) for n in inputs], "outputs": [dataset(n) for n in outputs] if outputs else [],
    }  # fmt: skip


def post(server, *events):
    answer = httpx.post(f"{server.url}/api/v1/lineage", json=list(events))
    assert answer.status_code == 201, answer.text


def test_a_job_has_every_field_the_ui_reads_and_times_are_never_null(server, instance):
    parent = str(uuid.uuid4())
    post(server, run_event("jaffle.run", run_id=parent),
         run_event("jaffle.model.orders", ["raw.orders"], ["mart.orders"], parent=(parent, "jaffle.run")))
    api = f"{server.url}/api/v1"
    job = httpx.get(f"{api}/namespaces/dbt/jobs/jaffle.model.orders").json()
    assert JOB_FIELDS <= set(job)
    assert job["tags"] == [] and isinstance(job["labels"], list)
    assert job["parentJobName"] == "jaffle.run" and job["parentJobUuid"]
    assert [r["id"] for r in job["latestRuns"]] == [job["latestRun"]["id"]]
    assert RUN_FIELDS <= set(job["latestRun"])
    assert job["updatedAt"] and job["createdAt"]
    everything = httpx.get(f"{api}/jobs", params={"limit": 1}).json()
    assert everything["totalCount"] == 2 and len(everything["jobs"]) == 1
    dataset = httpx.get(f"{api}/namespaces/{quote(WAREHOUSE, safe='')}/datasets/mart.orders").json()
    assert DATASET_FIELDS <= set(dataset) and dataset["updatedAt"]
    for row in httpx.get(f"{api}/search", params={"q": "orders"}).json()["results"]:
        assert row["updatedAt"], row
    for namespace in httpx.get(f"{api}/namespaces").json()["namespaces"]:
        assert namespace["createdAt"] and namespace["updatedAt"], namespace


def test_run_facets_tags_and_dashboard_stats(server, instance):
    run_id = str(uuid.uuid4())
    post(server, run_event("load", outputs=["t"], run_id=run_id, event_type="START"), run_event("load", outputs=["t"], run_id=run_id))
    tissue = ft.Label(name="Tissue", is_type=True).save()
    ft.Label(name="liver", type=tissue, description="the organ").save()
    api = f"{server.url}/api/v1"
    facets = httpx.get(f"{api}/jobs/runs/{run_id}/facets", params={"type": "run"}).json()
    assert facets["runId"] == run_id and isinstance(facets["facets"], dict)
    assert httpx.get(f"{api}/jobs/runs/{uuid.uuid4()}/facets").status_code == 404
    assert httpx.get(f"{api}/tags").json() == {"tags": [{"name": "liver", "description": "the organ"}]}
    day = httpx.get(f"{api}/stats/lineage-events", params={"period": "DAY"}).json()
    assert len(day) == 24 and all({"startInterval", "endInterval", "start", "complete", "fail", "abort"} <= set(h) for h in day)
    week = httpx.get(f"{api}/stats/jobs", params={"period": "WEEK", "timezone": "Europe/Berlin"}).json()
    assert len(week) == 7 and week[-1]["count"] == 1  # the job registered today
    assert sum(h["count"] for h in httpx.get(f"{api}/stats/datasets", params={"period": "DAY"}).json()) == 1
    assert httpx.get(f"{api}/stats/jobs", params={"period": "WEEK", "timezone": "Mars/Olympus"}).status_code == 400


def test_lineage_includes_sibling_jobs_every_version_and_static_lineage(server, instance):
    """dbt's test jobs read the table a model writes: Marquez shows them from the model's node."""
    post(server,
         run_event("model.orders", ["raw.orders"], ["mart.orders"], version="v1"),
         run_event("test.orders_not_null", ["mart.orders"]),
         run_event("backfill.orders", ["raw.orders"], ["mart.orders"], version="v2"))  # fmt: skip
    job_event = (CORPUS / "events" / "handwritten" / "marquez-open_lineage" / "event_job_event.json").read_text()
    assert httpx.post(f"{server.url}/api/v1/lineage", content=job_event,
                      headers={"Content-Type": "application/json"}).status_code == 201  # fmt: skip
    api = f"{server.url}/api/v1"
    graph = httpx.get(f"{api}/lineage", params={"nodeId": "job:dbt:test.orders_not_null", "depth": 2}).json()["graph"]
    ids = {n["id"] for n in graph}
    mart = f"dataset:{WAREHOUSE}:mart.orders"
    # siblings through the shared dataset, and the writers of both versions of it
    assert {"job:dbt:model.orders", "job:dbt:backfill.orders", "job:dbt:test.orders_not_null", mart} <= ids
    node = next(n for n in graph if n["id"] == mart)
    assert sorted(e["origin"] for e in node["inEdges"]) == ["job:dbt:backfill.orders", "job:dbt:model.orders"]
    assert [e["destination"] for e in node["outEdges"]] == ["job:dbt:test.orders_not_null"]
    # depth counts jobs: from the test job, depth 0 stops at its own datasets
    shallow = {n["id"] for n in httpx.get(f"{api}/lineage", params={"nodeId": "job:dbt:test.orders_not_null", "depth": 0}).json()["graph"]}
    assert shallow == {"job:dbt:test.orders_not_null", mart}
    # a JobEvent's declared inputs and outputs are the job's, with edges
    static = httpx.get(f"{api}/lineage", params={"nodeId": "job:my-scheduler-namespace:myjob"}).json()["graph"]
    job = next(n for n in static if n["id"] == "job:my-scheduler-namespace:myjob")
    assert job["data"]["inputs"] == [{"namespace": "my-datasource-namespace", "name": "instance.schema.input-1"}]
    assert [e["destination"] for e in job["outEdges"]] == ["dataset:my-datasource-namespace:instance.schema.output-1"]
    assert [e["origin"] for e in job["inEdges"]] == ["dataset:my-datasource-namespace:instance.schema.input-1"]


def test_search_finds_a_dataset_by_its_full_name_and_s3a_names_stay_as_sent(server, instance, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "raw.csv").write_text("a\n1\n")
    ft.Storage.register(data)
    ft.Artifact(data / "raw.csv").save()
    post(server, run_event("spark.job", ["warehouse/events"], ["warehouse/daily"], namespace="spark", ds_namespace="s3a://lake"))
    api = f"{server.url}/api/v1"
    found = httpx.get(f"{api}/search", params={"q": str(data / "raw.csv")}).json()["results"]
    assert [(r["namespace"], r["name"]) for r in found] == [("file", str(data / "raw.csv"))]
    job = httpx.get(f"{api}/namespaces/spark/jobs/spark.job").json()
    assert job["outputs"] == [{"namespace": "s3a://lake", "name": "warehouse/daily"}]
    daily = httpx.get(f"{api}/namespaces/{quote('s3a://lake', safe='')}/datasets/warehouse/daily")
    assert daily.status_code == 200 and daily.json()["namespace"] == "s3a://lake"
    assert "s3a://lake" in {n["name"] for n in httpx.get(f"{api}/namespaces").json()["namespaces"]}


def test_flowtrails_own_managed_artifacts_have_dataset_versions_and_lineage(server, instance, tmp_path):
    run = start_run("make_counts.py", params={"n": 1})
    for n in (1, 2):
        (tmp_path / "counts.csv").write_text(f"n\n{n}\n")
        ft.Artifact(tmp_path / "counts.csv", key="counts.csv", run=run).save()
    finish_run(run)
    namespace = quote(f"file://{instance.default_storage.root}", safe="")
    api = f"{server.url}/api/v1"
    versions = httpx.get(f"{api}/namespaces/{namespace}/datasets/counts.csv/versions").json()
    assert versions["totalCount"] == 2 and versions["versions"][0]["createdByRun"]["args"] == {"n": 1}
    page = httpx.get(f"{api}/namespaces/{namespace}/datasets/counts.csv/versions", params={"limit": 1, "offset": 1}).json()
    assert len(page["versions"]) == 1 and page["totalCount"] == 2
    node = f"dataset:file://{instance.default_storage.root}:counts.csv"
    graph = httpx.get(f"{api}/lineage", params={"nodeId": node}).json()["graph"]
    assert {n["id"] for n in graph} == {node, "job:project:make_counts.py"}


def test_the_marquez_python_client_reads_flowtrail(server, instance):
    from marquez_client import MarquezClient

    post(server, run_event("model.orders", ["raw.orders"], ["mart.orders"]))
    client = MarquezClient(url=server.url)
    assert "dbt" in {n["name"] for n in client.list_namespaces()["namespaces"]}
    jobs = client.list_jobs("dbt")["jobs"]
    assert [j["name"] for j in jobs] == ["model.orders"]
    job = client.get_job("dbt", "model.orders")
    run_id = job["latestRun"]["id"]
    assert client.get_job_run(run_id)["state"] == "COMPLETED"
    assert [r["id"] for r in client.list_job_runs("dbt", "model.orders")["runs"]] == [run_id]
    assert {d["name"] for d in client.list_datasets(WAREHOUSE)["datasets"]} == {"raw.orders", "mart.orders"}
    assert client.get_dataset(WAREHOUSE, "mart.orders")["name"] == "mart.orders"
    assert len(client.list_dataset_versions(WAREHOUSE, "mart.orders")["versions"]) == 1
    assert client.list_tags()["tags"] == []


def test_openapi_describes_what_each_read_returns(server):
    spec = httpx.get(f"{server.url}/openapi.json").json()
    job = spec["paths"]["/api/v1/namespaces/{namespace}/jobs/{job}"]["get"]["responses"]["200"]["content"]
    assert job["application/json"]["schema"] == {"$ref": "#/components/schemas/Job"}
    assert {"latestRuns", "parentJobUuid", "tags"} <= set(spec["components"]["schemas"]["Job"]["properties"])
    for path in ("/api/v1/jobs", "/api/v1/tags", "/api/v1/stats/lineage-events", "/api/v1/jobs/runs/{run_id}/facets"):
        assert "200" in spec["paths"][path]["get"]["responses"], path


def _reference_lineage(events: list[dict], start: str, depth: int) -> tuple[set[str], set[tuple[str, str]]]:
    """Marquez's lineage walk, written out over the events themselves: from the start job, ``depth``
    job hops through shared datasets; every dataset any found job reads or writes, with its edges."""
    io: dict[str, set[tuple[str, str]]] = {}  # job node -> {(side, dataset node)}
    for event in events:
        job = f"job:{event['job']['namespace']}:{event['job']['name']}"
        for side in ("inputs", "outputs"):
            for dataset in event.get(side) or []:
                io.setdefault(job, set()).add((side, f"dataset:{dataset['namespace']}:{dataset['name']}"))
    jobs, frontier = {start}, {start}
    for _hop in range(depth):
        shared = {d for job in frontier for _side, d in io.get(job, ())}
        frontier = {job for job, links in io.items() if any(d in shared for _side, d in links)} - jobs
        jobs |= frontier
    datasets = {d for job in jobs for _side, d in io.get(job, ())}
    edges = {(job, d) if side == "outputs" else (d, job) for job in jobs for side, d in io.get(job, ())}
    return jobs | datasets, edges


def test_lineage_equals_marquez_walk_on_marquez_seed_events(server, instance):
    import json

    seed = CORPUS / "events" / "derived" / "marquez-seed.rendered.ndjson"
    events = [json.loads(line) for line in seed.read_text().splitlines()]
    post(server, *events)
    namespace = events[0]["job"]["namespace"]
    for start in ("etl_orders", "etl_delivery_7_days", "email_discounts"):
        for depth in (0, 1, 2, 20):
            node = f"job:{namespace}:{start}"
            graph = httpx.get(f"{server.url}/api/v1/lineage", params={"nodeId": node, "depth": depth}).json()["graph"]
            edges = {(e["origin"], e["destination"]) for n in graph for e in n["outEdges"]}
            assert ({n["id"] for n in graph}, edges) == _reference_lineage(events, node, depth), (start, depth)
