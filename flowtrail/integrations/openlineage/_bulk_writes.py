"""Writing many rows at once past the ORM: ``executemany`` of inserts and of updates by id, and
inserts that hand back the new rows' ids.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from ._statements import _INSERTS, _SELECT_IDS, _chunks

_STATEMENTS: dict[tuple[str, str, tuple[str, ...]], tuple[str, tuple[str, ...], list[Any]]] = {}


def _executemany(session: Session, name: str, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Execute ``statement`` once per row (dicts with the same keys); ``name`` identifies it.

    On SQLite the statement is compiled once, each value goes through its column type's bind
    processing here, and the driver's ``executemany`` gets the rows as tuples: SQLAlchemy's
    per-row execution machinery would cost more than SQLite's work for these small rows.
    Other databases take SQLAlchemy's usual path.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "sqlite":
        session.execute(statement, rows)
        return
    keys = tuple(rows[0])
    prepared = _STATEMENTS.get((name, dialect.name, keys))
    if prepared is None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup or ())
        processors = [compiled.binds[bind].type.dialect_impl(dialect).bind_processor(dialect) for bind in order]
        prepared = _STATEMENTS[(name, dialect.name, keys)] = (compiled.string, order, processors)
    sql, order, processors = prepared
    steps = list(zip(order, processors, strict=True))
    connection.exec_driver_sql(sql, [tuple(p(row[k]) if p else row[k] for k, p in steps) for row in rows])


_UPDATES: dict[tuple[str, tuple[str, ...]], Any] = {}


def _update_by_id(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """``UPDATE table SET ... WHERE id = :_id`` for rows with the same keys (``_id`` among them)."""
    if not rows:
        return
    keys = tuple(rows[0])
    statement = _UPDATES.get((table.name, keys))
    if statement is None:
        columns = {key: bindparam(key) for key in keys if key != "_id"}
        statement = _UPDATES[(table.name, keys)] = update(table).where(table.c.id == bindparam("_id")).values(columns)
    _executemany(session, f"update {table.name}", statement, rows)


def _insert_with_ids(session: Session, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows (each with a unique ``uid``); return their ids in the same order."""
    _executemany(session, f"insert {table.name}", _INSERTS[table.name], rows)
    ids: dict[str, int] = {}
    connection = session.connection()
    for chunk in _chunks([row["uid"] for row in rows]):
        ids.update((uid, row_id) for uid, row_id in connection.execute(_SELECT_IDS[table.name], {"values": list(chunk)}))
    return [ids[row["uid"]] for row in rows]
