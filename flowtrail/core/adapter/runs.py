"""Starting and finishing engine runs, many per transaction, with their inputs and outputs.

An engine adapter starts a task's run with its inputs linked in the same transaction, so the run's
OpenLineage START (sent to the run listeners after the commit) already names them; it finishes
runs with their status, outputs and metrics in one transaction too. Both take a list: an adapter
that has fallen behind (many short tasks) pays one transaction for all of them.

The rows are the ones :func:`flowtrail.core.runs.tracking.start_run` and
:func:`~flowtrail.core.runs.tracking.finish_run` write (both use :func:`~flowtrail.core.runs.tracking.add_run`
and :func:`~flowtrail.core.runs.tracking.end_run`, built on :func:`~flowtrail.core.runs.tracking.run_columns`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm.attributes import set_committed_value

from flowtrail.core.db.database import write_transaction
from flowtrail.core.errors import TrackingError
from flowtrail.core.models.run import OUTPUT_KINDS, Run, insert_input_links, link_outputs
from flowtrail.core.models.transform import Transform, get_or_create_transform, source_hash
from flowtrail.core.runs.reaping import reap_once
from flowtrail.core.runs.tracking import check_placeholder, end_run, notify, run_row

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance
    from flowtrail.core.models.artifact import Artifact

@dataclass
class RunStart:
    """A run to start: its transform (``key``, ``type``, ``source_code``), its fields and its inputs.

    The fields are :func:`flowtrail.core.runs.tracking.start_run`'s. ``inputs`` are saved artifacts the
    run reads; they are linked before the run's start is announced. ``uid``: a uid the task's own
    processes already know (a placeholder with it, made by a script in the task, is filled in).
    """

    key: str
    type: str = "task"
    source_code: str | None = None
    description: str | None = None
    params: dict[str, Any] | None = None
    parent: Run | None = None
    parent_id: int | None = None
    name: str | None = None
    uid: str | None = None
    reference: str | None = None
    transform_reference: str | None = None
    started_at: Any = None
    status: str = "started"
    engine: str | None = None
    engine_version: str | None = None
    project: Any = None
    capture_environment: bool = False
    inputs: Sequence[Artifact] = ()


@dataclass
class RunEnd:
    """How a run ended: its final status and what it left.

    ``outputs``: saved artifacts the run output. Those it produced itself (``artifact.run_id``) need
    nothing more; any other is linked as an output of kind ``output_kind`` (see
    :data:`flowtrail.core.models.run.OUTPUT_KINDS`: ``wrote`` a rerun made identical bytes, ``forwarded``
    a link or pass-through, ``reused`` a skipped task handed on stored outputs). ``params`` and
    ``metrics`` are merged into the run's. ``inputs``: saved artifacts the run read, linked in the
    same transaction, for engines that learn a task's inputs only when it ends (Nextflow stages
    them into the task's folder).
    """

    run: Run
    status: str = "completed"
    error: str | None = None
    metrics: dict[str, Any] | None = None
    finished_at: Any = None
    started_at: Any = None
    params: dict[str, Any] | None = None
    reference: str | None = None
    name: str | None = None
    outputs: Sequence[Artifact] = ()
    output_kind: str = "wrote"
    inputs: Sequence[Artifact] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # the adapter's own notes; not written


def start_runs(instance: Instance, starts: Sequence[RunStart], *, announce: bool = True) -> list[Run]:
    """Start runs with their inputs linked, in one transaction; return them in order.

    The listeners (OpenLineage emission) hear of each run after the commit, inputs included;
    ``announce=False`` leaves that to the caller (:func:`announce`). All or nothing: a failure
    rolls back every run of the call.
    """
    if not starts:
        return []
    reap_once(instance)
    locks = {f"transform:{s.key}" for s in starts} | {f"run:{s.uid}" for s in starts if s.uid}
    # Transforms with source code are looked up once per instance: (key, source) names one version.
    known: dict[tuple[Any, ...], int] = instance.caches.setdefault("adapter_transforms", {})
    found: dict[tuple[Any, ...], int] = {}
    slots: list[Run | int] = []  # a placeholder filled in, or the index of a new row
    rows: list[dict[str, Any]] = []
    row_transforms: list[Any] = []
    with write_transaction(instance.sessions, locks) as session:
        placeholders = _placeholders(session, [s.uid for s in starts if s.uid])
        transforms: dict[tuple[Any, ...], Any] = {}  # one lookup per transform and call
        for start in starts:
            ident = (start.key, start.type, source_hash(start.source_code), start.description, start.transform_reference)
            transform = transforms.get(ident)
            if transform is None and ident in known:
                transform = session.get(Transform, known[ident])
            if transform is None:
                transform = get_or_create_transform(
                    session, start.key, type=start.type, source_code=start.source_code,
                    description=start.description, reference=start.transform_reference,
                )  # fmt: skip
                if start.source_code is not None:
                    found[ident] = transform.id
            transforms[ident] = transform
            if start.transform_reference and transform.reference is None:
                transform.reference = start.transform_reference
            placeholder = placeholders.get(start.uid) if start.uid else None
            check_placeholder(placeholder, start.uid)
            row = run_row(
                session, instance, transform_id=transform.id, params=start.params, parent=start.parent,
                parent_id=start.parent_id, reference=start.reference, name=start.name, uid=start.uid,
                status=start.status, started_at=start.started_at, capture_environment=start.capture_environment,
                engine=start.engine, engine_version=start.engine_version, project=start.project,
            )  # fmt: skip
            if placeholder is not None:  # named first by a process of the task: fill it in
                for name, value in row.items():
                    if value is not None:
                        setattr(placeholder, name, value)
                set_committed_value(placeholder, "transform", transform)
                slots.append(placeholder)
            else:
                slots.append(len(rows))
                rows.append(row)
                row_transforms.append(transform)
        session.flush()
        # New rows in one statement (RETURNING gives the ORM objects, in order): no unit of work per run.
        inserted = list(session.scalars(insert(Run).returning(Run, sort_by_parameter_order=True), rows)) if rows else []
        for run, transform in zip(inserted, row_transforms, strict=True):
            set_committed_value(run, "transform", transform)
        runs = [inserted[slot] if isinstance(slot, int) else slot for slot in slots]
        insert_input_links(session, [(run.id, a) for run, s in zip(runs, starts, strict=True) for a in s.inputs])
    known.update(found)  # committed: safe to reuse
    for run, start in zip(runs, starts, strict=True):
        if start.inputs:
            session.expire(run, ["inputs"])  # the relationship reloads with the new links
    if announce:
        for run in runs:
            notify("start", run)
    return runs


def finish_runs(instance: Instance, ends: Sequence[RunEnd], *, announce: bool = True) -> list[Run]:
    """Finish runs with their status, metrics, input and output links, in one transaction; return them."""
    if not ends:
        return []
    for end in ends:
        if end.output_kind not in OUTPUT_KINDS:
            raise TrackingError(f"Unknown output link kind {end.output_kind!r}: use one of {', '.join(OUTPUT_KINDS)}.")
    with write_transaction(instance.sessions) as session:
        by_kind: dict[str, list[tuple[int, int, int | None]]] = {}
        for end in ends:
            end_run(
                session, end.run, end.status, error=end.error, metrics=end.metrics, finished_at=end.finished_at,
                started_at=end.started_at, params=end.params, reference=end.reference, name=end.name,
            )  # fmt: skip
            links = [(end.run.id, a.id, a.run_id) for a in end.outputs if a.id is not None and a.run_id != end.run.id]
            by_kind.setdefault(end.output_kind, []).extend(links)
        for kind, links in by_kind.items():
            link_outputs(session, links, kind)
        insert_input_links(session, [(end.run.id, a) for end in ends for a in end.inputs])
    for end in ends:
        if end.outputs:
            session.expire(end.run, ["outputs"])
        if end.inputs:
            session.expire(end.run, ["inputs"])
    if announce:
        for end in ends:
            notify("finish", end.run)
    return [end.run for end in ends]


def _placeholders(session: Any, uids: list[str]) -> dict[str, Run]:
    """The runs already registered under ``uids`` (placeholders a task's processes made), by uid."""
    found: dict[str, Run] = {}
    for begin in range(0, len(uids), 500):
        found.update({run.uid: run for run in session.scalars(select(Run).where(Run.uid.in_(uids[begin : begin + 500])))})
    return found


def announce(event: str, runs: Sequence[Run]) -> None:
    """Tell the run listeners (OpenLineage emission) that ``runs`` started (``"start"``) or ended (``"finish"``)."""
    for run in runs:
        notify(event, run)
