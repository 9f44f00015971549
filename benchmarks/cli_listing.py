"""Benchmark: ``flowtrail ls runs`` on a registry of 50,000 runs, as the real executable.

Run with ``python benchmarks/cli_listing.py``. Everything happens in a temporary folder.

Setup: 5 transforms with 10,000 runs each (names like ``clean[sample=17]``, every run a child
of a workflow run), written with one bulk insert.

Measured (median of 5 fresh processes each, stdout to a pipe):

- baseline: ``flowtrail --version``, the cost of starting Python and the command line at all;
- ``flowtrail ls runs``: the default listing (newest 50 and the footer ``showing 50 of 50,000``);
- ``flowtrail ls runs status=failed``: a filtered listing;
- ``flowtrail describe <short id>``: a run found by the end of its uid (a suffix scan);
- ``flowtrail ls runs --all``: every row, for comparison with the default.

Goal (issue #18): the default listing returns in under a second. Before this change it printed
all 50,005 rows, oldest first, in 2 min 16 s. The script never fails on a missed goal.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_TRANSFORMS = 5
N_PER_TRANSFORM = 10_000
REPEATS = 5

for _variable in ("FLOWTRAIL_INSTANCE", "FLOWTRAIL_DB_URL", "FLOWTRAIL_STORAGE", "OPENLINEAGE_URL", "OPENLINEAGE_CONFIG"):
    os.environ.pop(_variable, None)

import flowtrail as ft  # noqa: E402


def fill(folder: Path) -> str:
    """An instance in ``folder`` with 50,000 runs; returns the short id of one of them."""
    from sqlalchemy import insert

    from flowtrail.core.db.database import write_transaction
    from flowtrail.core.models import Run
    from flowtrail.core.runs.tracking import finish_run, start_run
    from flowtrail.core.util.ids import uuid7
    from flowtrail.core.util.short_ids import short_id

    instance = ft.init(folder)
    workflow = start_run("workflow/Snakefile", type="pipeline")
    finish_run(workflow)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    rows = []
    for t in range(N_TRANSFORMS):
        first = start_run(f"workflow/Snakefile/rule_{t}", type="rule", parent=workflow)
        finish_run(first)
        for i in range(N_PER_TRANSFORM - 1):
            begun = start + dt.timedelta(seconds=len(rows))
            rows.append({
                "uid": str(uuid7()), "name": f"rule_{t}[sample={i}]", "transform_id": first.transform_id,
                "status": "failed" if i % 997 == 0 else "completed", "started_at": begun,
                "finished_at": begun + dt.timedelta(seconds=3), "parent_id": workflow.id, "engine": "snakemake",
                "created_at": begun,
            })  # fmt: skip
    with write_transaction(instance.sessions) as session:
        session.execute(insert(Run.__table__), rows)
    one = Run.filter(status="failed").first()
    return short_id(one)


def median_seconds(command: list[str], cwd: Path) -> tuple[float, float]:
    """Median wall-clock and CPU (user + system) seconds of ``command`` in fresh processes.

    CPU time is what the command costs; wall time also holds waiting for a loaded machine's cores.
    """
    walls, cpus = [], []
    for _ in range(REPEATS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        walls.append(time.perf_counter() - began)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    executable = str(Path(sys.executable).with_name("flowtrail"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "project"
        began = time.perf_counter()
        tail = fill(folder)
        print(f"filled {N_TRANSFORMS * N_PER_TRANSFORM:,} runs in {time.perf_counter() - began:.1f} s")
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        baseline, baseline_cpu = median_seconds([executable, "--version"], folder)
        print(f"{'command':40} {'wall s':>7} {'x base':>7} {'cpu s':>7} {'x base':>7}")
        print(f"{'flowtrail --version (baseline)':40} {baseline:7.3f} {1:7.1f} {baseline_cpu:7.3f} {1:7.1f}")
        for args in (["ls", "runs"], ["ls", "runs", "status=failed"], ["describe", tail], ["ls", "runs", "--all"]):
            wall, cpu = median_seconds([executable, *args], folder)
            name = "flowtrail " + " ".join(args)
            print(f"{name:40} {wall:7.3f} {wall / baseline:7.1f} {cpu:7.3f} {cpu / baseline_cpu:7.1f}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        if os.getloadavg()[0] > (os.cpu_count() or 1):
            print("warning: the machine is busier than it has cores; wall times include waiting for a core")
        listing = subprocess.run([executable, "ls", "runs"], cwd=folder, capture_output=True, text=True)
        print(f"default listing: {len(listing.stdout.splitlines()) - 1} rows; stderr: {listing.stderr.strip()}")


if __name__ == "__main__":
    main()
