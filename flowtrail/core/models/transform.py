"""Transform: a reusable piece of code (script, notebook, function, rule, process, task, pipeline).

A transform is identified by its key and the hash of its source: the same key with new source
becomes a new version, the same source again is the same transform.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from flowtrail.core.db.database import add_locks
from flowtrail.core.errors import FlowtrailError
from flowtrail.core.models.record import LineageMixin, Record, utcnow
from flowtrail.core.util.host import current_user
from flowtrail.core.util.versioning import next_version

if TYPE_CHECKING:
    from flowtrail.core.models.run import Run

TRANSFORM_TYPES = ("pipeline", "rule", "process", "task", "script", "notebook", "function", "job", "command")


def source_hash(source: str | None) -> str | None:
    return hashlib.md5(source.encode()).hexdigest() if source is not None else None


class Transform(LineageMixin, Record):
    """A script, notebook, function, rule, process, task or pipeline, versioned by key."""

    __tablename__ = "transform"
    __table_args__ = (UniqueConstraint("namespace", "key", "version"),)
    _search_fields = ("key", "description", "uid", "reference")
    _dataframe_hidden = ("source_code",)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(20), unique=True)
    # "" for this instance's own transforms; an OpenLineage job namespace for ingested jobs.
    namespace: Mapped[str] = mapped_column(String(1024), default="", server_default="")
    key: Mapped[str] = mapped_column(String(1024), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    type: Mapped[str] = mapped_column(String(32), default="script")
    description: Mapped[str | None] = mapped_column(Text)
    source_code: Mapped[str | None] = mapped_column(Text)
    hash: Mapped[str | None] = mapped_column(String(64), index=True)
    reference: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(256))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("transform.id", ondelete="SET NULL"))
    facets: Mapped[dict[str, Any] | None]  # OpenLineage job facets, as received or emitted

    runs: Mapped[list[Run]] = relationship(back_populates="transform", viewonly=True, order_by="Run.id")
    parent: Mapped[Transform | None] = relationship(remote_side="Transform.id")

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("uid", self.uid), ("key", self.key), ("version", self.version), ("type", self.type)]

    @property
    def versions(self):
        """Every version of this transform, oldest first."""
        return Transform.filter(uid__startswith=self.uid[:16]).order_by("version")

    def describe(self) -> None:
        """Print the transform, its versions and its latest runs as a tree."""
        from flowtrail.core.describe.records import describe_transform

        describe_transform(self)


def get_or_create_transform(
    session: Session,
    key: str,
    *,
    type: str = "script",  # noqa: A002
    source_code: str | None = None,
    description: str | None = None,
    reference: str | None = None,
) -> Transform:
    """Inside a write transaction: the transform for ``key`` and this source, creating a version if new."""
    if type not in TRANSFORM_TYPES:
        raise FlowtrailError(f"Unknown transform type {type!r}: use one of {', '.join(TRANSFORM_TYPES)}.")
    add_locks(session, [f"transform:{key}"])
    digest = source_hash(source_code)
    latest = session.scalar(
        select(Transform).where(Transform.namespace == "", Transform.key == key, Transform.is_latest.is_(True))
    )
    if latest is not None and latest.type == "job" and latest.hash is None and type != "job":
        # Known so far only by name (a child process or an event named it before the engine
        # recorded it): fill it in rather than making a version 2.
        latest.type, latest.source_code, latest.hash = type, source_code, digest
        latest.description = latest.description or description
        latest.reference = latest.reference or reference
        return latest
    if latest is not None and (digest is None or latest.hash == digest):
        return latest
    if digest is not None:
        same = session.scalar(
            select(Transform).where(Transform.namespace == "", Transform.key == key, Transform.hash == digest).limit(1)
        )
        if same is not None:
            return same
    uid, version = next_version([latest])
    transform = Transform(
        uid=uid,
        namespace="",
        key=key,
        version=version,
        is_latest=True,
        type=type,
        source_code=source_code,
        hash=digest,
        description=description,
        reference=reference,
        created_by=current_user(),
    )
    session.add(transform)
    session.flush()
    return transform
