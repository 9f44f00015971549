"""Registry rows for task runs: one batch's queued task-run records written as ``Run`` rows.

:class:`TaskRunRows`, one of the parts :class:`.writer.Writer` is made of, turns the
``("start", record)`` and ``("finish", record)`` items of a batch into rows (step 1 in
:mod:`.writer`: a task run that started and finished within the window is inserted once, already
final), hands the finished ones to its :class:`.task_run_artifacts.TaskRunArtifacts` part
(steps 2 and 3) and tells the run listeners (step 4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowtrail.integrations.prefect.records import TaskRecord, utc
from flowtrail.integrations.prefect.registry_lookups import RegistryLookups, prefect_version, source_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from flowtrail.core.adapter import Instance
    from flowtrail.core.models import Run
    from flowtrail.integrations.prefect.task_run_artifacts import TaskRunArtifacts


def _final_fields(record: TaskRecord) -> dict[str, Any]:
    """The columns a task run's final state sets."""
    from flowtrail.core.adapter.bulk import now
    from flowtrail.core.adapter.run_rows import RunRows

    metrics: dict[str, Any] = {"attempts": record.attempts, "retries": max(record.attempts - 1, 0)}
    if record.prefect_state:
        metrics["prefect_state"] = record.prefect_state
    if record.assets_out or record.assets_in:
        metrics["prefect_assets"] = {"materialized": record.assets_out, "depends_on": record.assets_in}
    finished_at = utc(record.finished_at) or now()
    return RunRows.final_columns(record.status or "failed", finished_at=finished_at, error=record.error, metrics=metrics)


def run_ref(record: TaskRecord, started: bool = False) -> Run:
    """A ``Run`` carrying the written row's identity and state (not loaded from the registry)."""
    from flowtrail.core.models import Run

    status = "started" if started or record.status is None else record.status
    if record.run is None:
        record.run = Run(id=record.run_id, uid=record.uid, name=record.name, status=status,
                         parent_id=record.flow.run_id, engine="prefect", project_id=record.flow.project_id)  # fmt: skip
    elif record.run.status != status:
        record.run.status = status
    return record.run


class TaskRunRows:
    """Writes the run rows of a batch of task-run records, then their artifacts and input links."""

    def __init__(
        self,
        lookups: RegistryLookups,
        artifacts: TaskRunArtifacts,
        report: Callable[[str, str], None],
        pending_objects: set[str],
    ) -> None:
        self.lookups = lookups
        self.artifacts = artifacts
        self.report = report
        self.pending_objects = pending_objects  # shared with the hooks: uids whose objects are not written yet

    def write_group(self, group: list[tuple[str, TaskRecord]]) -> None:
        by_instance: dict[int, tuple[Instance, list[tuple[str, TaskRecord]]]] = {}
        for kind, record in group:
            instance = record.flow.instance
            by_instance.setdefault(id(instance), (instance, []))[1].append((kind, record))
        for instance, ops in by_instance.values():
            try:
                self._write_tasks(instance, ops)
            except Exception as exc:
                self.report(f"tasks:{type(exc).__name__}", f"could not record Prefect task runs: {exc}")
                for _kind, record in ops:
                    self.pending_objects.discard(record.uid)

    def _write_tasks(self, instance: Instance, ops: list[tuple[str, TaskRecord]]) -> None:
        from sqlalchemy.exc import IntegrityError

        new: list[TaskRecord] = []
        finished: list[TaskRecord] = []
        seen_new: set[int] = set()
        seen_finished: set[int] = set()
        for kind, record in ops:
            if record.run_id is None and id(record) not in seen_new:
                seen_new.add(id(record))
                new.append(record)
            if kind == "finish" and id(record) not in seen_finished:
                seen_finished.add(id(record))
                finished.append(record)
        for record in finished:
            if not record.value_known:
                self._load_value(record)
        try:
            inserted = self.write_runs(instance, new, finished, check_existing=False)
        except IntegrityError:  # a task run recorded before (the same Prefect run reported twice)
            for record in new:
                record.run, record.run_id = None, None
            inserted = self.write_runs(instance, new, finished, check_existing=True)
        self.artifacts.link(instance, self.artifacts.register(instance, finished))
        from flowtrail.core.adapter import announce
        from flowtrail.core.adapter.run_rows import has_run_listeners

        if has_run_listeners():  # the Run objects are built only for listeners (OpenLineage emission)
            announce("start", [run_ref(record, started=True) for record in inserted])
            announce("finish", [run_ref(record) for record in finished if record.run_id is not None])
        for record in finished:
            record.value = None
            record.objects = []
            record.params = None
            self.pending_objects.discard(record.uid)

    def write_runs(
        self,
        instance: Instance,
        new: list[TaskRecord],
        finished: list[TaskRecord],
        check_existing: bool,
    ) -> list[TaskRecord]:
        """Insert new runs (final already when they finished in this batch), update the others.

        Through the door's bulk run rows (one transaction): one INSERT per set of columns with
        the ids read back, one executemany UPDATE; the ``Run`` objects handed to run listeners
        are built from the row values (not loaded back).
        """
        rows = self.lookups.cache(instance).rows
        finished_ids = {id(record) for record in finished}
        inserted: list[TaskRecord] = []
        with rows.transaction() as session:
            existing = rows.existing(session, [r.uid for r in new]) if check_existing and new else {}
            values: list[dict[str, Any]] = []
            if new:
                environment_id = rows.environment_id(session)
                version = prefect_version()
                for record in new:
                    found = existing.get(record.uid)
                    if found is not None:
                        record.run, record.run_id = None, found[0]
                        continue
                    transform_id = rows.transform_id(session, record.transform_key, type="task", source_code=source_of(record.fn))
                    row = rows.new_row(
                        record.uid, transform_id=transform_id, name=record.name, params=record.params,
                        started_at=utc(record.started_at), parent_id=record.flow.run_id, reference=record.uid,
                        environment_id=environment_id, engine="prefect", engine_version=version,
                        project_id=record.flow.project_id,
                    )  # fmt: skip
                    if id(record) in finished_ids:
                        row.update(_final_fields(record))
                    values.append(row)
                    inserted.append(record)
            for record, run_id in zip(inserted, rows.insert(session, values), strict=True):
                record.run_id = run_id
            inserted_ids = {id(record) for record in inserted}
            ends = [
                (record.run_id, _final_fields(record))
                for record in finished
                if record.run_id is not None and id(record) not in inserted_ids
            ]
            rows.finish(session, ends)
        return inserted

    def _load_value(self, record: TaskRecord) -> None:
        """A persisted result (only metadata in the state): read it here, not in the hook."""
        from flowtrail.integrations.prefect.values import collect_objects, collect_paths, signature, snapshot

        try:
            record.value = record.state.result(raise_on_failure=False, _sync=True)
        except Exception:
            record.value = None
        record.value_known = True
        record.state = None
        # What the hook does for results it holds in memory: returned paths and objects are outputs.
        if record.value is not None and not isinstance(record.value, BaseException):
            record.returned_paths = [(path, signature(path)) for path in collect_paths(record.value)]
            record.objects = [(suffix, snapshot(obj)) for suffix, obj in collect_objects(record.value)]
