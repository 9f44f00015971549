"""One batch, as one transaction sees it: appending events to the ``lineage_event`` log, folding
the runs they touch, and writing what its parts (:mod:`._batch_runs`, :mod:`._batch_datasets`)
decided in memory.
"""

from __future__ import annotations

import json
from typing import Any

from ...core.artifact import _suffix
from ...core.models import Artifact, Run, Transform
from ...core.record import utcnow
from ._batch_datasets import _Datasets
from ._batch_runs import _JobsAndRuns
from ._batch_state import _Version
from ._bulk_writes import _executemany, _insert_with_ids, _update_by_id
from ._prepared import Prepared
from ._statements import (
    _ARTIFACTS,
    _INSERT_EVENT_TEXTS,
    _INSERTS,
    _SELECT_FACETS,
    _SELECT_LINKS,
    _SELECT_PAYLOADS,
    _SELECT_RUN_EVENTS,
    _SELECT_STORED,
    _chunks,
)
from .fold import RunState, fold_run
from .validation import parse_time


class _Batch(_JobsAndRuns, _Datasets):
    """Everything one transaction loads, decides and writes; caches live as long as the batch.

    The order of decisions is that of a run-by-run replay (runs sorted by id, then dataset and
    job events in arrival order), so the outcome is the same as storing objects one at a time.
    """

    # -- the event log ----------------------------------------------------------------------------
    def log(self, items: list[Prepared]) -> list[Prepared]:
        """Append the events not stored yet to ``lineage_event``, in order; return them."""
        existing = {digest for (digest,) in self._select_in(_SELECT_STORED, [i.digest for i in items])}
        fresh = [i for i in items if i.digest not in existing]
        if fresh:
            # SQLite keeps JSON as text: store the event's text as received (or as the JSON type
            # would serialise it) rather than serialising every event again.
            as_text = self.dialect == "sqlite"
            statement = _INSERT_EVENT_TEXTS if as_text else _INSERTS["lineage_event"]
            _executemany(self.session, f"insert lineage_event {as_text}", statement, [self._log_row(i, as_text) for i in fresh])
        return fresh

    @staticmethod
    def _log_row(item: Prepared, as_text: bool) -> dict[str, Any]:
        event, kind = item.event, item.kind
        job = event.get("job") if isinstance(event.get("job"), dict) else {}
        payload: Any = event
        if as_text:
            payload = item.text if item.text is not None else json.dumps(event)
        return {
            "hash": item.digest,
            "kind": kind,
            "event_type": event.get("eventType") if kind == "run" else None,
            "event_time": parse_time(event["eventTime"]),
            "run_uid": event["run"]["runId"] if kind == "run" else None,
            "job_namespace": job.get("namespace"),
            "job_name": job.get("name"),
            "payload": payload,
            "received_at": utcnow(),
        }

    def fold(self, run_ids: list[str], known: dict[str, dict[str, Any]]) -> list[RunState]:
        """The folded state of each run from all its stored events (``known`` ones not re-read)."""
        states = []
        for chunk in _chunks(run_ids):
            digests: dict[str, list[str]] = {}
            for run_uid, digest in self._select_in(_SELECT_RUN_EVENTS, chunk):
                digests.setdefault(run_uid, []).append(digest)
            missing = [d for ds in digests.values() for d in ds if d not in known]
            loaded = dict(self._select_in(_SELECT_PAYLOADS, missing))
            for run_id in chunk:
                states.append(fold_run([(d, known[d] if d in known else loaded[d]) for d in digests[run_id]]))
        return states

    # -- writing ----------------------------------------------------------------------------------
    def write(self) -> None:
        """Write the jobs, dataset versions and input links decided in memory."""
        self._insert_transforms()
        self._update_transforms()
        versions = [v for family in self.families.values() for v in family]
        existing = [v for v in versions if v.id is not None]
        self._insert_versions([v for v in versions if v.id is None])
        self._update_versions(existing)
        self._insert_links()

    def _insert_versions(self, new: list[_Version]) -> None:
        if not new:
            return
        now = utcnow()
        rows = [
            {
                "uid": v.uid, "key": v.key, "kind": "dataset", "suffix": _suffix(v.key.rsplit("/", 1)[-1]),
                "storage_id": v.storage_id, "path": v.key, "is_managed": False, "version": v.version,
                "is_latest": v.is_latest, "hash": v.hash, "hash_type": v.hash_type, "run_id": v.run_id,
                "facets": v.final_facets(v.facets), "created_at": now,
            }  # fmt: skip
            for v in new
        ]
        for version, artifact_id in zip(new, _insert_with_ids(self.session, _ARTIFACTS, rows), strict=True):
            version.id = artifact_id

    def _update_versions(self, existing: list[_Version]) -> None:
        facets = dict(self._select_in(_SELECT_FACETS, [v.id for v in existing if v.facet_updates]))
        plain, merged = [], []
        for v in existing:
            row = {"_id": v.id, "is_latest": v.is_latest, "run_id": v.run_id, "hash": v.hash, "hash_type": v.hash_type}
            if v.facet_updates:
                value = v.final_facets(facets[v.id])
                if value != facets[v.id]:
                    merged.append({**row, "facets": value})
                    continue
            if (v.is_latest, v.run_id, v.hash, v.hash_type) != v.original:
                plain.append(row)
        _update_by_id(self.session, _ARTIFACTS, plain)
        _update_by_id(self.session, _ARTIFACTS, merged)

    def _insert_links(self) -> None:
        existed = sorted(run.id for run in self.runs.values() if run.existed and run.id in self.links)
        present = {(run_id, artifact_id) for run_id, artifact_id in self._select_in(_SELECT_LINKS, existed)}
        rows = [
            {"run_id": run_id, "artifact_id": artifact_id}
            for run_id, artifacts in self.links.items()
            for artifact_id in sorted({a.id for a in artifacts})
            if (run_id, artifact_id) not in present
        ]
        _executemany(self.session, "insert run_input", _INSERTS["run_input"], rows)

    def expire_loaded_records(self) -> None:
        """Make records this session already holds reload what the batch wrote past the ORM."""
        for record in list(self.session.identity_map.values()):
            if isinstance(record, (Run, Artifact, Transform)):
                self.session.expire(record)
