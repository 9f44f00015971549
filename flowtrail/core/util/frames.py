"""DataFrames straight from SQL: one query, the driver's raw rows, typed columns.

SQLAlchemy turns every value of a result into Python objects one at a time (a datetime parsed per
row on SQLite, a bool per row, a Row object per row). For a wide table that is most of the cost,
so :func:`read_frame` executes the statement through SQLAlchemy (bind parameters, dialect) but
reads the driver's cursor itself and converts whole columns at once: ISO datetimes with one
vectorised parse, 0/1 integers to booleans with one cast. Any other type with a result processor
gets it applied to its non-null values. The frame equals what building it from SQLAlchemy rows
gives, only faster.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, DateTime

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Select


def fetch_raw(session: Any, stmt: Select[Any], params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Execute ``stmt`` in ``session`` and return the driver's rows, unprocessed."""
    result = session.connection().execute(stmt, params)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def fetch_sql(session: Any, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows of a textual statement with ``:name`` parameters, straight from the driver.

    SQLite's driver takes ``:name`` parameters itself, so the statement skips SQLAlchemy entirely;
    other drivers get it through ``text()``.
    """
    from sqlalchemy import text

    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return fetch_raw(session, text(sql), params)  # type: ignore[arg-type]
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def read_frame(session: Any, stmt: Select[Any], names: list[str]) -> pd.DataFrame:
    """The rows of ``stmt`` as a DataFrame with one typed column per selected column, named ``names``."""
    import pandas as pd

    rows = fetch_raw(session, stmt)
    frame = pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(columns=names)
    dialect = session.get_bind().dialect
    for name, column in zip(names, stmt.selected_columns, strict=True):
        if rows:
            typed = convert_column(frame[name], column.type, dialect)
            if typed is not None:
                frame[name] = typed
    return frame


def convert_column(values: pd.Series, sql_type: Any, dialect: Any) -> pd.Series | None:
    """``values`` (raw from the driver) as SQLAlchemy would return them; None when already right."""
    import pandas as pd

    processor = sql_type.dialect_impl(dialect).result_processor(dialect, None)
    if processor is None:
        return None
    present = values.notna()
    if not present.any():
        return None  # all NULL: stays a column of None, as from processed rows
    if isinstance(sql_type, DateTime) and _all_text(values, present):
        parsed = pd.to_datetime(values, format="ISO8601")
        if parsed.dt.tz is None:
            return parsed
    if isinstance(sql_type, Boolean) and bool(present.all()) and values.dtype.kind in "iub":
        return values.astype(bool)
    # Repeated raw values (JSON 'null', the same flag or date) are converted once when the result is
    # immutable; mutable results (a parsed dict) are made anew for every row.
    known: dict[Any, Any] = {None: None}
    converted = []
    for raw in values.tolist():
        try:
            converted.append(known[raw])
            continue
        except (KeyError, TypeError):
            pass
        value = processor(raw)
        if isinstance(value, _IMMUTABLE) or value is None:
            try:
                known[raw] = value
            except TypeError:
                pass
        converted.append(value)
    return pd.Series(converted, index=values.index)


_IMMUTABLE = (str, int, float, bool, bytes, dt.date, dt.time, dt.timedelta)


def _all_text(values: pd.Series, present: pd.Series) -> bool:
    sample = values[present]
    return bool(sample.map(type).eq(str).all())
