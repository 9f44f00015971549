"""Deleting an artifact: its record, the latest-version flag of its key, and its managed copy.

Files registered in place are never touched; an artifact that belongs to a collection is refused,
since deleting it would silently change the collection.
"""

from __future__ import annotations

from sqlalchemy import select

from flowtrail.core.artifacts.objects import remove
from flowtrail.core.db.context import current
from flowtrail.core.db.database import write_transaction
from flowtrail.core.errors import IntegrityError
from flowtrail.core.models.artifact import Artifact


def delete_artifact(artifact: Artifact) -> None:
    """Delete the record; move ``is_latest`` to the previous version; remove a managed copy."""
    if artifact.id is None:
        raise IntegrityError("This artifact was never saved, so there is nothing to delete.")
    inst = current()
    storage = artifact.storage
    lock = f"artifact:{storage.root}:{artifact.key}" if artifact.key else f"hash:{artifact.hash}"
    with write_transaction(inst.sessions, [lock]) as session:
        from flowtrail.core.models.collection import collections_containing

        containing = collections_containing(session, artifact.id)
        if containing:
            names = ", ".join(f"{c.key} v{c.version}" for c in containing[:5])
            raise IntegrityError(
                f"Artifact {artifact.key or artifact.uid} is a member of {len(containing)} collection(s) ({names}): "
                "deleting it would silently change them. Delete those collections first (collection.delete())."
            )
        if artifact.is_latest:
            previous = session.scalar(
                select(Artifact)
                .where(Artifact.uid.startswith(artifact.uid[:16]), Artifact.id != artifact.id)
                .order_by(Artifact.version.desc())
                .limit(1)
            )
            if previous is not None:
                previous.is_latest = True
        session.delete(artifact)
    if artifact.is_managed:
        remove(storage, artifact.path)
