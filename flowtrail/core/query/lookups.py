"""Field lookups: the clauses behind ``filter(key__startswith="x", run__transform__key="y")``.

A lookup path names a field, a relation followed by ``__`` (an ``EXISTS`` subquery, so a filter
never duplicates rows), a JSON column's path (``params__lr__gt=0.1``) or a feature, and ends in an
optional comparison (``__gt``, ``__in``, ``__contains``...). Unknown names fail with a suggestion.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, func, not_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.sql.elements import ColumnElement

from flowtrail.core.errors import FieldError

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper

    from flowtrail.core.instance import Instance

LOOKUPS = (
    "exact", "iexact", "ne", "in", "gt", "gte", "lt", "lte",
    "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "isnull",
)  # fmt: skip


def _suggest(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def shown(value: Any) -> str:
    """A lookup value for a message: records by their uid, everything else as its repr, cut to 80 characters."""
    uid = getattr(value, "uid", None)
    text = f"<{type(value).__name__} {uid}>" if uid is not None else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def field_names(model: type) -> list[str]:
    """The names ``filter()`` accepts for a registry: columns, relations and their public aliases."""
    mapper: Mapper[Any] = sa_inspect(model)
    names = [*mapper.columns.keys(), *mapper.relationships.keys(), *getattr(model, "_query_aliases", {})]
    return sorted(n for n in names if not n.startswith("_"))


def compare(column: Any, lookup: str, value: Any) -> ColumnElement[bool]:
    if lookup == "exact":
        return column.is_(None) if value is None else column == value
    if lookup == "iexact":
        return func.lower(column) == str(value).lower()
    if lookup == "ne":
        return column.is_not(None) if value is None else column != value
    if lookup == "in":
        if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
            raise FieldError(f"The 'in' lookup needs a list or tuple, got {value!r}.")
        return column.in_(list(value))
    if lookup == "isnull":
        return column.is_(None) if value else column.is_not(None)
    if lookup in ("gt", "gte", "lt", "lte"):
        return {"gt": column > value, "gte": column >= value, "lt": column < value, "lte": column <= value}[lookup]
    text = str(value)
    if lookup == "contains":
        return column.contains(text, autoescape=True)
    if lookup == "icontains":
        return func.lower(column).contains(text.lower(), autoescape=True)
    if lookup == "startswith":
        return column.startswith(text, autoescape=True)
    if lookup == "istartswith":
        return func.lower(column).startswith(text.lower(), autoescape=True)
    if lookup == "endswith":
        return column.endswith(text, autoescape=True)
    if lookup == "iendswith":
        return func.lower(column).endswith(text.lower(), autoescape=True)
    raise FieldError(f"Unknown lookup {lookup!r}: use one of {', '.join(LOOKUPS)}.{_suggest(lookup, LOOKUPS)}")


def json_compare(column: Any, path: list[str], lookup: str, value: Any) -> ColumnElement[bool]:
    element = column[tuple(path)] if len(path) > 1 else column[path[0]]
    sample = value[0] if lookup == "in" and value else value
    if lookup == "isnull":
        return element.as_string().is_(None) if value else element.as_string().is_not(None)
    if isinstance(sample, bool):
        typed = element.as_boolean()
    elif isinstance(sample, int | float):
        typed = element.as_float()
    else:
        typed = element.as_string()
        if sample is not None and not isinstance(sample, str):
            value = [str(v) for v in value] if lookup == "in" else str(value)
    return compare(typed, lookup, value)


def lookup_clause(model: type, path: str, value: Any, instance: Instance | None = None) -> ColumnElement[bool]:
    """Translate one ``field__sub__lookup=value`` keyword into a SQL boolean expression.

    On artifacts, a name that is not a field is looked up as a feature (``batch__gte=3``), so
    fields, relations, run params and features mix freely in one ``filter()``.
    """
    parts = path.split("__")
    return _resolve(model, parts, value, path, instance)


def _resolve(model: type, parts: list[str], value: Any, full: str, instance: Instance | None = None) -> ColumnElement[bool]:
    mapper: Mapper[Any] = sa_inspect(model)
    name, rest = parts[0], parts[1:]
    if name == "pk":
        name = "id"
    name = getattr(model, "_query_aliases", {}).get(name, name)
    if name in mapper.relationships:
        relation = mapper.relationships[name]
        attribute = getattr(model, name)
        target = relation.mapper.class_
        link = _link_columns(model, relation)
        if not rest or rest in (["exact"], ["in"], ["isnull"]):
            lookup = rest[0] if rest else "exact"
            if lookup == "isnull":
                if link is not None:
                    present = link[0].in_(select(link[1]))
                else:
                    present = attribute.any() if relation.uselist else attribute.has()
                return not_(present) if value else present
            values = list(value) if lookup == "in" else [value]
            ids = [getattr(v, "id", v) for v in values]
            if any(v is None for v in ids):
                raise FieldError(f"{full}: compare a relation with saved records or their ids, got {value!r}.")
            if link is not None:
                return link[0].in_(select(link[1]).where(link[3].in_(ids)))
            inner = target.id.in_(ids)
            return attribute.any(inner) if relation.uselist else attribute.has(inner)
        inner = _resolve(target, rest, value, full, instance)
        if link is not None:
            local, link_local, remote, link_remote = link
            joined = link_local.table.join(target.__table__, remote == link_remote)  # link_local: the secondary table
            return local.in_(select(link_local).select_from(joined).where(inner))
        return attribute.any(inner) if relation.uselist else attribute.has(inner)
    if name in mapper.columns:
        column = getattr(model, name)
        column_type = mapper.columns[name].type
        if isinstance(getattr(column_type, "impl", column_type), JSON) and rest:
            if len(rest) > 1 and rest[-1] in LOOKUPS:
                return json_compare(column, rest[:-1], rest[-1], value)
            return json_compare(column, rest, "exact", value)
        if len(rest) > 1:
            raise FieldError(f"{full}: {model.__name__}.{name} is not a relation, so it has no field {rest[0]!r}.")
        return compare(column, rest[0] if rest else "exact", value)
    options = field_names(model)
    if getattr(model, "_has_features", False):
        from flowtrail.core.annotations.filters import feature_clause

        clause, features = feature_clause(name, rest, value, full, instance)
        if clause is not None:
            return clause
        return _no_such_field(model, name, full, options, features)
    return _no_such_field(model, name, full, options, [])


def _no_such_field(model: type, name: str, full: str, options: list[str], features: list[str]) -> ColumnElement[bool]:
    if getattr(model, "_has_features", False):
        raise FieldError(
            f"{model.__name__} has no field or feature {name!r} (in {full!r}).{_suggest(name, [*options, *features])} "
            f"Fields: {', '.join(options)}. Features: {', '.join(features) or 'none yet'} "
            f"(create one with Feature(name={name!r}, dtype=...).save())."
        )
    raise FieldError(
        f"{model.__name__} has no field {name!r} (in {full!r}).{_suggest(name, options)} "
        f"Valid fields: {', '.join(options)}."
    )


def _link_columns(model: type, relation: Any) -> tuple[Any, Any, Any, Any] | None:
    """For a plain many-to-many relation: (model column, its link column, target column, its link column).

    Such relations are filtered with ``model.id IN (SELECT link.model_id FROM link ...)``: SQLite
    plans the correlated ``EXISTS`` that ``.any()`` builds as a scan of the link table per row
    (``Artifact.filter(labels=label)`` took 570 ms on 10,000 artifacts; the IN form takes 1 ms).
    """
    secondary = relation.secondary
    if secondary is None or len(relation.synchronize_pairs) != 1 or len(relation.secondary_synchronize_pairs) != 1:
        return None
    (local, link_local), (remote, link_remote) = relation.synchronize_pairs[0], relation.secondary_synchronize_pairs[0]
    if local.table is not getattr(model, "__table__", None) or link_local.table is not secondary or link_remote.table is not secondary:
        return None
    return local, link_local, remote, link_remote


def order_clause(model: type, field: str) -> Any:
    descending = field.startswith("-")
    name = field.lstrip("-")
    mapper: Mapper[Any] = sa_inspect(model)
    if name not in mapper.columns:
        options = sorted(mapper.columns.keys())
        raise FieldError(
            f"Cannot order {model.__name__} by {name!r}.{_suggest(name, options)} Valid fields: {', '.join(options)}."
        )
    column = getattr(model, name)
    return column.desc() if descending else column.asc()
