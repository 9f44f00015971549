"""The flow hooks: a flow run's Prefect states recorded as a flow run in the registry.

``tracked_flow`` adds a :class:`FlowHook` to a flow, which tracks every run of it; discovery adds
:func:`flowtrail_subflow_hook` to the sub-flows it finds, which tracks a run only under a tracked
parent run. A running state starts a :class:`.records.FlowRecord` (or counts a retry), a final or
cancelling state ends it; both are written through :meth:`.writer.Writer.call`, in queue order.
At a flow run's end other than ``completed``, its task runs still open are closed as
``aborted``: Prefect has no crash or cancellation hook for tasks.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flowtrail.integrations.prefect import hook_logging
from flowtrail.integrations.prefect.options import InstanceRef, TrackingOptions
from flowtrail.integrations.prefect.records import FlowRecord
from flowtrail.integrations.prefect.registry_lookups import source_of
from flowtrail.integrations.prefect.tracked_runs import FLOWS, MARKER, FlowRef, flow_record
from flowtrail.integrations.prefect.values import error_text, state_value, summarise_params
from flowtrail.integrations.prefect.writer import get_writer

logger = logging.getLogger("flowtrail")


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
                from flowtrail.integrations.prefect.decorator import attach_discovered

                attach_discovered(flow)
            except Exception as exc:
                hook_logging.report("discovery", exc)
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
        hook_logging.report("flow", exc)


def _parent_flow(flow_run: Any) -> FlowRecord | None:
    """The tracked flow run this one is a sub-flow of (the context is still the parent's here)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    parent_run = getattr(context, "flow_run", None)
    if parent_run is None or parent_run.id == flow_run.id:
        return None
    return flow_record(parent_run.id, context)


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
        from flowtrail.core.adapter import current
        from flowtrail.core.errors import FlowtrailError

        try:
            instance = current()
        except FlowtrailError as exc:
            if "instance" not in hook_logging.reported:
                hook_logging.reported.add("instance")
                logger.warning("flowtrail: flow %r is not recorded: %s", flow.name, exc)
            return
    record = FlowRecord(
        flow_run_id=key, name=flow.name, instance=instance, options=options, ref=InstanceRef.of(instance),
        root=(parent.root or parent) if parent is not None else None,
    )  # fmt: skip
    parent_run_id = parent.run_id if parent is not None else _current_run_id()
    writer = get_writer()
    writer.call(
        lambda: writer.flow_runs.start_flow(
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
    from flowtrail.core.adapter import current_run

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
    writer.call(lambda: writer.flow_runs.finish_flow(record, status, error, metrics, getattr(state, "timestamp", None)))
