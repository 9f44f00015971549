"""Short ids: the part of a uid a person can read, type and tell apart from its neighbours.

A run's uid is a UUID, and for UUIDv7 (what flowtrail and OpenLineage producers generate) the
first 12 hex digits are a millisecond clock: every run of one workflow starts with the same
digits. The *end* of a UUID is random in every version, so a run's short id is its last
:data:`RUN_TAIL` hex digits. Artifacts, collections and transforms have base62 uids whose first
16 characters are random and shared by all versions of a key; their short id is the first
:data:`STEM_PREFIX` characters, or the full uid for an older version (which the prefix would not
name, since a prefix resolves to the latest version).
"""

from __future__ import annotations

import re
from typing import Any

RUN_TAIL = 8
STEM_PREFIX = 8
MIN_TYPED = 4  # shorter text is too likely to match by accident
_HEX = re.compile(r"^[0-9a-fA-F-]+$")


def short_id(record: Any) -> str:
    """The id listings show for ``record``; ``find_record`` accepts it back."""
    uid = record.uid
    if _is_run(record):
        return uid.replace("-", "")[-RUN_TAIL:] if len(uid) >= 32 else uid
    if getattr(record, "is_latest", True) is False:
        return uid
    return uid[:STEM_PREFIX]


def could_be_run_tail(text: str) -> bool:
    """Whether ``text`` can be the end of a UUID (hex digits, maybe with the last dash)."""
    return len(text.replace("-", "")) >= MIN_TYPED and bool(_HEX.match(text)) and len(text) <= 13


def _is_run(record: Any) -> bool:
    return type(record).__name__ == "Run"
