"""Turning arbitrary Python values into small, JSON-safe run parameters.

Parameters are stored to be queried, not to be restored: paths become strings, DataFrames a
summary of their shape, and anything else a repr cut to a few hundred characters.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from typing import Any

MAX_REPR = 300
MAX_ITEMS = 100


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, size-bounded summary of ``value``."""
    if value is None or isinstance(value, bool | int | str):
        return value if not isinstance(value, str) or len(value) <= 10 * MAX_REPR else value[: 10 * MAX_REPR]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if depth > 4:
        return _short_repr(value)
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ITEMS]
        return {str(k): jsonable(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in list(value)[:MAX_ITEMS]]
    shape = getattr(value, "shape", None)
    if shape is not None and isinstance(shape, tuple):
        return {"type": type(value).__name__, "shape": list(shape)}
    return _short_repr(value)


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 3] + "..."
