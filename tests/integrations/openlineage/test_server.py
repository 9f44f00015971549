"""`flowtrail serve` over real HTTP on 127.0.0.1: ingestion, auth, limits, and the Marquez read API."""

from __future__ import annotations

import gzip
import json
import uuid
from urllib.parse import quote

import httpx
import pytest
from corpus import corpus_rows, load_event
from live_server import LiveServer

import flowtrail as ft
from flowtrail.integrations.openlineage.server import create_app, parse_size


@pytest.fixture
def serve(instance):
    servers = []

    def start(**options):
        server = LiveServer(create_app(instance, **options))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def event(run_id=None, event_type="COMPLETE", job="orders.load", inputs=("raw.orders",), outputs=("mart.orders",)):
    return {
        "eventType": event_type,
        "eventTime": "2025-03-01T12:00:00.123456789Z",
        "producer": "https://example.com/spark",
        "run": {"runId": run_id or str(uuid.uuid4())},
        "job": {"namespace": "spark", "name": job},
        "inputs": [{"namespace": "postgres://db:5432", "name": n} for n in inputs],
        "outputs": [{"namespace": "postgres://db:5432", "name": n} for n in outputs],
    }


def test_the_python_client_sends_to_a_live_server_with_an_api_key(serve, monkeypatch, validate):
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

    server = serve(api_key="s3cret")
    config = HttpConfig(url=server.url, auth=ApiKeyTokenProvider({"apiKey": "s3cret"}))
    client = OpenLineageClient(transport=HttpTransport(config))
    run_id = str(uuid.uuid4())
    for state in (RunState.START, RunState.COMPLETE):
        client.emit(RunEvent(eventType=state, eventTime="2025-03-01T12:00:00Z", producer="https://example.com/p",
                             run=Run(runId=run_id), job=Job(namespace="etl", name="daily")))  # fmt: skip
    assert ft.Run.get(uid=run_id).status == "completed"
    wrong = OpenLineageClient(transport=HttpTransport(HttpConfig(url=server.url, auth=ApiKeyTokenProvider({"apiKey": "nope"}))))
    with pytest.raises(Exception):
        wrong.emit(RunEvent(eventType=RunState.START, eventTime="2025-03-01T12:00:00Z", producer="https://x",
                            run=Run(runId=str(uuid.uuid4())), job=Job(namespace="etl", name="daily")))  # fmt: skip
    assert ft.Run.filter().count() == 1


def test_post_returns_201_and_accepts_arrays_and_gzip(serve):
    server = serve()
    single = httpx.post(f"{server.url}/api/v1/lineage", json=event())
    assert single.status_code == 201 and single.json() == {"stored": 1, "duplicates": 0}
    batch = [event(), event()]
    assert httpx.post(f"{server.url}/api/v1/lineage", json=batch).status_code == 201
    body = gzip.compress(json.dumps(event()).encode())
    zipped = httpx.post(f"{server.url}/api/v1/lineage", content=body,
                        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})  # fmt: skip
    assert zipped.status_code == 201
    assert ft.Run.filter().count() == 4


def test_malformed_json_is_400_and_invalid_events_are_422_with_fields(serve):
    server = serve()
    broken = httpx.post(f"{server.url}/api/v1/lineage", content=b'{"eventTime": ', headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["message"]
    bad = event()
    bad["run"]["runId"] = "42"
    bad["job"].pop("name")
    rejected = httpx.post(f"{server.url}/api/v1/lineage", json=[event(), bad])
    assert rejected.status_code == 422
    fields = {(e["field"], e["event"]) for e in rejected.json()["errors"]}
    assert fields == {("run.runId", 1), ("job.name", 1)}
    assert ft.Run.filter().count() == 0  # nothing of the request was stored


def test_bodies_over_the_limit_are_refused_also_after_gunzip(serve):
    server = serve(max_body=parse_size("4k"))
    big = event()
    big["run"]["facets"] = {"blob": {"_producer": "x", "_schemaURL": "y", "data": "x" * 20_000}}
    assert httpx.post(f"{server.url}/api/v1/lineage", json=big).status_code == 413
    bomb = gzip.compress(json.dumps(big).encode())
    assert len(bomb) < 4096
    response = httpx.post(f"{server.url}/api/v1/lineage", content=bomb,
                          headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})  # fmt: skip
    assert response.status_code == 413
    assert ft.Run.filter().count() == 0


def test_the_marquez_read_api(serve, instance, tmp_path):
    server = serve()
    producer_run, consumer_run = str(uuid.uuid4()), str(uuid.uuid4())
    httpx.post(f"{server.url}/api/v1/lineage", json=event(producer_run, job="orders.load"))
    httpx.post(f"{server.url}/api/v1/lineage", json=event(consumer_run, job="orders.report",
                                                          inputs=("mart.orders",), outputs=("report.orders",)))  # fmt: skip
    (tmp_path / "local.csv").write_text("a\n1\n")
    local_artifact = ft.Artifact(tmp_path / "local.csv", key="local.csv").save()
    local_artifact.labels.add(ft.Label(name="donor-7").save())
    api = f"{server.url}/api/v1"
    names = [n["name"] for n in httpx.get(f"{api}/namespaces").json()["namespaces"]]
    assert {"spark", "postgres://db:5432", "file", "project"} <= set(names)
    assert httpx.get(f"{api}/namespaces/spark").json()["name"] == "spark"
    assert httpx.get(f"{api}/namespaces/nope").status_code == 404
    jobs = httpx.get(f"{api}/namespaces/spark/jobs").json()
    assert jobs["totalCount"] == 2 and {j["name"] for j in jobs["jobs"]} == {"orders.load", "orders.report"}
    job = httpx.get(f"{api}/namespaces/spark/jobs/orders.report").json()
    assert job["inputs"] == [{"namespace": "postgres://db:5432", "name": "mart.orders"}]
    assert job["latestRun"]["id"] == consumer_run and job["latestRun"]["state"] == "COMPLETED"
    runs = httpx.get(f"{api}/namespaces/spark/jobs/orders.load/runs").json()
    assert [r["id"] for r in runs["runs"]] == [producer_run]
    assert httpx.get(f"{api}/jobs/runs/{producer_run}").json()["outputDatasetVersions"][0]["datasetVersionId"]["name"] == "mart.orders"
    datasets = httpx.get(f"{api}/namespaces/postgres://db:5432/datasets").json()
    assert {d["name"] for d in datasets["datasets"]} == {"raw.orders", "mart.orders", "report.orders"}
    versions = httpx.get(f"{api}/namespaces/postgres://db:5432/datasets/mart.orders/versions").json()
    assert versions["versions"][0]["createdByRun"]["id"] == producer_run
    # flowtrail's own (managed) artifacts appear too, named by their storage root and key
    managed = quote(f"file://{local_artifact.storage.root}", safe="")
    local = httpx.get(f"{api}/namespaces/{managed}/datasets").json()["datasets"]
    assert [d["name"] for d in local] == ["local.csv"]
    assert local[0]["tags"] == ["donor-7"]  # with their labels as Marquez tags
    versions = httpx.get(f"{api}/namespaces/{managed}/datasets/local.csv/versions").json()["versions"]
    assert [v["version"] for v in versions] == [local_artifact.uid]
    graph = httpx.get(f"{api}/lineage", params={"nodeId": "dataset:postgres://db:5432:mart.orders", "depth": 5}).json()
    ids = {n["id"] for n in graph["graph"]}
    assert {"job:spark:orders.load", "job:spark:orders.report", "dataset:postgres://db:5432:report.orders"} <= ids
    node = next(n for n in graph["graph"] if n["id"] == "dataset:postgres://db:5432:mart.orders")
    assert node["inEdges"] == [{"origin": "job:spark:orders.load", "destination": node["id"]}]
    found = httpx.get(f"{api}/search", params={"q": "orders"}).json()
    assert {r["nodeId"] for r in found["results"]} >= {"job:spark:orders.load", "dataset:postgres://db:5432:mart.orders"}
    raw = httpx.get(f"{api}/events/lineage", params={"sortDirection": "asc"}).json()
    assert raw["totalCount"] == 2 and raw["events"][0]["run"]["runId"] == producer_run
    assert httpx.get(f"{api}/lineage", params={"nodeId": "nonsense"}).status_code == 400
    assert httpx.get(f"{api}/namespaces/spark/jobs/missing").status_code == 404


def test_column_lineage_from_the_facet(serve):
    server = serve()
    rows = [r for r in corpus_rows("event") if r["local_path"].endswith("airflow/compat-consumer-airflow/line_03.json")]
    sent = load_event(rows[0])
    output = sent["outputs"][0]
    assert httpx.post(f"{server.url}/api/v1/lineage", json=sent).status_code == 201
    node_id = f"dataset:{output['namespace']}:{output['name']}"
    graph = httpx.get(f"{server.url}/api/v1/column-lineage", params={"nodeId": node_id}).json()["graph"]
    target = next(n for n in graph if n["id"] == f"datasetField:{output['namespace']}:{output['name']}:a")
    expected = {
        f"datasetField:{f['namespace']}:{f['name']}:{f['field']}"
        for f in output["facets"]["columnLineage"]["fields"]["a"]["inputFields"]
    }
    assert {e["origin"] for e in target["inEdges"]} == expected
    assert len(expected) == 2


def test_openapi_document_is_served(serve):
    server = serve()
    document = httpx.get(f"{server.url}/openapi.json").json()
    assert "/api/v1/lineage" in document["paths"] and "/api/v1/namespaces/{namespace}/jobs" in document["paths"]
