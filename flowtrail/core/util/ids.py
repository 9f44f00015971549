"""Identifiers: short base62 uids for records, UUIDv7 for runs."""

from __future__ import annotations

import os
import secrets
import time
import uuid

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
STEM_LENGTH = 16
VERSION_LENGTH = 4


def random_base62(n: int) -> str:
    """Return ``n`` random base62 characters (unbiased: bytes >= 248 are drawn again)."""
    chars: list[str] = []
    while len(chars) < n:
        chars.extend(BASE62[b % 62] for b in secrets.token_bytes(n + 8) if b < 248)
    return "".join(chars[:n])


def encode_base62(number: int, width: int) -> str:
    """Encode a non-negative integer as base62, left-padded with zeros to ``width``."""
    if number < 0:
        raise ValueError("number must be >= 0")
    chars = []
    while number:
        number, rest = divmod(number, 62)
        chars.append(BASE62[rest])
    text = "".join(reversed(chars)) or "0"
    if len(text) > width:
        raise ValueError(f"{number} does not fit into {width} base62 characters")
    return text.rjust(width, "0")


def versioned_uid(stem: str, version: int) -> str:
    """A 20-character uid: a 16-character stem shared by all versions plus the version."""
    return stem + encode_base62(version, VERSION_LENGTH)


def new_stem() -> str:
    return random_base62(STEM_LENGTH)


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7), as OpenLineage recommends for run ids."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & 0xFFFFFFFFFFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & 0x3FFFFFFFFFFFFFFF  # rand_b, 62 bits
    return uuid.UUID(int=value)
