"""The statements a batch runs, built once (SQLAlchemy then reuses their compiled form) on the
registry's models; their ``IN`` lists are bound chunk by chunk (:func:`flowtrail.core.adapter.bulk.select_in`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, bindparam, func, insert, or_, select

from flowtrail.core.adapter.bulk import in_values
from flowtrail.core.models import Artifact, LineageEvent, Run, Storage, Transform

__all__ = [
    "INSERT_EVENT_TEXTS",
    "INSERT_EVENTS",
    "SELECT_CANDIDATES",
    "SELECT_FACETS",
    "SELECT_JOBS",
    "SELECT_LATEST_RUNS",
    "SELECT_MADE_BY",
    "SELECT_PAYLOADS",
    "SELECT_RUNS",
    "SELECT_RUN_EVENTS",
    "SELECT_STORAGES",
    "SELECT_STORED",
]

VERSION_COLUMNS = (
    Artifact.id, Artifact.uid, Artifact.version, Artifact.is_latest, Artifact.hash, Artifact.hash_type,
    Artifact.run_id, Artifact.storage_id, Artifact.key,
)  # fmt: skip
RUN_COLUMNS = (Run.id, Run.uid, Run.transform_id, Run.engine, Run.engine_version, Run.error, Run.parent_id, Run.started_at)

SELECT_STORAGES = select(Storage.id, Storage.root)
SELECT_STORED = select(LineageEvent.hash).where(in_values(LineageEvent.hash))
SELECT_RUN_EVENTS = select(LineageEvent.run_uid, LineageEvent.hash).where(
    in_values(LineageEvent.run_uid), LineageEvent.kind == "run"
)
SELECT_PAYLOADS = select(LineageEvent.hash, LineageEvent.payload).where(in_values(LineageEvent.hash))
SELECT_JOBS = (
    select(Transform.id, Transform.namespace, Transform.key, Transform.type, Transform.facets)
    .where(in_values(Transform.key), Transform.is_latest.is_(True))
    .order_by(Transform.id)
)
SELECT_RUNS = select(*RUN_COLUMNS).where(in_values(Run.uid))
SELECT_MADE_BY = select(*VERSION_COLUMNS).where(in_values(Artifact.run_id))
SELECT_FACETS = select(Artifact.id, Artifact.facets).where(in_values(Artifact.id))
INSERT_EVENTS = insert(LineageEvent)
# SQLite keeps JSON as text: the event's text as received goes in as it is.
INSERT_EVENT_TEXTS = insert(LineageEvent).values(payload=bindparam("payload", type_=String))


def _latest_runs_query() -> Any:
    """The ``:depth`` latest runs (by start time, then id) of each job in ``:values``."""
    rank = func.row_number().over(partition_by=Run.transform_id, order_by=(Run.started_at.desc(), Run.uid.desc()))
    ranked = (
        select(Run.transform_id, Run.uid, Run.started_at, rank.label("rank"))
        .where(in_values(Run.transform_id), Run.started_at.is_not(None))
        .subquery()
    )
    return select(ranked.c.transform_id, ranked.c.uid, ranked.c.started_at).where(ranked.c.rank <= bindparam("depth"))


def _candidates_query(with_hashes: bool) -> Any:
    """Versions of the datasets ``:values`` in storage ``:storage_id`` that choosing among them can
    pick: first, last, latest, without a run, and (``:hashes``) with a version the batch names."""
    edges = (
        func.min(Artifact.version).over(partition_by=Artifact.key).label("first"),
        func.max(Artifact.version).over(partition_by=Artifact.key).label("last"),
    )
    family = Artifact.storage_id == bindparam("storage_id")
    rows = select(*VERSION_COLUMNS, *edges).where(family, in_values(Artifact.key)).subquery()
    useful = [
        rows.c.is_latest.is_(True), rows.c.run_id.is_(None),
        rows.c.version == rows.c.first, rows.c.version == rows.c.last,
    ]  # fmt: skip
    if with_hashes:
        useful.append(rows.c.hash.in_(bindparam("hashes", expanding=True)))
    return select(*(rows.c[column.key] for column in VERSION_COLUMNS)).where(or_(*useful))


SELECT_LATEST_RUNS = _latest_runs_query()
SELECT_CANDIDATES = {True: _candidates_query(True), False: _candidates_query(False)}
