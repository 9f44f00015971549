"""A batch's jobs and runs: loading and creating transforms, placeholder runs for run ids seen
for the first time (parents included), run columns from folded states, and job facets from each
job's latest run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from ...core.ids import new_stem, versioned_uid
from ...core.record import utcnow
from ._batch_state import _BatchState, _Job, _RunRow, _Version
from ._bulk_writes import _insert_with_ids, _update_by_id
from ._statements import (
    _RUNS,
    _SELECT_JOBS,
    _SELECT_LATEST_RUNS,
    _SELECT_RUNS,
    _TRANSFORMS,
)
from .fold import RunState

JOB_TYPES = {
    "DAG": "pipeline", "PIPELINE": "pipeline", "FLOW": "pipeline", "TASK": "task", "RULE": "rule",
    "PROCESS": "process", "SCRIPT": "script", "NOTEBOOK": "notebook", "FUNCTION": "function",
}  # fmt: skip


class _JobsAndRuns(_BatchState):
    """The jobs and runs part of :class:`._batch._Batch`.

    ``apply_runs`` claims datasets with ``_input_artifact`` and ``_output_artifact`` of
    :class:`._batch_datasets._Datasets`, the other part of the batch.
    """

    # -- jobs and runs ----------------------------------------------------------------------------
    def _namespace(self, namespace: str) -> str:
        # Events this instance emitted itself come back to its own transforms.
        return "" if namespace == self.own_namespace else namespace

    def _load_transforms(self, jobs: Iterable[tuple[str, str]]) -> None:
        wanted = {(self._namespace(ns), name) for ns, name in jobs} - set(self.transforms)
        for row in self._select_in(_SELECT_JOBS, sorted({name for _ns, name in wanted})):
            if (row.namespace, row.key) in wanted and (row.namespace, row.key) not in self.transforms:
                self.transforms[(row.namespace, row.key)] = _Job(*row, original=(row.type, row.facets))

    def _transform(self, namespace: str, name: str, facets: dict[str, Any] | None = None) -> _Job:
        ns = self._namespace(namespace)
        transform = self.transforms.get((ns, name))
        if transform is None:
            job_type = ((facets or {}).get("jobType") or {}).get("jobType")
            transform = _Job(None, ns, name, JOB_TYPES.get(str(job_type).upper(), "job"), None)
            self.transforms[(ns, name)] = transform
        if facets:
            transform.facets = {**(transform.facets or {}), **facets}
        return transform

    def _insert_transforms(self) -> None:
        new = [t for t in self.transforms.values() if t.id is None]
        if not new:
            return
        now = utcnow()
        rows = [
            {"uid": versioned_uid(new_stem(), 1), "namespace": t.namespace, "key": t.key, "version": 1,
             "is_latest": True, "type": t.type, "facets": t.facets, "created_at": now}  # fmt: skip
            for t in new
        ]
        for transform, transform_id in zip(new, _insert_with_ids(self.session, _TRANSFORMS, rows), strict=True):
            transform.id, transform.original = transform_id, (transform.type, transform.facets)

    def _update_transforms(self) -> None:
        rows = [
            {"_id": t.id, "type": t.type, "facets": t.facets}
            for t in self.transforms.values()
            if t.id is not None and (t.type, t.facets) != t.original
        ]
        _update_by_id(self.session, _TRANSFORMS, rows)

    def _load_runs(self, uids: Iterable[str]) -> None:
        for row in self._select_in(_SELECT_RUNS, sorted(set(uids) - set(self.runs))):
            self.runs[row.uid] = _RunRow(*row)

    def _create_runs(self, new: dict[str, _Job]) -> None:
        """Insert placeholder runs (status scheduled) for run ids seen for the first time."""
        if not new:
            return
        now = utcnow()
        # JSON columns are written as the ORM writes an unset one (JSON null), like every other run.
        unset = {"params": None, "metrics": None, "facets": None}
        rows = [{"uid": uid, "transform_id": t.id, "status": "scheduled", "created_at": now, **unset} for uid, t in new.items()]
        for row, run_id in zip(rows, _insert_with_ids(self.session, _RUNS, rows), strict=True):
            self.runs[row["uid"]] = _RunRow(run_id, row["uid"], row["transform_id"], None, None, None, None, None, existed=False)

    def prepare_runs(self, states: list[RunState]) -> None:
        """Create or update every folded run, its job and its parent (datasets come later)."""
        if not states:
            return
        parents = [s.parent for s in states if s.parent is not None]
        self._load_transforms([(s.job_namespace, s.job_name) for s in states]
                              + [(p["job"]["namespace"], p["job"]["name"]) for p in parents])  # fmt: skip
        self._load_runs([s.run_id for s in states] + [p["run"]["runId"] for p in parents])
        new_runs: dict[str, _Job] = {}
        for state in states:
            transform = self._transform(state.job_namespace, state.job_name)
            if state.run_id not in self.runs:
                new_runs.setdefault(state.run_id, transform)
            if state.parent is not None:
                parent_transform = self._transform(state.parent["job"]["namespace"], state.parent["job"]["name"])
                if state.parent["run"]["runId"] not in self.runs:
                    new_runs.setdefault(state.parent["run"]["runId"], parent_transform)
        self._insert_transforms()
        self._create_runs(new_runs)
        before = {s.run_id: (self.runs[s.run_id].transform_id, self.runs[s.run_id].started_at) for s in states}
        outside = self._latest_runs_outside(states, before)
        self._update_runs(states)
        self._job_facets_from_latest_runs(states, before, outside)

    def apply_runs(self, states: list[RunState]) -> None:
        """Link each run's inputs and claim or create its outputs, run by run."""
        for state in states:
            run = self.runs[state.run_id]
            self._link_inputs(run, [self._input_artifact(ref) for ref in state.inputs])
            for ref in state.outputs:
                self._output_artifact(ref, run)

    def _update_runs(self, states: list[RunState]) -> None:
        rows = []
        for state in states:
            run = self.runs[state.run_id]
            run.transform_id = self._transform(state.job_namespace, state.job_name).id
            engine = state.run_facets.get("processing_engine") or {}
            run.engine = run.engine or engine.get("name")
            run.engine_version = run.engine_version or engine.get("version")
            error = state.run_facets.get("errorMessage") or {}
            if state.status == "failed" and error.get("message"):
                run.error = error["message"]
            if state.parent is not None:
                parent_run = self.runs[state.parent["run"]["runId"]]
                if parent_run.id != run.id:
                    run.parent_id = parent_run.id
            rows.append({
                "_id": run.id, "transform_id": run.transform_id, "status": state.status,
                "started_at": state.started_at, "finished_at": state.finished_at, "facets": state.run_facets or None,
                "engine": run.engine, "engine_version": run.engine_version, "error": run.error, "parent_id": run.parent_id,
            })  # fmt: skip
        _update_by_id(self.session, _RUNS, rows)
        # A flowtrail producer sends the run's params in its ``flowtrail`` run facet: they become
        # the run's params again (runs of other producers keep theirs).
        params = [
            {"_id": self.runs[state.run_id].id, "params": facet["params"]}
            for state in states
            if isinstance(facet := state.run_facets.get("flowtrail"), dict) and isinstance(facet.get("params"), dict)
        ]
        _update_by_id(self.session, _RUNS, params)

    def _time_key(self, moment: dt.datetime) -> dt.datetime:
        # Start times compare as the database compares them: SQLite stores the wall-clock time
        # without its offset (and hands it back naive), PostgreSQL compares instants.
        if self.dialect == "sqlite":
            return moment.replace(tzinfo=None)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    def _latest_runs_outside(
        self, states: list[RunState], before: dict[str, tuple[int, dt.datetime | None]]
    ) -> dict[int, tuple[dt.datetime, str]]:
        """Per job of the batch's runs, its latest run (start time, run id) among runs not in the batch."""
        jobs = {self.runs[s.run_id].transform_id for s in states}
        crowd: dict[int, int] = {}  # batch runs that may rank above the one wanted, per job
        for transform_id, started_at in before.values():
            if started_at is not None:
                crowd[transform_id] = crowd.get(transform_id, 0) + 1
        depth = 1 + max(crowd.values(), default=0)
        latest: dict[int, tuple[dt.datetime, str]] = {}
        for transform_id, uid, started_at in self._select_in(_SELECT_LATEST_RUNS, sorted(jobs), depth=depth):
            if uid not in before:
                candidate = (self._time_key(started_at), uid)
                latest[transform_id] = max(latest.get(transform_id, candidate), candidate)
        return latest

    def _job_facets_from_latest_runs(
        self,
        states: list[RunState],
        before: dict[str, tuple[int, dt.datetime | None]],
        outside: dict[int, tuple[dt.datetime, str]],
    ) -> None:
        # A job's facets are those of its latest run (by start time, then run id). Runs are
        # stored one after the other (sorted by id); after each, the job takes the run's facets
        # if the run is then the job's latest, counting the batch's other runs as they stand at
        # that moment: already stored, or still as they were before the batch.
        standing: dict[int, dict[str, tuple[dt.datetime, str]]] = {}  # job -> its batch runs' (start, id)
        for uid, (transform_id, started_at) in before.items():
            if started_at is not None:
                standing.setdefault(transform_id, {})[uid] = (self._time_key(started_at), uid)
        for state in states:
            transform_id = self.runs[state.run_id].transform_id
            previous = before[state.run_id][0]
            standing.get(previous, {}).pop(state.run_id, None)
            mine = (self._time_key(state.started_at), state.run_id)
            standing.setdefault(transform_id, {})[state.run_id] = mine
            rivals = list(standing[transform_id].values())
            if transform_id in outside:
                rivals.append(outside[transform_id])
            if max(rivals) != mine:
                continue
            transform = self._transform(state.job_namespace, state.job_name)
            transform.facets = state.job_facets or None
            job_type = (state.job_facets.get("jobType") or {}).get("jobType")
            if job_type:
                transform.type = JOB_TYPES.get(str(job_type).upper(), "job")

    def _link_inputs(self, run: _RunRow, artifacts: list[_Version]) -> None:
        # Links are written at the end; the check on run_id is the one in force at this point.
        self.links.setdefault(run.id, set()).update(a for a in artifacts if a.run_id != run.id)
