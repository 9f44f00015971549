"""Saving, querying and loading collections (see :mod:`flowtrail.core.models.collection` for the model).

A collection is versioned by key like an artifact. Its hash is an MD5 over its members' content
hashes in order (a member without a hash, e.g. a dataset known only from OpenLineage, contributes
its uid instead). Saving compares with the key's latest version inside one write transaction that
holds a lock on the key, so concurrent savers on SQLite (``BEGIN IMMEDIATE``) and PostgreSQL
(advisory lock) never create two "version 2"s:

- same hash and the same member records in the same order -> the existing record is returned;
- otherwise -> a new version (the uid's 16-character stem stays, the last 4 characters count
  versions), the previous version loses ``is_latest``, and the membership rows are inserted in
  the same transaction.

Members are read in collection order through ``position``; see :func:`member_query`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, select
from sqlalchemy.sql.elements import ColumnElement

from flowtrail.core.artifacts.access import cache_artifact
from flowtrail.core.db.context import current
from flowtrail.core.db.database import write_transaction
from flowtrail.core.errors import FlowtrailError, IntegrityError, UnsupportedFormat
from flowtrail.core.models.artifact import Artifact
from flowtrail.core.models.collection import Collection, collection_artifact
from flowtrail.core.models.run import link_inputs
from flowtrail.core.query.queryset import QuerySet
from flowtrail.core.runs.tracking import current_run
from flowtrail.core.util.formats import load_path
from flowtrail.core.util.host import current_user
from flowtrail.core.util.versioning import next_version

if TYPE_CHECKING:
    from flowtrail.core.models.run import Run

logger = logging.getLogger("flowtrail")
BATCH = 500
# What each loadable suffix becomes in memory; only these two kinds can be concatenated.
_CONCAT_TYPES = {".parquet": "DataFrame", ".csv": "DataFrame", ".tsv": "DataFrame", ".h5ad": "AnnData"}


def _describe_member(artifact: Any, position: int) -> str:
    name = getattr(artifact, "key", None) or getattr(artifact, "uid", None) or "(no key)"
    return f"member {position} ({name!r})"


def check_members(artifacts: Sequence[Artifact] | QuerySet[Artifact] | Any) -> list[Artifact]:
    """Validate the members of a new collection; return them as a list of saved Artifact records.

    Accepts a list, a tuple or a ``QuerySet`` of artifacts (in the query's order). Raises
    :class:`~flowtrail.core.errors.IntegrityError` for an empty selection, anything that is not an
    artifact, an artifact that was never saved, and an artifact listed twice.
    """
    if isinstance(artifacts, QuerySet):
        if artifacts.model is not Artifact:
            raise IntegrityError(
                f"A collection holds artifacts, but this query returns {artifacts.model.__name__} records: "
                "pass Artifact.filter(...) instead."
            )
        members: list[Any] = artifacts.to_list()
    elif isinstance(artifacts, Artifact):
        raise IntegrityError(
            f"Collection() takes a list of artifacts, got the single artifact {artifacts!r}: wrap it, "
            "e.g. Collection([artifact], key=...)."
        )
    elif isinstance(artifacts, list | tuple):
        members = list(artifacts)
    else:
        raise IntegrityError(
            f"Collection() takes a list, tuple or QuerySet of artifacts, got {type(artifacts).__name__}: "
            "convert it with list(...)."
        )
    if not members:
        raise IntegrityError(
            "A collection needs at least one artifact, but the selection is empty: check the list or the "
            "query (e.g. Artifact.filter(...).count())."
        )
    seen: dict[int, int] = {}
    for position, artifact in enumerate(members):
        if not isinstance(artifact, Artifact):
            raise IntegrityError(
                f"{_describe_member(artifact, position)} is a {type(artifact).__name__}, not an Artifact: "
                "register it first, e.g. Artifact(path, key=...).save(), and pass the returned record."
            )
        if artifact.id is None:
            raise IntegrityError(
                f"{_describe_member(artifact, position)} is not saved yet: call .save() on it first and pass "
                "the record save() returns (it may be an existing record with identical content)."
            )
        if artifact.id in seen:
            raise IntegrityError(
                f"{_describe_member(artifact, position)} is the same artifact as member {seen[artifact.id]} "
                f"(uid {artifact.uid}): a collection lists each artifact once; remove the duplicate."
            )
        seen[artifact.id] = position
    return members


def collection_hash(members: Sequence[Artifact]) -> str:
    """MD5 (hex) over the members' content hashes in order; a hashless member contributes its uid."""
    digest = hashlib.md5()
    for artifact in members:
        digest.update((artifact.hash or f"uid:{artifact.uid}").encode() + b"\n")
    return digest.hexdigest()


def _member_ids(session: Any, collection_id: int) -> list[int]:
    rows = session.scalars(
        select(collection_artifact.c.artifact_id)
        .where(collection_artifact.c.collection_id == collection_id)
        .order_by(collection_artifact.c.position)
    )
    return list(rows)


def _check_still_present(session: Any, ids: list[int]) -> None:
    found: set[int] = set()
    for start in range(0, len(ids), BATCH):
        found.update(session.scalars(select(Artifact.id).where(Artifact.id.in_(ids[start : start + BATCH]))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise IntegrityError(
            f"{len(missing)} member artifact(s) were deleted since they were selected (ids {missing[:5]}): "
            "select the members again and save the collection anew."
        )


def save_collection(collection: Collection) -> Collection:
    """Register a new collection, or return the key's latest version when it has the same members.

    The collection belongs to its explicit ``run=``, else to the current tracked run (if any).
    Calling it on a saved collection persists a changed ``description``; members never change
    (save a new version under the same key instead).
    """
    inst = current()
    if collection.id is not None:
        return collection._save_changes()
    members: list[Artifact] | None = getattr(collection, "_members", None)
    if not members:
        raise IntegrityError("This collection has no members: create it with Collection([artifacts...], key=...).")
    run: Run | None = getattr(collection, "_pending_run", None) or current_run()
    if run is not None and run.id is None:
        raise IntegrityError(f"The run {run!r} is not saved: start it with flowtrail.track() or start_run().")
    ids = [a.id for a in members]
    digest = collection_hash(members)
    with write_transaction(inst.sessions, [f"collection:{collection.key}"]) as session:
        previous = session.scalar(
            select(Collection).where(Collection.key == collection.key, Collection.is_latest.is_(True))
        )
        if previous is not None and previous.hash == digest and _member_ids(session, previous.id) == ids:
            logger.info(
                "Collection %r already has these %d members as version %d; returned the existing record.",
                collection.key, len(ids), previous.version,
            )  # fmt: skip
            return previous
        _check_still_present(session, ids)
        collection.uid, version = next_version([previous])
        if previous is not None:
            session.flush()  # previous gives up is_latest before the new latest row exists
        collection.version = version
        collection.is_latest = True
        collection.hash = digest
        collection.n_artifacts = len(ids)
        collection.created_by = current_user()
        collection.run_id = run.id if run is not None else None
        session.add(collection)
        session.flush()
        rows = [{"collection_id": collection.id, "artifact_id": i, "position": p} for p, i in enumerate(ids)]
        for start in range(0, len(rows), BATCH):
            session.execute(collection_artifact.insert(), rows[start : start + BATCH])
    return collection


def members_clause(collection: Collection) -> ColumnElement[bool]:
    """A filter expression selecting a collection's members: ``Artifact.filter(members_clause(c))``."""
    if collection.id is None:
        return Artifact.id.in_([a.id for a in getattr(collection, "_members", [])])
    return Artifact.id.in_(
        select(collection_artifact.c.artifact_id).where(collection_artifact.c.collection_id == collection.id)
    )


def member_query(collection: Collection) -> QuerySet[Artifact]:
    """The members as a lazy ``QuerySet`` of Artifact, ordered by their position in the collection.

    The position ordering comes first, so a later ``.order_by(...)`` only breaks ties (positions
    are unique, so it has no effect); ``.filter(...)``, ``.count()`` and ``.to_dataframe()`` work
    as on any query set.
    """
    if collection.id is None:
        positions = {a.id: p for p, a in enumerate(getattr(collection, "_members", []))}
        rank: Any = case(positions, value=Artifact.id) if positions else None
    else:
        rank = (
            select(collection_artifact.c.position)
            .where(
                collection_artifact.c.collection_id == collection.id,
                collection_artifact.c.artifact_id == Artifact.id,
            )
            .scalar_subquery()
        )
    return QuerySet(Artifact, where=(members_clause(collection),), rank=rank)


def _members_of(collection: Collection) -> list[Artifact]:
    if collection.id is None:
        return list(getattr(collection, "_members", []))
    return member_query(collection).to_list()


def load_collection(collection: Collection, **concat_options: Any) -> Any:
    """Load every member and concatenate them in collection order.

    DataFrames (parquet, csv, tsv) go through ``pandas.concat``, AnnData (h5ad) through
    ``anndata.concat``; ``concat_options`` are passed on (``join=``, ``keys=``, ``label=``, ...).
    With ``label=`` and no ``keys=``, each member's key (or uid) labels its rows: anndata stores it
    in ``obs[label]``, and for DataFrames a column ``label`` is added. Inside a tracked run every
    member becomes an input of the run (one write for all of them).
    """
    members = _members_of(collection)
    kinds = [_CONCAT_TYPES.get(a.suffix.lower()) for a in members]
    for position, (artifact, kind) in enumerate(zip(members, kinds, strict=True)):
        if kind is None:
            raise UnsupportedFormat(
                f"Cannot concatenate collection {collection.key!r}: {_describe_member(artifact, position)} is a "
                f"{artifact.suffix or 'suffix-less'} {artifact.kind}; only DataFrames (.parquet, .csv, .tsv) and "
                "AnnData (.h5ad) can be concatenated. Load members one by one with "
                "[a.load() for a in collection.artifacts] instead."
            )
        if kind != kinds[0]:
            raise UnsupportedFormat(
                f"Cannot concatenate collection {collection.key!r}: member 0 loads as {kinds[0]} but "
                f"{_describe_member(artifact, position)} loads as {kind} ({artifact.suffix}). Put only one kind "
                "in a collection, or load members one by one with [a.load() for a in collection.artifacts]."
            )
    objects = _load_members(members)
    label = concat_options.get("label")
    if label is not None and "keys" not in concat_options:
        concat_options["keys"] = [a.key or a.uid for a in members]
    if kinds[0] == "AnnData":
        import anndata

        return anndata.concat(objects, **concat_options)
    import pandas as pd

    if label is not None:
        concat_options.pop("label")
        keys = concat_options.pop("keys")
        objects = [frame.assign(**{label: name}) for frame, name in zip(objects, keys, strict=True)]
    return pd.concat(objects, **concat_options)


def _load_members(members: list[Artifact]) -> list[Any]:
    objects = []
    for position, artifact in enumerate(members):
        try:
            objects.append(load_path(cache_artifact(artifact, track=False), artifact.suffix))
        except FlowtrailError as exc:
            raise type(exc)(f"Loading {_describe_member(artifact, position)} of the collection failed: {exc}") from exc
    run = current_run()
    if run is not None:
        link_inputs(current(), run, members)
    return objects


__all__ = ["check_members", "collection_hash", "load_collection", "member_query", "members_clause", "save_collection"]


def delete_collection(collection: Collection) -> None:
    """Delete the collection record (its members stay); the previous version becomes the latest."""
    if collection.id is None:
        raise IntegrityError("This collection was never saved, so there is nothing to delete.")
    inst = current()
    with write_transaction(inst.sessions, [f"collection:{collection.key}"]) as session:
        if collection.is_latest:
            previous = session.scalar(
                select(Collection)
                .where(Collection.key == collection.key, Collection.id != collection.id)
                .order_by(Collection.version.desc())
                .limit(1)
            )
            if previous is not None:
                previous.is_latest = True
        session.delete(collection)
