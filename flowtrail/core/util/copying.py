"""Copies hashed in the same pass, and making copies durable.

Local copies into managed storage are made by the kernel (``copy_file_range``: no bytes pass
through Python, and file systems with reflinks share the blocks) while a thread hashes the copy
right behind it, so copying and hashing overlap on two cores. Where the kernel cannot copy, a
reader thread feeds each chunk to the hash and to a writer thread. ``hashlib``, BLAKE3 and file
I/O release the GIL for large buffers. Small files are read, hashed and written in one go.

Copies are written without waiting for the disk; :func:`sync_files` then flushes many at once,
before any registry row points at them.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from flowtrail.core.errors import StorageError
from flowtrail.core.util.hashing import DEFAULT_ALGORITHM, Digest, Progress, new_hash


def copy_and_hash(
    source: str | os.PathLike[str],
    write: Callable[[memoryview], object],
    progress: Progress | None = None,
    *,
    algorithm: str = DEFAULT_ALGORITHM,
) -> Digest:
    """Read ``source`` once, handing each chunk to ``write`` and to the hash in parallel.

    Small files are copied in the calling thread; larger ones through a ring of reused buffers:
    the reader fills and hashes one buffer while a writer thread writes the previous one.
    """
    md5 = new_hash(algorithm)
    with open(source, "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size <= COPY_BUFFER:
            data = handle.readall() or b""
            md5.update(data)
            write(memoryview(data))
            if progress:
                progress(len(data))
            return Digest(md5.hexdigest(), algorithm, len(data))
        return _pipelined_copy(handle, write, md5, progress, algorithm)


COPY_BUFFER = 1024 * 1024
RING = 4


def _pipelined_copy(
    handle: Any, write: Callable[[memoryview], object], md5: Any, progress: Progress | None, algorithm: str
) -> Digest:
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
    return Digest(md5.hexdigest(), algorithm, size)


def copy_file_and_hash(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    progress: Progress | None = None,
    *,
    fsync: bool = True,
    algorithm: str = DEFAULT_ALGORITHM,
) -> Digest:
    """Copy a local file to a local destination and hash it in the same pass.

    The kernel copies (``copy_file_range``) while a thread hashes the copy just behind it, so the
    hash is of the bytes that were written; without kernel support the file is read once and each
    chunk is hashed and written in parallel. With ``fsync=False`` the caller makes the copy
    durable itself (see :func:`sync_files`).
    """
    with open(source, "rb", buffering=0) as src, open(destination, "w+b", buffering=0) as out:
        size = os.fstat(src.fileno()).st_size
        digest = None
        if size <= COPY_BUFFER:  # small: one read, hashed and written from the handles already open
            data = src.readall() or b""
            md5 = new_hash(algorithm)
            md5.update(data)
            _write_all(out, data)
            if progress:
                progress(len(data))
            digest = Digest(md5.hexdigest(), algorithm, len(data))
        elif _KERNEL_COPY:
            digest = _kernel_copy_and_hash(src.fileno(), out.fileno(), size, progress, algorithm)
        if digest is None:
            src.seek(0)
            out.seek(0)
            out.truncate()
            digest = copy_and_hash(source, out.write, progress, algorithm=algorithm)
        if fsync:
            os.fsync(out.fileno())
    return digest


def _write_all(out: Any, data: bytes) -> None:
    # An unbuffered write may write less than asked (e.g. interrupted by a signal): the copy must be whole.
    view = memoryview(data)
    while view:
        view = view[out.write(view) :]


KERNEL_STEP = 16 * 1024 * 1024  # bytes per copy_file_range call: the hash thread follows at this grain
HASH_BUFFER = 8 * 1024 * 1024
_KERNEL_COPY = hasattr(os, "copy_file_range")
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF, errno.ETXTBSY}


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask Linux to start writing a copied range to disk now (sync_file_range, non-blocking).

    The copy is fsynced before any row points at it; writing back while the rest is copied and
    hashed leaves that fsync little to wait for. Elsewhere this does nothing.
    """
    global _SYNC_FILE_RANGE
    if _SYNC_FILE_RANGE is None:
        try:
            import ctypes
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            function = libc.sync_file_range
            function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
            _SYNC_FILE_RANGE = function
        except (OSError, AttributeError):
            _SYNC_FILE_RANGE = False
    if _SYNC_FILE_RANGE:
        _SYNC_FILE_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


_SYNC_FILE_RANGE: Any = None
_SYNC_FILE_RANGE_WRITE = 2


def _kernel_copy_and_hash(src: int, out: int, size: int, progress: Progress | None, algorithm: str) -> Digest | None:
    """Copy inside the kernel while a thread hashes what was copied; None if the kernel cannot copy."""
    try:
        first = os.copy_file_range(src, out, min(KERNEL_STEP, size), 0, 0)
    except OSError as exc:
        if exc.errno in _NO_KERNEL_COPY:
            return None  # e.g. another file system on an old kernel: copy through user space
        raise
    if first == 0:
        return None  # some pseudo file systems report nothing copied: read them instead
    md5 = new_hash(algorithm)
    state = {"copied": first, "hashed": 0, "done": False}
    ready = threading.Condition()
    failure: list[BaseException] = []

    def hasher() -> None:
        # Reads the destination: the hash describes exactly the bytes the copy holds.
        buffer = bytearray(HASH_BUFFER)
        view = memoryview(buffer)
        position = 0
        try:
            while True:
                with ready:
                    while state["copied"] <= position and not state["done"]:
                        ready.wait()
                    available = state["copied"]
                if available <= position:
                    return
                n = os.preadv(out, [view[: min(HASH_BUFFER, available - position)]], position)
                if n <= 0:
                    raise StorageError("The managed copy ended early while being hashed; save again.")
                md5.update(view[:n])
                position += n
                state["hashed"] = position
        except BaseException as exc:  # surfaced in the copying thread below
            failure.append(exc)

    thread = threading.Thread(target=hasher, name="flowtrail-hash", daemon=True)
    thread.start()
    offset, reported = first, 0

    def report() -> None:  # progress is reported from the caller's thread, by bytes hashed
        nonlocal reported
        hashed = state["hashed"]
        if progress and hashed > reported:
            progress(hashed - reported)
        reported = hashed

    try:
        with ready:
            ready.notify()
        while offset < size and not failure:
            n = os.copy_file_range(src, out, min(KERNEL_STEP, size - offset), offset, offset)
            if n == 0:
                break  # the source shrank while being copied
            _start_writeback(out, offset, n)
            offset += n
            with ready:
                state["copied"] = offset
                ready.notify()
            report()
    finally:
        with ready:
            state["done"] = True
            ready.notify()
        thread.join()
    report()
    if failure:
        raise failure[0]
    if offset != os.fstat(src).st_size:
        raise StorageError("The file changed size while it was being copied; save it again once it is complete.")
    return Digest(md5.hexdigest(), algorithm, offset)


def sync_files(paths: list[str]) -> None:
    """Flush many files to disk, in parallel: one fsync after another costs a disk round trip each."""
    if len(paths) >= SYNCFS_MIN_FILES and _syncfs_function() is not None:
        fds = _open_one_per_device(paths)
        try:
            if _syncfs_all(fds):
                return
        finally:
            _close(fds)
    _fsync_paths(paths)


def _fsync_paths(paths: list[str]) -> None:
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
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(16, len(paths))) as pool:
        list(pool.map(sync, paths))


SYNCFS_MIN_FILES = 16
_SYNCFS: Any = None


def _syncfs_function() -> Any:
    """Linux's syncfs(2) (flush one filesystem: one call instead of one fsync per file), else None."""
    global _SYNCFS
    if _SYNCFS is None:
        import ctypes
        import ctypes.util

        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            _SYNCFS = libc.syncfs
        except (OSError, AttributeError):
            _SYNCFS = False  # not Linux: files are fsynced one by one
    return _SYNCFS or None


def _open_one_per_device(paths: list[str]) -> list[int]:
    devices: dict[int, str] = {}
    for folder in {os.path.dirname(path) for path in paths}:
        devices.setdefault(os.stat(folder).st_dev, folder)
    return _open_all(list(devices.values()))


def _open_all(paths: list[str]) -> list[int]:
    fds: list[int] = []
    try:
        for path in paths:
            fds.append(os.open(path, os.O_RDONLY))
    except BaseException:
        _close(fds)
        raise
    return fds


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def _syncfs_all(fds: list[int]) -> bool:
    syncfs = _syncfs_function()
    return all(syncfs(fd) == 0 for fd in fds)


def _fsync_all(fds: list[int]) -> None:
    if len(fds) == 1:
        os.fsync(fds[0])
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(16, len(fds))) as pool:
        list(pool.map(os.fsync, fds))


class BackgroundSync:
    """Files flushed to disk on a worker thread, so the flush overlaps the registry work.

    The files are opened here, so they may be renamed while the flush runs. Call :meth:`wait`
    before any row that points at them is committed; it re-raises the flush's error. ``size`` is
    how many bytes the files hold (callers wait before taking a lock when there is much to flush).
    """

    def __init__(self, paths: list[str], size: int = 0) -> None:
        self.size = size
        self._future: Any = None
        if not paths:
            return
        if len(paths) >= SYNCFS_MIN_FILES:
            if _syncfs_function() is None:
                sync_files(paths)  # no syncfs: parallel fsyncs by path, now, before the files move
                return
            fds, whole_filesystem = _open_one_per_device(paths), True
        else:
            fds, whole_filesystem = _open_all(paths), False
        self._future = _sync_pool().submit(_flush_and_close, fds, whole_filesystem)

    def wait(self) -> None:
        if self._future is not None:
            self._future.result()


def _flush_and_close(fds: list[int], whole_filesystem: bool) -> None:
    try:
        if whole_filesystem and _syncfs_all(fds):
            return
        if whole_filesystem:
            import ctypes

            reason = os.strerror(ctypes.get_errno())
            raise StorageError(f"Could not flush the copies to disk (syncfs: {reason}); check the storage, then save again.")
        _fsync_all(fds)
    finally:
        _close(fds)


_POOL: tuple[int, Any] | None = None


def _sync_pool() -> Any:
    """One small pool per process (a forked child cannot use its parent's threads)."""
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        _POOL = (os.getpid(), ThreadPoolExecutor(max_workers=2, thread_name_prefix="flowtrail-sync"))
    return _POOL[1]
