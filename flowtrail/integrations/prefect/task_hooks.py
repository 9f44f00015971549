"""The task hooks: a task run's Prefect states turned into a queued task record.

``on_running`` starts a :class:`.records.TaskRecord` (first attempt) or counts a retry;
``on_completion`` and ``on_failure`` finish it. Untracked runs cost one dict lookup and one
``ContextVar.get`` (see :mod:`.tracked_runs`). Tracked runs cost a few stat calls and a queue put;
the registry writes happen in the background writer. No hook raises (errors are logged once per
kind) and none calls ``state.result()``: returned values are read from ``state.data``.
"""

from __future__ import annotations

import os
from typing import Any

from flowtrail.integrations.prefect.hook_logging import report
from flowtrail.integrations.prefect.records import TaskRecord
from flowtrail.integrations.prefect.task_context import install as install_task_context
from flowtrail.integrations.prefect.tracked_runs import TASKS, flow_record
from flowtrail.integrations.prefect.values import (
    collect_objects,
    collect_paths,
    error_text,
    signature,
    snapshot,
    state_value,
    summarise_params,
)
from flowtrail.integrations.prefect.writer import get_writer

WORKER_FLUSH_TIMEOUT = 120.0
install_task_context()  # saves, loads and ft.track() inside a tracked task belong to its task run


def _upstream(task_inputs: Any) -> list[str]:
    """Task run ids feeding this task's parameters (Prefect's own task-input links)."""
    if not task_inputs:
        return []
    found: list[str] = []
    for name, inputs in task_inputs.items():
        if name in ("wait_for", "__parents__"):
            continue
        for item in inputs:
            if getattr(item, "input_type", None) == "task_run":
                found.append(str(item.id))
    return found


def _counter(dynamic_key: Any) -> str | None:
    """Prefect's run counter of a task within a flow run ("0", "1", ...); None for random keys."""
    text = str(dynamic_key) if dynamic_key is not None else ""
    return text if text.isdigit() and text != "0" else None


def flowtrail_task_running(task: Any, task_run: Any, state: Any) -> None:
    """``on_running``: start a record (first attempt) or count a retry."""
    try:
        key = task_run.id
        record = TASKS.get(key)
        if record is not None:
            record.attempts = task_run.run_count or record.attempts + 1
            return
        flow = flow_record(task_run.flow_run_id)
        if flow is None:
            return
        from prefect.context import TaskRunContext

        context = TaskRunContext.get()
        params = getattr(context, "parameters", None) if context is not None else None
        paths = [(path, signature(path)) for path in collect_paths(params)] if params else []
        upstream = _upstream(task_run.task_inputs)
        writer = get_writer()
        if writer.pending_objects and any(up in writer.pending_objects for up in upstream):
            # An upstream object is not written yet: write it before this task can change it.
            writer.flush()
        record = TaskRecord(
            task_run_id=key,
            uid=str(key),
            name=task_run.name,
            key=task.name,
            fn=task.fn,
            flow=flow,
            params=summarise_params(params),  # now: keeps no reference to the task's inputs
            paths=paths,
            upstream=upstream,
            started_at=getattr(state, "timestamp", None),
            assets_out=[str(a.key) for a in getattr(task, "assets", None) or ()],
            assets_in=[str(a.key) for a in getattr(task, "asset_deps", None) or ()],
            attempts=task_run.run_count or 1,
            index=_counter(getattr(task_run, "dynamic_key", None)),
        )
        TASKS[key] = record
        flow.tasks[key] = record
        writer.put("start", record)
    except Exception as exc:
        report("task on_running", exc)


def flowtrail_task_completed(task: Any, task_run: Any, state: Any) -> None:
    """``on_completion``: completed, or cached when Prefect reused a cached result."""
    _task_finished(task_run, state, "cached" if getattr(state, "name", None) == "Cached" else "completed")


def flowtrail_task_failed(task: Any, task_run: Any, state: Any) -> None:
    """``on_failure``: failed after the last attempt, with the error."""
    _task_finished(task_run, state, "failed")


def _task_finished(task_run: Any, state: Any, status: str) -> None:
    try:
        record = TASKS.pop(task_run.id, None)
        if record is None:
            return
        record.flow.tasks.pop(task_run.id, None)
        value, known = state_value(state)
        record.status = status
        record.attempts = task_run.run_count or record.attempts
        record.finished_at = getattr(state, "timestamp", None)
        record.prefect_state = state.name if state.name not in ("Completed", "Failed", "Cached") else None
        record.paths_after = [signature(path) for path, _before in record.paths]
        writer = get_writer()
        if status == "failed":
            record.error = error_text(state, value)
        elif not known:
            record.value_known, record.state = False, state
        elif value is not None:
            record.returned_paths = [(path, signature(path)) for path in collect_paths(value)]
            record.objects = [(suffix, snapshot(obj)) for suffix, obj in collect_objects(value)]
            if record.objects:
                writer.pending_objects.add(record.uid)
        writer.put("finish", record)
        if record.objects:
            writer.nudge()  # write objects now rather than holding on to them for a batch window
        if record.flow.remote or record.flow.pid != os.getpid():
            # A worker process may exit as soon as the pool shuts down: write before returning.
            writer.flush(WORKER_FLUSH_TIMEOUT)
            emitter = getattr(record.flow.instance, "emitter", None)
            if emitter is not None:
                emitter.flush()
    except Exception as exc:
        report("task final", exc)
