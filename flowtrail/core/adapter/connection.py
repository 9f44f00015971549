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

from flowtrail.core.db import config as cfg

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance


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


def current_config() -> cfg.InstanceConfig:
    """The configuration of the instance :func:`flowtrail.core.db.context.current` returns, without connecting.

    The instance already current in this process, else the one ``current()`` would find (raises
    :class:`~flowtrail.core.errors.NoInstanceError` when there is none). Loads no database code:
    an adapter can check where it will record, and name it, before starting its engine, and
    connect while the engine starts.
    """
    import sys

    loaded = sys.modules.get("flowtrail.core.db.context")  # not imported yet: nothing can be current
    found = getattr(loaded, "_current", None)
    return found.config if found is not None else cfg.resolve(None)


def connect_for(
    path: str | None = None,
    folders: Iterable[str | os.PathLike[str] | None] = (),
    *,
    openlineage: bool = True,
) -> Instance:
    """Connect to the instance to record into and make it current (see the module docstring).

    ``openlineage=False`` stops OpenLineage emission from this process (the adapter's setting).
    """
    from flowtrail.core.instance import connect  # deferred: finding the config must not load the database layer

    instance = connect(_root(path, folders))
    if not openlineage:
        detach_emitter(instance)
    return instance


def detach_emitter(instance: Instance) -> None:
    """Stop OpenLineage emission for ``instance`` from this process (flushing what is queued)."""
    if instance.emitter is None:
        return
    from flowtrail.core.openlineage.emitter import detach  # deferred like connect()

    detach(instance.emitter)
    instance.emitter = None
