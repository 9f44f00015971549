"""What curators share: column specs from features, standardising values, saving the curated artifact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowtrail.core.annotations.values import add_values_many
from flowtrail.core.annotations.vocabulary import get_type, vocabulary
from flowtrail.core.curation.checks import ColumnSpec
from flowtrail.core.errors import FieldError
from flowtrail.core.models.schema import Schema

if TYPE_CHECKING:
    import pandas as pd

    from flowtrail.core.annotations.vocabulary import Vocabulary
    from flowtrail.core.models.artifact import Artifact
    from flowtrail.core.models.feature import Feature
    from flowtrail.core.models.label import Label
    from flowtrail.core.models.schema import Schema


def label_type_of(feature: Feature) -> Label | None:
    """The label type a categorical feature's values belong to (None for ``cat[Label]``)."""
    if feature.id is not None:
        return feature.label_type
    label_type = feature.label_type
    if label_type is not None and label_type.id is not None:
        return label_type
    name = label_type.name if label_type is not None else getattr(feature, "_label_type_name", None)
    return get_type(name) if name is not None else None


def vocabulary_of(label_type: Label | None, cache: dict[int | None, Vocabulary]) -> Vocabulary:
    """The vocabulary of a label type (all labels for None), loaded once per curator."""
    key = label_type.id if label_type is not None else None
    if key not in cache:
        cache[key] = vocabulary(label_type)
    return cache[key]


def column_specs(features: list[Feature], cache: dict[int | None, Vocabulary]) -> list[ColumnSpec]:
    """One :class:`ColumnSpec` per feature, with the vocabulary of each categorical feature."""
    specs = []
    for feature in features:
        vocab = vocabulary_of(label_type_of(feature), cache) if feature.is_categorical else None
        specs.append(ColumnSpec(feature.name, feature.dtype, vocab))
    return specs


def require_feature_schema(schema: Any, what: str) -> None:
    """Raise unless ``schema`` is a Schema listing features (the kind a DataFrame is checked against)."""
    if not isinstance(schema, Schema):
        raise FieldError(f"{what} needs a Schema, got {type(schema).__name__}: pass Schema(features=[...]).")
    if schema.otype not in (None, "DataFrame") or schema.components:
        raise FieldError(
            f"{what} needs a schema of DataFrame columns, not otype={schema.otype!r}: "
            "use AnnDataCurator for AnnData schemas."
        )
    if schema.itype not in (None, "Feature"):
        raise FieldError(f"{what} needs a schema with features, not itype={schema.itype!r}.")


def _replace(series: pd.Series, mapping: dict[str, str]) -> pd.Series:
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = list(dict.fromkeys(mapping.get(c, c) for c in series.cat.categories))
        values = series.astype(object).map(lambda v: mapping.get(v, v) if isinstance(v, str) else v)
        dtype = pd.CategoricalDtype(categories, ordered=series.cat.ordered)
        return pd.Series(pd.Categorical(values, dtype=dtype), index=series.index, name=series.name)
    return series.map(lambda v: mapping.get(v, v) if isinstance(v, str) else v).astype(series.dtype)


def standard_names(values: Any, vocabulary: Vocabulary, keep: set[str] | None = None) -> dict[str, str]:
    """``{value: label name}`` for values that are synonyms, ontology ids or case variants.

    Values in ``keep`` (e.g. ontology ids an itype schema accepts) stay as they are.
    """
    mapping = {}
    for value in dict.fromkeys(values):
        if not isinstance(value, str) or vocabulary.is_name(value) or (keep is not None and value in keep):
            continue
        name = vocabulary.name_of(value)
        if name is not None and name != value:
            mapping[value] = name
    return mapping


def standardize_frame(frame: pd.DataFrame, specs: list[ColumnSpec]) -> dict[str, dict[str, str]]:
    """Replace synonyms etc. by label names in the categorical columns of ``frame`` (in place)."""
    changes: dict[str, dict[str, str]] = {}
    for spec in specs:
        if not spec.is_categorical or spec.vocabulary is None or spec.name not in frame.columns:
            continue
        series = frame[spec.name]
        mapping = standard_names(series.dropna().unique(), spec.vocabulary)
        if mapping:
            frame[spec.name] = _replace(series, mapping)
            changes[spec.name] = mapping
    return changes


def label_values(frame: pd.DataFrame, specs: list[ColumnSpec]) -> dict[str, list[str]]:
    """``{feature name: sorted unique label names}`` of the categorical columns present."""
    values = {}
    for spec in specs:
        if spec.is_categorical and spec.name in frame.columns:
            names = sorted({v for v in frame[spec.name].dropna().unique() if isinstance(v, str)})
            if names:
                values[spec.name] = names
    return values


def save_curated(
    artifact: Artifact, schema: Schema, n_observations: int, values: dict[str, list[str]]
) -> tuple[Artifact, Schema]:
    """Save the artifact and schema, link them, and annotate the artifact with the parsed labels.

    Returns the registered artifact and schema (existing records when identical ones exist).
    """
    if schema.id is None:
        schema = schema.save()
    artifact = artifact.save()
    artifact.schema = schema
    artifact.schema_id = schema.id
    if artifact.n_observations is None:
        artifact.n_observations = n_observations
    artifact.save()
    if values:
        add_values_many({artifact: values})
    return artifact, schema

