"""Dataset namespace and name for an artifact, as the OpenLineage naming spec prescribes.

| store     | namespace         | name          |
|-----------|-------------------|---------------|
| local     | ``file``          | absolute path |
| S3        | ``s3://bucket``   | key           |
| GCS       | ``gs://bucket``   | key           |
| other URL | ``scheme://host`` | path          |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..artifact import Artifact

SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3", "gcs": "gs"}


def location_name(location: str) -> tuple[str, str]:
    """``(namespace, name)`` for an absolute local path or a URL."""
    if "://" not in location:
        return "file", location
    scheme, rest = location.split("://", 1)
    scheme = SCHEME_ALIASES.get(scheme, scheme)
    host, _, path = rest.partition("/")
    if scheme == "file":
        return "file", "/" + path if host else rest
    return f"{scheme}://{host}", path


def dataset_name(artifact: Artifact) -> tuple[str, str]:
    return location_name(artifact.storage.full_path(artifact.path))
