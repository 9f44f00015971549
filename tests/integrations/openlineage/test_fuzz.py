"""Schemathesis fuzzes every documented endpoint on SQLite and PostgreSQL, with jobs, runs and
datasets in the registry: whatever it sends, the server never answers 5xx, and every successful
answer has the shape the OpenAPI document says.
"""

from __future__ import annotations

import uuid

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

import flowtrail as ft  # noqa: E402
from flowtrail.core.runs.tracking import finish_run, start_run  # noqa: E402
from flowtrail.integrations.openlineage.ingest import Ingestor  # noqa: E402
from flowtrail.integrations.openlineage.server import create_app  # noqa: E402

EXAMPLES = 25  # per endpoint: the whole run stays well under a minute per database


def _seed(instance: ft.Instance, tmp_path) -> None:
    """A job writing and reading warehouse tables, a JobEvent, and a flowtrail run with a managed output."""
    def event(job, inputs, outputs):
        return {"eventType": "COMPLETE", "eventTime": "2025-03-01T12:00:00Z", "producer": "https://example.com/p",
                "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "spark", "name": job},
                "inputs": [{"namespace": "s3a://lake", "name": n} for n in inputs],
                "outputs": [{"namespace": "s3a://lake", "name": n} for n in outputs]}  # fmt: skip

    static = {"eventTime": "2025-03-01T12:00:00Z", "producer": "https://example.com/p",
              "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
              "job": {"namespace": "spark", "name": "declared"}, "inputs": [{"namespace": "s3a://lake", "name": "raw"}]}  # fmt: skip
    Ingestor(instance).ingest([event("load", ["raw"], ["mart"]), event("report", ["mart"], ["report"]), static])
    run = start_run("make.py", params={"n": 1})
    (tmp_path / "out.csv").write_text("a\n1\n")
    ft.Artifact(tmp_path / "out.csv", key="out.csv", run=run).save()
    finish_run(run)


@pytest.mark.parametrize("registry", ["instance", pytest.param("pg_instance", marks=pytest.mark.postgres)])
def test_no_endpoint_answers_5xx_and_answers_match_the_schema(registry, request, tmp_path):
    instance = request.getfixturevalue(registry)
    _seed(instance, tmp_path)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(instance))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            response = case.call()
            where = f"{case.method} {case.formatted_path} {case.query or ''}"
            if response.status_code >= 500:
                failures.append(f"{where} -> {response.status_code}: {response.text[:200]}")
            elif response.status_code < 300:
                try:
                    case.validate_response(response, checks=[response_schema_conformance])
                except Exception as exc:  # schemathesis raises a group of failures
                    failures.append(f"{where}: answer does not match the schema: {str(exc)[:300]}")

        check()
    assert failures == []
