"""The tracked flow runs and task runs this process knows, and how a hook finds its flow run.

Task hooks are attached to every task a tracked flow can reach (see :mod:`.discovery`), so the
same task object may also run under flows nobody tracks. Each hook therefore first asks "is this
task run part of a tracked flow run?" (:func:`flow_record`):

- in the flow's own process: is ``task_run.flow_run_id`` a flow run this process is tracking
  (a dict lookup);
- in a process-pool worker: does the flow object Prefect shipped to the worker (cloudpickled
  inside its ``FlowRunContext``) carry a marker for that flow run id. The marker also says how to
  reach the registry, so workers connect to the same instance even without environment variables.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flowtrail.integrations.prefect.options import InstanceRef, TrackingOptions, instance_for
from flowtrail.integrations.prefect.records import FlowRecord, TaskRecord

MARKER = "_flowtrail_runs"  # attribute of a Flow: {flow run id: FlowRef} while tracked runs of it are live

FLOWS: dict[uuid.UUID, FlowRecord] = {}  # tracked flow runs known to this process
TASKS: dict[uuid.UUID, TaskRecord] = {}  # started task runs of tracked flow runs


@dataclass(frozen=True)
class FlowRef:
    """What a worker process needs to know about a tracked flow run (picklable)."""

    run_id: int
    name: str
    options: TrackingOptions
    instance: InstanceRef
    project_id: int | None = None


def flow_record(flow_run_id: Any, context: Any = None) -> FlowRecord | None:
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
