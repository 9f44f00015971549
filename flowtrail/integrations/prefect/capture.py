"""Opt-in capture of tasks that static discovery cannot see.

Tasks created inside a flow body (``task(fn)(x)``), passed in as parameters, or given a new hook
list with ``with_options(on_completion=[...])`` carry no flowtrail hooks. ``capture_all_tasks()``
wraps Prefect's task engines so that flowtrail's task hooks also run for every task *without*
them. The hooks still record nothing outside tracked flow runs.

This patches private methods (``SyncTaskRunEngine.call_hooks`` and
``AsyncTaskRunEngine.call_hooks``), so it is guarded: it refuses Prefect versions outside the
range it was written against, or engines that lack the methods, and returns False then.
Process-pool workers import Prefect afresh and are not patched; tasks there are recorded only
when they carry the hooks.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

logger = logging.getLogger("flowtrail")
SUPPORTED = ((3, 5), (4, 0))  # [from, to)
_ORIGINALS: dict[str, Any] = {}


def _supported_version() -> bool:
    import prefect

    try:
        version = tuple(int(part) for part in str(prefect.__version__).split(".")[:2])
    except ValueError:
        return False
    return SUPPORTED[0] <= version < SUPPORTED[1]


def _dispatch(task: Any, task_run: Any, state: Any) -> None:
    from flowtrail.integrations.prefect.hooks import (
        flowtrail_task_completed,
        flowtrail_task_failed,
        flowtrail_task_running,
        has_task_hooks,
    )

    if task_run is None or state is None or has_task_hooks(task):
        return
    if state.is_running():
        flowtrail_task_running(task, task_run, state)
    elif state.is_completed():
        flowtrail_task_completed(task, task_run, state)
    elif state.is_failed():
        flowtrail_task_failed(task, task_run, state)


def capture_all_tasks(enable: bool = True) -> bool:
    """Record tasks without flowtrail hooks too (inside tracked flow runs); True when active.

    ``capture_all_tasks(False)`` restores Prefect's engines.
    """
    try:
        from prefect import task_engine
    except ImportError:
        return False
    engines = [getattr(task_engine, name, None) for name in ("SyncTaskRunEngine", "AsyncTaskRunEngine")]
    if not enable:
        for engine in engines:
            original = _ORIGINALS.pop(getattr(engine, "__name__", ""), None)
            if engine is not None and original is not None:
                engine.call_hooks = original
        return False
    if not _supported_version() or any(e is None or not hasattr(e, "call_hooks") for e in engines):
        logger.warning("flowtrail: capture_all_tasks() does not support this Prefect version; only tasks "
                       "found in the flow's code are recorded.")  # fmt: skip
        return False
    sync_engine, async_engine = engines
    if sync_engine.__name__ not in _ORIGINALS:
        original_sync = sync_engine.call_hooks

        @functools.wraps(original_sync)
        def call_hooks(self: Any, state: Any = None) -> None:
            original_sync(self, state)
            try:
                _dispatch(self.task, self.task_run, state if state is not None else self.state)
            except Exception:
                pass

        _ORIGINALS[sync_engine.__name__] = original_sync
        sync_engine.call_hooks = call_hooks
    if async_engine.__name__ not in _ORIGINALS:
        original_async = async_engine.call_hooks

        @functools.wraps(original_async)
        async def call_hooks_async(self: Any, state: Any = None) -> None:
            await original_async(self, state)
            try:
                _dispatch(self.task, self.task_run, state if state is not None else self.state)
            except Exception:
                pass

        _ORIGINALS[async_engine.__name__] = original_async
        async_engine.call_hooks = call_hooks_async
    return True
