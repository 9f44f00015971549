"""The run a piece of code runs inside when it is not a tracked run itself: the run context.

Engines start scripts and programs inside their tasks. Those processes learn their task's run the
way the OpenLineage ecosystem passes it on (dbt-ol, openlineage-spark and Airflow read the same
variables):

- ``OPENLINEAGE_PARENT_ID``: ``namespace/job/runId`` of the run this process works for;
- ``OPENLINEAGE_ROOT_PARENT_ID``: the same for the outermost run (e.g. the workflow run).

Inside one process an adapter can plug in a provider instead (Prefect runs tasks in threads of the
flow's process, where one environment cannot name each task's run). The core never imports an
engine: adapters register providers with :func:`add_context_provider`.

A run named only by these variables may not be in the registry yet (the engine records its task
asynchronously): it is then created as a placeholder with that uid, which the engine's own
``start_run(uid=...)`` later fills in.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowtrail.core.errors import TrackingError

if TYPE_CHECKING:
    from flowtrail.core.db.config import InstanceConfig
    from flowtrail.core.instance import Instance
    from flowtrail.core.models.run import Run

PARENT_ID_ENV = "OPENLINEAGE_PARENT_ID"
ROOT_PARENT_ID_ENV = "OPENLINEAGE_ROOT_PARENT_ID"

ContextProvider = Callable[[], "Run | None"]
_providers: list[ContextProvider] = []
_warned: set[str] = set()
logger = logging.getLogger("flowtrail")


@dataclass(frozen=True)
class RunRef:
    """A run as OpenLineage names it across processes: job namespace, job name and run id."""

    namespace: str
    job: str
    run_id: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.job}/{self.run_id}"

    @classmethod
    def parse(cls, text: str, variable: str = PARENT_ID_ENV) -> RunRef:
        """Read ``namespace/job/runId``; the job name may hold slashes, the namespace may not."""
        import uuid

        namespace, _, rest = text.strip().partition("/")
        job, _, run_id = rest.rpartition("/")
        try:
            uuid.UUID(run_id)
        except ValueError:
            run_id = ""
        if not namespace or not job or not run_id:
            raise TrackingError(
                f"{variable}={text!r} is not 'namespace/job/runId' with a UUID run id (e.g. "
                f"'my-namespace/workflow/rule/0190e9c4-...'). Fix or unset {variable}."
            )
        return cls(namespace, job, run_id)


def environment_parent(*, strict: bool = False) -> tuple[RunRef, RunRef | None] | None:
    """The parent run (and root run) the environment names, or None.

    A malformed value raises :class:`TrackingError` with ``strict`` (``track()``), otherwise it is
    logged once and ignored (loading or saving never fails over it).
    """
    text = os.environ.get(PARENT_ID_ENV, "").strip()
    if not text:
        return None
    try:
        parent = RunRef.parse(text, PARENT_ID_ENV)
        root_text = os.environ.get(ROOT_PARENT_ID_ENV, "").strip()
        root = RunRef.parse(root_text, ROOT_PARENT_ID_ENV) if root_text else None
    except TrackingError as exc:
        if strict:
            raise
        if str(exc) not in _warned:
            _warned.add(str(exc))
            logger.warning("%s Runs of this process are not nested under it.", exc)
        return None
    return parent, root


def child_environment(parent: RunRef, root: RunRef | None = None) -> dict[str, str]:
    """The variables that make a child process (a script, dbt, Spark) work inside ``parent``."""
    return {PARENT_ID_ENV: str(parent), ROOT_PARENT_ID_ENV: str(root or parent)}


def add_context_provider(provider: ContextProvider) -> None:
    """Let an adapter say which run the current code runs inside (called on every lookup: keep it cheap)."""
    if provider not in _providers:
        _providers.append(provider)


def remove_context_provider(provider: ContextProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def context_run(instance: Instance | None = None) -> Run | None:
    """The run this code works inside: an adapter's in-process run, else the one the environment names."""
    for provider in list(_providers):
        try:
            run = provider()
        except Exception:  # an adapter's lookup must never break a load or a save
            logger.exception("flowtrail run context provider %r failed", provider)
            continue
        if run is not None:
            return run
    named = environment_parent()
    if named is None:
        return None
    from flowtrail.core.db.context import current

    return resolve_run(instance or current(), *named)


def own_namespace(instance: Instance) -> str:
    """The OpenLineage job namespace of this instance's own runs."""
    return config_namespace(instance.config)


def config_namespace(config: InstanceConfig) -> str:
    """:func:`own_namespace` of the instance ``config`` describes, without connecting to it."""
    from flowtrail.core.db.config import instance_name

    return os.environ.get("FLOWTRAIL_OPENLINEAGE_NAMESPACE") or instance_name(config)


def resolve_run(instance: Instance, ref: RunRef, root: RunRef | None = None) -> Run:
    """The run ``ref`` names, created as a placeholder (status started) when not registered yet."""
    cache: dict[str, Run] = instance.caches.setdefault("context_runs", {})
    found = cache.get(ref.run_id)
    if found is not None:
        return found
    from flowtrail.core.db.database import write_transaction
    from flowtrail.core.models.run import Run

    own = ref.namespace == own_namespace(instance)
    found = _wait_for_run(instance, ref.run_id) if own else None
    if found is not None:
        cache[ref.run_id] = found
        return found
    root_id = None
    if root is not None and root.run_id != ref.run_id:
        root_id = resolve_run(instance, root).id
    with write_transaction(instance.sessions, [f"run:{ref.run_id}"]) as session:
        from sqlalchemy import select

        run = session.scalar(select(Run).where(Run.uid == ref.run_id))
        if run is None:
            from flowtrail.core.models.record import utcnow

            transform = _placeholder_transform(session, instance, ref)
            run = Run(uid=ref.run_id, transform_id=transform.id, status="started", started_at=utcnow(), parent_id=root_id)
            session.add(run)
            session.flush()
            run.transform = transform
    cache[ref.run_id] = run
    return run


def _wait_for_run(instance: Instance, uid: str) -> Run | None:
    """Wait briefly for an engine adapter to record the run it named (it records asynchronously).

    The adapter registers the task's working folder and inputs before its run, so once the run is
    there, files the script saves in that folder are registered in place and its loads find their
    records. Waits at most ``FLOWTRAIL_PARENT_WAIT`` seconds (default 15); then a placeholder is made.
    """
    import time

    from sqlalchemy import select

    from flowtrail.core.models.run import Run

    try:
        patience = float(os.environ.get("FLOWTRAIL_PARENT_WAIT", "15"))
    except ValueError:
        patience = 15.0
    deadline = time.monotonic() + patience
    while True:
        session = instance.sessions.current()
        try:
            run = session.scalar(select(Run).where(Run.uid == uid))
        finally:
            instance.sessions.end_read()
        if run is not None or time.monotonic() >= deadline:
            return run
        time.sleep(0.1)


def _placeholder_transform(session: Any, instance: Instance, ref: RunRef) -> Any:
    from sqlalchemy import select

    from flowtrail.core.models.transform import Transform, get_or_create_transform

    if ref.namespace == own_namespace(instance):
        return get_or_create_transform(session, ref.job, type="job")
    found = session.scalar(
        select(Transform).where(Transform.namespace == ref.namespace, Transform.key == ref.job, Transform.is_latest)
    )
    if found is not None:
        return found
    from flowtrail.core.util.host import current_user
    from flowtrail.core.util.ids import new_stem, versioned_uid

    transform = Transform(
        uid=versioned_uid(new_stem(), 1), namespace=ref.namespace, key=ref.job, version=1, is_latest=True,
        type="job", created_by=current_user(),
    )  # fmt: skip
    session.add(transform)
    session.flush()
    return transform
