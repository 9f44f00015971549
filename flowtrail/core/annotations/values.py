"""Feature values of artifacts: checked against each feature's dtype, stored one row per value.

``artifact.features.add_values({"batch": 3, "tissue": "liver"})`` sets values (replacing earlier
values of the same features); ``Artifact.features.add_values_many({a1: {...}, a2: {...}})`` does
the same for many artifacts in one transaction. Every value is checked before anything is
written, and one :class:`~flowtrail.core.errors.ValidationError` lists every problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select

from flowtrail.core.annotations.encoding import FeatureInfo, Problem, decode, encode_scalar
from flowtrail.core.db.context import current
from flowtrail.core.db.database import write_transaction
from flowtrail.core.errors import DoesNotExist, IntegrityError, ValidationError
from flowtrail.core.models.feature import Feature
from flowtrail.core.models.label import Label
from flowtrail.core.models.links import artifact_feature_value, artifact_label
from flowtrail.core.models.schema import Schema, schema_feature
from flowtrail.core.runs.tracking import current_run
from flowtrail.core.util.host import current_user
from flowtrail.core.util.ids import random_base62

if TYPE_CHECKING:
    from flowtrail.core.annotations.vocabulary import Vocabulary
    from flowtrail.core.instance import Instance
    from flowtrail.core.models.artifact import Artifact

_ALL = object()


def feature_catalog(instance: Instance) -> dict[str, FeatureInfo]:
    """Every feature by name, re-read only when a process registered or deleted one."""
    session = instance.sessions.current()
    try:
        fingerprint = tuple(session.execute(select(func.count(Feature.id), func.max(Feature.id))).one())
        cached = instance.caches.get("features")
        if cached is None or cached[0] != fingerprint:
            rows = session.execute(select(Feature.id, Feature.name, Feature.dtype, Feature.label_type_id))
            cached = (fingerprint, {r.name: FeatureInfo(*r) for r in rows})
            instance.caches["features"] = cached
    finally:
        instance.sessions.end_read()
    return cached[1]


def find_feature(instance: Instance, name: str) -> FeatureInfo | None:
    """The feature called ``name``: from the cache when known, else re-read (another process may add one).

    A feature's id and dtype never change once saved, so a cached hit needs no query.
    """
    cached = instance.caches.get("features")
    if cached is not None and name in cached[1]:
        return cached[1][name]
    return feature_catalog(instance).get(name)


def save_feature(feature: Feature) -> Feature:
    """Insert the feature, or return the existing one of this name if its dtype is the same."""
    from flowtrail.core.annotations.vocabulary import get_type

    instance = current()
    if feature.id is not None:
        return feature._save_changes()
    label_type = feature.label_type
    type_name = getattr(feature, "_label_type_name", None)
    if label_type is None and type_name is not None:
        label_type = get_type(type_name, instance)
    elif label_type is not None and label_type.id is None:
        label_type = label_type.save()
    run = current_run()
    with write_transaction(instance.sessions, locks=[f"feature:{feature.name}"]) as session:
        existing = session.scalars(select(Feature).where(Feature.name == feature.name)).first()
        if existing is not None:
            if existing.dtype != feature.dtype:
                raise IntegrityError(
                    f"Feature {feature.name!r} already exists with dtype {existing.dtype}, not {feature.dtype}: "
                    "use the existing feature, or pick another name for the new one."
                )
            return existing
        feature.label_type = label_type
        feature.uid = random_base62(12)
        feature.created_by = current_user()
        feature.run_id = run.id if run is not None else None
        session.add(feature)
    return feature


def check_labels_fit(feature: Feature | FeatureInfo, labels: list[Label]) -> None:
    """Raise unless every label has the categorical feature's label type."""
    if not feature.dtype.startswith("cat"):
        raise ValidationError(f"Feature {feature.name!r} has dtype {feature.dtype}: only categorical features take labels.")
    wrong = [label.name for label in labels if feature.label_type_id is not None and label.type_id != feature.label_type_id]
    if wrong:
        raise ValidationError(f"{', '.join(map(repr, wrong))} not of the label type of {feature.name!r} ({feature.dtype}).")


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]


class ValueResolver:
    """Turns ``{feature name: value}`` into rows, collecting every problem."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.vocabularies: dict[int | None, Vocabulary] = {}
        self.exact: dict[tuple[int | None, str], int] = {}
        self.problems: list[str] = []

    def feature(self, name: Any) -> FeatureInfo | None:
        key = name.name if isinstance(name, Feature) else name
        info = find_feature(self.instance, key)
        if info is None:
            close = difflib.get_close_matches(str(key), list(feature_catalog(self.instance)), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.problems.append(
                f"{key}: no such feature{hint}; create it with Feature(name={key!r}, dtype=...).save()."
            )
        return info

    def rows(self, info: FeatureInfo, value: Any) -> tuple[list[dict[str, Any]], list[int]]:
        values, labels = [], []
        for item in _as_list(value):
            try:
                if info.is_categorical:
                    labels.append(self.label_id(info, item))
                else:
                    values.append(encode_scalar(info, item))
            except Problem as problem:
                self.problems.append(str(problem))
        return values, labels

    def label_id(self, info: FeatureInfo, item: Any) -> int:
        if isinstance(item, Label):
            if item.id is None:
                raise Problem(f"{info.name}: label {item.name!r} is not saved; call .save() on it first.")
            if info.label_type_id is not None and item.type_id != info.label_type_id:
                raise Problem(f"{info.name}: label {item.name!r} is not of the feature's type ({info.dtype}).")
            return item.id
        if not isinstance(item, str):
            raise Problem(f"{info.name}: {item!r} is not a label name; pass a str or a Label ({info.dtype}).")
        key = (info.label_type_id, item)
        if key in self.exact:
            return self.exact[key]
        found = self.exact_label(info, item)
        if found is not None:
            self.exact[key] = found
            return found
        # Not a name: a synonym, ontology id or case variant needs the type's whole vocabulary.
        vocab = self.vocabulary(info)
        found = vocab.match_id(item)
        if found is None:
            close = vocab.suggest(item)
            hint = f" Did you mean {close!r}?" if close else ""
            where = f"a label of type {vocab.type_name}" if vocab.type_name else "a label"
            raise Problem(
                f"{info.name}: {item!r} is not {where}.{hint} Fix the value, or create the label with "
                f"Label(name={item!r}{', type=...' if vocab.type_name else ''}).save()."
            )
        return found

    def exact_label(self, info: FeatureInfo, name: str) -> int | None:
        """One indexed lookup by name (a large ontology's vocabulary is loaded only for other spellings)."""
        stmt = select(Label.id).where(Label.name == name, Label.is_type.is_(False)).order_by(Label.id).limit(1)
        if info.label_type_id is not None:
            stmt = stmt.where(Label.type_id == info.label_type_id)
        session = self.instance.sessions.current()
        return session.scalar(stmt)

    def vocabulary(self, info: FeatureInfo) -> Vocabulary:
        from flowtrail.core.annotations.vocabulary import vocabulary

        if info.label_type_id not in self.vocabularies:
            label_type = None
            if info.label_type_id is not None:
                session = self.instance.sessions.current()
                label_type = session.get(Label, info.label_type_id)
            self.vocabularies[info.label_type_id] = vocabulary(label_type, self.instance)
        return self.vocabularies[info.label_type_id]


def add_values_many(items: Mapping[Any, Mapping[Any, Any]] | Iterable[tuple[Any, Mapping[Any, Any]]]) -> None:
    """Set feature values on many artifacts in one transaction; nothing is written if any value is wrong."""
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    instance = current()
    resolver = ValueResolver(instance)
    values: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    touched: dict[int, set[int]] = {}
    for artifact, mapping in pairs:
        artifact_id = getattr(artifact, "id", None)
        if artifact_id is None:
            resolver.problems.append(f"{artifact!r} is not a saved artifact: save it before adding feature values.")
            continue
        for name, value in mapping.items():
            info = resolver.feature(name)
            if info is None:
                continue
            rows, label_ids = resolver.rows(info, value)
            touched.setdefault(info.id, set()).add(artifact_id)
            values.extend({"artifact_id": artifact_id, "feature_id": info.id, **row} for row in rows)
            labels.extend({"artifact_id": artifact_id, "feature_id": info.id, "label_id": i} for i in dict.fromkeys(label_ids))
    if resolver.problems:
        count = len(resolver.problems)
        raise ValidationError(
            f"{count} feature value{'s' if count > 1 else ''} could not be set (nothing was written):\n"
            + "\n".join(f"  - {p}" for p in resolver.problems),
            resolver.problems,
        )
    # Replace-then-insert must not interleave with another writer on PostgreSQL (SQLite serialises
    # writers anyway): one lock for all feature writes keeps it simple and cheap.
    from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError

    try:
        _write_values(instance, touched, values, labels)
    except DatabaseIntegrityError as error:
        instance.caches.pop("features", None)
        raise IntegrityError(
            "The feature values were not written: an artifact, feature or label they refer to no longer "
            f"exists (deleted by another process?). Reload the records and try again. ({error.orig})"
        ) from None


def _write_values(
    instance: Instance, touched: dict[int, set[int]], values: list[dict[str, Any]], labels: list[dict[str, Any]]
) -> None:
    with write_transaction(instance.sessions, locks=["feature_values"]) as session:
        for feature_ids, artifact_ids in _replaced(touched):
            for start in range(0, len(artifact_ids), 500):
                chunk = artifact_ids[start : start + 500]
                for table in (artifact_feature_value, artifact_label):
                    session.execute(
                        delete(table).where(table.c.feature_id.in_(feature_ids), table.c.artifact_id.in_(chunk))
                    )
        for table, rows in ((artifact_feature_value, values), (artifact_label, labels)):
            for column_set in _by_columns(rows):
                session.execute(table.insert(), column_set)


def _replaced(touched: dict[int, set[int]]) -> list[tuple[list[int], list[int]]]:
    """Group artifacts by the set of features they get, so one DELETE per group clears old values."""
    features_of: dict[int, set[int]] = {}
    for feature_id, artifact_ids in touched.items():
        for artifact_id in artifact_ids:
            features_of.setdefault(artifact_id, set()).add(feature_id)
    groups: dict[frozenset[int], list[int]] = {}
    for artifact_id, feature_ids in features_of.items():
        groups.setdefault(frozenset(feature_ids), []).append(artifact_id)
    return [(sorted(features), sorted(ids)) for features, ids in groups.items()]


def _by_columns(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    # executemany needs every row of one call to name the same columns.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return list(groups.values())


def get_values(artifact: Artifact) -> dict[str, Any]:
    """``{feature name: value}`` (a list where a feature has several values), in feature order."""
    return values_of([artifact.id]).get(artifact.id, {})


def values_of(artifact_ids: Any, features: Iterable[str] | None = None) -> dict[int, dict[str, Any]]:
    """Feature values of many artifacts; ``artifact_ids`` may be a list or a SQL subquery of ids."""
    instance = current()
    catalog = feature_catalog(instance)
    by_id = {info.id: info for info in catalog.values()}
    wanted = {catalog[n].id for n in features if n in catalog} if features is not None else None
    afv, al = artifact_feature_value, artifact_label
    scalar = select(afv.c.artifact_id, afv.c.feature_id, afv.c.value_num, afv.c.value_str, afv.c.value_json).where(
        afv.c.artifact_id.in_(artifact_ids)
    ).order_by(afv.c.feature_id, afv.c.id)
    categorical = (
        select(al.c.artifact_id, al.c.feature_id, Label.name)
        .join(Label, Label.id == al.c.label_id)
        .where(al.c.artifact_id.in_(artifact_ids), al.c.feature_id.is_not(None))
        .order_by(al.c.feature_id, al.c.id)
    )
    found: dict[int, dict[int, list[Any]]] = {}
    session = instance.sessions.current()
    try:
        for row in session.execute(scalar):
            if (wanted is None or row.feature_id in wanted) and row.feature_id in by_id:
                found.setdefault(row.artifact_id, {}).setdefault(row.feature_id, []).append(decode(by_id[row.feature_id], row))
        for row in session.execute(categorical):
            if wanted is None or row.feature_id in wanted:
                found.setdefault(row.artifact_id, {}).setdefault(row.feature_id, []).append(row.name)
    finally:
        instance.sessions.end_read()
    result: dict[int, dict[str, Any]] = {}
    for artifact_id, per_feature in found.items():
        ordered = sorted(per_feature.items(), key=lambda item: by_id[item[0]].name)
        result[artifact_id] = {by_id[f].name: v[0] if len(v) == 1 else v for f, v in ordered}
    return result


def remove_values(artifact: Artifact, feature: str | Feature, value: Any = _ALL) -> None:
    """Remove a feature's values from an artifact (only ``value`` if given)."""
    instance = current()
    name = feature.name if isinstance(feature, Feature) else feature
    info = find_feature(instance, name)
    if info is None:
        raise DoesNotExist(f"No feature named {name!r}; list features with Feature.filter().to_dataframe().")
    resolver = ValueResolver(instance)
    with write_transaction(instance.sessions, locks=["feature_values"]) as session:
        afv, al = artifact_feature_value, artifact_label
        if value is _ALL:
            for table in (afv, al):
                session.execute(delete(table).where(table.c.artifact_id == artifact.id, table.c.feature_id == info.id))
            return
        rows, label_ids = resolver.rows(info, value)
        if resolver.problems:
            raise ValidationError("\n".join(resolver.problems), resolver.problems)
        for row in rows:
            (column, stored), = row.items()
            session.execute(delete(afv).where(afv.c.artifact_id == artifact.id, afv.c.feature_id == info.id, afv.c[column] == stored))
        if label_ids:
            session.execute(delete(al).where(al.c.artifact_id == artifact.id, al.c.feature_id == info.id, al.c.label_id.in_(label_ids)))


class FeatureManager:
    """``artifact.features``: add, get and remove the artifact's feature values."""

    def __init__(self, artifact: Artifact) -> None:
        self.artifact = artifact

    def add_values(self, values: Mapping[str | Feature, Any]) -> None:
        """Set feature values (a list sets several); earlier values of these features are replaced."""
        if self.artifact.id is None:
            raise IntegrityError("Save the artifact before adding feature values: artifact = artifact.save().")
        add_values_many([(self.artifact, values)])

    def get_values(self) -> dict[str, Any]:
        """``{feature name: value}``; categorical values are label names."""
        return get_values(self.artifact) if self.artifact.id is not None else {}

    def remove_values(self, feature: str | Feature, value: Any = _ALL) -> None:
        """Remove all values of ``feature`` (or just ``value``)."""
        remove_values(self.artifact, feature, value)

    def __repr__(self) -> str:
        return f"<features of {self.artifact!r}: {self.get_values()!r}>"


class RegistryFeatures:
    """``Artifact.features`` on the class: bulk annotation."""

    @staticmethod
    def add_values_many(items: Mapping[Any, Mapping[Any, Any]] | Iterable[tuple[Any, Mapping[Any, Any]]]) -> None:
        """Set values on many artifacts in one transaction: ``{artifact: {"batch": 3}, ...}``."""
        add_values_many(items)


def delete_feature(feature: Feature) -> None:
    """Delete a feature and every value of it; refused while a schema uses it."""
    if feature.id is None:
        raise IntegrityError("This feature was never saved, so there is nothing to delete.")
    instance = current()
    with write_transaction(instance.sessions, locks=[f"feature:{feature.name}", "feature_values"]) as session:
        users = select(schema_feature.c.schema_id).where(schema_feature.c.feature_id == feature.id)
        schemas = list(session.scalars(select(Schema).where(Schema.id.in_(users)).order_by(Schema.id)))
        if schemas:
            names = ", ".join(s.name or s.uid for s in schemas[:5])
            raise IntegrityError(
                f"Feature {feature.name!r} is part of {len(schemas)} schema(s) ({names}): deleting it would change "
                "what those schemas validate. Keep the feature, or define new schemas without it."
            )
        session.delete(feature)  # values and label links go with it (ON DELETE CASCADE)
    instance.caches.pop("features", None)
