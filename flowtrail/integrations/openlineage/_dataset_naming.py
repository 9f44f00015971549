"""Datasets as events name them: where a dataset lives (storage root and location), its key and
the type of a new storage root; the datasets dataset and job events declare, and the version a
``datasetVersion`` facet names.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ...core.keys import validate_key
from ...core.openlineage.naming import SCHEME_ALIASES  # one table for emitting and consuming
from ...core.storage import LOCAL_REFERENCES
from .fold import DatasetRef

HASH_TYPE = "openlineage-version"


@lru_cache(maxsize=65536)
def dataset_location(namespace: str, name: str) -> tuple[str | None, str]:
    """``(root to create if nothing registered holds it, location)`` of a dataset.

    ``file`` datasets are absolute local paths (referenced under "/" when no registered location
    holds them); ``scheme://authority`` namespaces are storage
    roots; anything else (``bigquery``, a Marquez namespace) is an external root of its own.
    """
    if namespace == "file":
        return "/", "/" + name.lstrip("/")
    if "://" in namespace:
        scheme, rest = namespace.split("://", 1)
        root = f"{SCHEME_ALIASES.get(scheme, scheme)}://{rest.rstrip('/')}"
        return root, f"{root}/{name.lstrip('/')}"
    return namespace, f"{namespace}/{name.lstrip('/')}"


@lru_cache(maxsize=65536)
def dataset_key(relpath: str) -> str:
    """A key from a dataset path: empty segments dropped, the rest validated like any key."""
    cleaned = "/".join(part for part in relpath.split("/") if part)
    return validate_key(cleaned or relpath, what="dataset name")


def _declared_datasets(event: dict[str, Any], kind: str) -> list[DatasetRef]:
    """The datasets a dataset or job event names (they are stored like inputs)."""
    named = [event["dataset"]] if kind == "dataset" else [d for side in ("inputs", "outputs") for d in event.get(side) or []]
    return [DatasetRef(d["namespace"], d["name"], dict(d.get("facets") or {})) for d in named]


def _version_of(ref: DatasetRef) -> str | None:
    version = ref.facets.get("version") or {}
    value = version.get("datasetVersion") if isinstance(version, dict) else None
    return str(value) if value else None


def _storage_type(root: str) -> str:
    if root == "/":
        # A file outside every registered location is referenced by its absolute path; the root
        # "/" is never a storage location, so later saves still copy unknown files (see Storage).
        return LOCAL_REFERENCES
    if "://" in root:
        scheme = root.split("://", 1)[0]
        try:
            from fsspec.registry import known_implementations

            if scheme in known_implementations:
                return scheme
        except ImportError:  # pragma: no cover - fsspec is a core dependency
            pass
    return "external"
