"""Content hashes of files and folders.

Every byte is hashed: flowtrail never samples the start and end of a large file (two files that
differ in the middle would collide). Hashes are hex MD5, the same value ``md5sum`` prints and S3
reports as the ETag of a single-part upload, so users can check them with everyday tools.

Copying and hashing happen in one pass over the source: a reader thread feeds each chunk both
to the hash and to a writer thread. ``hashlib`` and file writes release the GIL, so on two
cores a copy costs little more than hashing alone.
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

CHUNK_SIZE = 4 * 1024 * 1024
HASH_TYPE_FILE = "md5"
HASH_TYPE_FOLDER = "md5-folder"
HASH_TYPE_STAT = "size-mtime"  # opt-in for huge outputs: identifies a file version, not its content
HASH_MODES = ("full", "size-mtime")

Progress = Callable[[int], None]
logger = logging.getLogger("flowtrail")


@dataclass(frozen=True)
class Digest:
    """The hash of a file or folder, with its size and number of files."""

    hash: str
    hash_type: str
    size: int
    n_files: int = 1


def hash_file(path: str | os.PathLike[str], progress: Progress | None = None) -> Digest:
    """Hash a local file's full content."""
    md5 = hashlib.md5()
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
    return Digest(md5.hexdigest(), HASH_TYPE_FILE, size)


def hash_stream(stream: BinaryIO, progress: Progress | None = None) -> Digest:
    """Hash everything readable from a binary stream (e.g. a remote object opened with fsspec)."""
    md5 = hashlib.md5()
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        md5.update(chunk)
        size += len(chunk)
        if progress:
            progress(len(chunk))
    return Digest(md5.hexdigest(), HASH_TYPE_FILE, size)


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


def combine_folder(entries: Iterable[tuple[str, Digest]]) -> Digest:
    """Hash a folder from ``(relative path, digest)`` pairs, independent of listing order."""
    md5 = hashlib.md5()
    size = 0
    count = 0
    for relpath, digest in sorted(entries):
        md5.update(f"{relpath}\t{digest.hash}\n".encode())
        size += digest.size
        count += 1
    return Digest(md5.hexdigest(), HASH_TYPE_FOLDER, size, count)


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


def hash_folder(folder: str | os.PathLike[str], progress: Progress | None = None) -> Digest:
    """Hash a local folder over its sorted file list."""
    return combine_folder((rel, hash_file(full, progress)) for rel, full in folder_files(folder))


def copy_and_hash(
    source: str | os.PathLike[str],
    write: Callable[[memoryview], object],
    progress: Progress | None = None,
) -> Digest:
    """Read ``source`` once, handing each chunk to ``write`` and to the hash in parallel.

    Small files are copied in the calling thread; larger ones through a ring of reused buffers:
    the reader fills and hashes one buffer while a writer thread writes the previous one.
    """
    md5 = hashlib.md5()
    with open(source, "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size <= COPY_BUFFER:
            data = handle.readall() or b""
            md5.update(data)
            write(memoryview(data))
            if progress:
                progress(len(data))
            return Digest(md5.hexdigest(), HASH_TYPE_FILE, len(data))
        return _pipelined_copy(handle, write, md5, progress)


COPY_BUFFER = 1024 * 1024
RING = 4


def _pipelined_copy(handle: Any, write: Callable[[memoryview], object], md5: Any, progress: Progress | None) -> Digest:
    free: queue.Queue[bytearray] = queue.Queue()
    for _ in range(RING):
        free.put(bytearray(COPY_BUFFER))
    filled: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
    failure: list[BaseException] = []

    def writer() -> None:
        while (item := filled.get()) is not None:
            buffer, n = item
            try:
                if not failure:
                    write(memoryview(buffer)[:n])
            except BaseException as exc:  # surfaced in the reading thread below
                failure.append(exc)
            free.put(buffer)

    thread = threading.Thread(target=writer, name="flowtrail-copy", daemon=True)
    thread.start()
    size = 0
    try:
        while not failure:
            buffer = free.get()
            n = handle.readinto(buffer)
            if not n:
                free.put(buffer)
                break
            md5.update(memoryview(buffer)[:n])
            filled.put((buffer, n))
            size += n
            if progress:
                progress(n)
    finally:
        filled.put(None)
        thread.join()
    if failure:
        raise failure[0]
    return Digest(md5.hexdigest(), HASH_TYPE_FILE, size)


def copy_file_and_hash(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    progress: Progress | None = None,
    *,
    fsync: bool = True,
) -> Digest:
    """Copy a local file to a local destination and hash it in the same pass.

    With ``fsync=False`` the caller makes the copy durable itself (see :func:`sync_files`).
    """
    with open(destination, "wb", buffering=0) as out:
        digest = copy_and_hash(source, out.write, progress)
        if fsync:
            os.fsync(out.fileno())
    return digest


def sync_files(paths: list[str]) -> None:
    """Flush many files to disk, in parallel: one fsync after another costs a disk round trip each."""
    def sync(path: str) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    if len(paths) <= 1:
        for path in paths:
            sync(path)
        return
    if len(paths) >= SYNCFS_MIN_FILES and _syncfs(paths):
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(16, len(paths))) as pool:
        list(pool.map(sync, paths))


SYNCFS_MIN_FILES = 16


def _syncfs(paths: list[str]) -> bool:
    """Flush each filesystem holding ``paths`` with Linux's syncfs(2): one call instead of one per file."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        return False  # not Linux: the caller fsyncs file by file
    devices: dict[int, str] = {}
    for path in paths:
        devices.setdefault(os.stat(path).st_dev, path)
    for path in devices.values():
        fd = os.open(path, os.O_RDONLY)
        try:
            if syncfs(fd) != 0:
                return False
        finally:
            os.close(fd)
    return True
