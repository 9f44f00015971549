"""What the background writer keeps per registry and per process.

Per registry, an :class:`InstanceCache` holds the door's writers for it: a
:class:`~flowtrail.core.adapter.FileRegistry` (the artifact of each file version registered
before, keyed by path, size and mtime, so a file is hashed once per content version; the work
directories registered as storage locations) and a :class:`~flowtrail.core.adapter.run_rows.RunRows`
(run rows in bulk; transforms and the environment looked up once). Per process, ``lru_cache``
keeps Prefect's version and the source of each task or flow function. :class:`RegistryLookups`,
one of the parts :class:`.writer.Writer` is made of, hands out the per-registry caches.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowtrail.core.adapter import FileRegistry, Instance
    from flowtrail.core.adapter.run_rows import RunRows

Producer = tuple[int, int | None]  # (artifact id, id of the run that produced it)
WORKDIR_DESCRIPTION = "Working folder of a tracked Prefect flow"


@dataclass
class InstanceCache:
    """The door's writers for one registry, used by the writer thread only."""

    files: FileRegistry
    rows: RunRows


@functools.lru_cache(maxsize=4096)
def source_of(fn: Any) -> str | None:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return None


@functools.lru_cache(maxsize=1)
def prefect_version() -> str | None:
    try:
        import prefect

        return str(prefect.__version__)
    except Exception:
        return None


class RegistryLookups:
    """The writer's per-registry caches: an :class:`InstanceCache` per registry, made on first use."""

    def __init__(self) -> None:
        self._caches: weakref.WeakKeyDictionary[Any, InstanceCache] = weakref.WeakKeyDictionary()

    def cache(self, instance: Instance) -> InstanceCache:
        found = self._caches.get(instance)
        if found is None:
            from flowtrail.core.adapter import FileRegistry
            from flowtrail.core.adapter.run_rows import RunRows

            # Outside every storage location a file is copied (below the flow's size limit), not
            # registered in place: the user decides which folders flowtrail may point into.
            files = FileRegistry(instance, folder_description=WORKDIR_DESCRIPTION, register_outside=False)
            found = self._caches[instance] = InstanceCache(files, RunRows(instance))
        return found
