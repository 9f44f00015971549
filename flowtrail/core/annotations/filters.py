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

from flowtrail.core.annotations.encoding import FeatureInfo, Problem, encode_scalar, encode_time
from flowtrail.core.annotations.values import feature_catalog, find_feature
from flowtrail.core.db.context import current
from flowtrail.core.errors import FieldError
from flowtrail.core.models.artifact import Artifact
from flowtrail.core.models.label import Label
from flowtrail.core.models.links import artifact_feature_value, artifact_label
from flowtrail.core.query.lookups import LOOKUPS, compare, json_compare
from flowtrail.core.util.frames import convert_column, fetch_raw

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance


def feature_clause(
    name: str, rest: list[str], value: Any, full: str, instance: Instance | None
) -> tuple[ColumnElement[bool] | None, list[str]]:
    """The clause for ``name__rest=value`` if ``name`` is a feature, else ``(None, feature names)``."""
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
        return having(json_compare(afv.c.value_json, path, lookup, value)), []
    if path:
        raise FieldError(f"{full}: feature {name!r} has dtype {info.dtype}, so it has no field {path[0]!r}.")
    column = afv.c[info.column]
    return having(compare(column, lookup, _query_value(info, lookup, value, full))), []


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
        chosen: Any = value  # one Label, or labels for "in"
        ids = [label.id for label in chosen] if lookup == "in" else [chosen.id]
        return having(al.c.label_id.in_(ids))
    field = path[0] if path else "name"
    if len(path) > 1 or field not in sa_inspect(Label).columns:
        options = ", ".join(sorted(sa_inspect(Label).columns.keys()))
        raise FieldError(f"{full}: labels have no field {field!r}; use one of {options}.")
    inner = select(Label.id).where(compare(getattr(Label, field), lookup, value))
    return having(al.c.label_id.in_(inner))


def add_feature_columns(frame: Any, ids: Any, include: Any) -> Any:
    """Add one column per feature (or per named feature) to ``frame``, which is indexed by artifact id.

    Two queries (scalar values, label links) read raw rows straight into columns; each feature's
    column gets the dtype of its values: ``Int64`` for int, ``boolean`` for bool, ``float64``,
    ``datetime64[ns, UTC]``, ``category`` for labels; str, date and dict values stay Python objects.
    An artifact with several values of one feature gets a list.
    """
    wanted = [include] if isinstance(include, str) else list(include)
    instance = current()
    catalog = feature_catalog(instance)
    unknown = [n for n in wanted if n not in catalog and n != "features"]
    if unknown:
        raise FieldError(
            f"include={unknown!r}: no such feature; use include='features' or feature names "
            f"({', '.join(sorted(catalog)) or 'none registered yet'})."
        )
    names = None if "features" in wanted else wanted
    infos = list(catalog.values()) if names is None else [catalog[n] for n in names]
    columns = feature_frames(instance, ids, infos)
    order = names if names is not None else sorted(columns)
    for name in order:
        frame[name] = _column(columns.get(name), catalog[name], frame.index)
    return frame


def feature_frames(instance: Instance, ids: Any, infos: list[FeatureInfo]) -> dict[str, Any]:
    """Per feature with values among ``ids`` (a subquery, or None for all artifacts): a DataFrame of
    ``artifact_id``, the link row's ``id`` and the decoded ``value``."""
    import pandas as pd

    afv, al = artifact_feature_value, artifact_label
    by_id = {info.id: info for info in infos}
    scalar_ids = [i.id for i in infos if not i.is_categorical]
    label_ids = [i.id for i in infos if i.is_categorical]
    # ``ids`` None: every artifact, so no filter at all (the link rows of all artifacts are wanted).
    # No ORDER BY either: rows are put in stored order only where one artifact has several values.
    scalar_stmt = select(afv.c.artifact_id, afv.c.feature_id, afv.c.id, afv.c.value_num, afv.c.value_str,
                         afv.c.value_json).where(afv.c.feature_id.in_(scalar_ids))  # fmt: skip
    label_stmt = (
        select(al.c.artifact_id, al.c.feature_id, al.c.id, Label.name)
        .join(Label, Label.id == al.c.label_id)
        .where(al.c.feature_id.in_(label_ids))
    )
    if ids is not None:
        scalar_stmt = scalar_stmt.where(afv.c.artifact_id.in_(ids))
        label_stmt = label_stmt.where(al.c.artifact_id.in_(ids))
    session = instance.sessions.current()
    dialect = session.get_bind().dialect
    try:
        scalar = fetch_raw(session, scalar_stmt) if scalar_ids else []
        labels = fetch_raw(session, label_stmt) if label_ids else []
    finally:
        instance.sessions.end_read()
    found: dict[str, Any] = {}
    values = pd.DataFrame.from_records(scalar, columns=["artifact_id", "feature_id", "id", "num", "str", "json"])
    for feature_id, rows in values.groupby("feature_id", sort=False):
        info = by_id[int(feature_id)]
        decoded = _decode(info, rows, dialect)
        found[info.name] = pd.DataFrame({"artifact_id": rows["artifact_id"], "id": rows["id"], "value": decoded})
    links = pd.DataFrame.from_records(labels, columns=["artifact_id", "feature_id", "id", "value"])
    for feature_id, rows in links.groupby("feature_id", sort=False):
        found[by_id[int(feature_id)].name] = rows[["artifact_id", "id", "value"]]
    return found


def _decode(info: FeatureInfo, rows: Any, dialect: Any) -> Any:
    """The stored column of ``info``'s rows, decoded as a whole (see value_encoding.decode)."""
    import pandas as pd

    if info.dtype == "int":
        return rows["num"].astype("int64")
    if info.dtype == "bool":
        return rows["num"].astype(bool)
    if info.dtype == "float":
        return rows["num"].astype("float64")
    if info.dtype == "datetime":
        return pd.to_datetime(rows["str"], format="ISO8601", utc=True)
    if info.dtype == "date":
        return rows["str"].map(dt.date.fromisoformat)
    if info.dtype == "dict":
        converted = convert_column(rows["json"], artifact_feature_value.c.value_json.type, dialect)
        return rows["json"] if converted is None else converted
    return rows["str"]


_DTYPES = {"int": "Int64", "bool": "boolean", "float": "float64"}


def _column(found: Any, info: FeatureInfo, index: Any) -> Any:
    """The feature's values aligned to ``index`` (artifact ids), None/NA where an artifact has none."""
    import pandas as pd

    if found is None:
        return pd.Series([None] * len(index), index=index, dtype=_DTYPES.get(info.dtype, "object"))
    if found["artifact_id"].duplicated().any():
        # Several values for some artifacts: a list there, the value itself elsewhere (in stored order).
        found = found.sort_values("id", kind="stable")
        grouped: dict[int, list[Any]] = {}
        for artifact_id, value in zip(found["artifact_id"].tolist(), found["value"].tolist(), strict=True):
            grouped.setdefault(artifact_id, []).append(value)
        cells = {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}
        return pd.Series([cells.get(i) for i in index.tolist()], index=index, dtype="object")
    series = found["value"].set_axis(pd.Index(found["artifact_id"]))
    if info.dtype in _DTYPES:
        return series.reindex(index).astype(_DTYPES[info.dtype])
    if info.dtype == "datetime":
        return series.reindex(index)
    if info.is_categorical:
        return series.reindex(index).astype("category")
    cells = dict(zip(found["artifact_id"].tolist(), found["value"].tolist(), strict=True))
    return pd.Series([cells.get(i) for i in index.tolist()], index=index, dtype="object")
