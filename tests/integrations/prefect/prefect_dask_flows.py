"""Flows on a local Dask cluster (``prefect-dask``): tasks run in worker processes on 127.0.0.1.

A module of its own so that Dask's worker processes can import the tasks by name, and so that the
other Prefect tests do not need ``prefect-dask``.
"""

from __future__ import annotations

import os
from pathlib import Path

from prefect import task
from prefect_dask import DaskTaskRunner

from flowtrail.integrations.prefect import tracked_flow

CLUSTER = {"n_workers": 2, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1", "dashboard_address": None}


@task
def write_text(path: str, text: str) -> str:
    Path(path).write_text(text)
    return path


@task
def count_chars(path: str) -> int:
    return len(Path(path).read_text())


@task
def worker_pid(path: str) -> int:
    Path(path).read_text()
    return os.getpid()


@tracked_flow(task_runner=DaskTaskRunner(cluster_kwargs=CLUSTER))
def on_dask(folder: str) -> dict[str, int]:
    written = [write_text.submit(f"{folder}/{name}.txt", name * 2) for name in ("a", "bb")]
    counted = [count_chars.submit(path) for path in written]
    pids = [worker_pid.submit(path) for path in written]
    return {"chars": sum(c.result() for c in counted), **{f"pid{i}": p.result() for i, p in enumerate(pids)}}
