"""Storage locations: local folders and fsspec URLs (``s3://bucket/prefix``, ``gs://...``).

A file inside a registered location is registered *in place*: flowtrail records its path relative
to the location and never copies or deletes it. Anything else is copied into the instance's
managed storage under ``.flowtrail/<instance-id>/<uid><suffix>`` (see :mod:`.ownership`). fsspec is imported only for remote locations,
so the local path stays fast.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from flowtrail.core.db.context import current
from flowtrail.core.errors import StorageError
from flowtrail.core.models.record import Record, utcnow
from flowtrail.core.util.ids import random_base62

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

MANAGED_PREFIX = ".flowtrail"
LOCAL = "local"
# Local files other producers named (OpenLineage ``file`` datasets) outside every registered location:
# referenced by absolute path under the root "/", never a location saves register files in.
LOCAL_REFERENCES = "local-references"


def is_url(location: str | os.PathLike[str]) -> bool:
    text = str(location)
    return "://" in text and not text.startswith("file://")


def normalize_location(location: str | os.PathLike[str]) -> tuple[str, str]:
    """Return ``(root, type)``: an absolute local path or a URL without trailing slash."""
    text = os.fspath(location)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if is_url(text):
        protocol, rest = text.split("://", 1)
        rest = rest.rstrip("/")
        if not rest:
            raise StorageError(f"The storage URL {location!r} names no bucket or host: write e.g. s3://bucket/prefix.")
        return f"{protocol}://{rest}", protocol
    path = Path(text).expanduser()
    # A symlink keeps its own name (its folder is resolved): it is registered where it is.
    resolved = path.parent.resolve() / path.name if path.is_symlink() else path.resolve()
    return resolved.as_posix(), LOCAL


def bucket_root(url: str) -> str:
    """The root of a remote URL's bucket or host, e.g. ``s3://bucket`` for ``s3://bucket/a/b``."""
    protocol, rest = url.split("://", 1)
    return f"{protocol}://{rest.split('/', 1)[0]}"


@lru_cache(maxsize=32)
def filesystem(protocol: str) -> AbstractFileSystem:
    """An fsspec filesystem for ``protocol``; credentials and endpoints come from the usual places."""
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - fsspec is a core dependency
        raise StorageError("fsspec is not installed: pip install fsspec") from exc
    try:
        return fsspec.filesystem(protocol)
    except (ImportError, ValueError) as exc:
        hint = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}.get(protocol, protocol)
        raise StorageError(
            f"Cannot open {protocol}:// locations: {exc}. Install the fsspec backend, e.g. pip install {hint}."
        ) from exc


class Storage(Record):
    """A registered storage location: a local folder or a bucket/prefix URL."""

    __tablename__ = "storage"
    _search_fields = ("root", "description")

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(12), unique=True)
    root: Mapped[str] = mapped_column(String(1024), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __init__(self, root: str, type: str, description: str | None = None) -> None:  # noqa: A002
        super().__init__(uid=random_base62(12), root=root, type=type, description=description)

    @classmethod
    def register(cls, location: str | os.PathLike[str], description: str | None = None) -> Storage:
        """Register a folder or URL (idempotent); files inside it are then registered in place."""
        from flowtrail.core.instance import register_storage

        return register_storage(current(), location, description)

    @property
    def is_local(self) -> bool:
        """Whether objects are read from the local file system (locations and local references)."""
        return self.type in (LOCAL, LOCAL_REFERENCES)

    @property
    def is_reference(self) -> bool:
        """True for the root of external references, which is not a storage location of its own."""
        return self.type == LOCAL_REFERENCES

    @property
    def fs(self) -> AbstractFileSystem:
        return filesystem("file" if self.is_local else self.type)

    def full_path(self, relpath: str) -> str:
        """The absolute local path or URL of an object at ``relpath`` inside this location."""
        return f"{self.root.rstrip('/')}/{relpath}" if relpath else self.root

    def relative(self, location: str) -> str | None:
        """``location`` relative to this root, or None when it lies outside."""
        return relative_to_root(self.root, location)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("uid", self.uid), ("root", self.root), ("type", self.type)]


def relative_to_root(root: str, location: str) -> str | None:
    """``location`` relative to the storage ``root``, or None when it lies outside."""
    if location == root:
        return ""
    prefix = root if root.endswith("/") else root + "/"
    return location[len(prefix) :] if location.startswith(prefix) else None


def innermost_storage(storages: Iterable[Any], location: str, *, include_root: bool = True) -> tuple[Any, str] | None:
    """The location holding ``location`` with the longest root, and the path inside it.

    ``storages`` are Storage records or any rows with a ``root``; ``include_root=False`` ignores a
    storage whose root *is* the location (a dataset is never a whole storage location).
    """
    best: tuple[Any, str] | None = None
    for storage in storages:
        rel = relative_to_root(storage.root, location)
        if rel is None or (rel == "" and not include_root):
            continue
        if best is None or len(storage.root) > len(best[0].root):
            best = (storage, rel)
    return best


def object_relpath(uid: str, suffix: str, prefix: str = MANAGED_PREFIX) -> str:
    """The final name of a managed object below ``prefix`` (the instance's managed prefix)."""
    return str(PurePosixPath(prefix) / f"{uid}{suffix}")
