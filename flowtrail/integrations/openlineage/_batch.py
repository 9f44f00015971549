"""One batch, as one transaction sees it: appending events to the ``lineage_event`` log, folding
the runs they touch, and deciding in memory then writing what its parts hold: the jobs
(:class:`._batch_jobs.Jobs`), runs (:class:`._batch_runs.Runs`) and dataset versions
(:class:`._batch_datasets.Datasets`), each given the state it reads (:class:`._batch_state.BatchState`)
and the parts it asks.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from flowtrail.core.adapter.bulk import chunks, executemany, now
from flowtrail.core.models import Artifact, Run, Transform
from flowtrail.integrations.openlineage._batch_datasets import Datasets
from flowtrail.integrations.openlineage._batch_jobs import Jobs
from flowtrail.integrations.openlineage._batch_runs import Runs
from flowtrail.integrations.openlineage._batch_state import BatchState, Version
from flowtrail.integrations.openlineage._dataset_naming import declared_datasets
from flowtrail.integrations.openlineage._prepared import Prepared
from flowtrail.integrations.openlineage._statements import (
    INSERT_EVENT_TEXTS,
    INSERT_EVENTS,
    SELECT_PAYLOADS,
    SELECT_RUN_EVENTS,
    SELECT_STORED,
)
from flowtrail.integrations.openlineage.fold import RunState, fold_run
from flowtrail.integrations.openlineage.validation import parse_time

__all__ = ["Batch"]


class Batch:
    """Everything one transaction loads, decides and writes; caches live as long as the batch.

    The order of decisions is that of a run-by-run replay (runs sorted by id, then dataset and
    job events in arrival order), so the outcome is the same as storing objects one at a time.
    """

    def __init__(self, session: Session, own_namespace: str) -> None:
        self.state = BatchState(session, own_namespace)
        self.jobs = Jobs(self.state)
        self.runs = Runs(self.state, self.jobs)
        self.datasets = Datasets(self.state)

    # -- the event log ----------------------------------------------------------------------------
    def log(self, items: list[Prepared]) -> list[Prepared]:
        """Append the events not stored yet to ``lineage_event``, in order; return them."""
        existing = {digest for (digest,) in self.state.select_in(SELECT_STORED, [i.digest for i in items])}
        fresh = [i for i in items if i.digest not in existing]
        if fresh:
            # SQLite keeps JSON as text: store the event's text as received (or as the JSON type
            # would serialise it) rather than serialising every event again.
            as_text = self.state.dialect == "sqlite"
            moment = now()
            rows = [_log_row(i, as_text, moment) for i in fresh]
            executemany(self.state.session, INSERT_EVENT_TEXTS if as_text else INSERT_EVENTS, rows)
        return fresh

    def fold(self, run_ids: list[str], known: dict[str, dict[str, Any]]) -> list[RunState]:
        """The folded state of each run from all its stored events (``known`` ones not re-read)."""
        states = []
        for chunk in chunks(run_ids):
            digests: dict[str, list[str]] = {}
            for run_uid, digest in self.state.select_in(SELECT_RUN_EVENTS, chunk):
                digests.setdefault(run_uid, []).append(digest)
            missing = [d for ds in digests.values() for d in ds if d not in known]
            loaded = dict(self.state.select_in(SELECT_PAYLOADS, missing))
            for run_id in chunk:
                states.append(fold_run([(d, known[d] if d in known else loaded[d]) for d in digests[run_id]]))
        return states

    # -- deciding ---------------------------------------------------------------------------------
    def prepare_runs(self, states: list[RunState]) -> None:
        """Create or update every folded run, its job and its parent (datasets come later)."""
        self.runs.prepare(states)

    def load_datasets(self, states: list[RunState], others: list[Prepared]) -> None:
        """Load the dataset versions the runs and the dataset and job events may choose among."""
        refs = [ref for s in states for ref in (*s.inputs, *s.outputs)]
        refs += [ref for i in others for ref in declared_datasets(i.event, i.kind)]
        self.datasets.load(refs, self.runs.by_uid.values())

    def apply_runs(self, states: list[RunState]) -> None:
        """Link each run's inputs and claim or create its outputs, run by run."""
        for state in states:
            run = self.runs.by_uid[state.run_id]
            self.runs.link_inputs(run, [self.datasets.input_version(ref) for ref in state.inputs])
            for ref in state.outputs:
                self.datasets.output_version(ref, run)

    def apply_dataset_event(self, event: dict[str, Any]) -> None:
        for ref in declared_datasets(event, "dataset"):
            self.datasets.input_version(ref)

    def apply_job_event(self, event: dict[str, Any]) -> None:
        job = event["job"]
        facets = dict(job.get("facets") or {})
        declared = {
            side: [{"namespace": d["namespace"], "name": d["name"]} for d in event.get(side) or []]
            for side in ("inputs", "outputs")
        }
        if declared["inputs"] or declared["outputs"]:
            facets["flowtrail_static_lineage"] = declared
        self.jobs.load([(job["namespace"], job["name"])])
        self.jobs.get(job["namespace"], job["name"], facets)
        for ref in declared_datasets(event, "job"):
            self.datasets.input_version(ref)

    # -- writing ----------------------------------------------------------------------------------
    def write(self) -> None:
        """Write the jobs, dataset versions and input links decided in memory."""
        self.jobs.insert_new()
        self.jobs.update_changed()
        self.datasets.write()
        self.runs.write_links()

    def versions(self) -> list[Version]:
        """The dataset versions the batch loaded or made."""
        return self.datasets.versions()

    def expire_loaded_records(self) -> None:
        """Make records this session already holds reload what the batch wrote past the ORM."""
        session = self.state.session
        for record in list(session.identity_map.values()):
            if isinstance(record, (Run, Artifact, Transform)):
                session.expire(record)


def _log_row(item: Prepared, as_text: bool, moment: Any) -> dict[str, Any]:
    event, kind = item.event, item.kind
    job: dict[str, Any] = event["job"] if isinstance(event.get("job"), dict) else {}
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
        "received_at": moment,
    }
