"""Registry rows for flow runs: the flow run started at its start and finished at its end.

The flow hooks run both through :meth:`.writer.Writer.call`, so they execute in the writer
thread in queue order: a flow's final record is written after all of its task runs (the flush at
the flow's end). :class:`FlowRunRows`, one of the parts :class:`.writer.Writer` is made of,
does it through the door (:func:`~flowtrail.core.adapter.start_runs` and
:func:`~flowtrail.core.adapter.finish_runs`: one run per flow, so the ORM path's cost is fine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowtrail.integrations.prefect.records import FlowRecord, utc
from flowtrail.integrations.prefect.registry_lookups import RegistryLookups, prefect_version

if TYPE_CHECKING:
    from flowtrail.integrations.prefect.task_run_artifacts import TaskRunArtifacts


class FlowRunRows:
    """Starts and finishes flow runs in the registry."""

    def __init__(self, lookups: RegistryLookups, artifacts: TaskRunArtifacts) -> None:
        self.lookups = lookups
        self.artifacts = artifacts  # what the flow tree's task runs returned, forgotten at its end

    def start_flow(
        self,
        record: FlowRecord,
        *,
        source: str | None,
        description: str | None,
        params: dict[str, Any] | None,
        parent_run_id: int | None,
        run_name: str | None,
        started_at: Any,
    ) -> None:
        """Register the workdir (once) and start the flow run (one transaction)."""
        from flowtrail.core.adapter import RunStart, TrackingError, announce, env_project, start_runs

        instance = record.instance
        cache = self.lookups.cache(instance)
        workdir = record.options.resolved_workdir()
        if workdir:
            cache.files.register_folder(workdir)
        uid = str(record.flow_run_id)
        project = record.options.project or (None if parent_run_id is not None else env_project())
        start = RunStart(
            record.name, type="pipeline", source_code=source, description=description, params=params,
            parent_id=parent_run_id, name=run_name, uid=uid, reference=uid, started_at=utc(started_at),
            engine="prefect", engine_version=prefect_version(), project=project, capture_environment=True,
        )  # fmt: skip
        try:
            (run,) = start_runs(instance, [start])
        except TrackingError:  # the same flow run executed again (a re-run from the UI): started again
            found = self._restart(record, uid)
            if found is None:
                raise
            run = found
            announce("start", [run])
        record.run_id, record.project_id, record.run = run.id, run.project_id, run

    def _restart(self, record: FlowRecord, uid: str) -> Any:
        """The registered run of this flow run, started again; None when there is none."""
        from flowtrail.core.models import Run

        rows = self.lookups.cache(record.instance).rows
        with rows.transaction() as session:
            found = rows.existing(session, [uid]).get(uid)
            if found is None:
                return None
            rows.restart(session, found[0])
            return session.get(Run, found[0])

    def finish_flow(self, record: FlowRecord, status: str, error: str | None, metrics: dict[str, Any], finished_at: Any) -> None:
        """Write the flow run's final state (after every task run queued before it)."""
        from flowtrail.core.adapter import FINAL_STATUSES, RunEnd, finish_runs
        from flowtrail.core.adapter.bulk import now

        if record.root is None:  # the whole tree has ended: forget what its task runs returned
            self.artifacts.forget(record.finished_uids)
            record.finished_uids.clear()
        if record.run is None or status not in FINAL_STATUSES:
            return
        end = RunEnd(record.run, status, error=error, metrics=metrics, finished_at=utc(finished_at) or now())
        finish_runs(record.instance, [end])
