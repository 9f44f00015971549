"""Reruns that wrote identical bytes: linked as writers of the artifact already registered.

A save that finds its content registered returns the existing record (dedup), but lineage must
still say that this run made the file again. Only a run that changed the file after it started
counts: one that found the file already there and saves it only read it.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from sqlalchemy import select

from flowtrail.core.models.artifact import Artifact
from flowtrail.core.models.run import Run


def link_rerun(
    session: Any, links: list[tuple[int, int, int | None]], artifact: Artifact, existing: Artifact, run_id: int | None
) -> None:
    """Queue ``(writer run, existing artifact, its producer)`` when a run saved bytes already registered.

    Dedup keeps the first record (storage), but a run that wrote the same bytes again made them too
    (lineage). A run that found the file already there before it started only reads it.
    """
    pending_run = artifact._pending_run
    writer = pending_run.id if pending_run is not None else run_id
    if writer is None or writer == existing.run_id or _there_before(session, artifact, writer):
        return
    links.append((writer, existing.id, existing.run_id))


def _there_before(session: Any, artifact: Artifact, run_id: int) -> bool:
    """Whether the local file was last modified before the run started (unknown: False)."""
    source = artifact._source
    if not source or "://" in source:
        return False
    try:
        modified = os.stat(source).st_mtime
    except OSError:
        return False
    started = session.scalar(select(Run.started_at).where(Run.id == run_id))
    if started is None:
        return False
    if started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)
    # File times come from a coarse kernel clock (a few ms behind the clock runs are stamped with).
    return modified < started.timestamp() - 0.01
