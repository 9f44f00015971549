"""DataFrameCurator: validate a DataFrame against a schema, standardise its labels, save it annotated."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowtrail.core.curation.checks import frame_schema, run
from flowtrail.core.curation.columns import (
    column_specs,
    label_values,
    require_feature_schema,
    save_curated,
    standardize_frame,
)
from flowtrail.core.curation.report import frame_problems, raise_problems
from flowtrail.core.models.artifact import Artifact

if TYPE_CHECKING:
    import pandas as pd

    from flowtrail.core.annotations.vocabulary import Vocabulary
    from flowtrail.core.models.artifact import Artifact
    from flowtrail.core.models.run import Run
    from flowtrail.core.models.schema import Schema


class DataFrameCurator:
    """Curate a pandas DataFrame against a :class:`~flowtrail.core.models.schema.Schema` of features.

    ``curator = DataFrameCurator(df, schema)``; ``curator.validate()`` raises a
    :class:`~flowtrail.core.errors.ValidationError` listing every problem (missing or unexpected
    columns, wrong dtypes, values that are not labels of the feature's type);
    ``curator.standardize()`` replaces synonyms by label names; ``curator.save_artifact(key=...)``
    validates, saves and annotates. The curator works on its own copy, ``curator.df``.
    """

    def __init__(self, df: pd.DataFrame, schema: Schema) -> None:
        if type(df).__name__ != "DataFrame":
            raise TypeError(f"DataFrameCurator expects a pandas DataFrame, got {type(df).__name__}.")
        require_feature_schema(schema, "DataFrameCurator")
        self.df: pd.DataFrame = df.copy()
        self.schema = schema
        self._vocabularies: dict[int | None, Vocabulary] = {}
        self._specs = column_specs(schema.features, self._vocabularies)

    def problems(self, prefix: str = "") -> tuple[list[str], set[str]]:
        """Every problem as a line, and their kinds; an empty list when the DataFrame is valid.

        With ``coerce_dtype=True`` a valid DataFrame's columns are converted (``self.df``).
        """
        schema = self.schema
        checker = frame_schema(
            self._specs, minimal_set=schema.minimal_set, maximal_set=schema.maximal_set,
            ordered_set=schema.ordered_set, coerce=schema.coerce_dtype,
        )  # fmt: skip
        checked, failures = run(checker, self.df)
        if failures is None:
            self.df = checked
        return frame_problems(failures, self._specs, self.df, prefix)

    def validate(self) -> None:
        """Return if the DataFrame fits the schema; else raise a ValidationError listing every problem."""
        problems, kinds = self.problems()
        raise_problems("The DataFrame", problems, kinds)

    def standardize(self) -> dict[str, dict[str, str]]:
        """Replace synonyms, ontology ids and case variants by label names in ``self.df``.

        Returns ``{column: {old value: label name}}`` for what changed.
        """
        return standardize_frame(self.df, self._specs)

    def save_artifact(
        self, key: str | None = None, *, description: str | None = None, run: Run | None = None
    ) -> Artifact:
        """Validate, save the DataFrame as an artifact linked to the schema, and label it.

        The labels in each categorical column become the artifact's values of that column's
        feature, so ``Artifact.filter(cell_medium="IFNG")`` finds it. Returns the saved artifact.
        """
        self.validate()
        artifact = Artifact.from_dataframe(self.df, key=key, description=description, run=run)
        values = label_values(self.df, self._specs)
        artifact, self.schema = save_curated(artifact, self.schema, len(self.df), values)
        return artifact

    def __repr__(self) -> str:
        shown: Any = self.schema.name or self.schema.uid or "unsaved"
        return f"DataFrameCurator({self.df.shape[0]} rows x {self.df.shape[1]} columns, schema={shown!r})"
