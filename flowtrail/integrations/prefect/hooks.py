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

This module attaches the hooks (and is where they are imported from); the hooks themselves live
in :mod:`.flow_hooks` and :mod:`.task_hooks`, with :mod:`.tracked_runs` (which runs this process
tracks, and the worker-side marker) and :mod:`.hook_logging` (the log filter; failures logged
once per kind).
"""

from __future__ import annotations

from typing import Any

from flowtrail.integrations.prefect.flow_hooks import FlowHook, flowtrail_subflow_hook
from flowtrail.integrations.prefect.hook_logging import _FILTER, HOOK_LOGGERS, HookLogFilter, install_log_filter
from flowtrail.integrations.prefect.options import TrackingOptions
from flowtrail.integrations.prefect.task_hooks import (
    flowtrail_task_completed,
    flowtrail_task_failed,
    flowtrail_task_running,
)

# Names the decorator, capture_all_tasks, the tests and the benchmarks reach through this module.
__all__ = [
    "FLOW_HOOK_LISTS",
    "HOOK_LOGGERS",
    "TASK_HOOKS",
    "_FILTER",
    "FlowHook",
    "HookLogFilter",
    "attach_flow",
    "attach_subflow",
    "attach_task",
    "flowtrail_subflow_hook",
    "flowtrail_task_completed",
    "flowtrail_task_failed",
    "flowtrail_task_running",
    "has_task_hooks",
    "install_log_filter",
]

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
