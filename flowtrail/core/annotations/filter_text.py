"""Filters written as text (``NAME__LOOKUP=VALUE``), as the command line takes them.

One grammar for every place a person types a filter: the value is parsed by what the name
refers to, never by how the value looks alone. ``key=123`` stays the text ``"123"`` (keys are
text), ``size__gt=1e6`` is a number, ``run__params__min_count=5`` compares with the number 5
(JSON params keep their JSON type), ``batch__gte=3`` follows the feature's dtype, ``tissue=liver``
names a label, ``started_at__gte=2025-01-31`` is a datetime. Text lookups (``contains``,
``startswith``, ...) always take the text as written, ``in`` takes a comma-separated list, and
``isnull`` takes true/false.

:func:`near_value_hint` explains an empty result: a status, a categorical feature value or a label
name that matches nothing but is close to one that exists ("did you mean status='completed'?").
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, Numeric
from sqlalchemy import inspect as sa_inspect

from flowtrail.core.db.context import current
from flowtrail.core.errors import FieldError
from flowtrail.core.models.label import Label
from flowtrail.core.models.run import RUN_STATUSES
from flowtrail.core.query.lookups import LOOKUPS

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

TEXT_LOOKUPS = ("contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "iexact")
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
_EXAMPLES = {"int": "3", "float": "0.5", "bool": "true", "date": "2025-01-31", "datetime": "2025-01-31T14:30:00",
             "dict": '\'{"a": 1}\''}  # fmt: skip


def split_filter(item: str) -> tuple[str, str]:
    """``"NAME=VALUE"`` as ``(name, value)``; a clear error for anything else."""
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise FieldError(f"{item!r} is not NAME=VALUE: write e.g. key__startswith=raw/ or status=failed.")
    return name.strip(), value


def parse_filters(model: type, items: list[str] | tuple[str, ...], instance: Instance | None = None) -> dict[str, Any]:
    """Filter keywords for ``model.filter(**...)`` from ``NAME__LOOKUP=VALUE`` texts."""
    lookups: dict[str, Any] = {}
    for item in items:
        name, text = split_filter(item)
        lookups[name] = parse_filter_value(model, name, text, instance)
    return lookups


def parse_filter_value(model: type, name: str, text: str, instance: Instance | None = None) -> Any:
    """The value of one filter, parsed by the type of what ``name`` refers to."""
    parts = name.split("__")
    lookup = parts[-1] if len(parts) > 1 and parts[-1] in LOOKUPS else "exact"
    kind = value_kind(model, parts[:-1] if lookup != "exact" or parts[-1] == "exact" else parts, instance)
    if lookup == "isnull":
        return _parse("bool", name, text)
    if lookup in TEXT_LOOKUPS:
        return text
    if lookup == "in":
        return [_parse(kind, name, piece.strip()) for piece in text.split(",")]
    return _parse(kind, name, text)


def value_kind(model: type, path: list[str], instance: Instance | None = None) -> str:
    """What a filter path compares with: text, int, float, bool, date, datetime, json, label or auto."""
    current = model
    for index, part in enumerate(path):
        mapper: Any = sa_inspect(current)
        part = "id" if part == "pk" else getattr(current, "_query_aliases", {}).get(part, part)
        if part in mapper.relationships:
            current = mapper.relationships[part].mapper.class_
            if index == len(path) - 1:
                return "int"  # a relation compared with ids
            continue
        if part in mapper.columns:
            column_type = mapper.columns[part].type
            column_type = getattr(column_type, "impl", column_type)
            if isinstance(column_type, JSON):
                return "json"
            return _column_kind(column_type)
        if index == 0 and getattr(current, "_has_features", False):
            return _feature_kind(part, path[1:], instance)
        return "auto"  # unknown: filter() names the valid fields
    return "auto"


def _column_kind(column_type: Any) -> str:
    for sa_type, kind in ((Boolean, "bool"), (Integer, "int"), (Float, "float"), (Numeric, "float"),
                          (DateTime, "datetime"), (Date, "date")):  # fmt: skip
        if isinstance(column_type, sa_type):
            return kind
    return "text"


def _feature_kind(name: str, rest: list[str], instance: Instance | None) -> str:
    from flowtrail.core.annotations.values import find_feature

    info = find_feature(instance or current(), name)
    if info is None:
        return "auto"
    if info.is_categorical:
        return "text"  # label names, synonyms or ontology ids
    if info.dtype == "dict":
        return "json" if rest else "dict"
    return "text" if info.dtype == "str" else info.dtype


def _parse(kind: str, name: str, text: str) -> Any:
    if kind == "text":
        return text
    if kind in ("json", "auto"):
        return _auto(text, dates=kind == "auto")
    try:
        if kind == "int" and not text.strip().lstrip("+-").isdigit():
            return float(text)  # size__gt=1e6, batch__gte=2.5: numbers compare across int and float
        return parse_typed_text(kind, text)
    except ValueError:
        raise FieldError(f"{name}={text!r}: {name.split('__')[0]} takes {kind} values; write e.g. "
                         f"{name}={_EXAMPLES.get(kind, '3')}.") from None


def parse_typed_text(dtype: str, text: str) -> Any:
    """``text`` as a value of ``dtype`` (int, float, bool, date, datetime, dict, str); ValueError if it does not fit."""
    if dtype == "int":
        return int(text)
    if dtype == "float":
        return float(text)
    if dtype == "bool":
        lowered = text.lower()
        if lowered not in _TRUE + _FALSE:
            raise ValueError(text)
        return lowered in _TRUE
    if dtype == "date":
        return dt.date.fromisoformat(text)
    if dtype == "datetime":
        return dt.datetime.fromisoformat(text)
    if dtype == "dict":
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError(text)
        return value
    return text


def _auto(text: str, dates: bool) -> Any:
    """int, float, true/false, null/none, (an ISO date or datetime), else the text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if dates and len(text) >= 10 and text[4:5] == "-" and text[7:8] == "-":
        for parse in (dt.date.fromisoformat, dt.datetime.fromisoformat):
            try:
                return parse(text)
            except ValueError:
                continue
    return text


# -- hints for empty results ---------------------------------------------------------------------
def near_value_hint(model: type, lookups: dict[str, Any], instance: Instance | None = None) -> str | None:
    """For a filter that matched nothing: "did you mean status='completed'?" when a value is close to one that exists."""
    for name, value in lookups.items():
        parts = name.split("__")
        lookup = parts[-1] if len(parts) > 1 and parts[-1] in LOOKUPS else "exact"
        path = parts[:-1] if lookup != "exact" or parts[-1] == "exact" else parts
        if lookup not in ("exact", "in", "iexact"):
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str):
                continue
            options = _known_values(model, path, instance)
            if options is None or item in options:
                continue
            close = difflib.get_close_matches(item, options, n=1, cutoff=0.6) or [
                o for o in options if o.lower() == item.lower()
            ]
            if close:
                return f"did you mean {'__'.join(path)}={close[0]!r}?"
    return None


def _known_values(model: type, path: list[str], instance: Instance | None) -> list[str] | None:
    if path and path[-1] == "status" and sa_inspect(model).class_.__name__ in ("Run",) and len(path) == 1:
        return list(RUN_STATUSES)
    if len(path) >= 2 and path[-2] in ("run", "runs", "parent", "children", "input_of_runs") and path[-1] == "status":
        return list(RUN_STATUSES)
    if len(path) == 2 and path[0] in ("labels", "_labels") and path[1] in ("name", "ontology_id"):
        return _column_values(Label.filter(is_type=False), path[1])
    if len(path) == 1 and getattr(model, "_has_features", False):
        from flowtrail.core.annotations.values import find_feature

        info = find_feature(instance or current(), path[0])
        if info is not None and info.is_categorical:
            query = Label.filter(is_type=False)
            if info.label_type_id is not None:
                query = query.filter(type_id=info.label_type_id)
            return _column_values(query, "name")
    return None


def _column_values(query: Any, field: str) -> list[str]:
    """The distinct non-empty values of one column of a query (without loading records)."""
    column = getattr(query.model, field)
    statement = query.statement().with_only_columns(column).distinct().order_by(None)
    sessions = query.instance.sessions
    sessions.end_read()
    try:
        return [value for value in sessions.current().scalars(statement) if value]
    finally:
        sessions.end_read()
