"""Which instance an engine adapter records into, and the handle on it.

An adapter runs inside an engine's process (or a recorder process beside it) that knows nothing of
flowtrail: the instance is named by the adapter's own setting, else ``FLOWTRAIL_INSTANCE``, else
found above the folders the workflow runs in (its working folder, the folder of its workflow
file), else given by ``FLOWTRAIL_DB_URL``. The same rule finds the journal's folder when the
database itself cannot be reached.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import config as cfg

if TYPE_CHECKING:
    from ..instance import Instance


def _root(path: str | None, folders: Iterable[str | os.PathLike[str] | None]) -> str | Path | None:
    if path:
        return os.path.expanduser(path)
    if os.environ.get(cfg.ENV_INSTANCE):
        return None  # resolve() reads it
    return next((r for f in folders if f and (r := cfg.find_root(Path(f))) is not None), None)


def find_config(path: str | None = None, folders: Iterable[str | os.PathLike[str] | None] = ()) -> cfg.InstanceConfig:
    """The configuration of the instance to record into, without opening its database (see the module docstring).

    Raises :class:`~flowtrail.core.errors.NoInstanceError` when there is none.
    """
    return cfg.resolve(_root(path, folders))


def connect_for(
    path: str | None = None,
    folders: Iterable[str | os.PathLike[str] | None] = (),
    *,
    openlineage: bool = True,
) -> Instance:
    """Connect to the instance to record into and make it current (see the module docstring).

    ``openlineage=False`` stops OpenLineage emission from this process (the adapter's setting).
    """
    from ..instance import connect

    instance = connect(_root(path, folders))
    if not openlineage:
        detach_emitter(instance)
    return instance


def detach_emitter(instance: Instance) -> None:
    """Stop OpenLineage emission for ``instance`` from this process (flushing what is queued)."""
    if instance.emitter is None:
        return
    from ..openlineage.emitter import detach

    detach(instance.emitter)
    instance.emitter = None
