"""What one batch holds in memory: the jobs, dataset versions and runs it loaded or will insert,
and the caches every part of the batch shares (:class:`_BatchState`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from ._statements import _SELECT_STORAGES, _chunks


@dataclass(eq=False)
class _Job:
    """A job (transform) as a batch sees it; ``id`` is None until a new one is inserted."""

    id: int | None
    namespace: str
    key: str
    type: str
    facets: Any
    original: tuple[str, Any] | None = None  # (type, facets) as stored, None until stored


@dataclass(eq=False)
class _Version:
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
class _RunRow:
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


class _BatchState:
    """What the parts of one batch (:mod:`._batch_runs`, :mod:`._batch_datasets`, :mod:`._batch`)
    share: the connection, the rows loaded or decided, and the caches."""

    def __init__(self, session: Session, own_namespace: str) -> None:
        self.session = session
        self.connection = session.connection()
        self.dialect = self.connection.dialect.name
        self.own_namespace = own_namespace
        self.storages: list[Any] = self.connection.execute(_SELECT_STORAGES).all()  # (id, root) rows
        self.transforms: dict[tuple[str, str], _Job] = {}
        self.runs: dict[str, _RunRow] = {}
        self.families: dict[tuple[int, str], list[_Version]] = {}
        self.locations: dict[tuple[str, str], tuple[int, str]] = {}  # (namespace, name) -> (storage id, key)
        self.links: dict[int, set[_Version]] = {}  # run id -> input versions

    def _select_in(self, statement: Any, values: Iterable[Any], **params: Any) -> list[Any]:
        """Rows of ``statement`` for ``values`` (bound to ``:values``), queried in chunks."""
        rows: list[Any] = []
        for chunk in _chunks(list(values)):
            rows += self.connection.execute(statement, {"values": list(chunk), **params}).all()
        return rows
