"""Dataset naming both ways: the namespace and name of an artifact, as the OpenLineage naming spec
prescribes, and where a dataset an event names lives (:func:`dataset_location`).

| store     | namespace         | name          |
|-----------|-------------------|---------------|
| local     | ``file``          | absolute path |
| S3        | ``s3://bucket``   | key           |
| GCS       | ``gs://bucket``   | key           |
| other URL | ``scheme://host`` | path          |

A *managed* artifact with a key (a copy flowtrail made in its own storage, under a name made of
its uid) is named by where it is kept and what it is called instead: the managed storage root as
a URL (``file:///abs/.flowtrail/storage``, ``s3://bucket/prefix``) and its key. So every version of
one key is one dataset (the version facet tells them apart), and a receiving flowtrail maps the
dataset back to the same key.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowtrail.core.models.artifact import Artifact

SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3", "gcs": "gs"}


def location_name(location: str) -> tuple[str, str]:
    """``(namespace, name)`` for an absolute local path or a URL."""
    if "://" not in location:
        return "file", location
    scheme, rest = location.split("://", 1)  # as registered: an s3a:// root a producer named stays s3a://
    host, _, path = rest.partition("/")
    if scheme == "file":
        return "file", "/" + path if host else rest
    return f"{scheme}://{host}", path


def storage_namespace(root: str, is_local: bool) -> str:
    """A storage root as a dataset namespace: ``file://`` + the path for a local folder, else the URL."""
    return f"file://{root}" if is_local else root


def dataset_name(artifact: Artifact) -> tuple[str, str]:
    """``(namespace, name)`` of an artifact: by location, or by managed storage root and key."""
    storage = artifact.storage
    if artifact.is_managed and artifact.key:
        return storage_namespace(storage.root, storage.is_local), artifact.key
    if storage.type == "external":  # a dataset another producer named (a table, a topic): as it named it
        return storage.root, artifact.path
    return location_name(storage.full_path(artifact.path))


@lru_cache(maxsize=65536)
def dataset_location(namespace: str, name: str) -> tuple[str, str]:
    """``(root to create if nothing registered holds it, location)`` of a dataset.

    ``file`` datasets are absolute local paths (referenced under "/" when no registered location
    holds them); ``scheme://authority`` namespaces are storage
    roots; anything else (``bigquery``, a Marquez namespace) is an external root of its own.
    """
    if namespace == "file":
        return "/", "/" + name.lstrip("/")
    if namespace.startswith("file:///"):  # a local storage root, as a managed artifact is named
        root = "/" + namespace[len("file:///") :].strip("/")
        return root, f"{root.rstrip('/')}/{name.lstrip('/')}"
    if "://" in namespace:
        scheme, rest = namespace.split("://", 1)
        root = f"{scheme}://{rest.rstrip('/')}"  # kept as the producer wrote it (s3a:// stays s3a://)
        return root, f"{root}/{name.lstrip('/')}"
    return namespace, f"{namespace}/{name.lstrip('/')}"
