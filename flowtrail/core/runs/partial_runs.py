"""Removing what a run tree left in the registry before an outage cut its recording short.

Replaying a journaled invocation records it whole; first its partial records go: the root run
(by uid), its descendants, and the artifacts those runs registered (their rows only: files are
never touched; the latest-version flag moves back to the previous version).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from flowtrail.core.db.database import write_transaction
from flowtrail.core.models.artifact import Artifact
from flowtrail.core.models.run import Run

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance


def discard_run_tree(instance: Instance, root_uid: str) -> int:
    """Delete the run ``root_uid``, its descendants and their artifacts' rows; return how many runs."""
    with write_transaction(instance.sessions, [f"run-tree:{root_uid}"]) as session:
        root = session.scalar(select(Run.id).where(Run.uid == root_uid))
        if root is None:
            return 0
        ids, frontier = {root}, {root}
        while frontier:
            frontier = set(session.scalars(select(Run.id).where(Run.parent_id.in_(frontier)))) - ids
            ids |= frontier
        made = list(session.scalars(select(Artifact).where(Artifact.run_id.in_(ids)).order_by(Artifact.id.desc())))
        for artifact in made:
            if artifact.is_latest:
                previous = session.scalar(
                    select(Artifact).where(Artifact.uid.startswith(artifact.uid[:16]), Artifact.id != artifact.id,
                                           Artifact.run_id.not_in(ids) | Artifact.run_id.is_(None))
                    .order_by(Artifact.version.desc()).limit(1)
                )  # fmt: skip
                if previous is not None:
                    previous.is_latest = True
            session.delete(artifact)
        session.flush()
        session.execute(delete(Run).where(Run.id.in_(ids), Run.id != root))
        session.execute(delete(Run).where(Run.id == root))
    return len(ids)
