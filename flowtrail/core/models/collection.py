"""Collection: a versioned, keyed, ordered set of artifacts (e.g. the per-sample tables of a study).

``Collection([a1, a2], key="study/counts").save()`` registers it; saving the same key with other
members makes a new version, the same members again returns the existing collection.
``.load()`` concatenates DataFrames or AnnData objects in member order.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flowtrail.core.models.record import LineageMixin, Record, utcnow
from flowtrail.core.util.keys import validate_key

if TYPE_CHECKING:
    from flowtrail.core.models.artifact import Artifact
    from flowtrail.core.models.run import Run
    from flowtrail.core.query.queryset import QuerySet

collection_artifact = Table(
    "collection_artifact",
    Record.metadata,
    Column("collection_id", Integer, ForeignKey("collection.id", ondelete="CASCADE"), primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifact.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, nullable=False),
    Index("ix_collection_artifact_artifact", "artifact_id", "collection_id"),
)


class Collection(LineageMixin, Record):
    """A versioned set of artifacts under a key."""

    __tablename__ = "collection"
    __table_args__ = (UniqueConstraint("key", "version"),)
    _search_fields = ("key", "description", "uid", "hash")

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(20), unique=True)
    key: Mapped[str] = mapped_column(String(1024), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64), index=True)  # over the members' hashes, in order
    n_artifacts: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(256))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="SET NULL"), index=True)

    run: Mapped[Run | None] = relationship()
    members: Mapped[list[Artifact]] = relationship(
        secondary=collection_artifact, viewonly=True, order_by=collection_artifact.c.position
    )

    def __init__(
        self, artifacts: list[Artifact] | Any, *, key: str, description: str | None = None, run: Run | None = None
    ) -> None:
        from flowtrail.core.annotations.collections import check_members

        members = check_members(artifacts)
        super().__init__(key=validate_key(key), description=description, n_artifacts=len(members))
        self._members = members
        self._pending_run = run

    def save(self) -> Collection:
        """Register the collection; return the existing one if the key's latest version has these members."""
        from flowtrail.core.annotations.collections import save_collection

        return save_collection(self)

    @property
    def artifacts(self) -> QuerySet[Artifact]:
        """The member artifacts in collection order."""
        from flowtrail.core.annotations.collections import member_query

        return member_query(self)

    @property
    def versions(self) -> QuerySet[Collection]:
        """Every version of this collection, oldest first."""
        return Collection.filter(uid__startswith=self.uid[:16]).order_by("version")

    def load(self, **concat_options: Any) -> Any:
        """Concatenate the members: DataFrames with ``pandas.concat``, AnnData with ``anndata.concat``."""
        from flowtrail.core.annotations.collections import load_collection

        return load_collection(self, **concat_options)

    def delete(self) -> None:
        """Delete the collection (not its artifacts); the previous version becomes the latest."""
        from flowtrail.core.annotations.collections import delete_collection

        delete_collection(self)

    def describe(self) -> None:
        """Print the collection, its provenance and its members as a tree."""
        from flowtrail.core.describe.records import describe_collection

        describe_collection(self)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("uid", self.uid), ("key", self.key), ("version", self.version), ("n_artifacts", self.n_artifacts)]


def collections_containing(session: Any, artifact_id: int) -> list[Collection]:
    """The collections an artifact is a member of (deleting it would change them)."""
    ids = select(collection_artifact.c.collection_id).where(collection_artifact.c.artifact_id == artifact_id)
    return list(session.scalars(select(Collection).where(Collection.id.in_(ids)).order_by(Collection.id)))
