"""A small tracked analysis: the script the README demo runs.

It reads a raw count table, normalises it, and saves the result. flowtrail records the script,
its parameters, the input it loaded and the outputs it saved.
"""

import pandas as pd

import flowtrail as ft

ft.track(params={"normalisation": "cpm", "min_count": 5})

raw = ft.Artifact.get(key="raw/counts.csv").load()
kept = raw[raw["count"] >= 5]
kept = kept.assign(cpm=kept["count"] / kept["count"].sum() * 1e6)
ft.Artifact.from_dataframe(kept, key="processed/counts_cpm.parquet", description="CPM-normalised counts").save()

summary = pd.DataFrame({"n_genes": [len(kept)], "total": [int(kept["count"].sum())]})
summary.to_csv("summary.csv", index=False)
ft.Artifact("summary.csv", key="reports/summary.csv").save()

ft.finish()
