"""Validation of artifact and transform keys.

A key is a relative, forward-slash path such as ``scrna/batch1.h5ad``. Keys end up as object
paths and as names in other systems, so anything that could escape a folder or confuse a
terminal is rejected up front.
"""

from __future__ import annotations

import unicodedata

from flowtrail.core.errors import InvalidKey

MAX_KEY_LENGTH = 1024


def validate_key(key: str, *, what: str = "key") -> str:
    """Return ``key`` unchanged if it is a safe relative path, else raise :class:`InvalidKey`."""
    if not isinstance(key, str):
        raise InvalidKey(f"The {what} must be a string, got {type(key).__name__}: {key!r}.")
    if not key or not key.strip():
        raise InvalidKey(f"The {what} is empty: give a relative path such as 'results/table.csv'.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"The {what} is {len(key)} characters long; at most {MAX_KEY_LENGTH} are allowed.")
    for char in key:
        if unicodedata.category(char) == "Cc":
            raise InvalidKey(
                f"The {what} {key!r} contains the control character {char!r}: "
                "remove NUL, newlines, tabs and other control characters."
            )
    if "\\" in key:
        raise InvalidKey(f"The {what} {key!r} contains a backslash: use '/' to separate folders.")
    if key.startswith("/") or (len(key) > 1 and key[1] == ":"):
        raise InvalidKey(
            f"The {what} {key!r} is an absolute path: keys are relative, e.g. {key.lstrip('/')!r}."
        )
    if "://" in key:
        raise InvalidKey(f"The {what} {key!r} looks like a URL: pass the URL as the path and a relative key.")
    parts = key.split("/")
    if ".." in parts:
        raise InvalidKey(f"The {what} {key!r} contains a '..' segment, which could escape its folder: remove it.")
    if any(part in ("", ".") for part in parts[:-1]) or parts[-1] in ("", "."):
        if key.endswith("/") and all(p not in ("", ".") for p in parts[:-1]):
            return key.rstrip("/")
        raise InvalidKey(f"The {what} {key!r} has an empty or '.' segment: write it as 'folder/name'.")
    return key
