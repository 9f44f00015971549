"""Encoding feature values by dtype: checked on the way in, decoded on the way out.

Numbers and booleans are stored in ``value_num``, strings, dates and datetimes (ISO 8601, UTC,
sortable as text) in ``value_str``, dicts in ``value_json``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
from dataclasses import dataclass
from typing import Any

from flowtrail.core.models.links import MAX_STR_VALUE

_NUMERIC = ("int", "float", "bool")
_MAX_EXACT_INT = 2**53  # value_num is a double


@dataclass(frozen=True)
class FeatureInfo:
    id: int
    name: str
    dtype: str
    label_type_id: int | None

    @property
    def is_categorical(self) -> bool:
        return self.dtype.startswith("cat")

    @property
    def column(self) -> str:
        if self.dtype in _NUMERIC:
            return "value_num"
        return "value_json" if self.dtype == "dict" else "value_str"


class Problem(Exception):
    """One value that does not fit its feature; the message is one line for the user."""


def encode_scalar(info: FeatureInfo, value: Any) -> dict[str, Any]:
    dtype, shown = info.dtype, f"{value!r} ({type(value).__name__})"
    if dtype == "int":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise Problem(f"{info.name}: {shown} is not an int; pass a whole number (e.g. 3).")
        if abs(int(value)) > _MAX_EXACT_INT:
            raise Problem(f"{info.name}: {value} is too large to store exactly (limit 2**53); use a str feature.")
        return {"value_num": float(value)}
    if dtype == "float":
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise Problem(f"{info.name}: {shown} is not a number; pass a float (e.g. 0.55).")
        if not math.isfinite(float(value)):
            raise Problem(f"{info.name}: {value} is not a finite number; leave the feature unset instead.")
        return {"value_num": float(value)}
    if dtype == "bool":
        if not isinstance(value, bool) and type(value).__name__ != "bool_":
            raise Problem(f"{info.name}: {shown} is not a bool; pass True or False.")
        return {"value_num": 1.0 if value else 0.0}
    if dtype == "str":
        if not isinstance(value, str):
            raise Problem(f"{info.name}: {shown} is not a str; pass text, or use a feature of dtype {type(value).__name__}.")
        if len(value) > MAX_STR_VALUE:
            raise Problem(f"{info.name}: {len(value)} characters is too long (limit {MAX_STR_VALUE}); use a dict feature.")
        return {"value_str": value}
    if dtype in ("date", "datetime"):
        return {"value_str": encode_time(info, value)}
    if dtype == "dict":
        if not isinstance(value, dict):
            raise Problem(f"{info.name}: {shown} is not a dict.")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise Problem(f"{info.name}: the dict cannot be stored as JSON ({error}); use str, int, float, bool, lists, dicts.") from None
        return {"value_json": value}
    raise Problem(f"{info.name}: unknown dtype {dtype}.")


def encode_time(info: FeatureInfo, value: Any) -> str:
    """Dates as ``YYYY-MM-DD``, datetimes as UTC ISO 8601 with microseconds (sortable as text)."""
    if info.dtype == "date":
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                raise Problem(f"{info.name}: {value!r} is not a date; use YYYY-MM-DD, e.g. '2025-10-31'.") from None
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise Problem(f"{info.name}: {value!r} is not a date; pass a datetime.date or 'YYYY-MM-DD'.")
        return value.isoformat()
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise Problem(f"{info.name}: {value!r} is not an ISO 8601 datetime, e.g. '2025-10-31T14:30:00+00:00'.") from None
    if not isinstance(value, dt.datetime):
        raise Problem(f"{info.name}: {value!r} is not a datetime; pass a datetime.datetime or an ISO 8601 string.")
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)  # naive datetimes are taken as UTC
    return aware.astimezone(dt.UTC).isoformat(timespec="microseconds")


def decode(info: FeatureInfo, row: Any) -> Any:
    if info.dtype == "int":
        return int(row.value_num)
    if info.dtype == "bool":
        return bool(row.value_num)
    if info.dtype == "float":
        return row.value_num
    if info.dtype == "date":
        return dt.date.fromisoformat(row.value_str)
    if info.dtype == "datetime":
        return dt.datetime.fromisoformat(row.value_str)
    if info.dtype == "dict":
        return row.value_json
    return row.value_str
