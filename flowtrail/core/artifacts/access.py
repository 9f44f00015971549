"""Reading artifact content: local paths, downloads into the cache, loading, streaming.

Reading an artifact inside a tracked run records it as one of the run's inputs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from flowtrail.core.db.context import current
from flowtrail.core.errors import StorageError
from flowtrail.core.runs.tracking import current_run
from flowtrail.core.util.formats import load_path
from flowtrail.core.util.ids import random_base62

if TYPE_CHECKING:
    from flowtrail.core.models.artifact import Artifact


def _track_input(artifact: Artifact) -> None:
    run = current_run()
    if run is not None and artifact.id is not None and artifact.run_id != run.id:
        from flowtrail.core.db.context import current
        from flowtrail.core.models.run import link_inputs

        link_inputs(current(), run, [artifact])


def local_path(artifact: Artifact) -> Path | None:
    """The artifact's local path when its storage is a local folder, else None."""
    storage = artifact.storage
    return Path(storage.full_path(artifact.path)) if storage.is_local else None


def cache_artifact(artifact: Artifact, *, track: bool = True) -> Path:
    """A local path to the content; remote objects are downloaded once into the instance cache."""
    path = local_path(artifact)
    if path is None:
        path = _download(artifact)
    elif not path.exists():
        raise StorageError(
            f"The file of artifact {artifact.uid} ({artifact.key}) is missing at {path}. It was moved or "
            "deleted outside flowtrail; restore it, or delete the record with artifact.delete()."
        )
    if track:
        _track_input(artifact)
    return path


def _download(artifact: Artifact) -> Path:
    storage = artifact.storage
    target = current().config.cache_dir / storage.uid / artifact.path
    if target.exists() and (artifact.kind == "folder" or target.stat().st_size == artifact.size):
        return target
    url = storage.full_path(artifact.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.{random_base62(6)}.part")
    try:
        storage.fs.get(url, str(scratch), recursive=artifact.kind == "folder")
        os.replace(scratch, target)
    except FileNotFoundError:
        raise StorageError(f"The object of artifact {artifact.uid} is missing at {url}.") from None
    except OSError as exc:
        raise StorageError(f"Could not download {url}: {exc}. Check the network and your credentials.") from exc
    return target


def load_artifact(artifact: Artifact) -> Any:
    """Load the content into memory by suffix (see :mod:`flowtrail.core.util.formats`)."""
    return load_path(cache_artifact(artifact), artifact.suffix)


def open_artifact(artifact: Artifact, mode: str = "rb") -> BinaryIO:
    """Open the content for streaming reads without downloading it first."""
    if mode not in ("r", "rb"):
        raise StorageError(f"Artifacts are opened read-only; got mode {mode!r}. Save a new version to change one.")
    path = local_path(artifact)
    if path is not None:
        handle: Any = open(cache_artifact(artifact, track=False), mode)  # noqa: SIM115 - returned to the caller
    else:
        handle = artifact.storage.fs.open(artifact.storage.full_path(artifact.path), mode)
    _track_input(artifact)
    return handle
