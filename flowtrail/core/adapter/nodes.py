"""Artifacts without bytes: a named pipe or stream between two tasks, kept as a node of the graph.

A pipe's data flows from one task to another and is never stored, but the edge is real lineage.
:func:`add_node` registers such a node under its path in a storage location (a new version of
its key each time), with its producing run if known; :func:`set_producer` names the producer
later (the consumer was seen first).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from flowtrail.core.db.database import write_transaction
from flowtrail.core.models.artifact import Artifact
from flowtrail.core.models.storage import Storage
from flowtrail.core.util.host import current_user
from flowtrail.core.util.ids import new_stem, versioned_uid

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance
    from flowtrail.core.models.run import Run


def add_node(
    instance: Instance, root: str, location: str, *, kind: str, description: str | None = None, run: Run | None = None
) -> Artifact | None:
    """Register a content-less artifact for ``location`` inside the storage location ``root``; None if ``root`` is not one."""
    key = os.path.relpath(location, root).replace(os.sep, "/")
    with write_transaction(instance.sessions, [f"artifact:{root}:{key}"]) as session:
        storage = session.scalar(select(Storage).where(Storage.root == root))
        if storage is None:
            return None
        previous = session.scalar(
            select(Artifact).where(Artifact.storage_id == storage.id, Artifact.key == key, Artifact.is_latest)
        )
        version = previous.version + 1 if previous is not None else 1
        stem = previous.uid[:16] if previous is not None else new_stem()
        if previous is not None:
            previous.is_latest = False
        node = Artifact(key=key, kind=kind, description=description, _external=True)
        node.uid, node.version, node.is_latest = versioned_uid(stem, version), version, True
        node.storage_id, node.path, node.created_by = storage.id, key, current_user()
        node.run_id = run.id if run is not None else None
        session.add(node)
    return node


def set_producer(instance: Instance, node: Artifact, run: Run) -> None:
    """Name ``run`` as the producer of a node registered before its producer was known."""
    with write_transaction(instance.sessions) as session:
        session.execute(update(Artifact).where(Artifact.id == node.id).values(run_id=run.id))
