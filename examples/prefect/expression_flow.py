"""A small Prefect flow recorded by flowtrail: the README demo's Prefect step.

Run it in a flowtrail instance (``flowtrail init`` first) next to a ``counts.csv`` with ``gene``
and ``count`` columns::

    python expression_flow.py counts.csv

``@tracked_flow`` records the flow run and each task run: ``counts.csv`` as the input of
``load``, the DataFrames ``load`` and ``normalise`` return as parquet artifacts (linked as the
next task's input), and ``results/top_genes.csv`` as the output of ``write_top``. Prefect runs
offline on its temporary local server.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from prefect import flow, task
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from flowtrail.integrations.prefect import tracked_flow


@task
def load(src: Path) -> pd.DataFrame:
    return pd.read_csv(src)


@task
def normalise(counts: pd.DataFrame, min_count: int) -> pd.DataFrame:
    kept = counts[counts["count"] >= min_count]
    return kept.assign(cpm=kept["count"] / kept["count"].sum() * 1e6)


@task(retries=1)
def write_top(table: pd.DataFrame, out: Path, n: int) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    table.nlargest(n, "cpm").to_csv(out, index=False)
    return out


@tracked_flow
@flow(log_prints=True)
def expression(src: Path, out: Path = Path("results/top_genes.csv"), min_count: int = 5, n: int = 10) -> Path:
    """Keep expressed genes, normalise to counts per million, write the top ``n``."""
    table = normalise(load(src), min_count)
    return write_top(table, out, n)


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "counts.csv")
    # The flow heartbeat would add up to a second per flow call; a demo does not need it.
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        print(f"wrote {expression(source)}")
