"""Paths of a Nextflow run, local or on object storage, all read through fsspec.

Nextflow writes local paths (``/data/work/ab/cdef...``) and, for cloud work dirs, URLs
(``s3://bucket/work/ab/cdef...``). Everything the adapter reads from a work dir, a trace file or
a lineage store goes through :func:`filesystem_for`, so a work dir on S3, GCS or Azure is read
the same way as a local one (with the matching fsspec backend installed).
"""

from __future__ import annotations

import os
import posixpath
from functools import lru_cache
from typing import Any


def is_url(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def strip_file_scheme(location: str) -> str:
    """``file:///a/b`` -> ``/a/b``; anything else unchanged."""
    if location.startswith("file://"):
        rest = location[len("file://") :]
        # file://host/path is not something Nextflow writes; file:///path is.
        return rest if rest.startswith("/") else "/" + rest.split("/", 1)[-1]
    return location


def normalize(location: str) -> str:
    """An absolute local path (symlinks in parent folders kept as written) or a URL."""
    location = strip_file_scheme(str(location))
    if is_url(location):
        return location.rstrip("/")
    return os.path.normpath(os.path.abspath(location))


def join(base: str, *parts: str) -> str:
    if is_url(base):
        return posixpath.join(base.rstrip("/"), *parts)
    return os.path.join(base, *parts)


def dirname(location: str) -> str:
    return posixpath.dirname(location.rstrip("/")) if is_url(location) else os.path.dirname(location)


def basename(location: str) -> str:
    return posixpath.basename(location.rstrip("/"))


@lru_cache(maxsize=16)
def _filesystem(protocol: str) -> Any:
    import fsspec

    return fsspec.filesystem(protocol)


def filesystem_for(location: str) -> tuple[Any, str]:
    """``(fs, path)``: the fsspec filesystem for ``location`` and the path to pass to it."""
    location = strip_file_scheme(location)
    if is_url(location):
        protocol = location.split("://", 1)[0]
        fs = _filesystem(protocol)
        return fs, location
    return _filesystem("file"), location


def read_text(location: str, *, errors: str = "replace") -> str | None:
    """The text of a file, or None when it does not exist."""
    fs, path = filesystem_for(location)
    try:
        with fs.open(path, "rb") as handle:
            return handle.read().decode("utf-8", errors=errors)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def read_tail(location: str, max_bytes: int) -> str | None:
    """The last ``max_bytes`` of a file as text (cheap on huge files and on object stores)."""
    fs, path = filesystem_for(location)
    try:
        with fs.open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    return data.decode("utf-8", errors="replace")


def exists(location: str) -> bool:
    fs, path = filesystem_for(location)
    try:
        return bool(fs.exists(path))
    except (FileNotFoundError, PermissionError):
        return False


def isdir(location: str) -> bool:
    fs, path = filesystem_for(location)
    try:
        return bool(fs.isdir(path))
    except (FileNotFoundError, PermissionError):
        return False


def listdir(location: str) -> list[tuple[str, bool]]:
    """``(name, is_dir)`` for each entry of a folder (symlinks followed, as Nextflow's globbing does)."""
    if not is_url(location):
        try:
            with os.scandir(location) as entries:
                return [(e.name, e.is_dir()) for e in entries]
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return []
    fs, path = filesystem_for(location)
    try:
        entries = fs.ls(path, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return []
    base = fs._strip_protocol(path).rstrip("/")
    out = []
    for entry in entries:
        name = entry["name"].rstrip("/")
        if name == base:
            continue
        out.append((posixpath.basename(name), entry.get("type") == "directory"))
    return out
