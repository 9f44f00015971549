"""Curators: validate datasets against a :class:`~flowtrail.core.models.schema.Schema` and save them annotated.

``DataFrameCurator(df, schema)`` and ``AnnDataCurator(adata, schema)`` each offer ``validate()``
(one :class:`~flowtrail.core.errors.ValidationError` listing every problem), ``standardize()``
(synonyms, ontology ids and case variants become label names) and ``save_artifact(key=...)``.
Validation runs on pandera, imported only when a curator is used (``pip install 'flowtrail[curation]'``).
"""

from __future__ import annotations

from flowtrail.core.curation.anndata import AnnDataCurator
from flowtrail.core.curation.dataframe import DataFrameCurator

__all__ = ["AnnDataCurator", "DataFrameCurator"]
