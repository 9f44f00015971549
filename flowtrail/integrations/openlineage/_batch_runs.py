"""A batch's runs: placeholder runs for run ids seen for the first time (parents included), run
columns from folded states, job facets from each job's latest run, and the runs' input links.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from flowtrail.core.adapter.bulk import insert_input_links, insert_with_ids, run_columns, update_by_id
from flowtrail.core.models import Run
from flowtrail.integrations.openlineage._batch_jobs import Jobs, job_type
from flowtrail.integrations.openlineage._batch_state import BatchState, Job, RunRow, Version
from flowtrail.integrations.openlineage._statements import SELECT_LATEST_RUNS, SELECT_RUNS
from flowtrail.integrations.openlineage.fold import RunState

__all__ = ["Runs"]


class Runs:
    """The runs of one batch, keyed by run id (uid), and the inputs each run read."""

    def __init__(self, state: BatchState, jobs: Jobs) -> None:
        self.state = state
        self.jobs = jobs
        self.by_uid: dict[str, RunRow] = {}
        self.inputs: dict[int, set[Version]] = {}  # run id -> input versions, written at the end

    def _load(self, uids: Iterable[str]) -> None:
        for row in self.state.select_in(SELECT_RUNS, sorted(set(uids) - set(self.by_uid))):
            self.by_uid[row.uid] = RunRow(*row)

    def _create(self, new: dict[str, Job]) -> None:
        """Insert placeholder runs (status scheduled) for run ids seen for the first time."""
        if not new:
            return
        # The columns every new run gets, with what a placeholder does not know yet: its start and
        # engine come with its events, and no process of this host runs it (the reaper must leave it).
        # JSON columns are written as the ORM writes an unset one (JSON null), like every other run.
        columns = run_columns(transform_id=0, status="scheduled", engine=None)
        columns |= {"started_at": None, "pid": None, "host": None, "metrics": None, "facets": None}
        rows = [{**columns, "uid": uid, "transform_id": job.id} for uid, job in new.items()]
        for row, run_id in zip(rows, insert_with_ids(self.state.session, Run, rows), strict=True):
            self.by_uid[row["uid"]] = RunRow(run_id, row["uid"], row["transform_id"], None, None, None, None, None,
                                             existed=False)  # fmt: skip

    def prepare(self, states: list[RunState]) -> None:
        """Create or update every folded run, its job and its parent (datasets come later)."""
        if not states:
            return
        parents = [s.parent for s in states if s.parent is not None]
        self.jobs.load([(s.job_namespace, s.job_name) for s in states]
                       + [(p["job"]["namespace"], p["job"]["name"]) for p in parents])  # fmt: skip
        self._load([s.run_id for s in states] + [p["run"]["runId"] for p in parents])
        new_runs: dict[str, Job] = {}
        for state in states:
            job = self.jobs.get(state.job_namespace, state.job_name)
            if state.run_id not in self.by_uid:
                new_runs.setdefault(state.run_id, job)
            if state.parent is not None:
                parent_job = self.jobs.get(state.parent["job"]["namespace"], state.parent["job"]["name"])
                if state.parent["run"]["runId"] not in self.by_uid:
                    new_runs.setdefault(state.parent["run"]["runId"], parent_job)
        self.jobs.insert_new()
        self._create(new_runs)
        before = {s.run_id: (self.by_uid[s.run_id].transform_id, self.by_uid[s.run_id].started_at) for s in states}
        outside = self._latest_runs_outside(states, before)
        self._update(states)
        self._job_facets_from_latest_runs(states, before, outside)

    def _update(self, states: list[RunState]) -> None:
        rows = []
        for state in states:
            run = self.by_uid[state.run_id]
            run.transform_id = self.jobs.get(state.job_namespace, state.job_name).id  # type: ignore[assignment]
            engine = state.run_facets.get("processing_engine") or {}
            run.engine = run.engine or engine.get("name")
            run.engine_version = run.engine_version or engine.get("version")
            error = state.run_facets.get("errorMessage") or {}
            if state.status == "failed" and error.get("message"):
                run.error = error["message"]
            if state.parent is not None:
                parent_run = self.by_uid[state.parent["run"]["runId"]]
                if parent_run.id != run.id:
                    run.parent_id = parent_run.id
            rows.append({
                "_id": run.id, "transform_id": run.transform_id, "status": state.status,
                "started_at": state.started_at, "finished_at": state.finished_at, "facets": state.run_facets or None,
                "engine": run.engine, "engine_version": run.engine_version, "error": run.error, "parent_id": run.parent_id,
            })  # fmt: skip
        update_by_id(self.state.session, Run, rows)
        # A flowtrail producer sends the run's params in its ``flowtrail`` run facet: they become
        # the run's params again (runs of other producers keep theirs).
        params = [
            {"_id": self.by_uid[state.run_id].id, "params": facet["params"]}
            for state in states
            if isinstance(facet := state.run_facets.get("flowtrail"), dict) and isinstance(facet.get("params"), dict)
        ]
        update_by_id(self.state.session, Run, params)

    def _latest_runs_outside(
        self, states: list[RunState], before: dict[str, tuple[int, dt.datetime | None]]
    ) -> dict[int, tuple[dt.datetime, str]]:
        """Per job of the batch's runs, its latest run (start time, run id) among runs not in the batch."""
        jobs = {self.by_uid[s.run_id].transform_id for s in states}
        crowd: dict[int, int] = {}  # batch runs that may rank above the one wanted, per job
        for transform_id, started_at in before.values():
            if started_at is not None:
                crowd[transform_id] = crowd.get(transform_id, 0) + 1
        depth = 1 + max(crowd.values(), default=0)
        latest: dict[int, tuple[dt.datetime, str]] = {}
        for transform_id, uid, started_at in self.state.select_in(SELECT_LATEST_RUNS, sorted(jobs), depth=depth):
            if uid not in before:
                candidate = (self.state.time_key(started_at), uid)
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
        time_key = self.state.time_key
        standing: dict[int, dict[str, tuple[dt.datetime, str]]] = {}  # job -> its batch runs' (start, id)
        for uid, (transform_id, started_at) in before.items():
            if started_at is not None:
                standing.setdefault(transform_id, {})[uid] = (time_key(started_at), uid)
        for state in states:
            transform_id = self.by_uid[state.run_id].transform_id
            previous = before[state.run_id][0]
            standing.get(previous, {}).pop(state.run_id, None)
            mine = (time_key(state.started_at), state.run_id)
            standing.setdefault(transform_id, {})[state.run_id] = mine
            rivals = list(standing[transform_id].values())
            if transform_id in outside:
                rivals.append(outside[transform_id])
            if max(rivals) != mine:
                continue
            job = self.jobs.get(state.job_namespace, state.job_name)
            job.facets = state.job_facets or None
            job.type = job_type(state.job_facets) or job.type

    def link_inputs(self, run: RunRow, versions: list[Version]) -> None:
        """Remember that ``run`` read ``versions`` (those it made itself excepted)."""
        # Links are written at the end; the check on run_id is the one in force at this point.
        self.inputs.setdefault(run.id, set()).update(v for v in versions if v.run_id != run.id)

    def write_links(self) -> None:
        """Insert the input links not stored yet (after the versions have their ids)."""
        links = [(run_id, version.id) for run_id, versions in self.inputs.items() for version in versions]
        insert_input_links(self.state.session, links)  # type: ignore[arg-type]
