"""Run: one execution of a transform, with params, status, times, parent, inputs and outputs."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .errors import TrackingError
from .record import LineageMixin, Record, utcnow

if TYPE_CHECKING:
    from .artifact import Artifact
    from .environment import Environment
    from .project import Project
    from .transform import Transform

RUN_STATUSES = ("scheduled", "started", "completed", "failed", "aborted", "cached")
FINAL_STATUSES = ("completed", "failed", "aborted", "cached")

run_input = Table(
    "run_input",
    Record.metadata,
    Column("run_id", Integer, ForeignKey("run.id", ondelete="CASCADE"), primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifact.id", ondelete="CASCADE"), primary_key=True),
    # Covers downstream walks (artifact -> reading runs) without touching the table.
    Index("ix_run_input_artifact_run", "artifact_id", "run_id"),
)


class Run(LineageMixin, Record):
    """One execution of a transform."""

    __tablename__ = "run"
    __table_args__ = (Index("ix_run_transform_started", "transform_id", "started_at"),)
    _search_fields = ("uid", "name", "reference", "status")

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(512))
    transform_id: Mapped[int] = mapped_column(ForeignKey("transform.id"), index=True)
    params: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(16), default="started", index=True)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="SET NULL"), index=True)
    reference: Mapped[str | None] = mapped_column(String(1024), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("environment.id"))
    engine: Mapped[str | None] = mapped_column(String(64))  # "python", "snakemake", "nextflow", ...
    engine_version: Mapped[str | None] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any] | None]  # what the engine measured: exit code, resources, ...
    facets: Mapped[dict[str, Any] | None]  # OpenLineage run facets of ingested runs
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(256))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="SET NULL"), index=True)
    # The process that runs it, so a run whose process is gone can be found and ended (see reaping.py).
    pid: Mapped[int | None]
    host: Mapped[str | None] = mapped_column(String(255))

    transform: Mapped[Transform] = relationship(back_populates="runs")
    project: Mapped[Project | None] = relationship(back_populates="runs")
    parent: Mapped[Run | None] = relationship(remote_side="Run.id", back_populates="children")
    children: Mapped[list[Run]] = relationship(back_populates="parent", order_by="Run.id")
    environment: Mapped[Environment | None] = relationship()
    inputs: Mapped[list[Artifact]] = relationship(secondary=run_input, back_populates="input_of_runs", order_by="Artifact.id")
    outputs: Mapped[list[Artifact]] = relationship(back_populates="run", viewonly=True, order_by="Artifact.id")

    def _repr_fields(self) -> list[tuple[str, Any]]:
        key = self.transform.key if self.transform is not None else None
        return [("uid", self.uid), ("transform", key), ("status", self.status)]

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return _aware(self.finished_at) - _aware(self.started_at)

    def describe(self) -> None:
        """Print the run with its transform, params, inputs and outputs as a tree."""
        from .describe import describe_run

        describe_run(self)

    def add_inputs(self, artifacts: list[Artifact]) -> None:
        """Record saved artifacts as inputs of this run (idempotent)."""
        from .instance import current

        link_inputs(current(), self, artifacts)


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; flowtrail always stores UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def link_inputs(instance: Any, run: Run, artifacts: list[Artifact]) -> None:
    """Insert run-input links that do not exist yet, in one short transaction."""
    ids = {a.id for a in artifacts if a.id is not None and a.run_id != run.id}
    if not ids or run.id is None:
        return
    from .database import write_transaction

    with write_transaction(instance.sessions) as session:
        present = set(
            session.scalars(
                select(run_input.c.artifact_id).where(run_input.c.run_id == run.id, run_input.c.artifact_id.in_(ids))
            )
        )
        missing = sorted(ids - present)
        if missing:
            session.execute(run_input.insert(), [{"run_id": run.id, "artifact_id": i} for i in missing])
    # The relationship collection is stale now; reload it on next access.
    instance.sessions.current().expire(run, ["inputs"])


def set_status(session: Session, run: Run, status: str, error: str | None = None) -> None:
    if status not in RUN_STATUSES:
        raise TrackingError(f"Unknown run status {status!r}: use one of {', '.join(RUN_STATUSES)}.")
    run.status = status
    if error is not None:
        run.error = error
    if status in FINAL_STATUSES and run.finished_at is None:
        run.finished_at = utcnow()
