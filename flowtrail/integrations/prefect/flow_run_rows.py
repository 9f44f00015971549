"""Registry rows for flow runs: the flow run inserted at its start and finished at its end.

The flow hooks run both through :meth:`.writer.Writer.call`, so they execute in the writer
thread in queue order: a flow's final record is written after all of its task runs (the flush at
the flow's end). :class:`FlowRunRows`, one of the parts :class:`.writer.Writer` is made of,
does it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .records import FlowRecord, utc
from .registry_lookups import RegistryLookups, prefect_version
from .run_listeners import has_listeners, notify_listeners

if TYPE_CHECKING:
    from .task_run_artifacts import TaskRunArtifacts


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
        """Register the workdir (once) and insert the flow run, like a task run (one transaction)."""
        from sqlalchemy import insert, select, update
        from sqlalchemy.exc import IntegrityError

        from flowtrail.core.database import write_transaction
        from flowtrail.core.host import current_user
        from flowtrail.core.instance import register_storage
        from flowtrail.core.models import Run
        from flowtrail.core.projects import env_project, run_project_id
        from flowtrail.core.record import utcnow

        instance = record.instance
        cache = self.lookups.cache(instance)
        workdir = record.options.resolved_workdir()
        if workdir and workdir not in cache.workdirs:
            register_storage(instance, workdir)
            cache.workdirs.add(workdir)
        uid = str(record.flow_run_id)
        table = Run.__table__
        project = record.options.project or (None if parent_run_id is not None else env_project())
        try:
            with write_transaction(instance.sessions) as session:
                now = utcnow()
                project_id = run_project_id(session, project, parent_run_id)
                transform = self.lookups.transform(instance, session, record.name, "pipeline", source, description)
                row = {
                    "uid": uid, "name": run_name, "transform_id": transform.id, "params": params,
                    "status": "started", "started_at": utc(started_at) or now, "finished_at": None,
                    "error": None, "metrics": None, "parent_id": parent_run_id, "reference": uid,
                    "environment_id": self.lookups.environment_id(instance, session), "engine": "prefect",
                    "engine_version": prefect_version(), "created_by": current_user(), "created_at": now,
                    "project_id": project_id,
                }  # fmt: skip
                run_id = session.execute(insert(table).values(**row).returning(table.c.id)).scalar_one()
        except IntegrityError:  # the same flow run executed again (a re-run from the UI)
            with write_transaction(instance.sessions) as session:
                found = session.execute(select(table.c.id, table.c.project_id).where(table.c.uid == uid)).first()
                if found is None:
                    raise
                run_id, project_id = found
                session.execute(
                    update(table).where(table.c.id == run_id).values(status="started", finished_at=None, error=None)
                )
        record.run_id, record.project_id = run_id, project_id
        record.run = Run(id=run_id, uid=uid, name=run_name, status="started", parent_id=parent_run_id, engine="prefect",
                         project_id=project_id)  # fmt: skip
        if has_listeners():
            notify_listeners("start", record.run)

    def finish_flow(self, record: FlowRecord, status: str, error: str | None, metrics: dict[str, Any], finished_at: Any) -> None:
        """Write the flow run's final state (after every task run queued before it)."""
        from sqlalchemy import update

        from flowtrail.core.database import write_transaction
        from flowtrail.core.models import Run
        from flowtrail.core.record import utcnow
        from flowtrail.core.run import FINAL_STATUSES

        if record.root is None:  # the whole tree has ended: forget what its task runs returned
            self.artifacts.forget(record.finished_uids)
            record.finished_uids.clear()
        if record.run_id is None or status not in FINAL_STATUSES:
            return
        table = Run.__table__
        with write_transaction(record.instance.sessions) as session:
            session.execute(
                update(table)
                .where(table.c.id == record.run_id)
                .values(status=status, finished_at=utc(finished_at) or utcnow(), error=error, metrics=metrics)
            )
        if record.run is not None:
            record.run.status = status
            if has_listeners():
                notify_listeners("finish", record.run)
