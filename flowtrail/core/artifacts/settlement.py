"""Settling a save whose write transaction failed: keep or remove the objects it placed.

Managed copies are moved to their final names inside the write transaction. If the transaction
fails, those objects are removed only when the registry is known not to reference them; a commit
whose answer was lost is checked over a new connection first (:mod:`.commit_check`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from flowtrail.core.artifacts.commit_check import committed_artifacts, is_ambiguous
from flowtrail.core.artifacts.objects import remove
from flowtrail.core.db.failures import wrap_unexpected
from flowtrail.core.errors import RegistryUnavailable
from flowtrail.core.models.artifact import Artifact

if TYPE_CHECKING:
    from flowtrail.core.artifacts.save import Pending
    from flowtrail.core.instance import Instance

logger = logging.getLogger("flowtrail")


def settle_failed_commit(
    inst: Instance, prepared: Sequence[Pending], moved: Sequence[Pending], exc: BaseException
) -> list[Artifact]:
    """After a failed write: remove placed objects only if the registry is known not to reference them.

    A connection lost after COMMIT reached the server may hide a commit. Then the rows exist and
    the save succeeded: the records are read back and returned.
    """
    new_uids = [p.artifact.uid for p in prepared if p.duplicate_of is None and p.artifact.uid]
    committed = committed_artifacts(inst, new_uids) if moved and is_ambiguous(exc) else False
    if committed is True:
        if not isinstance(exc, Exception):
            raise exc  # Ctrl-C or SIGTERM: the save stands (objects kept), the interruption goes on
        logger.info("The connection broke after the save was committed; the registry holds it, so it stands.")
        uids = [(p.duplicate_of or p.artifact).uid for p in prepared]
        session = inst.sessions.current()
        try:
            found = {a.uid: a for a in session.scalars(select(Artifact).where(Artifact.uid.in_(uids)))}
        finally:
            inst.sessions.end_read()
        return [found[uid] for uid in uids]
    if committed is None:
        raise RegistryUnavailable(
            f"The save's commit got no answer and the registry cannot be reached to check it ({exc}). Its "
            f"{len(moved)} object(s) were kept, so nothing the registry may reference is lost: retry the save once "
            "the registry is back (it returns the registered record); `flowtrail storage clean` later removes "
            "copies no record refers to."
        ) from exc
    for p in moved:
        remove(p.storage, p.final)
    if isinstance(exc, DBAPIError):  # a raw driver error flowtrail has no better words for
        raise wrap_unexpected(exc, inst.engine.url.render_as_string(hide_password=True), "saving artifacts") from exc
    raise exc
