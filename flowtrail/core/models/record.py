"""The base class of every registry: SQLAlchemy declarative mapping plus the query API."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar, Self

from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.orm import DeclarativeBase, Mapper
from sqlalchemy.types import TypeDecorator

from flowtrail.core.db.context import current
from flowtrail.core.db.database import write_transaction
from flowtrail.core.query.queryset import QuerySet

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

# Stable constraint names make Alembic migrations portable between SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

class JSONType(TypeDecorator[Any]):
    """JSON everywhere, JSONB on PostgreSQL (imported only there: it costs 30 ms to import)."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Record(DeclarativeBase):
    """Base of Artifact, Transform, Run, Storage and Environment."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSONType(),
        dt.datetime: DateTime(timezone=True),
    }

    _search_fields: ClassVar[tuple[str, ...]] = ("uid",)
    _dataframe_hidden: ClassVar[tuple[str, ...]] = ()

    # -- queries ---------------------------------------------------------------------------
    @classmethod
    def objects(cls, instance: Instance | None = None) -> QuerySet[Self]:
        """All records of this registry as a query set (optionally of a given instance)."""
        return QuerySet(cls, instance=instance)

    @classmethod
    def filter(cls, *expressions: Any, **lookups: Any) -> QuerySet[Self]:
        """Records matching Django-style lookups, e.g. ``Artifact.filter(key__startswith="raw/")``."""
        return QuerySet(cls).filter(*expressions, **lookups)

    @classmethod
    def exclude(cls, **lookups: Any) -> QuerySet[Self]:
        return QuerySet(cls).exclude(**lookups)

    @classmethod
    def all(cls) -> QuerySet[Self]:  # noqa: A003
        return QuerySet(cls)

    @classmethod
    def search(cls, text: str) -> QuerySet[Self]:
        """Records whose text fields contain ``text``, best matches first."""
        return QuerySet(cls).search(text)

    @classmethod
    def get(cls, uid: str | None = None, **lookups: Any) -> Self:
        """Exactly one record, by uid (or uid prefix) or lookups; raises if none or several match."""
        query = QuerySet(cls)
        if uid is not None:
            query = query.filter(uid__startswith=uid) if len(uid) < cls._uid_length() else query.filter(uid=uid)
            if len(uid) < cls._uid_length() and hasattr(cls, "is_latest"):
                query = query.filter(is_latest=True)
        elif hasattr(cls, "is_latest") and not {"version", "is_latest", "uid", "id"} & set(lookups):
            query = query.filter(is_latest=True)
        return query.filter(**lookups).one()

    def _save_changes(self) -> Self:
        """Write the changed fields of an already saved record in one transaction."""
        with write_transaction(current().sessions) as session:
            session.add(self)
        return self

    @classmethod
    def _uid_length(cls) -> int:
        return cls.__table__.c.uid.type.length or 0  # type: ignore[attr-defined]

    # -- display ---------------------------------------------------------------------------
    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("uid", getattr(self, "uid", None))]

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._repr_fields() if v is not None)
        return f"{type(self).__name__}({fields})"


@event.listens_for(Mapper, "before_configured")
def _import_every_model() -> None:
    """Register every model before SQLAlchemy resolves relations by name.

    Relations name their targets as strings ("Label", "Run", ...). A process that imports only one
    model (a CLI command, a worker) would otherwise fail at its first query or constructor with
    "Class ... is not mapped", depending on what happened to be imported first.
    """

class LineageMixin:
    """``upstream()``, ``downstream()`` and ``view_lineage()`` for artifacts, runs and transforms."""

    def upstream(self, depth: int | None = None) -> Any:
        """The lineage graph of everything this was made from (``depth`` counts runs)."""
        from flowtrail.core.lineage.graph import graph

        return graph(self, "up", depth)

    def downstream(self, depth: int | None = None) -> Any:
        """The lineage graph of everything made from this (``depth`` counts runs)."""
        from flowtrail.core.lineage.graph import graph

        return graph(self, "down", depth)

    def view_lineage(self, direction: str = "up", depth: int | None = None) -> Any:
        """The lineage as an SVG picture (shown inline in Jupyter)."""
        from flowtrail.core.lineage.graph import graph
        from flowtrail.core.lineage.view import render

        return render(graph(self, direction, depth), "svg")  # type: ignore[arg-type]
