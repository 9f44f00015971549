"""Run tracking for scripts, notebooks and functions; the same calls the engine adapters use.

``track()``/``finish()`` wrap a script or notebook, ``@tracked()`` wraps each call of a function.
Artifacts loaded inside a run become its inputs, artifacts saved inside it its outputs. An
exception escaping a tracked function (or a tracked script) marks the run failed and re-raises.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import platform
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from flowtrail.core.db.context import current
from flowtrail.core.db.database import write_transaction
from flowtrail.core.errors import TrackingError
from flowtrail.core.models import Run
from flowtrail.core.models.environment import get_or_create_environment
from flowtrail.core.models.record import utcnow
from flowtrail.core.models.run import FINAL_STATUSES, set_status
from flowtrail.core.models.transform import get_or_create_transform
from flowtrail.core.runs.projects import run_project_id
from flowtrail.core.runs.reaping import reap_once
from flowtrail.core.util.host import current_environment, current_user
from flowtrail.core.util.ids import uuid7
from flowtrail.core.util.params import jsonable
from flowtrail.core.util.processes import this_host

_run_var: contextvars.ContextVar[Run | None] = contextvars.ContextVar("flowtrail_run", default=None)
RunListener = Callable[[str, Run], None]
_listeners: list[RunListener] = []

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance


def current_run() -> Run | None:
    """The innermost tracked run of this context, the script's run from ``track()``, or else the run
    this code works inside (an engine's task run: see :mod:`.run_context`)."""
    from flowtrail.core.runs.script import script_run

    run = _run_var.get() or script_run()
    if run is not None:
        return run
    from flowtrail.core.runs.context import context_run

    return context_run()


@contextlib.contextmanager
def as_current(run: Run) -> Iterator[Run]:
    """Make ``run`` the current run inside the block: runs started there get it as their parent."""
    token = _run_var.set(run)
    try:
        yield run
    finally:
        _run_var.reset(token)


def add_run_listener(listener: RunListener) -> None:
    """Call ``listener(event, run)`` with event ``"start"`` or ``"finish"`` for every run."""
    _listeners.append(listener)


def remove_run_listener(listener: RunListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def has_run_listeners() -> bool:
    """Whether anything (e.g. OpenLineage emission) listens to run starts and finishes."""
    return bool(_listeners)


def notify(event: str, run: Run) -> None:
    """Tell the run listeners that ``run`` started (``"start"``) or finished (``"finish"``).

    For engines that write runs in bulk themselves; start_run/finish_run call it already.
    """
    _notify(event, run)


def _notify(event: str, run: Run) -> None:
    for listener in list(_listeners):
        try:
            listener(event, run)
        except Exception:  # a listener must never break the user's run
            import logging

            logging.getLogger("flowtrail").exception("run listener %r failed on %s", listener, event)


def _environment_id(instance: Instance, session: Any) -> int | None:
    # Cached on the instance itself: a dict keyed by id(instance) could hand a later instance that
    # reuses the address an environment id from another registry.
    cached = instance.caches.get("environment_id")
    if cached is not None:
        return cached
    digest, description = current_environment(instance.config.cache_dir)
    environment = get_or_create_environment(session, digest, description)
    instance.caches["environment_id"] = environment.id
    return environment.id


def run_columns(
    *,
    transform_id: int,
    name: str | None = None,
    params: dict[str, Any] | None = None,
    status: str = "started",
    started_at: Any = None,
    parent_id: int | None = None,
    reference: str | None = None,
    environment_id: int | None = None,
    engine: str | None = "python",
    engine_version: str | None = None,
    project_id: int | None = None,
) -> dict[str, Any]:
    """The columns of a new run row (all but ``uid``), the one rule for every writer of runs.

    :func:`start_run` sets them on an ORM ``Run``; :mod:`flowtrail.core.adapter` uses them for many
    runs in one transaction, and bulk writers insert them as rows. Params are made JSON-safe, the
    start time defaults to now, a Python run gets the interpreter's version, and the row names the
    user, host and process that recorded it (so a run whose process died can be found and ended).
    """
    return dict(
        name=name,
        transform_id=transform_id,
        params=jsonable(params) if params else None,
        status=status,
        started_at=started_at or utcnow(),
        parent_id=parent_id,
        reference=reference,
        environment_id=environment_id,
        engine=engine,
        engine_version=engine_version or (platform.python_version() if engine == "python" else None),
        created_by=current_user(),
        project_id=project_id,
        pid=os.getpid(),
        host=this_host(),
    )


_LOOK_UP: Any = object()


def check_placeholder(placeholder: Run | None, uid: str | None) -> None:
    """Refuse to start a run under a uid whose run an engine already started or that ended."""
    if placeholder is not None and (placeholder.engine is not None or placeholder.finished_at is not None):
        raise TrackingError(f"Run {uid} is already registered ({placeholder.status}); start a new run with a new uid.")


def run_row(
    session: Any,
    instance: Instance,
    *,
    transform_id: int,
    params: dict[str, Any] | None = None,
    parent: Run | None = None,
    parent_id: int | None = None,
    reference: str | None = None,
    name: str | None = None,
    uid: str | None = None,
    status: str = "started",
    started_at: Any = None,
    capture_environment: bool = True,
    engine: str | None = "python",
    engine_version: str | None = None,
    project: Any = None,
) -> dict[str, Any]:
    """Inside a write transaction: the full row of a new run (uid included), from :func:`run_columns`.

    Resolves what needs the database: the project (its own, else the parent's) and the environment.
    """
    parent_row = parent.id if parent is not None else parent_id
    columns = run_columns(
        transform_id=transform_id,
        name=name,
        params=params,
        status=status,
        started_at=started_at,
        parent_id=parent_row,
        reference=reference,
        environment_id=_environment_id(instance, session) if capture_environment else None,
        engine=engine,
        engine_version=engine_version,
        project_id=run_project_id(session, project, parent_row, parent),
    )
    return {"uid": uid or str(uuid7()), **columns}


def add_run(
    session: Any,
    instance: Instance,
    key: str,
    *,
    type: str = "script",  # noqa: A002
    source_code: str | None = None,
    description: str | None = None,
    params: dict[str, Any] | None = None,
    parent: Run | None = None,
    parent_id: int | None = None,
    reference: str | None = None,
    name: str | None = None,
    uid: str | None = None,
    status: str = "started",
    started_at: Any = None,
    capture_environment: bool = True,
    engine: str | None = "python",
    engine_version: str | None = None,
    transform_reference: str | None = None,
    project: Any = None,
    transform: Any = None,
    placeholder: Any = _LOOK_UP,
) -> Run:
    """Inside a write transaction: register the transform (or reuse it) and add a new run of it.

    The arguments are :func:`start_run`'s; ``transform`` skips the transform lookup (a batch that
    starts many runs of one transform). A placeholder with ``uid`` (a child process named the run
    first) is filled in rather than inserted twice; ``placeholder`` gives it (or None) when the
    caller looked it up already. The caller flushes and notifies listeners.
    """
    if transform is None:
        transform = get_or_create_transform(
            session, key, type=type, source_code=source_code, description=description, reference=transform_reference
        )
    if transform_reference and transform.reference is None:
        transform.reference = transform_reference
    if placeholder is _LOOK_UP:
        placeholder = session.scalar(select(Run).where(Run.uid == uid)) if uid else None
    check_placeholder(placeholder, uid)
    run_fields = run_row(
        session, instance, transform_id=transform.id, params=params, parent=parent, parent_id=parent_id,
        reference=reference, name=name, uid=uid, status=status, started_at=started_at,
        capture_environment=capture_environment, engine=engine, engine_version=engine_version, project=project,
    )  # fmt: skip
    run = placeholder or Run(uid=run_fields["uid"])
    for field_name, value in run_fields.items():
        if value is not None or placeholder is None:
            setattr(run, field_name, value)
    session.add(run)
    run.transform = transform
    return run


def start_run(
    key: str,
    *,
    type: str = "script",  # noqa: A002
    source_code: str | None = None,
    description: str | None = None,
    params: dict[str, Any] | None = None,
    parent: Run | None = None,
    parent_id: int | None = None,
    reference: str | None = None,
    name: str | None = None,
    uid: str | None = None,
    status: str = "started",
    started_at: Any = None,
    capture_environment: bool = True,
    engine: str | None = "python",
    engine_version: str | None = None,
    transform_reference: str | None = None,
    project: Any = None,
    instance: Instance | None = None,
) -> Run:
    """Register a transform (or reuse it) and start a run of it, in one transaction.

    ``transform_reference`` says where the transform's code lives (a URL, ``repo@revision``).
    ``project`` (a name or a Project, created if new) groups the run and its outputs; without
    one, a run with a parent inherits the parent's project.
    """
    inst = instance or current()
    reap_once(inst)
    locks = [f"transform:{key}"] + ([f"run:{uid}"] if uid else [])
    with write_transaction(inst.sessions, locks) as session:
        run = add_run(
            session, inst, key, type=type, source_code=source_code, description=description, params=params,
            parent=parent, parent_id=parent_id, reference=reference, name=name, uid=uid, status=status,
            started_at=started_at, capture_environment=capture_environment, engine=engine,
            engine_version=engine_version, transform_reference=transform_reference, project=project,
        )  # fmt: skip
        session.flush()
    _notify("start", run)
    return run


def finish_run(
    run: Run,
    status: str = "completed",
    *,
    error: str | None = None,
    metrics: dict[str, Any] | None = None,
    finished_at: Any = None,
    started_at: Any = None,
    params: dict[str, Any] | None = None,
    reference: str | None = None,
    name: str | None = None,
    instance: Instance | None = None,
) -> Run:
    """Set a run's final status (completed, failed, aborted or cached), times and metrics.

    Engines that learn more at the end (true start time, params, the engine's id) pass it here;
    ``params`` are merged into those given at start.
    """
    if status not in FINAL_STATUSES:
        raise TrackingError(f"{status!r} is not a final status: use one of {', '.join(FINAL_STATUSES)}.")
    inst = instance or current()
    with write_transaction(inst.sessions) as session:
        end_run(
            session, run, status, error=error, metrics=metrics, finished_at=finished_at, started_at=started_at,
            params=params, reference=reference, name=name,
        )  # fmt: skip
    _notify("finish", run)
    return run


def end_run(
    session: Any,
    run: Run,
    status: str = "completed",
    *,
    error: str | None = None,
    metrics: dict[str, Any] | None = None,
    finished_at: Any = None,
    started_at: Any = None,
    params: dict[str, Any] | None = None,
    reference: str | None = None,
    name: str | None = None,
) -> None:
    """Inside a write transaction: :func:`finish_run`'s changes to ``run`` (the caller notifies listeners)."""
    if status not in FINAL_STATUSES:
        raise TrackingError(f"{status!r} is not a final status: use one of {', '.join(FINAL_STATUSES)}.")
    session.add(run)
    if finished_at is not None:
        run.finished_at = finished_at
    if started_at is not None:
        run.started_at = started_at
    if params:
        run.params = {**(run.params or {}), **jsonable(params)}
    if reference is not None:
        run.reference = reference
    if name is not None:
        run.name = name
    set_status(session, run, status, error)
    if metrics:
        run.metrics = {**(run.metrics or {}), **jsonable(metrics)}


from flowtrail.core.runs.script import finish, track  # noqa: E402 - re-exported: the script-level API lives in script.py

__all__ = [
    "add_run", "add_run_listener", "as_current", "check_placeholder", "current_run", "end_run", "finish", "finish_run",
    "has_run_listeners", "notify", "run_columns", "run_row", "start_run", "track",
]  # fmt: skip
