"""Refusing sources flowtrail cannot register before any byte is read.

A FIFO blocks ``open()`` until a writer appears (``save()`` hung forever), a character device
such as ``/dev/zero`` never ends (read until ``MemoryError``), and a socket cannot be opened at
all. Paths that are not valid UTF-8 (bytes from another locale) cannot be stored in the registry,
which holds text. Each gets a :class:`StorageError` or :class:`InvalidKey` that says what to do.
"""

from __future__ import annotations

import os
import stat

from flowtrail.core.errors import InvalidKey, StorageError

_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def check_local_source(path: str) -> None:
    """Raise unless ``path`` is a regular file or a folder of regular files (symlinks followed).

    Inside a folder, links that lead nowhere are left to hashing, which skips them and says so.
    """
    _check_one(path)
    if os.path.isdir(path):
        for folder, _dirs, names in os.walk(path):
            for name in names:
                inside = os.path.join(folder, name)
                if os.path.islink(inside) and not os.path.exists(inside):
                    continue  # a link that leads nowhere (dangling, a loop): hashing leaves it out with a warning
                _check_one(inside)


def _check_one(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise StorageError(f"{path} is a symbolic link to a missing file: fix or remove the link.") from None
        raise StorageError(f"No file or folder at {path}: check the path.") from None
    except OSError as exc:
        raise StorageError(f"Cannot read {path}: {exc}. Check its permissions.") from exc
    kind = _KINDS.get(stat.S_IFMT(mode))
    if kind is not None:
        raise StorageError(
            f"{path} is {kind}, not a regular file: flowtrail registers files and folders of files. "
            "Write the data to a file first and save that file."
        )


def check_text(value: str | None, what: str) -> None:
    """Raise :class:`InvalidKey` when ``value`` holds bytes that are not UTF-8 (surrogate escapes)."""
    if value is None:
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(value)
        raise InvalidKey(
            f"The {what} {raw!r} is not valid UTF-8, so the registry cannot store it. Rename the file to a UTF-8 "
            "name (e.g. with convmv), or copy it: save it with an explicit key=... from outside registered storage."
        ) from None
