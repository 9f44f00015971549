"""Datasets as events name them: the registered storage holding a dataset's location (see
:func:`flowtrail.core.openlineage.naming.dataset_location`), its key and the type of a new storage
root; the datasets dataset and job events declare, and the version a ``datasetVersion`` facet names.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flowtrail.core.adapter import validate_key
from flowtrail.core.models.storage import LOCAL, LOCAL_REFERENCES
from flowtrail.core.openlineage.naming import SCHEME_ALIASES  # one table for emitting and consuming
from flowtrail.integrations.openlineage.fold import DatasetRef

__all__ = [
    "HASH_TYPE",
    "aliased",
    "dataset_key",
    "declared_datasets",
    "hash_type",
    "holding_storage",
    "root_of_key",
    "storage_type",
    "version_of",
]

HASH_TYPE = "openlineage-version"


def aliased(location: str) -> str | None:
    """The same location under the scheme flowtrail registers (``s3a://b/k`` -> ``s3://b/k``), if another."""
    scheme, sep, rest = location.partition("://")
    alias = SCHEME_ALIASES.get(scheme) if sep else None
    return f"{alias}://{rest}" if alias else None


def holding_storage(storages: Any, location: str) -> tuple[Any, str] | None:
    """The registered storage holding ``location``, also under its scheme's alias (see :func:`aliased`)."""
    from flowtrail.core.models.storage import innermost_storage

    best = innermost_storage(storages, location, include_root=False)
    other = aliased(location)
    if best is None and other is not None:
        best = innermost_storage(storages, other, include_root=False)
    return best


@lru_cache(maxsize=65536)
def dataset_key(relpath: str) -> str:
    """A key from a dataset path: empty segments dropped, the rest validated like any key."""
    cleaned = "/".join(part for part in relpath.split("/") if part)
    return validate_key(cleaned or relpath, what="dataset name")


def declared_datasets(event: dict[str, Any], kind: str) -> list[DatasetRef]:
    """The datasets a dataset or job event names (they are stored like inputs)."""
    named = [event["dataset"]] if kind == "dataset" else [d for side in ("inputs", "outputs") for d in event.get(side) or []]
    return [DatasetRef(d["namespace"], d["name"], dict(d.get("facets") or {})) for d in named]


def version_of(ref: DatasetRef) -> str | None:
    version = ref.facets.get("version") or {}
    value = version.get("datasetVersion") if isinstance(version, dict) else None
    return str(value) if value else None


def flowtrail_facet(ref: DatasetRef) -> dict[str, Any]:
    facet = ref.facets.get("flowtrail")
    return facet if isinstance(facet, dict) else {}


def hash_type(ref: DatasetRef, digest: str | None) -> str | None:
    """How a version was hashed: as a flowtrail producer says (md5, ...), else an opaque version."""
    if not digest:
        return None
    facet = flowtrail_facet(ref)
    if facet.get("hash") == digest and isinstance(facet.get("hashType"), str) and facet["hashType"]:
        return facet["hashType"][:32]
    return HASH_TYPE


def root_of_key(ref: DatasetRef, location: str) -> str | None:
    """The storage root a flowtrail producer's dataset lives in, when its key ends its location.

    A file registered in place under ``/data/raw.csv`` with key ``raw.csv`` came from the root
    ``/data``: registering that root gives it its key back, not ``data/raw.csv``.
    """
    key = flowtrail_facet(ref).get("key")
    if not isinstance(key, str) or not key or not location.endswith("/" + key.lstrip("/")):
        return None
    root = location[: -len(key.lstrip("/")) - 1]
    return root if root and root not in ("/", "file:") and not root.endswith(":/") else None


def storage_type(root: str) -> str:
    if root == "/":
        # A file outside every registered location is referenced by its absolute path; the root
        # "/" is never a storage location, so later saves still copy unknown files (see Storage).
        return LOCAL_REFERENCES
    if root.startswith("/"):
        return LOCAL
    if "://" in root:
        scheme = root.split("://", 1)[0]
        try:
            from fsspec.registry import known_implementations

            if scheme in known_implementations:
                return scheme
        except ImportError:  # pragma: no cover - fsspec is a core dependency
            pass
    return "external"
