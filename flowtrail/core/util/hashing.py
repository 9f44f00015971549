"""Content hashes of files, folders and streams.

Every byte is hashed: flowtrail never samples the start and end of a large file (two files that
differ in the middle would collide). By default hashes are hex MD5, the same value ``md5sum``
prints and S3 reports as the ETag of a single-part upload, so users can check them with everyday
tools. An instance created with ``flowtrail init --hash blake3`` hashes with BLAKE3 instead
(several times faster, from the ``blake3`` package); each artifact's ``hash_type`` says which
algorithm made its hash. Copies hashed in the same pass live in :mod:`.copying`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from flowtrail.core.errors import ConfigurationError

CHUNK_SIZE = 4 * 1024 * 1024
HASH_TYPE_FILE = "md5"
HASH_TYPE_FOLDER = "md5-folder"
HASH_TYPE_STAT = "size-mtime"  # opt-in for huge outputs: identifies a file version, not its content
HASH_MODES = ("full", "size-mtime")
ALGORITHMS = ("md5", "blake3")
DEFAULT_ALGORITHM = "md5"
FOLDER_SUFFIX = "-folder"

Progress = Callable[[int], None]
logger = logging.getLogger("flowtrail")


@dataclass(frozen=True)
class Digest:
    """The hash of a file or folder, with its size and number of files."""

    hash: str
    hash_type: str
    size: int
    n_files: int = 1

    @property
    def is_folder(self) -> bool:
        return self.hash_type.endswith(FOLDER_SUFFIX)


def check_algorithm(algorithm: str) -> str:
    """Return ``algorithm`` if flowtrail can hash with it here; raise ConfigurationError otherwise."""
    if algorithm not in ALGORITHMS:
        raise ConfigurationError(f"Unknown hash algorithm {algorithm!r}: choose one of {', '.join(ALGORITHMS)}.")
    new_hash(algorithm)
    return algorithm


def new_hash(algorithm: str = DEFAULT_ALGORITHM) -> Any:
    """A fresh hash object with ``update()`` and ``hexdigest()`` for ``algorithm``."""
    if algorithm == "md5":
        return hashlib.md5()
    if algorithm == "blake3":
        try:
            from blake3 import blake3
        except ImportError:
            raise ConfigurationError(
                "This registry hashes with BLAKE3, but the blake3 package is not installed: "
                "pip install 'flowtrail[blake3]'."
            ) from None
        # Several threads per large update: the hash keeps up with a fast disk.
        return blake3(max_threads=blake3.AUTO)
    raise ConfigurationError(f"Unknown hash algorithm {algorithm!r}: choose one of {', '.join(ALGORITHMS)}.")


def folder_hash_type(algorithm: str) -> str:
    return f"{algorithm}{FOLDER_SUFFIX}"


def hash_file(
    path: str | os.PathLike[str], progress: Progress | None = None, *, algorithm: str = DEFAULT_ALGORITHM
) -> Digest:
    """Hash a local file's full content (one read of every byte)."""
    md5 = new_hash(algorithm)
    size = 0
    with open(path, "rb", buffering=0) as handle:
        # Sized to the file: zeroing a 4 MiB buffer costs more than hashing a small file.
        buffer = bytearray(min(CHUNK_SIZE, os.fstat(handle.fileno()).st_size + 1))
        view = memoryview(buffer)
        while True:
            n = handle.readinto(buffer)
            if not n:
                break
            md5.update(view[:n])
            size += n
            if progress:
                progress(n)
    return Digest(md5.hexdigest(), algorithm, size)


def hash_stream(stream: BinaryIO, progress: Progress | None = None, *, algorithm: str = DEFAULT_ALGORITHM) -> Digest:
    """Hash everything readable from a binary stream (e.g. a remote object opened with fsspec).

    Memory stays bounded (two chunks): the next chunk is fetched while the previous one is hashed.
    """
    md5 = new_hash(algorithm)
    size = 0
    chunks: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def fetch() -> None:
        try:
            while not stop.is_set():
                chunk = stream.read(CHUNK_SIZE)
                chunks.put(chunk)
                if not chunk:
                    return
        except BaseException as exc:  # re-raised in the hashing thread
            chunks.put(exc)

    thread = threading.Thread(target=fetch, name="flowtrail-fetch", daemon=True)
    thread.start()
    try:
        while True:
            chunk = chunks.get()
            if isinstance(chunk, BaseException):
                raise chunk
            if not chunk:
                break
            md5.update(chunk)
            size += len(chunk)
            if progress:
                progress(len(chunk))
    finally:
        stop.set()
        while thread.is_alive():  # unblock a fetcher waiting to hand over a chunk
            try:
                chunks.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()
    return Digest(md5.hexdigest(), algorithm, size)


def stat_digest(path: str | os.PathLike[str]) -> Digest:
    """A cheap identity from size and modification time (not a content hash; opt-in only)."""
    root = Path(path)
    if root.is_dir():
        files = folder_files(root)
        stats = [(rel, full.stat()) for rel, full in files]
        text = "\n".join(f"{rel}\t{st.st_size}\t{st.st_mtime_ns}" for rel, st in stats)
        size, count = sum(st.st_size for _, st in stats), len(stats)
    else:
        st = root.stat()
        text, size, count = f"{st.st_size}\t{st.st_mtime_ns}", st.st_size, 1
    return Digest(hashlib.md5(text.encode()).hexdigest(), HASH_TYPE_STAT, size, count)


def combine_folder(entries: Iterable[tuple[str, Digest]], algorithm: str = DEFAULT_ALGORITHM) -> Digest:
    """Hash a folder from ``(relative path, digest)`` pairs, independent of listing order."""
    md5 = new_hash(algorithm)
    size = 0
    count = 0
    for relpath, digest in sorted(entries):
        md5.update(f"{relpath}\t{digest.hash}\n".encode())
        size += digest.size
        count += 1
    return Digest(md5.hexdigest(), folder_hash_type(algorithm), size, count)


def folder_files(folder: str | os.PathLike[str], dead: list[str] | None = None) -> list[tuple[str, Path]]:
    """The files below ``folder`` as sorted ``(relative posix path, absolute path)`` pairs.

    Links that lead nowhere (dangling, or a loop such as ``a -> b -> a``) have no bytes to read:
    they are left out with a warning, and their relative paths added to ``dead`` when given.
    """
    root = Path(folder)
    files = []
    skipped = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            full = Path(dirpath) / name
            relpath = full.relative_to(root).as_posix()
            if full.is_symlink() and not os.path.exists(full):
                skipped.append(relpath)
                continue
            files.append((relpath, full))
    files.sort()
    if skipped:
        skipped.sort()
        shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        logger.warning(
            "%s: left out %d link(s) that lead nowhere (dangling, or a loop): %s", folder, len(skipped), shown
        )
        if dead is not None:
            dead.extend(skipped)
    return files


def hash_folder(
    folder: str | os.PathLike[str], progress: Progress | None = None, *, algorithm: str = DEFAULT_ALGORITHM
) -> Digest:
    """Hash a local folder over its sorted file list."""
    digests = ((rel, hash_file(full, progress, algorithm=algorithm)) for rel, full in folder_files(folder))
    return combine_folder(digests, algorithm)
