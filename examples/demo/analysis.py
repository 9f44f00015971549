"""A small tracked analysis: the script the README demo runs.

It reads a raw count table, normalises it, and saves the result. flowtrail records the script,
its parameters, the input it loaded and the outputs it saved; the result is annotated with two
features so it can be found by them later.
"""

import pandas as pd

import flowtrail as ft

ft.track(params={"normalisation": "cpm", "min_count": 5}, project="Demo")

# A label type with one term, and two features (saving them again later returns the same records).
assay = ft.Label(name="Assay", is_type=True).save()
ft.Label(name="RNA-seq", type=assay, synonyms=["RNAseq", "transcriptomics"]).save()
ft.Feature(name="assay", dtype=assay).save()
ft.Feature(name="n_genes", dtype=int).save()

raw = ft.Artifact.get(key="raw/counts.csv").load()
kept = raw[raw["count"] >= 5]
kept = kept.assign(cpm=kept["count"] / kept["count"].sum() * 1e6)
processed = ft.Artifact.from_dataframe(kept, key="processed/counts_cpm.parquet", description="CPM-normalised counts").save()
processed.features.add_values({"assay": "RNAseq", "n_genes": len(kept)})  # the synonym finds "RNA-seq"

summary = pd.DataFrame({"n_genes": [len(kept)], "total": [int(kept["count"].sum())]})
summary.to_csv("summary.csv", index=False)
ft.Artifact("summary.csv", key="reports/summary.csv").save()

ft.finish()
