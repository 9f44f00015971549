"""What the background writer looks up once and then remembers: per registry and per process.

Per registry, an :class:`InstanceCache` holds the environment id, the transforms by key and
source, the artifact of each file version registered before (keyed by path, size and mtime, so a
file is hashed once per content version) and the work directories already registered as storage
locations. Per process, ``lru_cache`` keeps Prefect's version and the source of each task or flow
function. :class:`RegistryLookups`, one of the parts :class:`.writer.Writer` is made of, reads and
fills the per-registry caches.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .values import Signature

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

Producer = tuple[int, int | None]  # (artifact id, id of the run that produced it)


@dataclass
class InstanceCache:
    """What the writer remembers per registry: ids it looked up or created once."""

    environment_id: int | None = None
    transforms: dict[tuple[str, str | None], Any] = field(default_factory=dict)
    files: dict[tuple[str, Signature], Producer] = field(default_factory=dict)  # (path, stat) -> artifact
    workdirs: set[str] = field(default_factory=set)


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
    """The writer's per-registry lookups: an :class:`InstanceCache` per registry, filled on first use."""

    def __init__(self) -> None:
        self._caches: weakref.WeakKeyDictionary[Any, InstanceCache] = weakref.WeakKeyDictionary()

    def cache(self, instance: Instance) -> InstanceCache:
        found = self._caches.get(instance)
        if found is None:
            found = self._caches[instance] = InstanceCache()
        return found

    def environment_id(self, instance: Instance, session: Any) -> int | None:
        """The id of this process's software environment in ``instance`` (looked up once)."""
        cache = self.cache(instance)
        if cache.environment_id is None:
            from flowtrail.core.environment import (
                current_environment,
                get_or_create_environment,
            )

            digest, description = current_environment(instance.config.cache_dir)
            cache.environment_id = get_or_create_environment(session, digest, description).id
        return cache.environment_id

    def transform(
        self, instance: Instance, session: Any, key: str, kind: str, source: str | None, description: str | None = None
    ) -> Any:
        """The transform for ``key`` and this source: looked up (or created) once per process."""
        from flowtrail.core.transform import get_or_create_transform, source_hash

        transforms = self.cache(instance).transforms
        ident = (key, source_hash(source))
        transform = transforms.get(ident)
        if transform is None:
            transform = get_or_create_transform(session, key, type=kind, source_code=source, description=description)
            transforms[ident] = transform
        return transform
