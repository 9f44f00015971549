"""The software environment of a run, stored once per environment and reused by hash."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from flowtrail.core.util.host import current_environment, describe_environment

__all__ = ["Environment", "current_environment", "describe_environment", "get_or_create_environment"]
from flowtrail.core.models.record import Record, utcnow


class Environment(Record):
    """A Python environment: interpreter, platform and installed distributions."""

    __tablename__ = "environment"
    _search_fields = ("hash", "python_version", "platform")
    _dataframe_hidden = ("packages",)

    id: Mapped[int] = mapped_column(primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    python_version: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(256))
    packages: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def uid(self) -> str:
        return self.hash[:16]

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("hash", self.hash[:12]), ("python_version", self.python_version), ("n_packages", len(self.packages))]


def get_or_create_environment(session: Session, digest: str, description: dict[str, Any] | None) -> Environment:
    """Inside a write transaction: the Environment row for ``digest``, inserted if new."""
    found = session.scalar(select(Environment).where(Environment.hash == digest))
    if found is not None:
        return found
    if description is None:
        description = describe_environment()
    environment = Environment(hash=digest, **description)
    session.add(environment)
    session.flush()
    return environment
