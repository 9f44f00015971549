"""Curate a per-cell table against a schema, with cell types from an ontology file read offline.

Run it inside a flowtrail instance (``flowtrail init`` first), next to ``cell_types.obo``::

    python curate_counts.py

It imports the ontology (ids, synonyms and is_a parents) as labels of the type ``CellType``,
defines a schema, shows the curator's report for a table with a typo and synonyms, standardises
the synonyms, fixes the typo, saves the curated table and queries it by feature and label.
"""

from __future__ import annotations

import pandas as pd

import flowtrail as ft
from flowtrail.core.annotations.ontology import import_ontology

print(import_ontology("cell_types.obo", type="CellType"))

ft.track(params={"schema": "per-cell counts v1"}, project="Immune atlas")
cell_type = ft.Label.get(name="CellType", is_type=True)
schema = ft.Schema(
    name="per-cell counts v1",
    features=[
        ft.Feature(name="cell_type", dtype=cell_type).save(),
        ft.Feature(name="donor", dtype=str).save(),
        ft.Feature(name="n_genes", dtype=int).save(),
    ],
    maximal_set=True,  # no other columns allowed
).save()

table = pd.DataFrame(
    {
        "cell_type": ["T cell", "CD4+ T cell", "B lymphocyte", "NK cel"],  # two synonyms, one typo
        "donor": ["d1", "d1", "d2", "d2"],
        "n_genes": [1200, 980, 1430, 870],
    }
)
curator = ft.DataFrameCurator(table, schema)
try:
    curator.validate()
except ft.ValidationError as error:
    print(error)

print("standardised:", curator.standardize())
curator.df.loc[curator.df["cell_type"] == "NK cel", "cell_type"] = "natural killer cell"
artifact = curator.save_artifact(key="atlas/per_cell_counts.parquet")
ft.finish()

artifact.describe()
print(ft.Artifact.filter(key__startswith="atlas/", cell_type="B cell", projects__name="Immune atlas").to_list())
t_cells = ft.Label.get(name="T cell")
print("kinds of T cell:", [label.name for label in t_cells.children])
