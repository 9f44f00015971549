"""Filtering artifacts by feature values and labels, and feature columns for ``to_dataframe()``.

``Artifact.filter(batch__gte=3, tissue="liver")`` becomes ``artifact.id IN (SELECT artifact_id ...)``
on the value and label link tables. The subqueries are not correlated, so the database answers
each from a covering index once instead of probing per artifact (correlated ``EXISTS`` made SQLite
range-scan the value index for every row: 200 ms instead of 1 ms on 10,000 artifacts). Features mix
with fields, relations and run params in one ``filter()`` and never duplicate rows.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import not_, select
from sqlalchemy.sql.elements import ColumnElement

from .annotations import artifact_feature_value, artifact_label
from .errors import FieldError
from .feature_values import feature_catalog, find_feature
from .label import Label
from .query import LOOKUPS, _compare, _json_compare
from .value_encoding import FeatureInfo, Problem, encode_scalar, encode_time

if TYPE_CHECKING:
    from .instance import Instance


def feature_clause(
    name: str, rest: list[str], value: Any, full: str, instance: Instance | None
) -> tuple[ColumnElement[bool] | None, list[str]]:
    """The clause for ``name__rest=value`` if ``name`` is a feature, else ``(None, feature names)``."""
    from .artifact import Artifact
    from .instance import current

    instance = instance or current()
    info = find_feature(instance, name)
    if info is None:
        return None, sorted(feature_catalog(instance))
    lookup = rest[-1] if rest and rest[-1] in LOOKUPS else "exact"
    path = rest[:-1] if rest and rest[-1] in LOOKUPS else rest
    if info.is_categorical:
        return _label_clause(info, path, lookup, value, full, Artifact.id), []
    afv = artifact_feature_value

    def having(*conditions: Any) -> ColumnElement[bool]:
        return Artifact.id.in_(select(afv.c.artifact_id).where(afv.c.feature_id == info.id, *conditions))

    if lookup == "isnull":
        return (not_(having()) if value else having()), []
    if info.dtype == "dict":
        if not path:
            raise FieldError(f"{full}: filter a dict feature by a key inside it, e.g. {name}__assay__type='RNA-seq'.")
        return having(_json_compare(afv.c.value_json, path, lookup, value)), []
    if path:
        raise FieldError(f"{full}: feature {name!r} has dtype {info.dtype}, so it has no field {path[0]!r}.")
    column = afv.c[info.column]
    return having(_compare(column, lookup, _query_value(info, lookup, value, full))), []


def _query_value(info: FeatureInfo, lookup: str, value: Any, full: str) -> Any:
    if lookup == "in":
        return [_query_value(info, "exact", v, full) for v in value]
    if lookup in ("contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "iexact"):
        if info.dtype not in ("str", "date", "datetime"):
            raise FieldError(f"{full}: the {lookup!r} lookup needs a str, date or datetime feature, not {info.dtype}.")
        return value
    try:
        if info.dtype == "datetime" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
        if info.dtype in ("date", "datetime"):
            return encode_time(info, value)
        if info.dtype == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if info.dtype == "int" and isinstance(value, float):
            return value  # batch__gte=2.5 is a sensible comparison
        stored = encode_scalar(info, value)
    except Problem as problem:
        raise FieldError(f"{full}: {problem}") from None
    return next(iter(stored.values()))


def _label_clause(info: FeatureInfo, path: list[str], lookup: str, value: Any, full: str, artifact_id: Any) -> Any:
    al = artifact_label

    def having(*conditions: Any) -> ColumnElement[bool]:
        return artifact_id.in_(select(al.c.artifact_id).where(al.c.feature_id == info.id, *conditions))

    if lookup == "isnull":
        return not_(having()) if value else having()
    if not path and (isinstance(value, Label) or (lookup == "in" and value and isinstance(next(iter(value)), Label))):
        ids = [v.id for v in value] if lookup == "in" else [value.id]
        return having(al.c.label_id.in_(ids))
    field = path[0] if path else "name"
    if len(path) > 1 or field not in sa_inspect(Label).columns:
        options = ", ".join(sorted(sa_inspect(Label).columns.keys()))
        raise FieldError(f"{full}: labels have no field {field!r}; use one of {options}.")
    inner = select(Label.id).where(_compare(getattr(Label, field), lookup, value))
    return having(al.c.label_id.in_(inner))


def add_feature_columns(frame: Any, ids: Any, include: Any) -> Any:
    """Add one column per feature (or per named feature) to ``frame``, which is indexed by artifact id."""
    from .feature_values import values_of
    from .instance import current

    wanted = [include] if isinstance(include, str) else list(include)
    catalog = feature_catalog(current())
    unknown = [n for n in wanted if n not in catalog and n != "features"]
    if unknown:
        raise FieldError(
            f"include={unknown!r}: no such feature; use include='features' or feature names "
            f"({', '.join(sorted(catalog)) or 'none registered yet'})."
        )
    names = None if "features" in wanted else wanted
    values = values_of(ids, names)
    columns = names if names is not None else sorted({n for per in values.values() for n in per})
    empty: dict[str, Any] = {}
    for name in columns:
        frame[name] = [values.get(i, empty).get(name) for i in frame.index]
    return frame
