"""In-process bookkeeping of tracked flow runs and task runs.

Hooks fill these plain objects in microseconds; the background writer turns them into registry
rows. A ``FlowRecord`` lives from the flow's ``on_running`` hook to its final hook; a
``TaskRecord`` from the task's first ``on_running`` to its final hook (or to the flow's end, for
tasks Prefect never reports a final state for).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowtrail.integrations.prefect.values import Signature

if TYPE_CHECKING:
    from flowtrail.core.adapter import Instance
    from flowtrail.core.models import Run
    from flowtrail.integrations.prefect.options import InstanceRef, TrackingOptions


@dataclass(eq=False)
class FlowRecord:
    """A tracked flow run (or the worker-side view of one, ``remote=True``)."""

    flow_run_id: uuid.UUID
    name: str  # the flow's name: transform key and artifact key prefix
    instance: Instance
    options: TrackingOptions
    ref: InstanceRef
    run_id: int | None = None  # the registry's Run.id
    run: Run | None = None  # owned by the writer thread
    project_id: int | None = None  # the run's project, which its task runs share
    remote: bool = False  # a worker's view of a flow run tracked by another process
    pid: int = field(default_factory=os.getpid)
    tasks: dict[uuid.UUID, TaskRecord] = field(default_factory=dict)  # started, not finished
    root: FlowRecord | None = None  # the outermost tracked flow run (None: this one)
    finished_uids: list[str] = field(default_factory=list)  # task runs of the whole tree, written
    attempts: int = 1


@dataclass(eq=False)
class TaskRecord:
    """One Prefect task run under a tracked flow run."""

    task_run_id: uuid.UUID
    uid: str
    name: str  # the task run's name, e.g. "clean-0"
    key: str  # the task's name (see transform_key)
    fn: Any  # the task function, for its source
    flow: FlowRecord
    params: dict[str, Any] | None  # already summarised (JSON-safe)
    paths: list[tuple[str, Signature | None]]  # path-like parameters, as they were at the start
    upstream: list[str]  # task run ids this one consumes (Prefect's task-input links)
    started_at: Any
    index: str | None = None  # Prefect's per-flow-run counter of this task's runs (submit/map), if any
    assets_out: list[str] = field(default_factory=list)
    assets_in: list[str] = field(default_factory=list)
    attempts: int = 1
    # filled by the final hook
    status: str | None = None
    error: str | None = None
    finished_at: Any = None
    value: Any = None
    value_known: bool = True
    state: Any = None
    paths_after: list[Signature | None] | None = None
    returned_paths: list[tuple[str, Signature | None]] = field(default_factory=list)
    objects: list[tuple[str, Any]] = field(default_factory=list)
    prefect_state: str | None = None
    closed_by_flow: bool = False
    # filled by the writer
    run_id: int | None = None  # the registry's Run.id once written
    run: Run | None = None  # a Run for listeners and artifacts, built only when needed

    @property
    def finished(self) -> bool:
        return self.status is not None

    @property
    def transform_key(self) -> str:
        """``<flow>/<task>``: tasks of the same name in two flows are two transforms."""
        return f"{self.flow.name}/{self.key}"


def utc(value: Any) -> dt.datetime | None:
    from flowtrail.integrations.prefect.values import plain_datetime

    return plain_datetime(value)
