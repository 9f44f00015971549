"""Prefect adapter: ``@tracked_flow`` records a flow run and every task run under it.

::

    from prefect import flow, task
    from flowtrail.integrations.prefect import tracked_flow

    @tracked_flow
    @flow
    def etl(src: Path, out: Path): ...

Records, per flow run, a ``pipeline`` transform and run (Prefect's flow run id is the run's uid
and reference; sub-flows nest under their parent) and, per task run, a ``task`` transform and a
run with safely summarised parameters, retries, ``cached`` for cache hits and the error on
failure. Unchanged path parameters become inputs; created or modified path parameters, returned
paths and returned DataFrames/AnnData become outputs; objects passed to a downstream task are
linked as its inputs through Prefect's task-input links. OpenLineage events follow from the
registry like for every other run, with Prefect's run ids as run ids.

Prefect is imported only when one of these names is used. Modules: :mod:`.decorator`
(``tracked_flow``, ``flush``), :mod:`.hooks` (attaching :mod:`.flow_hooks` and :mod:`.task_hooks`;
:mod:`.tracked_runs`, :mod:`.hook_logging`), :mod:`.discovery`, :mod:`.writer` (the queue and
thread; :mod:`.task_run_rows`, :mod:`.task_run_artifacts`, :mod:`.flow_run_rows`,
:mod:`.registry_lookups`), :mod:`.records`, :mod:`.values`,
:mod:`.capture` (``capture_all_tasks``), :mod:`.options`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowtrail.integrations.prefect.capture import capture_all_tasks
    from flowtrail.integrations.prefect.decorator import flush, tracked_flow
    from flowtrail.integrations.prefect.options import TrackingOptions

_EXPORTS = {
    "tracked_flow": ".decorator",
    "flush": ".decorator",
    "capture_all_tasks": ".capture",
    "TrackingOptions": ".options",
}
__all__ = ["TrackingOptions", "capture_all_tasks", "flush", "tracked_flow"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
