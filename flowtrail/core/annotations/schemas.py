"""Defining, saving and reading schemas (see :class:`flowtrail.core.models.schema.Schema`).

A schema is identified by a hash over its definition: the uids of its features in order, its
flags, ``itype``, ``dtype``, ``otype`` and the hashes of its components. Name and description are
not part of the definition, so saving a schema that is already registered returns that record.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from flowtrail.core.db.context import current
from flowtrail.core.db.database import write_transaction
from flowtrail.core.errors import FieldError
from flowtrail.core.models.feature import Feature, parse_dtype
from flowtrail.core.models.label import Label
from flowtrail.core.models.schema import Schema
from flowtrail.core.runs.tracking import current_run
from flowtrail.core.util.host import current_user
from flowtrail.core.util.ids import random_base62

if TYPE_CHECKING:
    from flowtrail.core.models.feature import Feature
    from flowtrail.core.models.label import Label
    from flowtrail.core.models.schema import Schema

OTYPES = ("DataFrame", "AnnData")
ANNDATA_SLOTS = ("obs", "var")


def prepare_schema(
    schema: Schema,
    features: list[Feature] | None,
    itype: Label | None,
    dtype: Any,
    components: dict[str, Schema] | None,
) -> None:
    """Check the arguments of ``Schema(...)`` and keep features and components until ``save()``.

    Features and components may be unsaved: ``save()`` saves them first.
    """
    features = _as_list(features, "features")
    bad = [f for f in features if not isinstance(f, Feature)]
    if bad:
        raise FieldError(
            f"Schema features must be Feature records, got {', '.join(type(b).__name__ for b in bad)}: "
            "pass e.g. [Feature(name='batch', dtype=int)]."
        )
    names = [f.name for f in features]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FieldError(f"Schema features must have distinct names; repeated: {', '.join(duplicates)}.")
    if itype is not None:
        if not (isinstance(itype, Label) and itype.is_type):
            shown = itype.name if isinstance(itype, Label) else repr(itype)
            raise FieldError(
                f"itype={shown} is not a label type: pass a type created with "
                "Label(name='Gene', is_type=True), whose labels name the columns."
            )
        if features:
            raise FieldError("Pass either features or itype, not both: itype schemas identify columns by labels.")
        schema.itype = f"Label[{itype.name}]"
        schema.itype_label = itype
    else:
        schema.itype = "Feature"
    schema.dtype = parse_dtype(dtype)[0] if dtype is not None else None
    components = dict(components or {})
    for slot, component in components.items():
        if not isinstance(slot, str) or not slot:
            raise FieldError(f"Component slots must be non-empty strings, got {slot!r}.")
        if not isinstance(component, Schema):
            raise FieldError(f"Component {slot!r} must be a Schema, got {type(component).__name__}.")
    if components and (features or itype is not None):
        raise FieldError("A composite schema (components=...) has no features or itype of its own.")
    if schema.otype is not None and schema.otype not in OTYPES:
        raise FieldError(f"otype={schema.otype!r} is not supported: use one of {', '.join(OTYPES)}.")
    if components and schema.otype is None:
        raise FieldError("A schema with components needs an otype, e.g. otype='AnnData'.")
    if schema.otype == "AnnData":
        unknown = sorted(set(components) - set(ANNDATA_SLOTS))
        if unknown or not components:
            raise FieldError(
                "An AnnData schema takes components {'obs': ..., 'var': ...}"
                + (f"; unknown slot(s): {', '.join(unknown)}." if unknown else ".")
            )
    for flag in ("minimal_set", "maximal_set", "ordered_set", "coerce_dtype"):
        if not isinstance(getattr(schema, flag), bool):
            raise FieldError(f"{flag} must be True or False, got {getattr(schema, flag)!r}.")
    schema._features = features  # type: ignore[attr-defined]  # read back by Schema.save()
    schema._components = components  # type: ignore[attr-defined]


def _as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise FieldError(f"{what} must be a list, got {type(value).__name__}.")
    return list(value)


def schema_hash(schema: Schema, features: list[Feature], components: dict[str, Schema]) -> str:
    """The hash identifying a schema's definition (features and components must be saved)."""
    definition = {
        "features": [f.uid for f in features],
        "itype": schema.itype or "Feature",
        "itype_label": schema.itype_label.uid if schema.itype_label is not None else None,
        "dtype": schema.dtype,
        "otype": schema.otype,
        "flags": [bool(schema.minimal_set), bool(schema.maximal_set), bool(schema.ordered_set), bool(schema.coerce_dtype)],
        "components": {slot: components[slot].hash for slot in sorted(components)},
    }
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def save_schema(schema: Schema) -> Schema:
    """Save features, itype and components first, then the schema; return an identical existing one."""
    from flowtrail.core.models.schema import Schema, schema_component, schema_feature

    instance = current()
    if schema.id is not None:
        return schema._save_changes()  # name and description may change; the definition may not
    features = [f if f.id is not None else f.save() for f in schema._features]
    components = {slot: c if c.id is not None else c.save() for slot, c in schema._components.items()}
    if schema.itype_label is not None and schema.itype_label.id is None:
        schema.itype_label = schema.itype_label.save()
    digest = schema_hash(schema, features, components)
    run = current_run()
    with write_transaction(instance.sessions, locks=[f"schema:{digest}"]) as session:
        existing = session.scalars(select(Schema).where(Schema.hash == digest)).first()
        if existing is not None:
            return existing
        schema.uid = random_base62(16)
        schema.hash = digest
        schema.n_features = len(features) if schema.itype == "Feature" and not components else None
        schema.created_by = current_user()
        schema.run_id = run.id if run is not None else None
        session.add(schema)
        session.flush()
        if features:
            session.execute(
                schema_feature.insert(),
                [{"schema_id": schema.id, "feature_id": f.id, "position": i} for i, f in enumerate(features)],
            )
        if components:
            session.execute(
                schema_component.insert(),
                [{"schema_id": schema.id, "slot": slot, "component_id": c.id} for slot, c in components.items()],
            )
    schema._features, schema._components = features, components
    return schema


def load_components(schema: Schema) -> dict[str, Schema]:
    """Slot -> component schema of a saved schema, by slot name."""
    from flowtrail.core.models.schema import Schema, schema_component

    if schema.id is None:
        return dict(getattr(schema, "_components", None) or {})
    instance = current()
    session = instance.sessions.current()
    try:
        rows = session.execute(
            select(schema_component.c.slot, Schema)
            .join(Schema, Schema.id == schema_component.c.component_id)
            .where(schema_component.c.schema_id == schema.id)
            .order_by(schema_component.c.slot)
        )
        return {slot: component for slot, component in rows}
    finally:
        instance.sessions.end_read()
