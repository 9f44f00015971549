"""Helpers: the OpenLineage event corpus (tests/data/openlineage/events) and registry snapshots."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from flowtrail.core.models import Artifact, Run, Transform

CORPUS = Path(__file__).resolve().parents[2] / "data" / "openlineage"


def manifest() -> list[dict[str, str]]:
    with open(CORPUS / "events" / "MANIFEST.tsv", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def corpus_rows(kind: str) -> list[dict[str, str]]:
    if not (CORPUS / "events" / "MANIFEST.tsv").is_file():
        return []
    return [row for row in manifest() if row["kind"] == kind]


def load_event(row: dict[str, str]) -> Any:
    return json.loads((CORPUS / "events" / row["local_path"]).read_text())


def snapshot() -> dict[str, Any]:
    """Everything about the registry's runs, jobs and datasets except generated ids and times."""
    def dataset(artifact: Artifact) -> tuple[str, str, int]:
        return (artifact.storage.root, artifact.key or "", artifact.version)

    runs = {
        run.uid: {
            "job": (run.transform.namespace, run.transform.key),
            "status": run.status,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "parent": run.parent.uid if run.parent else None,
            "facets": run.facets,
            "inputs": sorted(dataset(a) for a in run.inputs),
            "outputs": sorted(dataset(a) for a in run.outputs),
        }
        for run in Run.filter()
    }
    jobs = {(t.namespace, t.key, t.version): (t.type, t.facets) for t in Transform.filter()}
    datasets = {
        dataset(a): (a.hash, a.is_latest, a.facets, a.run.uid if a.run else None) for a in Artifact.filter()
    }
    return {"runs": runs, "jobs": jobs, "datasets": datasets}
