"""Writing many rows at once past the ORM, for adapters whose throughput needs it.

The ORM writes one record at a time with its unit of work; an adapter storing thousands of runs,
dataset versions and input links per transaction writes them here instead: one ``executemany``
per kind of row, and one ``IN`` query per chunk of values to read ids back. The registry's rules
are not re-stated here: new versions get their uid and number from :mod:`flowtrail.core.util.versioning`,
run rows their columns from :func:`flowtrail.core.runs.tracking.run_columns`, and input links are
written by :func:`flowtrail.core.models.run.insert_input_links` (the one writer of ``run_input``); both
are re-exported here so a bulk writer finds its tools in one place.

On SQLite, a statement is compiled once per set of columns, each value goes through its column
type's bind processing here, and the driver's ``executemany`` gets plain tuples: SQLAlchemy's
per-row execution machinery costs more than SQLite's own work for such small rows. Other
databases take SQLAlchemy's usual ``executemany`` path.

Every function runs inside the caller's write transaction (``session``) and commits nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from flowtrail.core.models.artifact import Artifact, _suffix
from flowtrail.core.models.record import utcnow
from flowtrail.core.models.run import insert_input_links
from flowtrail.core.runs.tracking import run_columns

__all__ = [
    "CHUNK",
    "chunks",
    "executemany",
    "in_values",
    "insert_input_links",
    "insert_many",
    "insert_versions",
    "insert_with_ids",
    "now",
    "run_columns",
    "select_in",
    "update_by_id",
]

CHUNK = 500  # values per IN (...) list, well below every database's parameter limit


def now() -> dt.datetime:
    """The time stamp rows written now carry (``created_at``), as the ORM would set it."""
    return utcnow()


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """``values`` in slices of at most ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def in_values(column: Any) -> Any:
    """``column IN (:values)``: the clause :func:`select_in` binds each chunk of values to."""
    return column.in_(bindparam("values", expanding=True))


def select_in(connection: Connection | Session, statement: Any, values: Iterable[Any], **params: Any) -> list[Any]:
    """Rows of ``statement`` (built with :func:`in_values`) for ``values``, queried in chunks."""
    rows: list[Any] = []
    values = list(values)
    for chunk in chunks(values):
        rows += connection.execute(statement, {"values": list(chunk), **params}).all()
    return rows


def _table(target: Any) -> Table:
    return target if isinstance(target, Table) else target.__table__


_PREPARED: dict[tuple[Any, str, tuple[str, ...]], tuple[str, Any, list[tuple[int, Any]]]] = {}


def executemany(session: Session, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Execute ``statement`` once per row; rows are dicts with the same keys (bound by name)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "sqlite":
        session.execute(statement, rows)
        return
    keys = tuple(rows[0])
    prepared = _PREPARED.get((statement, dialect.name, keys))
    if prepared is None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup or ())
        processors = [compiled.binds[bind].type.dialect_impl(dialect).bind_processor(dialect) for bind in order]
        values = itemgetter(*order) if len(order) > 1 else lambda row: (row[order[0]],)
        steps = [(i, p) for i, p in enumerate(processors) if p is not None]
        prepared = _PREPARED[(statement, dialect.name, keys)] = (compiled.string, values, steps)
    sql, values, steps = prepared
    if not steps:
        connection.exec_driver_sql(sql, [values(row) for row in rows])
        return
    params = []
    for row in rows:
        line = list(values(row))
        for i, process in steps:  # only the columns whose type converts (JSON, dates)
            line[i] = process(line[i])
        params.append(tuple(line))
    connection.exec_driver_sql(sql, params)


_INSERTS: dict[str, Any] = {}
_UPDATES: dict[tuple[str, tuple[str, ...]], Any] = {}
_SELECT_IDS: dict[str, Any] = {}


def _insert(table: Table) -> Any:
    statement = _INSERTS.get(table.name)
    if statement is None:
        statement = _INSERTS[table.name] = insert(table)
    return statement


def _with_created_at(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Column defaults computed in Python do not run past the ORM: set the one every table has.
    if rows and "created_at" in table.c and "created_at" not in rows[0]:
        moment = now()
        return [{**row, "created_at": moment} for row in rows]
    return rows


def insert_many(session: Session, target: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows (dicts with the same keys) into a model's table; ``created_at`` is set if absent."""
    table = _table(target)
    executemany(session, _insert(table), _with_created_at(table, rows))


def insert_with_ids(session: Session, target: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows (each with a unique ``uid``) into a model's table; return their ids in order."""
    table = _table(target)
    insert_many(session, table, rows)
    statement = _SELECT_IDS.get(table.name)
    if statement is None:
        statement = _SELECT_IDS[table.name] = select(table.c.uid, table.c.id).where(in_values(table.c.uid))
    ids = dict(select_in(session.connection(), statement, [row["uid"] for row in rows]))
    return [ids[row["uid"]] for row in rows]


def update_by_id(session: Session, target: Any, rows: list[dict[str, Any]]) -> None:
    """``UPDATE table SET ... WHERE id = :_id`` for rows with the same keys (``_id`` among them)."""
    if not rows:
        return
    table = _table(target)
    keys = tuple(rows[0])
    statement = _UPDATES.get((table.name, keys))
    if statement is None:
        columns: dict[str, Any] = {key: bindparam(key) for key in keys if key != "_id"}
        statement = _UPDATES[(table.name, keys)] = update(table).where(table.c.id == bindparam("_id")).values(columns)
    executemany(session, statement, rows)


def insert_versions(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert new versions of artifacts registered where they are (not managed); return their ids.

    Each row holds ``uid``, ``version`` and ``is_latest`` (from :mod:`flowtrail.core.util.versioning`),
    ``key``, ``storage_id``, ``kind`` and any other column; the path is the key, the suffix is
    derived from it as a save derives it.
    """
    full = [{"suffix": _suffix(row["key"].rsplit("/", 1)[-1]), "path": row["key"], "is_managed": False, **row} for row in rows]
    return insert_with_ids(session, Artifact, full)
