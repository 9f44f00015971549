"""AnnDataCurator: validate an AnnData's obs, var and X against a composite schema.

``Schema(otype="AnnData", components={"obs": Schema(features=[...]), "var": Schema(itype=gene_type,
dtype=int)})``: ``obs`` is checked like a DataFrame; the var names must be labels of the ``itype``
label type (by name or ontology id, e.g. Ensembl ids); ``X`` must have the var schema's ``dtype``.
A var schema with features checks ``var``'s columns instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowtrail.core.curation.checks import index_schema, names_and_ids, run
from flowtrail.core.curation.columns import label_values, save_curated, standard_names, vocabulary_of
from flowtrail.core.curation.dataframe import DataFrameCurator
from flowtrail.core.curation.report import index_problems, raise_problems
from flowtrail.core.errors import FieldError
from flowtrail.core.models.artifact import Artifact
from flowtrail.core.models.schema import Schema as SchemaClass

if TYPE_CHECKING:
    from flowtrail.core.annotations.vocabulary import Vocabulary
    from flowtrail.core.models.artifact import Artifact
    from flowtrail.core.models.run import Run
    from flowtrail.core.models.schema import Schema

_MATRIX_KINDS = {"int": "iu", "float": "fiu", "bool": "b"}
_MATRIX_TYPES = {"int": "int64", "float": "float64", "bool": "bool"}


def check_matrix(matrix: Any, dtype: str | None, coerce: bool) -> tuple[Any, str | None]:
    """``(matrix, problem)``: X converted if ``coerce`` allows it, or a line saying why it does not fit."""
    if dtype is None:
        return matrix, None
    if matrix is None:
        return matrix, f"X: missing, but the var schema wants dtype {dtype}"
    if dtype not in _MATRIX_KINDS:
        return matrix, f"X: the var schema's dtype {dtype} is not a matrix dtype (use int, float or bool)"
    if matrix.dtype.kind in _MATRIX_KINDS[dtype]:
        return matrix, None
    if coerce:
        import numpy as np

        values = matrix.data if hasattr(matrix, "tocsr") else np.asarray(matrix)
        lossless = dtype == "float" or (values.dtype.kind in "fiub" and bool(np.all(np.mod(values, 1) == 0)))
        if lossless:
            return matrix.astype(_MATRIX_TYPES[dtype]), None
        return matrix, f"X: cannot convert dtype {matrix.dtype} to {dtype} without losing values"
    return matrix, f"X: dtype {matrix.dtype} does not fit the var schema's dtype {dtype}"


class AnnDataCurator:
    """Curate an AnnData against a schema with ``otype="AnnData"`` and ``obs``/``var`` components.

    Works like :class:`DataFrameCurator`: ``validate()``, ``standardize()``, ``save_artifact()``;
    the curator's own copy is ``curator.adata``.
    """

    def __init__(self, adata: Any, schema: Schema) -> None:
        if type(adata).__name__ != "AnnData":
            raise TypeError(f"AnnDataCurator expects an AnnData, got {type(adata).__name__}.")
        if not isinstance(schema, SchemaClass) or schema.otype != "AnnData":
            raise FieldError(
                "AnnDataCurator needs Schema(otype='AnnData', components={'obs': ..., 'var': ...}); "
                "use DataFrameCurator for a schema of DataFrame columns."
            )
        self.adata = adata.copy()
        self.schema = schema
        components = schema.components
        self._obs: DataFrameCurator | None = None
        self._var_frame: DataFrameCurator | None = None
        self._var_schema = components.get("var")
        self._vocabularies: dict[int | None, Vocabulary] = {}
        if "obs" in components:
            self._obs = DataFrameCurator(self.adata.obs, components["obs"])
        self._var_vocabulary: Vocabulary | None = None
        if self._var_schema is not None:
            if self._var_schema.itype_label is not None:
                self._var_vocabulary = vocabulary_of(self._var_schema.itype_label, self._vocabularies)
            elif self._var_schema.features:
                self._var_frame = DataFrameCurator(self.adata.var, self._var_schema)

    def problems(self) -> tuple[list[str], set[str]]:
        """Every problem of obs, var and X as lines, and their kinds (empty when valid)."""
        problems: list[str] = []
        kinds: set[str] = set()
        if self._obs is not None:
            found, found_kinds = self._obs.problems(prefix="obs.")
            problems += found
            kinds |= found_kinds
            if not found:
                self.adata.obs = self._obs.df
        if self._var_frame is not None:
            found, found_kinds = self._var_frame.problems(prefix="var.")
            problems += found
            kinds |= found_kinds
            if not found:
                self.adata.var = self._var_frame.df
        if self._var_vocabulary is not None:
            import pandas as pd

            allowed = names_and_ids(self._var_vocabulary)
            _, failures = run(index_schema(allowed), pd.DataFrame(index=self.adata.var_names))
            found, found_kinds = index_problems(failures, "var_names", self._var_vocabulary)
            problems += found
            kinds |= found_kinds
        if self._var_schema is not None:
            matrix, problem = check_matrix(self.adata.X, self._var_schema.dtype, self._var_schema.coerce_dtype)
            if problem is not None:
                problems.append(problem)
                kinds.add("matrix")
            elif matrix is not self.adata.X:
                self.adata.X = matrix
        return problems, kinds

    def validate(self) -> None:
        """Return if the AnnData fits the schema; else raise a ValidationError listing every problem."""
        problems, kinds = self.problems()
        raise_problems("The AnnData", problems, kinds)

    def standardize(self) -> dict[str, Any]:
        """Replace synonyms, ontology ids and case variants by label names in obs and the var names.

        Returns ``{"obs": {column: {old: new}}, "var_names": {old: new}}`` with what changed.
        Ontology ids in the var names stay: a var schema accepts them as they are.
        """
        changes: dict[str, Any] = {}
        if self._obs is not None:
            obs_changes = self._obs.standardize()
            if obs_changes:
                self.adata.obs = self._obs.df
                changes["obs"] = obs_changes
        if self._var_frame is not None:
            var_changes = self._var_frame.standardize()
            if var_changes:
                self.adata.var = self._var_frame.df
                changes["var"] = var_changes
        if self._var_vocabulary is not None:
            names = list(self.adata.var_names)
            mapping = standard_names(names, self._var_vocabulary, keep=names_and_ids(self._var_vocabulary))
            if mapping:
                self.adata.var_names = [mapping.get(n, n) for n in names]
                changes["var_names"] = mapping
        return changes

    def save_artifact(
        self, key: str | None = None, *, description: str | None = None, run: Run | None = None
    ) -> Artifact:
        """Validate, save the AnnData as an artifact linked to the schema, and label it by its obs labels."""
        self.validate()
        artifact = Artifact.from_anndata(self.adata, key=key, description=description, run=run)
        values = label_values(self.adata.obs, self._obs._specs) if self._obs is not None else {}
        artifact, self.schema = save_curated(artifact, self.schema, self.adata.n_obs, values)
        return artifact

    def __repr__(self) -> str:
        shown = self.schema.name or self.schema.uid or "unsaved"
        return f"AnnDataCurator({self.adata.n_obs} x {self.adata.n_vars}, schema={shown!r})"
