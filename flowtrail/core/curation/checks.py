"""pandera schemas built from flowtrail schemas: columns, dtypes and label vocabularies.

pandera (and pandas) are imported here only, when a curator validates, never at ``import flowtrail``.
Checks carry an ``error`` token (:data:`DTYPE`, :data:`LABELS`) so that :mod:`.report` can tell
them apart in pandera's failure cases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from flowtrail.core.annotations.vocabulary import Vocabulary

DTYPE = "flowtrail:dtype"
LABELS = "flowtrail:labels"
INDEX_LABELS = "flowtrail:index-labels"

# What a column of each feature dtype becomes when the schema has coerce_dtype=True.
_COERCE_TO = {"int": "Int64", "float": "float64", "str": "str", "bool": "boolean", "datetime": "datetime64[ns]"}


@dataclass
class ColumnSpec:
    """One expected column: its feature's name and dtype, and for categorical ones the vocabulary."""

    name: str
    dtype: str
    vocabulary: Vocabulary | None = None

    @property
    def is_categorical(self) -> bool:
        return self.dtype.startswith("cat")

    @property
    def type_name(self) -> str | None:
        return self.vocabulary.type_name if self.vocabulary is not None else None


def pandera() -> Any:
    """The ``pandera.pandas`` module, with a hint to install the curation extra if it is missing."""
    try:
        import pandera.pandas as pa
    except ImportError as error:  # pragma: no cover - depends on the environment
        from flowtrail.core.errors import ConfigurationError

        raise ConfigurationError(
            "Curating datasets needs pandera and pandas: pip install 'flowtrail[curation]'."
        ) from error
    return pa


def canonical_names(vocabulary: Vocabulary) -> set[str]:
    """The names a categorical column may hold after standardising."""
    return {entry[0] for entry in vocabulary.labels.values()}


def names_and_ids(vocabulary: Vocabulary) -> set[str]:
    """Names and ontology ids: what an itype schema accepts (e.g. gene symbols or Ensembl ids)."""
    return {value for entry in vocabulary.labels.values() for value in entry[:2] if value}


def _all(series: pd.Series, kind: type | tuple[type, ...], exclude: type | None = None) -> bool:
    values = series.dropna()
    return all(isinstance(v, kind) and not (exclude is not None and isinstance(v, exclude)) for v in values)


def dtype_matches(series: pd.Series, dtype: str) -> bool:
    """Whether a column's pandas dtype fits a feature dtype (without converting anything)."""
    from pandas.api import types

    kind = series.dtype
    if dtype == "int":
        return types.is_integer_dtype(kind) and not types.is_bool_dtype(kind)
    if dtype == "float":
        return (types.is_float_dtype(kind) or types.is_integer_dtype(kind)) and not types.is_bool_dtype(kind)
    if dtype == "bool":
        return types.is_bool_dtype(kind)
    if dtype == "datetime":
        return types.is_datetime64_any_dtype(kind)
    if dtype == "date":
        return types.is_datetime64_any_dtype(kind) or (types.is_object_dtype(kind) and _all(series, dt.date, dt.datetime))
    if dtype == "dict":
        return types.is_object_dtype(kind) and _all(series, dict)
    # str and categorical columns: strings as object, string or category dtype
    if isinstance(kind, types.CategoricalDtype):
        return _all(series.cat.categories.to_series(), str)
    return types.is_string_dtype(kind) and _all(series, str)


def expected_dtype_text(dtype: str) -> str:
    """How a feature dtype is described in problem lines."""
    if dtype.startswith("cat"):
        return f"{dtype} (strings or a pandas Categorical of label names)"
    examples = {"int": "int64 or Int64", "float": "float64", "bool": "bool", "str": "strings",
                "date": "datetime64 or datetime.date values", "datetime": "datetime64", "dict": "dicts"}  # fmt: skip
    return f"{dtype} ({examples.get(dtype, dtype)})"


def _column(spec: ColumnSpec, *, required: bool, coerce: bool) -> Any:
    pa = pandera()
    checks = []
    target: Any = None
    if coerce and spec.dtype in _COERCE_TO:
        target = _COERCE_TO[spec.dtype]
    elif coerce and spec.dtype == "date":
        from pandera.engines import pandas_engine

        target = pandas_engine.Date
    else:
        checks.append(pa.Check(lambda s, d=spec.dtype: dtype_matches(s, d), element_wise=False, error=DTYPE))
    if spec.is_categorical and spec.vocabulary is not None:
        checks.append(pa.Check.isin(canonical_names(spec.vocabulary), error=LABELS))
    return pa.Column(target, checks=checks, nullable=True, required=required, coerce=target is not None)


def frame_schema(
    specs: list[ColumnSpec], *, minimal_set: bool, maximal_set: bool, ordered_set: bool, coerce: bool
) -> Any:
    """A pandera DataFrameSchema for the columns of a feature schema."""
    pa = pandera()
    columns = {spec.name: _column(spec, required=minimal_set, coerce=coerce) for spec in specs}
    return pa.DataFrameSchema(columns, strict=maximal_set, ordered=ordered_set)


def index_schema(allowed: set[str]) -> Any:
    """A pandera DataFrameSchema whose index values must be in ``allowed`` (e.g. an AnnData's var)."""
    pa = pandera()
    return pa.DataFrameSchema(index=pa.Index(checks=[pa.Check.isin(allowed, error=INDEX_LABELS)]))


def run(schema: Any, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Validate lazily: the (possibly coerced) frame and pandera's failure cases, or None if valid."""
    import warnings

    pa = pandera()
    with warnings.catch_warnings():
        # pandera concatenates failure cases with all-NA columns, which pandas warns about.
        warnings.simplefilter("ignore", FutureWarning)
        try:
            return schema.validate(frame, lazy=True), None
        except pa.errors.SchemaErrors as errors:
            return frame, errors.failure_cases
