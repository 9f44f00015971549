"""The examples users copy from keep working: each runs as a script in a fresh instance."""

import shutil
import subprocess
import sys
from pathlib import Path

import flowtrail as ft

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_the_curation_example_runs_and_leaves_a_curated_queryable_artifact(tmp_path, monkeypatch):
    for name in ("curate_counts.py", "cell_types.obo"):
        shutil.copy(EXAMPLES / "curation" / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    ft.init(".")
    done = subprocess.run([sys.executable, "curate_counts.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # The report the example prints for its deliberately broken table.
    assert "'B lymphocyte' is a synonym of 'B cell': call .standardize()" in done.stdout
    assert "'NK cel' is not a CellType label; did you mean 'natural killer cell'?" in done.stdout
    artifact = ft.Artifact.get(key="atlas/per_cell_counts.parquet")
    assert artifact.schema.name == "per-cell counts v1"
    assert [p.name for p in artifact.projects] == ["Immune atlas"]
    assert ft.Artifact.filter(cell_type="natural killer cell", projects__name="Immune atlas").one().id == artifact.id
    assert sorted(artifact.load()["cell_type"]) == sorted(
        ["T cell", "CD4-positive, alpha-beta T cell", "B cell", "natural killer cell"]
    )
    assert ft.Label.get(name="T cell").ontology_id == "CL:0000084"
