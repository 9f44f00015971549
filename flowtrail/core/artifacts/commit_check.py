"""Was it committed? Settling a write whose COMMIT got no answer.

When the connection breaks after COMMIT was sent, the transaction may or may not have been
committed; only the database knows. A save must not delete the objects it just placed in
managed storage if rows now point at them, so it asks over a fresh connection.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from flowtrail.core.errors import RegistryError
from flowtrail.core.models.artifact import Artifact

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

logger = logging.getLogger("flowtrail")


def is_ambiguous(exc: BaseException) -> bool:
    """Whether ``exc`` can hide a commit that happened: a lost or timed-out connection, a driver error,
    or an interruption (Ctrl-C, SIGTERM) that may have arrived while COMMIT was on its way."""
    return isinstance(exc, RegistryError | DBAPIError | KeyboardInterrupt | SystemExit)


def committed_artifacts(instance: Instance, uids: list[str]) -> bool | None:
    """True when every artifact uid is registered, False when none is, None when that cannot be told."""
    if not uids:
        return False
    try:
        with instance.engine.connect() as connection:
            found = set(connection.scalars(select(Artifact.uid).where(Artifact.uid.in_(uids))))
    except Exception as exc:  # still unreachable: nothing can be decided now
        logger.debug("could not check whether the save was committed: %s", exc)
        return None
    if found == set(uids):
        return True
    if not found:
        return False
    return None  # never expected from one transaction; keep everything
