"""Validated events ready to store: their content hash (identical events are stored once), kind
and JSON text as received.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Prepared", "canonical_hash"]


@dataclass(frozen=True)
class Prepared:
    """A validated event with its content hash and kind (run, dataset or job).

    ``text`` is the event's JSON exactly as received (an NDJSON line), stored as it is when given.
    """

    digest: str
    kind: str
    event: dict[str, Any]
    text: str | None = None


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_hash(event: dict[str, Any]) -> str:
    return hashlib.sha256(_CANONICAL.encode(event).encode()).hexdigest()
