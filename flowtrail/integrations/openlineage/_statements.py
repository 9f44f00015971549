"""The statements a batch runs, built once (SQLAlchemy then reuses their compiled form), and the
chunking of the values bound to their ``IN`` lists.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import String, bindparam, func, insert, or_, select

from ...core.models import Artifact, LineageEvent, Run, Storage, Transform, run_input

CHUNK = 500  # values per IN (...) list, well below every database's parameter limit

_EVENTS = LineageEvent.__table__
_RUNS = Run.__table__
_ARTIFACTS = Artifact.__table__
_TRANSFORMS = Transform.__table__
_STORAGES = Storage.__table__


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _in(column: Any) -> Any:
    return column.in_(bindparam("values", expanding=True))


_VERSION_COLUMNS = tuple(
    _ARTIFACTS.c[name] for name in ("id", "uid", "version", "is_latest", "hash", "hash_type", "run_id", "storage_id", "key")
)
_RUN_COLUMNS = tuple(
    _RUNS.c[name] for name in ("id", "uid", "transform_id", "engine", "engine_version", "error", "parent_id", "started_at")
)
_SELECT_STORAGES = select(_STORAGES.c.id, _STORAGES.c.root)
_SELECT_STORED = select(_EVENTS.c.hash).where(_in(_EVENTS.c.hash))
_SELECT_RUN_EVENTS = select(_EVENTS.c.run_uid, _EVENTS.c.hash).where(_in(_EVENTS.c.run_uid), _EVENTS.c.kind == "run")
_SELECT_PAYLOADS = select(_EVENTS.c.hash, _EVENTS.c.payload).where(_in(_EVENTS.c.hash))
_SELECT_JOBS = (
    select(_TRANSFORMS.c.id, _TRANSFORMS.c.namespace, _TRANSFORMS.c.key, _TRANSFORMS.c.type, _TRANSFORMS.c.facets)
    .where(_in(_TRANSFORMS.c.key), _TRANSFORMS.c.is_latest.is_(True))
    .order_by(_TRANSFORMS.c.id)
)
_SELECT_RUNS = select(*_RUN_COLUMNS).where(_in(_RUNS.c.uid))
_SELECT_MADE_BY = select(*_VERSION_COLUMNS).where(_in(_ARTIFACTS.c.run_id))
_SELECT_FACETS = select(_ARTIFACTS.c.id, _ARTIFACTS.c.facets).where(_in(_ARTIFACTS.c.id))
_SELECT_LINKS = select(run_input.c.run_id, run_input.c.artifact_id).where(_in(run_input.c.run_id))
_SELECT_IDS = {table.name: select(table.c.uid, table.c.id).where(_in(table.c.uid)) for table in (_RUNS, _ARTIFACTS, _TRANSFORMS)}
_INSERTS = {table.name: insert(table) for table in (_EVENTS, _RUNS, _ARTIFACTS, _TRANSFORMS, run_input)}
_INSERT_EVENT_TEXTS = insert(_EVENTS).values(payload=bindparam("payload", type_=String))


def _latest_runs_query() -> Any:
    """The ``:depth`` latest runs (by start time, then id) of each job in ``:values``."""
    order = (_RUNS.c.started_at.desc(), _RUNS.c.uid.desc())
    rank = func.row_number().over(partition_by=_RUNS.c.transform_id, order_by=order).label("rank")
    ranked = (
        select(_RUNS.c.transform_id, _RUNS.c.uid, _RUNS.c.started_at, rank)
        .where(_in(_RUNS.c.transform_id), _RUNS.c.started_at.is_not(None))
        .subquery()
    )
    return select(ranked.c.transform_id, ranked.c.uid, ranked.c.started_at).where(ranked.c.rank <= bindparam("depth"))


def _candidates_query(with_hashes: bool) -> Any:
    """Versions of the datasets ``:values`` in storage ``:storage_id`` that choosing among them can
    pick: first, last, latest, without a run, and (``:hashes``) with a version the batch names."""
    c = _ARTIFACTS.c
    edges = {
        "first": func.min(c.version).over(partition_by=c.key).label("first"),
        "last": func.max(c.version).over(partition_by=c.key).label("last"),
    }
    rows = select(*_VERSION_COLUMNS, *edges.values()).where(c.storage_id == bindparam("storage_id"), _in(c.key)).subquery()
    useful = [
        rows.c.is_latest.is_(True), rows.c.run_id.is_(None),
        rows.c.version == rows.c.first, rows.c.version == rows.c.last,
    ]  # fmt: skip
    if with_hashes:
        useful.append(rows.c.hash.in_(bindparam("hashes", expanding=True)))
    return select(*(rows.c[column.name] for column in _VERSION_COLUMNS)).where(or_(*useful))


_SELECT_LATEST_RUNS = _latest_runs_query()
_SELECT_CANDIDATES = {True: _candidates_query(True), False: _candidates_query(False)}
