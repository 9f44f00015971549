"""Objects in storage: copying into managed storage under temporary names, hashing files where
they are (local or remote), moving copies to their final names and removing them.

Everything here works on bytes and paths; what the registry records is decided in :mod:`.saving`.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from typing import Any

from flowtrail.core.errors import StorageError
from flowtrail.core.models.storage import MANAGED_PREFIX, Storage, filesystem
from flowtrail.core.util.copying import copy_and_hash, copy_file_and_hash
from flowtrail.core.util.hashing import (
    DEFAULT_ALGORITHM,
    Digest,
    combine_folder,
    folder_files,
    hash_file,
    hash_folder,
    hash_stream,
)
from flowtrail.core.util.ids import random_base62

logger = logging.getLogger("flowtrail")
Progress = Callable[[int], None]


def temp_relpath(suffix: str, prefix: str = MANAGED_PREFIX) -> str:
    """A temporary name below ``prefix`` (the instance's managed prefix) for a copy in progress."""
    return f"{prefix}/.tmp-{random_base62(12)}-{os.getpid()}{suffix}"


def copy_file(
    source: str,
    storage: Storage,
    relpath: str,
    progress: Progress | None,
    written: list[str] | None = None,
    algorithm: str = DEFAULT_ALGORITHM,
) -> Digest:
    target = storage.full_path(relpath)
    try:
        if storage.is_local:
            folder = os.path.dirname(target)
            if not os.path.isdir(folder):  # a stat, cheaper than mkdir's "exists" on every copy of a batch
                os.makedirs(folder, exist_ok=True)
            if written is None:
                return copy_file_and_hash(source, target, progress, algorithm=algorithm)
            digest = copy_file_and_hash(source, target, progress, fsync=False, algorithm=algorithm)
            written.append(target)
            return digest
        with storage.fs.open(target, "wb") as out:
            return copy_and_hash(source, out.write, progress, algorithm=algorithm)
    except OSError as exc:
        raise StorageError(f"Could not copy {source} to {target}: {exc}. Check free space and permissions.") from exc


def copy_folder(
    source: str,
    storage: Storage,
    relpath: str,
    progress: Progress | None,
    written: list[str] | None = None,
    algorithm: str = DEFAULT_ALGORITHM,
) -> Digest:
    files = folder_files(source)
    if not files:
        raise StorageError(f"The folder {source} is empty: there is nothing to register.")
    entries = [
        (rel, copy_file(str(full), storage, f"{relpath}/{rel}", progress, written, algorithm)) for rel, full in files
    ]
    return combine_folder(entries, algorithm)


def hash_in_place(
    storage: Storage, relpath: str, kind: str, progress: Progress | None, algorithm: str = DEFAULT_ALGORITHM
) -> Digest:
    location = storage.full_path(relpath)
    try:
        if storage.is_local:
            if kind == "folder" or os.path.isdir(location):
                digest = hash_folder(location, progress, algorithm=algorithm)
                if digest.n_files == 0:
                    raise StorageError(f"The folder {location} is empty: there is nothing to register.")
                return digest
            return hash_file(location, progress, algorithm=algorithm)
        return _hash_remote(storage, location, progress, algorithm)
    except FileNotFoundError:
        raise StorageError(f"No file or folder at {location}: check the path or URL.") from None
    except PermissionError as exc:
        raise StorageError(f"Cannot read {location}: {exc}. Check its permissions.") from exc


def _hash_remote(storage: Storage, url: str, progress: Progress | None, algorithm: str) -> Digest:
    fs = storage.fs
    if fs.isdir(url):
        # fsspec lists paths without the protocol: "bucket/prefix/file".
        base = fs._strip_protocol(url).rstrip("/") + "/"
        entries = []
        for path in sorted(fs.find(url)):
            entries.append((path[len(base) :], _remote_file_digest(fs, path, progress, algorithm)))
        if not entries:
            raise StorageError(f"Nothing is stored below {url}: check the URL.")
        return combine_folder(entries, algorithm)
    if not fs.exists(url):
        raise StorageError(f"No object at {url}: check the URL and your credentials.")
    return _remote_file_digest(fs, url, progress, algorithm)


def _remote_file_digest(fs: Any, path: str, progress: Progress | None, algorithm: str) -> Digest:
    info = fs.info(path)
    etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
    size = int(info.get("size") or 0)
    # A single-part S3 upload's ETag is the MD5 of its content; multipart ETags ("...-N") are not.
    if algorithm == "md5" and len(etag) == 32 and all(c in "0123456789abcdef" for c in etag.lower()):
        return Digest(etag.lower(), algorithm, size)
    # Streamed in chunks (memory stays bounded whatever the object's size).
    with fs.open(path, "rb") as stream:
        return hash_stream(stream, progress, algorithm=algorithm)


def move(storage: Storage, source_rel: str, target_rel: str) -> None:
    source, target = storage.full_path(source_rel), storage.full_path(target_rel)
    if storage.is_local:
        os.replace(source, target)
        return
    fs = storage.fs
    if not fs.isdir(source):
        fs.mv(source, target)
        return
    # Object stores have no folders to rename: move each object under the prefix.
    base = fs._strip_protocol(source).rstrip("/") + "/"
    for path in fs.find(source):
        fs.mv(path, f"{target}/{path[len(base):]}")


def remove(storage: Storage | None, relpath: str | None) -> None:
    if storage is None or relpath is None:
        return
    location = storage.full_path(relpath)
    try:
        if storage.is_local:
            if os.path.isdir(location):
                shutil.rmtree(location, ignore_errors=True)
            elif os.path.exists(location):
                os.unlink(location)
        else:
            filesystem(storage.type).rm(location, recursive=True)
    except (OSError, FileNotFoundError) as exc:  # best effort: an orphan object is harmless
        logger.debug("could not remove %s: %s", location, exc)


def sync_renames(placed: list[tuple[Storage, str]]) -> None:
    """Make renames durable before the rows that point at them are committed."""
    folders = {os.path.dirname(storage.full_path(rel)) for storage, rel in placed if storage.is_local}
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
