"""Finding and removing what interrupted saves leave in managed storage.

A managed copy is written under a temporary name (``.flowtrail/<instance-id>/.tmp-<random>-<pid>``),
renamed, and only then recorded. A process killed in between leaves either a temporary file or a
renamed object no artifact refers to. Neither is ever read by flowtrail; they only take space.
:func:`leftovers` lists them (older than a grace period, so saves still running are not touched)
and :func:`remove_leftovers` deletes them.

Only this instance's own prefix is ever looked at (see :mod:`.ownership`): the instance folder,
other instances' objects and objects written before instance ids are never candidates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from flowtrail.core.artifacts.ownership import MARKER, managed_prefix
from flowtrail.core.models import Artifact, Storage

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

TEMPORARY = "temporary copy of an interrupted save"
ORPHAN = "object no artifact refers to"


@dataclass(frozen=True)
class Leftover:
    storage: Storage
    relpath: str
    reason: str
    size: int | None

    @property
    def location(self) -> str:
        return self.storage.full_path(self.relpath)


def leftovers(instance: Instance, older_than_s: float = 3600.0) -> list[Leftover]:
    """Temporary copies and unreferenced objects in every storage location with managed objects."""
    found: list[Leftover] = []
    now = time.time()
    prefix = managed_prefix(instance)
    for storage in _managed_storages(instance):
        referenced = _referenced(instance, storage, prefix)
        for name, size, mtime, is_dir in _entries(storage, prefix):
            if name == MARKER:
                continue
            if older_than_s > 0 and (mtime is None or now - mtime < older_than_s):
                continue  # possibly a save in progress (or an age we cannot tell)
            relpath = f"{prefix}/{name}"
            if name.startswith(".tmp-"):
                found.append(Leftover(storage, relpath, TEMPORARY, size))
            elif relpath not in referenced:
                found.append(Leftover(storage, relpath, ORPHAN, None if is_dir else size))
    return found


def remove_leftovers(items: list[Leftover]) -> int:
    """Delete the given leftovers; return how many were removed (missing ones are skipped)."""
    removed = 0
    for item in items:
        fs = item.storage.fs
        try:
            fs.rm(item.location, recursive=True)
            removed += 1
        except FileNotFoundError:
            continue
    return removed


def _managed_storages(instance: Instance) -> list[Storage]:
    session = instance.sessions.current()
    try:
        used = set(session.scalars(select(Artifact.storage_id).where(Artifact.is_managed.is_(True)).distinct()))
    finally:
        instance.sessions.end_read()
    default = instance.default_storage
    return [s for s in instance.storages() if s.id in used or s.id == default.id]


def _referenced(instance: Instance, storage: Storage, prefix: str) -> set[str]:
    session = instance.sessions.current()
    try:
        stmt = select(Artifact.path).where(Artifact.storage_id == storage.id, Artifact.path.startswith(f"{prefix}/"))
        return set(session.scalars(stmt))
    finally:
        instance.sessions.end_read()


def _entries(storage: Storage, prefix: str) -> list[tuple[str, int | None, float | None, bool]]:
    """(name, size, modification time, is folder) of everything directly under the instance's prefix."""
    fs = storage.fs
    root = storage.full_path(prefix)
    try:
        listing: list[dict[str, Any]] = fs.ls(root, detail=True)
    except FileNotFoundError:
        return []
    entries = []
    for info in listing:
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        mtime: Any = info.get("mtime") or info.get("LastModified") or info.get("created")
        if hasattr(mtime, "timestamp"):
            mtime = mtime.timestamp()
        entries.append((name, info.get("size"), float(mtime) if mtime is not None else None, info.get("type") == "directory"))
    return entries
