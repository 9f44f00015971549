"""Benchmark: the lineage page of `flowtrail serve` for a 1,000-node closure, in headless Chromium.

Run with ``python benchmarks/web_lineage.py`` (about 1-2 minutes on a 2-core machine). Needs
Debian's ``chromium`` and ``chromium-driver`` (scripts/install-test-services) and selenium (the
``test`` extra); without them it says so and exits 0.

Registry: a fresh SQLite instance filled by ``flowtrail ingest`` with OpenLineage events of a
200-sample workflow (raw -> trim -> trimmed -> count -> counts, then one summary run reading all
200 counts): the summary file's upstream closure holds 1,002 nodes (601 artifacts, 401 runs).

Measured (median of ROUNDS, one warm browser, a real ``flowtrail serve`` process on 127.0.0.1):

- baseline: the JSON endpoint alone, ``GET /ui/lineage.json`` (query + layout + JSON) from
  Python's httpx, and the Marquez-compatible ``GET /api/v1/lineage?nodeId=`` for context.
- first render: from navigation start to the first paint after the viewer drew the graph
  (``data-first-render-ms``, ``performance.now()`` after the next animation frame), for the
  default grouped view (runs of one transform and their files grouped) and for the whole
  ungrouped 1,002-node graph (``open=all&limit=2000``).
- page weight: bytes of the HTML, stylesheet, script and JSON as decoded by the browser
  (``performance`` resource entries), and the stand-alone HTML file ``flowtrail lineage -o``.

Target (issue #17): the 1,000-node closure stays readable and opens about as fast as its JSON;
the ratios print against the JSON endpoint measured in the same run. The script never fails on
a missed target.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "web"))
from browser import Server, browser_missing, chromium, flowtrail_command  # noqa: E402

SAMPLES = 200
ROUNDS = 5


def events() -> list[dict]:
    """OpenLineage COMPLETE events of the 200-sample workflow (401 runs)."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    out = []

    def run(job: str, inputs: list[str], outputs: list[str], minute: int) -> None:
        out.append({
            "eventType": "COMPLETE", "eventTime": (start + dt.timedelta(minutes=minute)).isoformat(),
            "producer": "https://example.org/bench", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "bench", "name": job},
            "inputs": [{"namespace": "file", "name": f"/bench/{name}"} for name in inputs],
            "outputs": [{"namespace": "file", "name": f"/bench/{name}"} for name in outputs],
        })  # fmt: skip

    for i in range(SAMPLES):
        run("trim", [f"raw/s{i:03d}.fq"], [f"trimmed/s{i:03d}.fq"], i)
        run("count", [f"trimmed/s{i:03d}.fq"], [f"counts/s{i:03d}.tsv"], SAMPLES + i)
    run("summary", [f"counts/s{i:03d}.tsv" for i in range(SAMPLES)], ["results/summary.tsv"], 3 * SAMPLES)
    return out


def main() -> int:
    reason = browser_missing()
    if reason:
        print(f"web_lineage: skipped, {reason}")
        return 0
    import httpx

    http = httpx.Client(timeout=120)

    folder = Path(tempfile.mkdtemp(prefix="flowtrail-web-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
    try:
        project = folder / "project"
        subprocess.run([*flowtrail_command(), "init", str(project)], check=True, env=env, capture_output=True)
        (folder / "events.ndjson").write_text("\n".join(json.dumps(e) for e in events()) + "\n")
        subprocess.run([*flowtrail_command(), "ingest", str(folder / "events.ndjson")], cwd=project, check=True,
                       env=env, capture_output=True)  # fmt: skip
        server = Server(project)
        driver = chromium(folder / "profile")
        try:
            found = http.get(f"{server.url}/", params={"q": "summary.tsv"}).text
            uid = found.split('href="/artifacts/', 1)[1].split('"', 1)[0]
            node = f"artifact:{uid}"
            full = http.get(f"{server.url}/ui/lineage.json", params={"node": node, "direction": "up", "open": "all",
                                                                      "limit": 2000}).json()  # fmt: skip
            grouped = http.get(f"{server.url}/ui/lineage.json", params={"node": node, "direction": "up"}).json()
            closure = len(full["nodes"])

            def json_time(params: dict) -> float:
                began = time.perf_counter()
                http.get(f"{server.url}/ui/lineage.json", params={"node": node, "direction": "up", **params}).raise_for_status()
                return time.perf_counter() - began

            def marquez_time() -> float:
                began = time.perf_counter()
                http.get(f"{server.url}/api/v1/lineage", params={"nodeId": "dataset:file:/bench/results/summary.tsv",
                                                                  "depth": 100})  # fmt: skip
                return time.perf_counter() - began

            def render_time(query: str) -> tuple[float, int]:
                driver.get(f"{server.url}/lineage/artifact/{uid}?direction=up{query}")
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    value = driver.execute_script("return document.getElementById('lineage').getAttribute('data-first-render-ms')")
                    if value:
                        break
                    time.sleep(0.05)
                weight = driver.execute_script(
                    "var n = performance.getEntriesByType('navigation')[0].decodedBodySize;"
                    "return performance.getEntriesByType('resource').reduce(function (s, r) { return s + r.decodedBodySize; }, n);"
                )
                return float(value) / 1000, int(weight)

            rows = {"json grouped": [], "json full": [], "marquez lineage": [], "render grouped": [], "render full": []}
            weights = {}
            json_time({})  # warm the server's caches and the browser's
            render_time("")
            for _ in range(ROUNDS):
                rows["json grouped"].append(json_time({}))
                rows["json full"].append(json_time({"open": "all", "limit": 2000}))
                rows["marquez lineage"].append(marquez_time())
                seconds, weights["grouped"] = render_time("")
                rows["render grouped"].append(seconds)
                seconds, weights["full"] = render_time("&open=all&limit=2000")
                rows["render full"].append(seconds)
            html = folder / "lineage.html"
            subprocess.run([*flowtrail_command(), "lineage", "results/summary.tsv", "-o", str(html)], cwd=project,
                           env=env, check=False, capture_output=True)  # fmt: skip
            if not html.exists():  # the key as ingest stored it
                subprocess.run([*flowtrail_command(), "lineage", uid, "-o", str(html)], cwd=project, env=env,
                               check=True, capture_output=True)  # fmt: skip
        finally:
            driver.quit()
            server.stop()
        med = {name: statistics.median(values) for name, values in rows.items()}
        load = os.getloadavg()
        print(f"lineage page, {closure}-node upstream closure ({SAMPLES} samples), median of {ROUNDS}; "
              f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")  # fmt: skip
        if load[0] > (os.cpu_count() or 1):
            print("warning: the machine is busy; compare ratios, not absolute times")
        print(f"{'measure':<44}{'time':>10}{'x json':>9}")
        for name, label, base in (
            ("json grouped", f"JSON endpoint, grouped ({len(grouped['nodes'])} nodes)", "json grouped"),
            ("json full", f"JSON endpoint, ungrouped ({closure} nodes)", "json full"),
            ("marquez lineage", "Marquez API /api/v1/lineage (context)", "json full"),
            ("render grouped", "first render, grouped", "json grouped"),
            ("render full", f"first render, all {closure} nodes", "json full"),
        ):
            print(f"{label:<44}{med[name] * 1000:>8.0f} ms{med[name] / med[base]:>8.1f}x")
        print(f"page weight, grouped: {weights['grouped'] / 1024:.0f} KiB; ungrouped: {weights['full'] / 1024:.0f} KiB "
              f"(HTML + CSS + JS + JSON, decoded); stand-alone HTML file: {html.stat().st_size / 1024:.0f} KiB")  # fmt: skip
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
