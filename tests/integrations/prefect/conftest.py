"""Fixtures for the Prefect adapter tests: one offline Prefect test server per test process.

``prefect_server`` starts Prefect's test harness (a temporary SQLite database and a local server
subprocess, about 10 s) once per pytest process, with the flow heartbeat disabled (it adds up to
1 s per flow call), telemetry off and a temporary ``PREFECT_HOME``. Tests that run flows use it
through ``prefect_instance``: a fresh flowtrail instance (the ``instance`` fixture) plus the server.
All Prefect tests carry ``xdist_group("prefect")``, so ``--dist loadgroup`` runs them in one worker.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import flowtrail as ft

pytest.importorskip("prefect")

PREFECT_ENV = {
    "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return  # the marker exists only with pytest-xdist
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.xdist_group("prefect"))


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prefect's test harness for the whole session; yields the API URL."""
    import prefect.settings as ps
    from prefect.testing.utilities import prefect_test_harness

    home = tmp_path_factory.mktemp("prefect-home")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE"):
            mp.delenv(name, raising=False)
        mp.setenv("PREFECT_HOME", str(home))
        for name, value in PREFECT_ENV.items():
            mp.setenv(name, value)
        updates = {
            ps.PREFECT_HOME: str(home),
            ps.PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
            ps.PREFECT_SERVER_ANALYTICS_ENABLED: False,
            ps.PREFECT_LOGGING_TO_API_ENABLED: False,
        }
        with ps.temporary_settings(updates=updates), prefect_test_harness(server_startup_timeout=90):
            yield ps.PREFECT_API_URL.value()


@pytest.fixture
def prefect_instance(prefect_server: str, instance: ft.Instance) -> ft.Instance:
    """A fresh flowtrail instance (current, and the working directory) with Prefect ready."""
    return instance


@pytest.fixture
def events(prefect_instance: ft.Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    """OpenLineage through the client's file transport; returns a reader of the emitted events."""
    log = tmp_path / "events.ndjson"
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(log))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
    connected = ft.connect(prefect_instance.config.root)
    assert connected.emitter is not None

    def read() -> list[dict[str, Any]]:
        assert connected.emitter.flush(30)
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    return read


@pytest.fixture
def counts_csv(prefect_instance: ft.Instance) -> Path:
    """A small count table inside the project (a registered location once a flow runs)."""
    path = Path(os.getcwd()) / "counts.csv"
    path.write_text("gene,count\nA,1\nB,7\nC,12\nD,3\n")
    return path
