"""``tracked_flow``: record a Prefect flow and every task run under it in the flowtrail registry.

::

    from prefect import flow, task
    from flowtrail.integrations.prefect import tracked_flow

    @tracked_flow                 # on top of an existing @flow ...
    @flow
    def etl(src: Path, out: Path): ...

    @tracked_flow(name="etl", retries=1)   # ... or instead of it (keywords go to prefect.flow)
    def etl(src: Path, out: Path): ...

The decorator adds flow hooks (the flow run becomes a ``pipeline`` run) and attaches task hooks to
every task it discovers statically from the flow function (see :mod:`.discovery`); sub-flows it
finds get hooks that record them nested under the tracked parent run. It returns the same
``Flow`` object (or a new one when ``prefect.flow`` options are given for an existing flow).

Known limits (Prefect's, worked around where possible):

- Tasks created inside the flow body, passed in as parameters, or given a new hook list with
  ``with_options(on_completion=[...])`` are invisible to discovery: ``capture_all_tasks()``.
- ``ProcessPoolTaskRunner`` resolves futures in the parent and gives the worker's task run no
  task-input links, so objects passed between tasks there are not linked (paths still are).
- Prefect links task inputs by object identity: small ints, ``True``/``None`` and other interned
  values can look like they came from an unrelated upstream task (harmless: such values never
  become artifacts).
- Task runs that finish after their flow returned (futures nobody waited for) are written in the
  background; ``flowtrail.integrations.prefect.flush()`` waits for them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar, overload

from flowtrail.integrations.prefect.options import DEFAULT_MAX_COPY_BYTES, TrackingOptions

F = TypeVar("F")
MIN_PREFECT = (3, 5)


def _check_prefect() -> None:
    import prefect

    from flowtrail.core.errors import ConfigurationError

    try:
        major, minor = (int(part) for part in str(prefect.__version__).split(".")[:2])
    except ValueError:
        return  # a development build: trust it
    if (major, minor) < MIN_PREFECT or major >= 4:
        raise ConfigurationError(
            f"flowtrail's Prefect adapter needs prefect>=3.5,<4 (task on_running hooks); found {prefect.__version__}. "
            'Install it with pip install "flowtrail[prefect]".'
        )


def attach_discovered(flow: Any) -> tuple[int, int]:
    """Attach task hooks to the tasks ``flow`` can reach, and sub-flow hooks to its sub-flows."""
    from flowtrail.integrations.prefect.discovery import discover
    from flowtrail.integrations.prefect.hooks import attach_subflow, attach_task

    found = discover(flow.fn)
    for task in found.tasks:
        attach_task(task)
    for subflow in found.flows:
        if subflow is not flow:
            attach_subflow(subflow)
    return len(found.tasks), len(found.flows)


@overload
def tracked_flow(__fn: F, /) -> F: ...
@overload
def tracked_flow(
    __fn: None = None,
    /,
    *,
    save_objects: bool = True,
    max_copy_bytes: int = DEFAULT_MAX_COPY_BYTES,
    workdir: str | os.PathLike[str] | bool | None = None,
    discover: bool = True,
    project: str | None = None,
    **flow_kwargs: Any,
) -> Callable[[F], F]: ...


def tracked_flow(
    __fn: Any = None,
    /,
    *,
    save_objects: bool = True,
    max_copy_bytes: int = DEFAULT_MAX_COPY_BYTES,
    workdir: str | os.PathLike[str] | bool | None = None,
    discover: bool = True,
    project: str | None = None,
    **flow_kwargs: Any,
) -> Any:
    """Record every run of a Prefect flow, and every task run under it, in the flowtrail registry.

    Use it on top of ``@flow`` or instead of it; other keyword arguments are passed to
    ``prefect.flow`` (for a function) or ``Flow.with_options`` (for an existing flow).

    - ``save_objects``: save DataFrame/AnnData return values of tasks as artifacts.
    - ``max_copy_bytes``: the largest object serialised, and the largest file outside every
      registered storage location copied into managed storage (default 100 MiB).
    - ``workdir``: folder registered as a storage location when the flow starts, so files in it
      are registered in place (default: the working directory; ``False``: none).
    - ``discover``: attach hooks to the tasks and sub-flows found in the flow's code (default).
    - ``project``: the flowtrail project of the flow run and every task run (created if new);
      their outputs are linked to it. Default: the enclosing run's project, else ``FLOWTRAIL_PROJECT``.

    Runs of the flow outside a flowtrail instance are not recorded (one warning); the flow itself
    is never affected by anything flowtrail does.
    """
    if project is not None and (not isinstance(project, str) or not project.strip()):
        raise ValueError(f"tracked_flow(project=...) takes a non-empty project name, not {project!r}.")
    options = TrackingOptions(
        project=project.strip() if project else None,
        save_objects=save_objects,
        max_copy_bytes=int(max_copy_bytes),
        workdir=workdir if isinstance(workdir, bool) or workdir is None else os.path.abspath(os.fspath(workdir)),
    )

    def decorate(target: Any) -> Any:
        _check_prefect()
        from prefect import Flow, flow

        from flowtrail.integrations.prefect.hooks import attach_flow, install_log_filter

        if isinstance(target, Flow):
            result = target.with_options(**flow_kwargs) if flow_kwargs else target
        elif callable(target):
            result = flow(**flow_kwargs)(target) if flow_kwargs else flow(target)
        else:
            raise TypeError(f"tracked_flow expects a function or a prefect Flow, got {type(target).__name__}.")
        install_log_filter()
        attach_flow(result, options, discover)
        if discover:
            attach_discovered(result)
        return result

    if __fn is not None:
        return decorate(__fn)
    return decorate


def flush(timeout: float = 300.0) -> bool:
    """Wait until every task run recorded so far in this process is written; False on timeout.

    Flows flush on their own when they end; this is for task runs that finish after their flow
    (futures nobody waited for).
    """
    from flowtrail.integrations.prefect.writer import get_writer

    return get_writer().flush(timeout)
