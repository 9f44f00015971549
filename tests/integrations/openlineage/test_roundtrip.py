"""One flowtrail's events, received by another: keys, versions, params and the graph come back.

The sender's registry is exported with the real `flowtrail export openlineage` and the file is
stored with the real `flowtrail ingest` into a second instance, as two teams would do it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import flowtrail as ft
from flowtrail.core.db.context import disconnect


def _flowtrail(instance_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLOWTRAIL_INSTANCE": str(instance_root), "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run(["flowtrail", *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done


def _make_history(root: Path) -> None:
    """Raw data registered in place, a pipeline whose step writes two versions of one managed key."""
    data = root / "data"
    data.mkdir()
    (data / "raw.csv").write_text("gene,count\nTP53,3\n")
    ft.Storage.register(data)
    ft.Artifact(data / "raw.csv").save()

    @ft.tracked(key="normalise.py", type="script")
    def normalise(threshold: int, mode: str) -> None:
        raw = ft.Artifact.get(key="raw.csv").load()  # an input of this run
        out = root / f"counts-{threshold}.csv"
        raw.assign(count=raw["count"] * threshold).to_csv(out, index=False)
        ft.Artifact(out, key="processed/counts.csv").save()  # an output: version 1, then 2

    @ft.tracked(key="pipeline", type="pipeline")
    def pipeline(samples: list[str]) -> None:
        for threshold in (1, 2):
            normalise(threshold, mode="tpm")

    pipeline(["a", "b"])


def _registry_picture() -> dict:
    """What must survive the trip: keys with their versions and hashes, runs with params and edges."""
    artifacts = sorted((a.key, a.version, a.hash, a.is_latest) for a in ft.Artifact.filter())
    runs = {}
    for run in ft.Run.filter():
        runs[run.uid] = {
            "job": run.transform.key,
            "status": run.status,
            "params": run.params,
            "parent": run.parent.uid if run.parent is not None else None,
            "inputs": sorted((a.key, a.version) for a in run.inputs),
            "outputs": sorted((a.key, a.version) for a in run.outputs),
        }
    return {"artifacts": artifacts, "runs": runs}


def test_a_second_flowtrail_reproduces_the_first_from_its_export(tmp_path, monkeypatch, validate):
    sender_root, receiver_root = tmp_path / "sender", tmp_path / "receiver"
    ft.init(sender_root)
    monkeypatch.chdir(sender_root)
    _make_history(sender_root)
    sent = _registry_picture()
    disconnect()

    events_file = tmp_path / "events.ndjson"
    _flowtrail(sender_root, "export", "openlineage", "-o", str(events_file))
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    for event in events:
        validate(event)
    # Two versions of one managed key are one dataset with two versions.
    managed = {(d["namespace"], d["name"], d["facets"]["version"]["datasetVersion"])
               for e in events for d in e["outputs"]}  # fmt: skip
    assert {(ns, name) for ns, name, _v in managed} == {(ns, "processed/counts.csv") for ns, _n, _v in managed}
    assert len(managed) == 2

    ft.init(receiver_root)
    disconnect()
    _flowtrail(receiver_root, "ingest", str(events_file))
    ft.connect(receiver_root)
    try:
        received = _registry_picture()
    finally:
        disconnect()
    assert received == sent
    assert sent["artifacts"] == [
        ("processed/counts.csv", 1, sent["artifacts"][0][2], False),
        ("processed/counts.csv", 2, sent["artifacts"][1][2], True),
        ("raw.csv", 1, sent["artifacts"][2][2], True),
    ]
    assert {r["params"]["threshold"] for r in sent["runs"].values() if r["job"] == "normalise.py"} == {1, 2}
