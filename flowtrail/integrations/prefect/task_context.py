"""The run a save, load or ``ft.track()`` inside a task of a tracked flow belongs to: the task run.

Prefect runs tasks in threads (or worker processes) of the flow's process, where one environment
cannot name each task's run, so the adapter plugs an in-process provider into the core's run
context (:func:`flowtrail.core.adapter.add_context_provider`): inside a task run of a tracked flow, ``save()``
records an output of the task run, ``load()``/``cache()`` an input, and ``ft.track()`` or a
``@ft.tracked()`` function a child run of it.
"""

from __future__ import annotations

import sys
from typing import Any

from flowtrail.integrations.prefect.tracked_runs import TASKS
from flowtrail.integrations.prefect.writer import get_writer

_loaded: dict[str, Any] = {}  # task run uid -> its Run, loaded once


def task_run_in_context() -> Any:
    """The registry's run of the task run executing in this thread, or None outside tracked tasks."""
    context_module = sys.modules.get("prefect.context")
    if context_module is None or not TASKS:
        return None
    context = context_module.TaskRunContext.get()
    task_run = getattr(context, "task_run", None)
    record = TASKS.get(task_run.id) if task_run is not None else None
    if record is None:
        return None
    if record.uid in _loaded:
        return _loaded[record.uid]
    if record.run_id is None:
        get_writer().flush()  # the task's start is queued: write its run row now
    if record.run_id is None:
        return None
    from flowtrail.core.models import Run

    instance = record.flow.instance
    session = instance.sessions.current()
    try:
        run = session.get(Run, record.run_id)
    finally:
        instance.sessions.end_read()
    if run is not None:
        if len(_loaded) > 10_000:
            _loaded.clear()
        _loaded[record.uid] = run
    return run


def install() -> None:
    """Plug the task-run provider into the core (idempotent)."""
    from flowtrail.core.adapter import add_context_provider

    add_context_provider(task_run_in_context)
