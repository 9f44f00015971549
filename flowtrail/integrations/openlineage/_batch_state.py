"""What one batch holds in memory: the jobs, dataset versions and runs it loaded or will insert
(:class:`Job`, :class:`Version`, :class:`RunRow`), and :class:`BatchState`, the connection and
caches its parts (:mod:`._batch_jobs`, :mod:`._batch_runs`, :mod:`._batch_datasets`) share.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from flowtrail.core.adapter.bulk import select_in
from flowtrail.integrations.openlineage._statements import SELECT_STORAGES

__all__ = ["BatchState", "Job", "RunRow", "Version"]


@dataclass(eq=False)
class Job:
    """A job (transform) as a batch sees it; ``id`` is None until a new one is inserted."""

    id: int | None
    namespace: str
    key: str
    type: str
    facets: Any
    original: tuple[str, Any] | None = None  # (type, facets) as stored, None until stored


@dataclass(eq=False)
class Version:
    """One version of a dataset as a batch sees it; ``id`` is None until a new version is inserted."""

    id: int | None
    uid: str
    version: int
    is_latest: bool
    hash: str | None
    hash_type: str | None
    run_id: int | None
    storage_id: int
    key: str
    original: tuple[Any, ...] | None = None  # (is_latest, run_id, hash, hash_type) as loaded
    facets: Any = None  # the new version's facets; loaded at the end for existing versions
    facet_updates: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)

    def merge_facets(self, facets: dict[str, Any], side_facets: dict[str, Any] | None = None) -> None:
        """Queue ``facets = {**facets, **new}`` (input) or ``... or None`` with side facets (output)."""
        self.facet_updates.append((facets, side_facets))

    def final_facets(self, facets: Any) -> Any:
        for new, side in self.facet_updates:
            if side is None:
                facets = {**(facets or {}), **new}
            else:
                facets = {**(facets or {}), **new, **side} or None
        return facets


@dataclass(eq=False)
class RunRow:
    """The columns of a run that folding its events may change, as loaded (or just inserted)."""

    id: int
    uid: str
    transform_id: int
    engine: str | None
    engine_version: str | None
    error: str | None
    parent_id: int | None
    started_at: dt.datetime | None
    existed: bool = True  # False for runs this batch inserts: they have no outputs yet


class BatchState:
    """The transaction one batch runs in and what every part of it reads: the connection, its
    dialect, the registered storages and the namespace of this instance's own events."""

    def __init__(self, session: Session, own_namespace: str) -> None:
        self.session = session
        self.connection = session.connection()
        self.dialect = self.connection.dialect.name
        self.own_namespace = own_namespace
        self.storages: list[Any] = list(self.connection.execute(SELECT_STORAGES).all())  # (id, root) rows

    def select_in(self, statement: Any, values: Iterable[Any], **params: Any) -> list[Any]:
        """Rows of ``statement`` for ``values`` (bound to ``:values``), queried in chunks."""
        return select_in(self.connection, statement, values, **params)

    def time_key(self, moment: dt.datetime) -> dt.datetime:
        """A start time as the database compares it: SQLite stores the wall-clock time without its
        offset (and hands it back naive), PostgreSQL compares instants."""
        if self.dialect == "sqlite":
            return moment.replace(tzinfo=None)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
