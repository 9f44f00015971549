"""Prefect state hooks that record flow runs and task runs, and how they are attached.

Task hooks are attached to every task a tracked flow can reach (see :mod:`.discovery`), so the
same task object may also run under flows nobody tracks. Each hook therefore first asks "is this
task run part of a tracked flow run?":

- in the flow's own process: is ``task_run.flow_run_id`` a flow run this process is tracking
  (a dict lookup);
- in a process-pool worker: does the flow object Prefect shipped to the worker (cloudpickled
  inside its ``FlowRunContext``) carry a marker for that flow run id. The marker also says how to
  reach the registry, so workers connect to the same instance even without environment variables.

Untracked runs cost one dict lookup and one ``ContextVar.get``. Tracked runs cost a few stat
calls and a queue put; the registry writes happen in the background writer. No hook raises
(errors are logged once per kind) and none calls ``state.result()``: returned values are read
from ``state.data``. Prefect logs two INFO lines around every hook call; a logging filter drops
those lines for flowtrail's hooks only.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any

from .options import InstanceRef, TrackingOptions, instance_for
from .records import FlowRecord, TaskRecord
from .values import (
    collect_objects,
    collect_paths,
    error_text,
    signature,
    snapshot,
    state_value,
    summarise_params,
)
from .writer import get_writer, source_of

logger = logging.getLogger("flowtrail")

MARKER = "_flowtrail_runs"  # attribute of a Flow: {flow run id: FlowRef} while tracked runs of it are live
WORKER_FLUSH_TIMEOUT = 120.0
HOOK_LOGGERS = ("prefect.task_runs", "prefect.flow_runs", "prefect.engine")

FLOWS: dict[uuid.UUID, FlowRecord] = {}  # tracked flow runs known to this process
TASKS: dict[uuid.UUID, TaskRecord] = {}  # started task runs of tracked flow runs
_reported: set[str] = set()


def _report(kind: str, exc: BaseException) -> None:
    if kind not in _reported:
        _reported.add(kind)
        logger.warning("flowtrail: the Prefect %s hook failed (%s: %s); the flow is unaffected. "
                       "Further such errors are not shown.", kind, type(exc).__name__, exc)  # fmt: skip


@dataclass(frozen=True)
class FlowRef:
    """What a worker process needs to know about a tracked flow run (picklable)."""

    run_id: int
    name: str
    options: TrackingOptions
    instance: InstanceRef
    project_id: int | None = None


# -- log filter ----------------------------------------------------------------------------------


class HookLogFilter(logging.Filter):
    """Drops Prefect's "Running hook 'flowtrail_...'" / "Hook 'flowtrail_...' finished" lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if isinstance(msg, str) and "'flowtrail_" in msg:
            return not msg.startswith(("Running hook", "Hook "))
        return True


_FILTER = HookLogFilter()


def install_log_filter() -> None:
    for name in HOOK_LOGGERS:
        target = logging.getLogger(name)
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)


install_log_filter()


# -- flows ---------------------------------------------------------------------------------------


class FlowHook:
    """The hook ``tracked_flow`` adds to a flow: tracks every run of it, with its options."""

    __name__ = "flowtrail_flow_hook"

    def __init__(self, options: TrackingOptions, discover: bool = True) -> None:
        self.options = options
        self.rediscovered = not discover

    def __call__(self, flow: Any, flow_run: Any, state: Any) -> None:
        if not self.rediscovered:
            # Tasks defined below the flow in its module were not there at decoration time.
            self.rediscovered = True
            try:
                from .decorator import attach_discovered

                attach_discovered(flow)
            except Exception as exc:
                _report("discovery", exc)
        _flow_hook(flow, flow_run, state, self.options)


def flowtrail_subflow_hook(flow: Any, flow_run: Any, state: Any) -> None:
    """Hook of a sub-flow found by discovery: tracks a run only when its parent run is tracked."""
    if any(isinstance(h, FlowHook) for h in flow.on_running_hooks):
        return  # a tracked flow in its own right: its FlowHook records it
    _flow_hook(flow, flow_run, state, None)


def _flow_hook(flow: Any, flow_run: Any, state: Any, options: TrackingOptions | None) -> None:
    try:
        if state.is_running():
            _flow_started(flow, flow_run, state, options)
        elif state.is_final() or state.is_cancelling():
            _flow_finished(flow, flow_run, state)
    except Exception as exc:
        _report("flow", exc)


def _parent_flow(flow_run: Any) -> FlowRecord | None:
    """The tracked flow run this one is a sub-flow of (the context is still the parent's here)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    parent_run = getattr(context, "flow_run", None)
    if parent_run is None or parent_run.id == flow_run.id:
        return None
    return _flow_record(parent_run.id, context)


def _flow_started(flow: Any, flow_run: Any, state: Any, options: TrackingOptions | None) -> None:
    key = flow_run.id
    record = FLOWS.get(key)
    if record is not None:  # a retry of a flow run we already track
        record.attempts += 1
        return
    parent = _parent_flow(flow_run)
    if options is None:
        if parent is None:
            return  # a sub-flow of an untracked flow
        options = parent.options
    if parent is not None and (parent.remote or parent.pid != os.getpid()):
        instance = parent.instance
    else:
        from flowtrail.core.errors import FlowtrailError
        from flowtrail.core.instance import current

        try:
            instance = current()
        except FlowtrailError as exc:
            if "instance" not in _reported:
                _reported.add("instance")
                logger.warning("flowtrail: flow %r is not recorded: %s", flow.name, exc)
            return
    record = FlowRecord(
        flow_run_id=key, name=flow.name, instance=instance, options=options, ref=InstanceRef.of(instance),
        root=(parent.root or parent) if parent is not None else None,
    )  # fmt: skip
    parent_run_id = parent.run_id if parent is not None else _current_run_id()
    writer = get_writer()
    writer.call(
        lambda: writer.start_flow(
            record,
            source=source_of(flow.fn),
            description=getattr(flow, "description", None),
            params=summarise_params(getattr(flow_run, "parameters", None)),
            parent_run_id=parent_run_id,
            run_name=getattr(flow_run, "name", None),
            started_at=getattr(state, "timestamp", None),
        )
    )
    if record.run_id is None:
        return
    FLOWS[key] = record
    markers = flow.__dict__.get(MARKER)
    if markers is None:
        markers = flow.__dict__[MARKER] = {}
    markers[key] = FlowRef(record.run_id, record.name, options, record.ref, record.project_id)


def _current_run_id() -> int | None:
    """A flow called inside ``flowtrail.track()`` or a ``@flowtrail.tracked`` function nests under it."""
    from flowtrail.core.tracking import current_run

    run = current_run()
    return run.id if run is not None and run.status == "started" else None


FLOW_STATUS = {"COMPLETED": "completed", "FAILED": "failed", "CRASHED": "aborted", "CANCELLED": "aborted",
               "CANCELLING": "aborted"}  # fmt: skip


def _flow_finished(flow: Any, flow_run: Any, state: Any) -> None:
    record = FLOWS.pop(flow_run.id, None)
    markers = flow.__dict__.get(MARKER)
    if markers is not None:
        markers.pop(flow_run.id, None)
    if record is None:
        return
    state_type = getattr(getattr(state, "type", None), "value", str(getattr(state, "type", "")))
    status = FLOW_STATUS.get(str(state_type).upper(), "failed")
    error = None
    if status != "completed":
        value, _known = state_value(state)
        error = error_text(state, value)
    writer = get_writer()
    if status != "completed":
        # Tasks have no crash or cancellation hook: close what is still open.
        for task_record in list(record.tasks.values()):
            if task_record.status is None:
                task_record.status = "aborted"
                task_record.error = f"the flow run ended ({state.name}) before this task run reported a final state"
                task_record.finished_at = getattr(state, "timestamp", None)
                task_record.closed_by_flow = True
                writer.put("finish", task_record)
    metrics = {"prefect_state": state.name, "attempts": getattr(flow_run, "run_count", None) or record.attempts}
    writer.call(lambda: writer.finish_flow(record, status, error, metrics, getattr(state, "timestamp", None)))


# -- tasks ---------------------------------------------------------------------------------------


def _flow_record(flow_run_id: Any, context: Any = None) -> FlowRecord | None:
    """The tracked flow run ``flow_run_id`` belongs to, or None when it is not tracked."""
    if flow_run_id is None:
        return None
    record = FLOWS.get(flow_run_id)
    if record is not None:
        return record
    if context is None:
        from prefect.context import FlowRunContext

        context = FlowRunContext.get()
    markers = getattr(getattr(context, "flow", None), MARKER, None)
    if not markers:
        return None
    ref = markers.get(flow_run_id)
    if ref is None:
        return None
    # A process-pool worker: Prefect shipped the flow here with our marker on it.
    record = FlowRecord(
        flow_run_id=flow_run_id, name=ref.name, instance=instance_for(ref.instance), options=ref.options,
        ref=ref.instance, run_id=ref.run_id, remote=True, project_id=ref.project_id,
    )  # fmt: skip
    FLOWS[flow_run_id] = record
    return record


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
        flow = _flow_record(task_run.flow_run_id)
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
        _report("task on_running", exc)


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
        _report("task final", exc)


# -- attaching -----------------------------------------------------------------------------------

TASK_HOOKS = (
    ("on_running_hooks", flowtrail_task_running),
    ("on_completion_hooks", flowtrail_task_completed),
    ("on_failure_hooks", flowtrail_task_failed),
)
FLOW_HOOK_LISTS = (
    "on_running_hooks", "on_completion_hooks", "on_failure_hooks", "on_crashed_hooks", "on_cancellation_hooks",
)  # fmt: skip


def has_task_hooks(task: Any) -> bool:
    return flowtrail_task_running in (getattr(task, "on_running_hooks", None) or ())


def attach_task(task: Any) -> None:
    """Add the task hooks once (idempotent)."""
    for attribute, hook in TASK_HOOKS:
        hooks = getattr(task, attribute)
        if hook not in hooks:
            hooks.append(hook)


def attach_subflow(flow: Any) -> None:
    for attribute in FLOW_HOOK_LISTS:
        hooks = getattr(flow, attribute)
        if flowtrail_subflow_hook not in hooks:
            hooks.append(flowtrail_subflow_hook)


def attach_flow(flow: Any, options: TrackingOptions, discover: bool = True) -> FlowHook:
    """Add (or update) the hook that tracks every run of ``flow``."""
    for hook in flow.on_running_hooks:
        if isinstance(hook, FlowHook):
            hook.options = options
            return hook
    hook = FlowHook(options, discover)
    for attribute in FLOW_HOOK_LISTS:
        getattr(flow, attribute).append(hook)
    return hook
