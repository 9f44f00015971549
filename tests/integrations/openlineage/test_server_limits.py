"""A server that stays up: bad input refused at the door on SQLite and PostgreSQL, bombs and huge
requests against a real `flowtrail serve` process with its peak memory measured, reads still answering.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from live_server import LiveServer

import flowtrail as ft
from flowtrail.core.db.context import disconnect
from flowtrail.integrations.openlineage.json_door import MAX_DEPTH
from flowtrail.integrations.openlineage.server import create_app

PEAK_RSS_BOUND = 400 * 1024**2  # the server's peak resident memory through the whole bad-input suite
READS = ("/api/v1/namespaces", "/api/v1/jobs", "/api/v1/events/lineage", "/api/v1/search?q=bad",
         "/api/v1/namespaces/bad/jobs", "/api/v1/stats/lineage-events?period=DAY")  # fmt: skip


def event(job: str = "job", facet: object = None, **extra: object) -> dict:
    run_facets = {} if facet is None else {"custom": {"_producer": "https://example.com", "_schemaURL": "https://example.com/s",
                                                      "value": facet}}  # fmt: skip
    return {"eventType": "COMPLETE", "eventTime": "2025-03-01T12:00:00Z", "producer": "https://example.com/p",
            "run": {"runId": str(uuid.uuid4()), "facets": run_facets}, "job": {"namespace": "bad", "name": job},
            **extra}  # fmt: skip


def nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth - 1):
        value = {"down": value}
    return value


def bodies() -> dict[str, tuple[bytes, int]]:
    """Request bodies that cannot be stored and read back, and the status each must get."""
    text = json.dumps(event())
    return {
        "facet nested 300 deep": (json.dumps(event(facet=nested(300))).encode(), 422),
        "JSON nested 5000 deep": (("[" * 5000 + "]" * 5000).encode(), 400),
        "NaN": (text.replace('"COMPLETE"', '"COMPLETE", "n": NaN').encode(), 422),
        "Infinity": (json.dumps(event(facet=float("inf"))).encode(), 422),
        "1e400": (text.replace('"COMPLETE"', '"COMPLETE", "n": 1e400').encode(), 422),
        "integer of 5000 digits": (text.replace('"COMPLETE"', '"COMPLETE", "n": ' + "9" * 5000).encode(), 422),
        "integer over 64 bits": (json.dumps(event(facet=2**64)).encode(), 422),
        "lone surrogate": (text.replace('"name": "job"', '"name": "job\\ud800"').encode(), 422),
        "NUL character": (text.replace('"name": "job"', '"name": "job\\u0000"').encode(), 422),
        "NUL in a key": (json.dumps(event(facet={"a\x00": 1})).encode(), 422),
        "not JSON": (b"{\"eventType\": ", 400),
        "bytes that are not UTF-8": (b"\xff\xfe{}", 400),
    }


def check_door(url: str) -> None:
    for name, (body, status) in bodies().items():
        answer = httpx.post(f"{url}/api/v1/lineage", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == status, (name, answer.status_code, answer.text[:300])
        assert answer.json()["message"], name
    # What may be stored is stored and reads back: nesting at the bound, 64-bit integers.
    fine = event(job="fine", facet={"deep": nested(MAX_DEPTH - 6), "big": 2**63 - 1, "small": -(2**63), "x": 1e300})
    assert httpx.post(f"{url}/api/v1/lineage", json=fine).status_code == 201
    for path in READS:
        assert httpx.get(f"{url}{path}").status_code == 200, path
    for path in ("/api/v1/search?q=%00", "/api/v1/namespaces/a%00b/jobs", "/api/v1/jobs?limit=1&x=%00"):
        refused = httpx.get(f"{url}{path}")  # PostgreSQL text cannot hold a NUL: refused before any query
        assert refused.status_code == 400 and "NUL" in refused.json()["message"], (path, refused.text[:300])
    stored = httpx.get(f"{url}/api/v1/events/lineage").json()["events"]
    assert stored[0]["run"]["facets"]["custom"]["value"]["big"] == 2**63 - 1


def test_flowtrail_ingest_refuses_the_same_lines_and_stores_the_rest(instance, tmp_path):
    good = event(job="good")
    lines = [json.dumps(good), body_of("NaN"), body_of("facet nested 300 deep"), body_of("NUL character")]
    (tmp_path / "events.ndjson").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "FLOWTRAIL_INSTANCE": str(instance.config.root), "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run(["flowtrail", "ingest", str(tmp_path / "events.ndjson")], capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "events.ndjson:2" in done.stderr and "NaN" in done.stderr
    assert "events.ndjson:3" in done.stderr and "nested more than" in done.stderr
    assert "events.ndjson:4" in done.stderr and "NUL" in done.stderr
    assert ft.Run.get(uid=good["run"]["runId"]).transform.key == "good"


def body_of(name: str) -> str:
    return bodies()[name][0].decode()


@pytest.mark.parametrize("registry", ["instance", pytest.param("pg_instance", marks=pytest.mark.postgres)])
def test_bad_input_is_refused_at_the_door_on_both_databases(registry, request):
    server = LiveServer(create_app(request.getfixturevalue(registry)))
    try:
        check_door(server.url)
    finally:
        server.stop()


def test_writes_must_be_json_and_protected_reads_need_the_key(instance):
    server = LiveServer(create_app(instance, api_key="s3cret", protect_reads=True))
    key = {"Authorization": "Bearer s3cret"}
    try:
        form = httpx.post(f"{server.url}/api/v1/lineage", content=json.dumps(event()), headers={**key, "Content-Type": "text/plain"})
        assert form.status_code == 415 and "application/json" in form.json()["message"]
        zipped = gzip.compress(json.dumps(event()).encode())
        sent = httpx.post(f"{server.url}/api/v1/lineage", content=zipped,
                          headers={**key, "Content-Type": "application/json", "Content-Encoding": "gzip"})  # fmt: skip
        assert sent.status_code == 201
        assert httpx.get(f"{server.url}/api/v1/jobs").status_code == 401
        assert httpx.get(f"{server.url}/openapi.json").status_code == 401
        assert httpx.get(f"{server.url}/api/v1/jobs", headers=key).json()["totalCount"] == 1
        assert httpx.get(f"{server.url}/api/v1/health").status_code == 200
    finally:
        server.stop()
    with pytest.raises(ValueError, match="FLOWTRAIL_API_KEY"):
        create_app(instance, api_key="", protect_reads=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # the high-water mark of resident memory, kept by the kernel
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


def _serve(root: Path, *options: str, **env: str) -> tuple[str, subprocess.Popen]:
    """Start the real `flowtrail serve` on a free port for the instance at ``root``; wait until it answers."""
    port = _free_port()
    full_env = {**os.environ, "FLOWTRAIL_INSTANCE": str(root), "PYTHONPATH": ":".join(sys.path), **env}
    process = subprocess.Popen(["flowtrail", "serve", "--port", str(port), *options], env=full_env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v1/health").status_code == 200:
                return url, process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"flowtrail serve did not start: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)


@pytest.fixture
def served(tmp_path: Path):
    """A real `flowtrail serve` process on its own SQLite instance (1 MB bodies)."""
    root = tmp_path / "served"
    ft.init(root)
    disconnect()
    url, process = _serve(root, "--max-body", "1MB")
    yield url, process
    process.terminate()
    process.wait(20)


def test_serve_protect_reads_needs_a_key_and_then_asks_for_it(tmp_path):
    root = tmp_path / "guarded"
    ft.init(root)
    disconnect()
    env = {**os.environ, "FLOWTRAIL_INSTANCE": str(root), "PYTHONPATH": ":".join(sys.path)}
    env.pop("FLOWTRAIL_API_KEY", None)
    refused = subprocess.run(["flowtrail", "serve", "--protect-reads"], capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and "FLOWTRAIL_API_KEY" in refused.stderr
    url, process = _serve(root, "--protect-reads", FLOWTRAIL_API_KEY="s3cret")
    try:
        assert httpx.get(f"{url}/api/v1/namespaces").status_code == 401
        answer = httpx.get(f"{url}/api/v1/namespaces", headers={"Authorization": "Bearer s3cret"})
        assert answer.status_code == 200 and answer.json()["namespaces"]
    finally:
        process.terminate()
        process.wait(20)


def test_a_real_server_survives_bombs_and_huge_requests_in_bounded_memory(served):
    url, process = served
    check_door(url)
    json_headers = {"Content-Type": "application/json"}
    # a gzip bomb: 200 MB of zeros in 200 KB
    bomb = gzip.compress(b"0" * (200 * 1024**2), compresslevel=9)
    answer = httpx.post(f"{url}/api/v1/lineage", content=bomb, headers={**json_headers, "Content-Encoding": "gzip"})
    assert answer.status_code == 413
    # a body far over --max-body, streamed in chunks
    def chunks():
        for _ in range(64):
            yield b" " * 1024**2
    try:
        answer = httpx.post(f"{url}/api/v1/lineage", content=chunks(), headers=json_headers, timeout=60)
        assert answer.status_code == 413
    except httpx.TransportError:
        pass  # the server may close the connection while the client still sends: refused either way
    # headers too large (over 32 KiB): 1 MB in one header, and 10,000 small ones
    for headers in ({"X-Big": "a" * 1024**2}, {f"X-{i}": "v" for i in range(10_000)}):
        try:
            assert httpx.get(f"{url}/api/v1/jobs", headers=headers).status_code in (400, 413, 431)
        except httpx.TransportError:
            pass
    # many writers at once, each with a body just under the limit
    padding = "p" * (900 * 1024)

    def write(_: int) -> int:
        batch = json.dumps([event(job="parallel", facet=padding)])
        return httpx.post(f"{url}/api/v1/lineage", content=batch, headers=json_headers, timeout=120).status_code

    with ThreadPoolExecutor(12) as pool:
        assert set(pool.map(write, range(24))) == {201}
    # and it still answers every read, paged
    for path in READS:
        assert httpx.get(f"{url}{path}", timeout=60).status_code == 200, path
    page = httpx.get(f"{url}/api/v1/events/lineage", params={"limit": 100}).json()
    assert len(page["events"]) <= 100 and page["totalCount"] >= 25
    assert httpx.get(f"{url}/api/v1/events/lineage", params={"limit": 100_000}).status_code == 422
    peak = _peak_rss(process.pid)
    print(f"flowtrail serve peak RSS: {peak / 1024**2:.0f} MB")
    assert peak < PEAK_RSS_BOUND, f"peak RSS {peak / 1024**2:.0f} MB"
