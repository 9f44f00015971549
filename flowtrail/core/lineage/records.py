"""The records of a lineage graph, read at query speed and turned into ORM objects only on demand.

A 10,000-node closure is read in one query per kind straight from the driver's cursor. Each row
becomes a :class:`RecordRow`: its columns (``key``, ``uid``, ``hash``, ``status``, ...) read
from the row itself, converted as SQLAlchemy would convert them when first read. Anything else
(a relationship such as ``run.transform``, a method such as ``describe()`` or ``load()``, setting
a field and saving) turns every row of that kind into its ORM object in one batch, and the row
hands the request on to it. ``isinstance(row, Artifact)`` holds, and a row equals the ORM record
of the same id, so callers see records that behave like the ORM objects they stand for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from sqlalchemy import inspect as sa_inspect

from flowtrail.core.util.frames import fetch_raw

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

ROW_CHUNK = 20_000  # ids per query: below SQLite's 32,766 bound parameters
ORM_CHUNK = 500


class RowBatch:
    """Rows of one model read together, with what they need to convert values and become ORM objects."""

    def __init__(self, model: type, instance: Instance) -> None:
        self.model = model
        self.instance = instance
        self.names, self.statement, self.processors, self.sql_prefix = _reading(model, instance.engine.dialect)
        self.id_index = self.names["id"]
        self.rows: dict[int, RecordRow] = {}
        self.records: dict[int, Any] = {}

    def read(self, session: Any, ids: Iterable[int]) -> None:
        """Read the rows of ``ids`` (one query per ROW_CHUNK ids) in the session's transaction."""
        ordered = sorted(set(ids) - self.rows.keys())
        connection = session.connection()
        marker = _MARKERS.get(connection.dialect.paramstyle)
        for start in range(0, len(ordered), ROW_CHUNK):
            chunk = ordered[start : start + ROW_CHUNK]
            if marker is None:
                rows = fetch_raw(session, self.statement, {"ids": chunk})
            else:
                # Straight to the driver: SQLAlchemy's per-statement work costs more than reading a
                # few hundred rows. The SQL is made only of quoted names and placeholders.
                cursor = connection.connection.dbapi_connection.cursor()
                try:
                    cursor.execute(f"{self.sql_prefix}({', '.join([marker] * len(chunk))})", chunk)
                    rows = cursor.fetchall()
                finally:
                    cursor.close()
            at = self.id_index
            self.rows.update({raw[at]: _new_row(self, raw) for raw in rows})

    def record(self, row_id: int) -> Any:
        """The ORM object of ``row_id``; the first call loads every row of the batch at once."""
        found = self.records.get(row_id)
        if found is not None:
            return found
        sessions = self.instance.sessions
        session = sessions.current()
        model_id = self.model.id  # type: ignore[attr-defined]
        missing = sorted(self.rows.keys() - self.records.keys())
        try:
            for start in range(0, len(missing), ORM_CHUNK):
                chunk = missing[start : start + ORM_CHUNK]
                record: Any
                for record in session.scalars(select(self.model).where(model_id.in_(chunk))):
                    self.records[record.id] = record
        finally:
            sessions.end_read()
        return self.records[row_id]


_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}  # positional placeholders per DB-API paramstyle
_READING: dict[tuple[type, str], tuple[dict[str, int], Any, list[Any], str]] = {}


def _reading(model: type, dialect: Any) -> tuple[dict[str, int], Any, list[Any], str]:
    """Column positions, the (Core, cached) statement, the result processors and the plain SQL
    (up to the IN list) of ``model``'s rows."""
    key = (model, dialect.name)
    found = _READING.get(key)
    if found is None:
        attrs: list[Any] = list(sa_inspect(model).column_attrs)
        columns = [attr.columns[0] for attr in attrs]
        table = model.__table__  # type: ignore[attr-defined]
        statement = select(*columns).where(table.c.id.in_(bindparam("ids", expanding=True)))
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]
        quote = dialect.identifier_preparer.quote
        prefix = f"SELECT {', '.join(quote(c.name) for c in columns)} FROM {quote(table.name)} WHERE {quote('id')} IN "
        found = _READING[key] = ({attr.key: i for i, attr in enumerate(attrs)}, statement, processors, prefix)
    return found


class RecordRow:
    """One artifact, run or collection row of a lineage graph (see the module docstring)."""

    __slots__ = ("_batch", "_raw")

    def __init__(self, batch: RowBatch, raw: tuple[Any, ...]) -> None:
        object.__setattr__(self, "_batch", batch)
        object.__setattr__(self, "_raw", raw)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(row, Artifact) is True, as for the ORM object
        return self._batch.model

    def __getattr__(self, name: str) -> Any:
        batch = self._batch
        index = batch.names.get(name)
        if index is None or self._raw[batch.id_index] in batch.records:  # once an ORM object, always it
            return getattr(batch.record(self._raw[batch.id_index]), name)
        value = self._raw[index]
        processor = batch.processors[index]
        return value if processor is None or value is None else processor(value)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.record, name, value)

    @property
    def record(self) -> Any:
        """The ORM object this row stands for."""
        return self._batch.record(self._raw[self._batch.id_index])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RecordRow | self._batch.model):
            return other.__class__ is self.__class__ and other.id == self.id  # type: ignore[attr-defined]
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._batch.model, self._raw[self._batch.id_index]))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._batch.model._repr_fields(self) if v is not None)
        return f"{self._batch.model.__name__}({fields})"

    def __dir__(self) -> list[str]:
        return sorted({*self._batch.names, *dir(self._batch.model)})


_set_batch, _set_raw = RecordRow._batch.__set__, RecordRow._raw.__set__  # type: ignore[attr-defined]


def _new_row(batch: RowBatch, raw: tuple[Any, ...]) -> RecordRow:
    # The slots are filled directly: RecordRow.__setattr__ hands attributes on to the ORM object.
    row = object.__new__(RecordRow)
    _set_batch(row, batch)
    _set_raw(row, raw)
    return row
