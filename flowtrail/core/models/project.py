"""Project: groups runs and the artifacts they make (``flowtrail.track(project="...")``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flowtrail.core.models.links import artifact_project
from flowtrail.core.models.record import Record, utcnow

if TYPE_CHECKING:
    from flowtrail.core.models.artifact import Artifact
    from flowtrail.core.models.run import Run


class Project(Record):
    """A named project; runs belong to one, artifacts to any number."""

    __tablename__ = "project"
    _search_fields = ("name", "description", "uid")

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(256))

    runs: Mapped[list[Run]] = relationship(back_populates="project", viewonly=True, order_by="Run.id")
    artifacts: Mapped[list[Artifact]] = relationship(
        secondary=artifact_project, viewonly=True, order_by="Artifact.id"
    )

    def __init__(self, name: str, *, description: str | None = None) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("A project needs a non-empty name, e.g. Project(name='Cancer Drug Screen 2025').")
        super().__init__(name=name.strip(), description=description)

    def save(self) -> Project:
        """Register the project; return the existing one of the same name."""
        from flowtrail.core.runs.projects import get_or_create_project

        return get_or_create_project(self.name, self.description)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("name", self.name), ("uid", self.uid)]
