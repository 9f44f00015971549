"""Schemathesis fuzzes every documented endpoint: whatever it sends, the server never answers 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

import flowtrail as ft  # noqa: E402
from flowtrail.integrations.openlineage.server import create_app  # noqa: E402


@pytest.fixture(scope="module")
def fuzz_schema(tmp_path_factory):
    from flowtrail.core.instance import disconnect

    instance = ft.init(tmp_path_factory.mktemp("fuzz") / "project")
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(instance))
    disconnect()


def test_no_endpoint_answers_5xx(fuzz_schema):
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) >= 12
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            response = case.call()
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

        check()
    assert failures == []
