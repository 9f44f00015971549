"""Run: one execution of a transform, with params, status, times, parent, inputs and outputs."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, or_, select
from sqlalchemy.orm import Mapped, Session, foreign, mapped_column, relationship

from flowtrail.core.db.context import current
from flowtrail.core.db.database import write_transaction
from flowtrail.core.errors import TrackingError
from flowtrail.core.models.record import LineageMixin, Record, utcnow

if TYPE_CHECKING:
    from flowtrail.core.models.artifact import Artifact
    from flowtrail.core.models.environment import Environment
    from flowtrail.core.models.project import Project
    from flowtrail.core.models.transform import Transform

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

# How a run that is not an artifact's producer (``artifact.run_id``) came to have it as an output:
# "wrote" -- it made the same bytes again (a rerun; dedup kept the first record), "forwarded" -- it
# declared as its output a file whose bytes another run made (a symlink, a pass-through input),
# "reused" -- the engine skipped it and handed on stored or cached outputs.
OUTPUT_KINDS = ("wrote", "forwarded", "reused")

run_output = Table(
    "run_output",
    Record.metadata,
    Column("run_id", Integer, ForeignKey("run.id", ondelete="CASCADE"), primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifact.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), nullable=False, default="wrote"),
    # Covers upstream walks (artifact -> every run that output it) without touching the table.
    Index("ix_run_output_artifact_run", "artifact_id", "run_id"),
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
    produced: Mapped[list[Artifact]] = relationship(back_populates="run", viewonly=True, order_by="Artifact.id")
    # Every artifact this run output: those it produced first plus those linked in ``run_output``.
    outputs: Mapped[list[Artifact]] = relationship(
        primaryjoin=lambda: _outputs_join(),
        viewonly=True,
        order_by="Artifact.id",
    )

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
        from flowtrail.core.describe.records import describe_run

        describe_run(self)

    def add_inputs(self, artifacts: list[Artifact]) -> None:
        """Record saved artifacts as inputs of this run (idempotent)."""
        link_inputs(current(), self, artifacts)

    def add_outputs(self, artifacts: list[Artifact], kind: str = "wrote") -> None:
        """Record saved artifacts as outputs of this run (idempotent); see :func:`record_outputs`."""
        record_outputs(self, artifacts, kind=kind)

    @property
    def output_kinds(self) -> dict[int, str]:
        """Artifact id -> how this run output it: "produced" (its first producer) or a link kind."""
        from flowtrail.core.models.artifact import Artifact

        sessions = current().sessions
        session = sessions.current()
        try:
            kinds = {a: "produced" for a in session.scalars(select(Artifact.id).where(Artifact.run_id == self.id))}
            query = select(run_output.c.artifact_id, run_output.c.kind).where(run_output.c.run_id == self.id)
            for artifact_id, kind in session.execute(query):
                kinds.setdefault(artifact_id, kind)
        finally:
            sessions.end_read()
        return kinds


def _outputs_join() -> Any:
    from flowtrail.core.models.artifact import Artifact

    linked = select(run_output.c.artifact_id).where(run_output.c.run_id == Run.id)
    return or_(Run.id == foreign(Artifact.run_id), Artifact.id.in_(linked))


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; flowtrail always stores UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def link_inputs(instance: Any, run: Run, artifacts: list[Artifact]) -> None:
    """Insert run-input links that do not exist yet, in one short transaction."""
    if run.id is None or not any(a.id is not None and a.run_id != run.id for a in artifacts):
        return

    with write_transaction(instance.sessions) as session:
        insert_input_links(session, [(run.id, a) for a in artifacts])
    # The relationship collection is stale now; reload it on next access.
    instance.sessions.current().expire(run, ["inputs"])


def insert_input_links(session: Session, links: list[tuple[int, Artifact | int]]) -> int:
    """Inside a write transaction: add the ``(run id, artifact)`` input links that do not exist yet.

    The one writer of ``run_input`` rows (one run or many). An artifact is a saved Artifact or its
    id; a saved Artifact never counts as an input of the run that produced it. Returns how many
    links were added.
    """
    wanted: set[tuple[int, int]] = set()
    for run_id, artifact in links:
        if run_id is None:
            continue
        if isinstance(artifact, int):
            wanted.add((run_id, artifact))
        elif artifact.id is not None and artifact.run_id != run_id:
            wanted.add((run_id, artifact.id))
    return _insert_missing(session, run_input, wanted)


def record_outputs(run: Run, artifacts: list[Artifact], kind: str = "wrote", instance: Any = None) -> None:
    """Link saved artifacts to ``run`` as its outputs, in one short transaction (idempotent).

    Use it when a run output an artifact that was already registered: a rerun that re-made
    identical bytes (``kind="wrote"``), a task whose declared output is a link to, or a
    pass-through of, a file another run made (``"forwarded"``), a skipped task whose stored
    outputs the engine handed on (``"reused"``). The artifact's producer (``artifact.run_id``,
    the run that registered it first) is kept; artifacts ``run`` produced itself are skipped.
    """
    if run.id is None:
        raise TrackingError("record_outputs() needs a saved run.")
    inst = instance or current()

    with write_transaction(inst.sessions) as session:
        link_outputs(session, [(run.id, a.id, a.run_id) for a in artifacts if a.id is not None], kind)
    inst.sessions.current().expire(run, ["outputs"])


def link_outputs(session: Session, links: list[tuple[int, int, int | None]], kind: str = "wrote") -> int:
    """Insert ``(run id, artifact id, producer run id)`` output links that do not exist yet; return how many.

    For bulk writers that already hold a write transaction (``save_artifacts``, engine adapters).
    Links from an artifact's own producer are skipped: ``artifact.run_id`` already says it.
    """
    if kind not in OUTPUT_KINDS:
        raise TrackingError(f"Unknown output link kind {kind!r}: use one of {', '.join(OUTPUT_KINDS)}.")
    wanted = {(r, a) for r, a, producer in links if r is not None and a is not None and producer != r}
    return _insert_missing(session, run_output, wanted, kind=kind)


def _insert_missing(session: Session, table: Table, wanted: set[tuple[int, int]], **columns: Any) -> int:
    """Insert the ``(run_id, artifact_id)`` links of ``table`` not there yet (read in chunks of 500)."""
    if not wanted:
        return 0
    present: set[tuple[int, int]] = set()
    ordered = sorted(wanted)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        query = select(table.c.run_id, table.c.artifact_id).where(
            table.c.run_id.in_({r for r, _ in chunk}), table.c.artifact_id.in_({a for _, a in chunk})
        )
        present.update((r, a) for r, a in session.execute(query))
    missing = sorted(wanted - present)
    if missing:
        session.execute(table.insert(), [{"run_id": r, "artifact_id": a, **columns} for r, a in missing])
    return len(missing)


def set_status(session: Session, run: Run, status: str, error: str | None = None) -> None:
    if status not in RUN_STATUSES:
        raise TrackingError(f"Unknown run status {status!r}: use one of {', '.join(RUN_STATUSES)}.")
    run.status = status
    if error is not None:
        run.error = error
    if status in FINAL_STATUSES and run.finished_at is None:
        run.finished_at = utcnow()
