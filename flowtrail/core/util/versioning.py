"""The one rule for "the next version of a key", shared by every writer of versioned records.

Artifacts, collections and transforms are versioned by key: every version of one key shares a
16-character uid stem, versions count up from 1 and exactly one version is the latest. A new
version takes the stem of the key's versions (a new stem for a first version), the number after
the highest one and the ``is_latest`` flag, which the previous latest gives up.

Writers call it in every shape they hold rows in: the ORM (:func:`next_version` on records), bulk
writes past the ORM (the same function on plain row objects) and the SQLAlchemy-free fast path
(:func:`successor` on a raw row, the caller clearing the flag in SQL). So the rows come out the
same whichever path wrote them. Importing this module must stay free of SQLAlchemy (the fast path
relies on it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from flowtrail.core.util.ids import new_stem, versioned_uid

__all__ = ["Versioned", "first_version", "next_version", "successor"]

STEM_LENGTH = 16  # the part of a uid shared by every version of one key (see :mod:`.ids`)


class Versioned(Protocol):
    """A version of a key as any writer holds it: a record, a row object."""

    uid: str
    version: int
    is_latest: bool


def first_version() -> tuple[str, int]:
    """``(uid, version)`` of the first version of a new key: a new stem, version 1."""
    return versioned_uid(new_stem(), 1), 1


def successor(uid: str, version: int) -> tuple[str, int]:
    """``(uid, version)`` of the version after ``(uid, version)``: the same stem, the next number.

    For writers holding raw rows: they also clear ``is_latest`` on the previous latest themselves.
    """
    return versioned_uid(uid[:STEM_LENGTH], version + 1), version + 1


def next_version(versions: Iterable[Versioned | None]) -> tuple[str, int]:
    """``(uid, version)`` of a new latest version after ``versions`` (the key's known versions).

    ``versions`` holds at least the key's latest and highest versions (often just the one
    record, or ``None`` for a key without versions). Every version in it gives up ``is_latest``:
    the caller marks the new version as the latest.
    """
    last: Versioned | None = None
    for version in versions:
        if version is None:
            continue
        version.is_latest = False
        if last is None or version.version > last.version:
            last = version
    return first_version() if last is None else successor(last.uid, last.version)
