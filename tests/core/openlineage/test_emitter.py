"""The http transport end to end, and emission that never hurts the run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import flowtrail as ft
from flowtrail.core.runs.tracking import finish_run, start_run


class Receiver:
    """A real HTTP server on 127.0.0.1 that records OpenLineage POSTs."""

    def __init__(self, delay: float = 0.0, status: int = 201) -> None:
        self.events: list[dict] = []
        self.headers: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                receiver.events.append(json.loads(body))
                receiver.headers.append(dict(self.headers))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def test_http_transport_end_to_end(instance, receiver, monkeypatch, validate):
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
    monkeypatch.setenv("OPENLINEAGE_API_KEY", "s3cret")
    connected = ft.connect(instance.config.root)
    run = start_run("http-check", params={"a": 1})
    finish_run(run)
    assert connected.emitter.flush(10)
    assert [e["eventType"] for e in receiver.events] == ["START", "COMPLETE"]
    for event in receiver.events:
        validate(event)
    assert receiver.headers[0]["Authorization"] == "Bearer s3cret"


def test_info_says_where_events_go(instance, receiver, monkeypatch):
    from flowtrail.core.instance import info

    assert info(instance)["openlineage"].startswith("not configured")
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
    assert receiver.url in info(instance)["openlineage"]
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    assert info(instance)["openlineage"].startswith("disabled")


def test_a_slow_endpoint_does_not_block_the_run(instance, monkeypatch):
    slow = Receiver(delay=1.0)
    try:
        monkeypatch.setenv("OPENLINEAGE_URL", slow.url)
        connected = ft.connect(instance.config.root)
        started = time.perf_counter()
        for i in range(3):
            finish_run(start_run(f"quick-{i}"))
        elapsed = time.perf_counter() - started
        # Six events at one second each would take six seconds if emission were synchronous.
        assert elapsed < 3, f"registering 3 runs took {elapsed:.1f} s: emission is blocking"
        assert connected.emitter.flush(30)
        assert len(slow.events) == 6
    finally:
        slow.close()


def test_a_dead_endpoint_is_logged_once_and_the_run_completes(instance, monkeypatch, caplog):
    failing = Receiver(status=400)
    try:
        monkeypatch.setenv("OPENLINEAGE_URL", failing.url)
        connected = ft.connect(instance.config.root)
        with caplog.at_level("WARNING", logger="flowtrail"):
            for i in range(3):
                finish_run(start_run(f"run-{i}"))
            assert connected.emitter.flush(10)
        assert ft.Run.filter(status="completed").count() == 3
        warnings = [r for r in caplog.records if "OpenLineage" in r.getMessage()]
        assert len(warnings) == 1
    finally:
        failing.close()


def test_nothing_configured_means_no_client_and_no_output(tmp_path):
    code = (
        "import sys, flowtrail; flowtrail.init('.'); flowtrail.track(); flowtrail.finish();"
        "print(any(m.split('.')[0] == 'openlineage' for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env={
        "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
    })
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert done.stderr == ""


def test_process_exit_flushes_queued_events(tmp_path, receiver):
    code = "import flowtrail; flowtrail.init('.'); flowtrail.track(); flowtrail.finish()"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OPENLINEAGE_URL": receiver.url}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert [e["eventType"] for e in receiver.events] == ["START", "COMPLETE"]


SCRIPT_WITHOUT_FINISH = """\
import flowtrail as ft

ft.track(params={"threshold": 0.5})
raw = ft.Artifact.get(key="raw.csv").load()
raw.assign(c=raw["a"] * 2).to_csv("out.csv", index=False)
ft.Artifact("out.csv", key="out.csv").save()
"""


def _run_script_without_finish(project, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A real script in a fresh process that relies on the run being finished at exit."""
    (project / "raw.csv").write_text("a,b\n1,2\n")
    ft.Artifact(project / "raw.csv", key="raw.csv").save()
    (project / "analysis.py").write_text(SCRIPT_WITHOUT_FINISH)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(project), "PYTHONPATH": ":".join(sys.path), **env}
    return subprocess.run([sys.executable, "analysis.py"], cwd=project, capture_output=True, text=True, env=env)


def test_a_script_without_finish_sends_complete_through_the_file_transport(instance, validate):
    project = instance.config.root
    log = project / "events.ndjson"
    done = _run_script_without_finish(project, {
        "OPENLINEAGE__TRANSPORT__TYPE": "file", "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH": str(log),
        "OPENLINEAGE__TRANSPORT__APPEND": "true",
    })  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for event in events:
        validate(event)
    complete = events[1]
    # out.csv was copied into managed storage: named by that storage and its key.
    storage = instance.default_storage.root
    assert [(d["namespace"], d["name"]) for d in complete["outputs"]] == [(f"file://{storage}", "out.csv")]
    assert complete["run"]["facets"]["flowtrail"]["params"] == {"threshold": 0.5}


def test_a_script_without_finish_sends_complete_over_http(instance, receiver):
    done = _run_script_without_finish(instance.config.root, {"OPENLINEAGE_URL": receiver.url})
    assert done.returncode == 0, done.stderr
    assert [e["eventType"] for e in receiver.events] == ["START", "COMPLETE"]
    assert ft.Run.get(uid=receiver.events[1]["run"]["runId"]).status == "completed"
