"""Django-style queries (``key__startswith="x"``, ``run__transform__key="y"``) on SQLAlchemy.

A :class:`QuerySet` is lazy and immutable: ``filter``, ``exclude`` and ``order_by`` return new
query sets; nothing runs until it is iterated, counted or turned into a DataFrame. Relations are
traversed with ``__`` and become ``EXISTS`` subqueries, so a filter never duplicates rows.
JSON columns (``params``) are searched by path: ``params__sample="s1"``, ``params__lr__gt=0.1``.
There is no silent row cap: ``to_dataframe()`` returns every matching row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import Select, and_, case, func, not_, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.sql.elements import ColumnElement

from flowtrail.core.errors import DoesNotExist, FieldError, MultipleResultsFound
from flowtrail.core.query.lookups import lookup_clause, order_clause, shown
from flowtrail.core.util.frames import read_frame

if TYPE_CHECKING:
    import pandas as pd

    from flowtrail.core.instance import Instance
    from flowtrail.core.models.record import Record

T = TypeVar("T", bound="Record")


class QuerySet(Generic[T]):
    """A lazy, chainable query over one registry."""

    def __init__(
        self,
        model: type[T],
        where: tuple[ColumnElement[bool], ...] = (),
        order: tuple[str, ...] = (),
        limit: int | None = None,
        offset: int | None = None,
        instance: Instance | None = None,
        rank: Any = None,
        described: tuple[str, ...] = (),
    ) -> None:
        self.model = model
        self._where = where
        self._order = order
        self._limit = limit
        self._offset = offset
        self._instance = instance
        self._rank = rank
        self._described = described  # the lookups as written, for error messages

    @property
    def _id_column(self) -> Any:
        return self.model.id  # type: ignore[attr-defined]  # every registry has one; Record does not declare it

    def _clone(self, **changes: Any) -> QuerySet[T]:
        state = {
            "where": self._where, "order": self._order, "limit": self._limit,
            "offset": self._offset, "instance": self._instance, "rank": self._rank, "described": self._described,
        }  # fmt: skip
        state.update(changes)
        return QuerySet(self.model, **state)

    @property
    def instance(self) -> Instance:
        if self._instance is None:
            from flowtrail.core.db.context import current

            return current()
        return self._instance

    # -- building --------------------------------------------------------------------------
    def filter(self, *expressions: ColumnElement[bool], **lookups: Any) -> QuerySet[T]:
        """Keep records matching every lookup, e.g. ``filter(key__startswith="raw/", size__gt=10)``."""
        clauses = [lookup_clause(self.model, k, v, self._instance) for k, v in lookups.items()]
        described = self._described + tuple(f"{k}={shown(v)}" for k, v in lookups.items())
        return self._clone(where=self._where + tuple(expressions) + tuple(clauses), described=described)

    def exclude(self, **lookups: Any) -> QuerySet[T]:
        """Drop records matching all the given lookups."""
        clauses = [lookup_clause(self.model, k, v, self._instance) for k, v in lookups.items()]
        if not clauses:
            return self
        return self._clone(where=self._where + (not_(and_(*clauses)),))

    def order_by(self, *fields: str) -> QuerySet[T]:
        """Order by fields; prefix a name with ``-`` for descending order."""
        for field in fields:
            order_clause(self.model, field)  # validate now, fail early
        return self._clone(order=tuple(fields))

    def search(self, text: str) -> QuerySet[T]:
        """Records whose text fields contain ``text`` (case-insensitive), best matches first."""
        fields = getattr(self.model, "_search_fields", ("uid",))
        needle = text.lower()
        columns = [func.lower(getattr(self.model, f)) for f in fields]
        match = or_(*[c.contains(needle, autoescape=True) for c in columns])
        rank = case(
            *[(c == needle, 0) for c in columns],
            *[(c.startswith(needle, autoescape=True), 1) for c in columns],
            else_=2,
        )
        return self._clone(where=self._where + (match,), rank=rank)

    def __getitem__(self, item: int | slice) -> Any:
        if isinstance(item, slice):
            if item.step not in (None, 1) or (item.start or 0) < 0 or (item.stop is not None and item.stop < 0):
                raise ValueError("Query sets support only [start:stop] slices with non-negative bounds.")
            start = item.start or 0
            limit = None if item.stop is None else max(item.stop - start, 0)
            return self._clone(offset=start or None, limit=limit)
        rows = self._clone(offset=item or None, limit=1).to_list()
        if not rows:
            raise IndexError(f"{self.model.__name__} query has no row {item}")
        return rows[0]

    # -- running ---------------------------------------------------------------------------
    def statement(self) -> Select[Any]:
        """The SQLAlchemy ``SELECT`` this query set runs."""
        stmt = select(self.model)
        if self._where:
            stmt = stmt.where(*self._where)
        orders = [order_clause(self.model, f) for f in self._order]
        if self._rank is not None:
            orders.insert(0, self._rank)
        stmt = stmt.order_by(*orders, self._id_column)
        if self._offset:
            stmt = stmt.offset(self._offset)
        if self._limit is not None:
            stmt = stmt.limit(self._limit)
        return stmt

    def to_list(self) -> list[T]:
        """All matching records."""
        sessions = self.instance.sessions
        sessions.end_read()  # a lazy load may have left an old snapshot open: read fresh data
        try:
            return list(sessions.current().scalars(self.statement()))
        finally:
            sessions.end_read()

    list = to_list  # noqa: A003 - mirrors the familiar Django/LaminDB spelling

    def __iter__(self) -> Iterator[T]:
        return iter(self.to_list())

    def count(self) -> int:
        """How many records match."""
        stmt = select(func.count()).select_from(self.model)
        if self._where:
            stmt = stmt.where(*self._where)
        if self._offset or self._limit is not None:
            stmt = select(func.count()).select_from(self.statement().subquery())
        sessions = self.instance.sessions
        sessions.end_read()
        try:
            return int(sessions.current().scalar(stmt) or 0)
        finally:
            sessions.end_read()

    def __len__(self) -> int:
        return self.count()

    def exists(self) -> bool:
        return bool(self._clone(limit=1).to_list())

    def first(self) -> T | None:
        """The first record in the query's order, or None."""
        rows = self._clone(limit=1).to_list()
        return rows[0] if rows else None

    def last(self) -> T | None:
        """The last record in the query's order, or None."""
        rows = self.to_list()
        return rows[-1] if rows else None

    def one(self) -> T:
        """Exactly one record; raise :class:`DoesNotExist` or :class:`MultipleResultsFound`."""
        rows = self._clone(limit=2).to_list()
        if not rows:
            raise DoesNotExist(
                f"No {self.model.__name__} matches {self._what()}. Check the values, or list candidates "
                f"with {self.model.__name__}.filter().to_dataframe()."
            )
        if len(rows) > 1:
            raise MultipleResultsFound(
                f"More than one {self.model.__name__} matches {self._what()}: add a filter (e.g. uid=...) "
                "or use .first()."
            )
        return rows[0]

    def _what(self) -> str:
        return ", ".join(self._described) if self._described else "this query"

    def one_or_none(self) -> T | None:
        rows = self._clone(limit=2).to_list()
        if len(rows) > 1:
            raise MultipleResultsFound(f"More than one {self.model.__name__} matches this query: add a filter.")
        return rows[0] if rows else None

    def get(self, **lookups: Any) -> T:
        return self.filter(**lookups).one()

    def to_dataframe(self, include: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Every matching record as a pandas DataFrame (one column per field, no row cap).

        ``include="features"`` (artifacts) adds a column per feature; a list of feature names adds those.
        """
        mapper = sa_inspect(self.model)
        hidden = getattr(self.model, "_dataframe_hidden", ())
        names = [c.key for c in mapper.column_attrs if c.key not in hidden]
        columns = [getattr(self.model, n) for n in names]
        stmt = self.statement().with_only_columns(*columns)
        sessions = self.instance.sessions
        sessions.end_read()
        try:
            # One query into typed columns: no ORM objects, no per-value conversion in Python.
            frame = read_frame(sessions.current(), stmt, names)
        finally:
            sessions.end_read()
        frame = frame.set_index("id") if "id" in frame.columns else frame
        if include is not None:
            if not getattr(self.model, "_has_features", False):
                raise FieldError(f"include= adds feature columns, and {self.model.__name__} records have no features.")
            from flowtrail.core.annotations.filters import add_feature_columns

            every = not self._where and self._limit is None and not self._offset
            ids = None if every else self.statement().with_only_columns(self._id_column)
            frame = add_feature_columns(frame, ids, include)
        return frame

    df = to_dataframe

    def __repr__(self) -> str:
        return f"<QuerySet of {self.model.__name__}>"
