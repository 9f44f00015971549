"""describe() of annotated artifacts, labels and schemas."""

from __future__ import annotations

import datetime as dt

import pytest

import flowtrail as ft
from flowtrail.core.annotations.ontology import import_ontology
from flowtrail.core.models.feature import Feature
from flowtrail.core.models.label import Label

OBO = """data-version: 2025-01-01
[Term]
id: CL:1
name: cell

[Term]
id: CL:2
name: T cell
synonym: "T lymphocyte" EXACT []
synonym: "T-cell" EXACT []
is_a: CL:1

[Term]
id: CL:3
name: CD8 T cell
is_a: CL:2

[Term]
id: CL:4
name: CD4 T cell
is_a: CL:2
"""


@pytest.fixture
def annotated(instance, tmp_path):
    (tmp_path / "cl.obo").write_text(OBO)
    import_ontology(tmp_path / "cl.obo", type="CellType")
    (tmp_path / "table.csv").write_text("a\n1\n")
    artifact = ft.Artifact(str(tmp_path / "table.csv"), key="tables/t.csv").save()
    Feature(name="batch", dtype=int).save()
    Feature(name="day", dtype="date").save()
    Feature(name="cell_type", dtype="cat[Label[CellType]]").save()
    artifact.features.add_values({"batch": 3, "day": dt.date(2025, 1, 31), "cell_type": ["T cell", "CD8 T cell"]})
    project = Label(name="Project", is_type=True).save()
    artifact.labels.add(Label(name="pilot", type=project).save(), Label(name="untyped").save())
    return artifact


def test_artifact_shows_features_and_labels_without_a_feature(annotated, capsys):
    annotated.describe()
    out = capsys.readouterr().out
    assert "Features" in out and "Labels" in out
    assert "batch int 3" in out
    assert "day date 2025-01-31" in out
    assert 'cell_type cat[Label[CellType]] "T cell", "CD8 T cell"' in out  # each quoted: names contain commas
    labels_part = out.split("Labels", 1)[1]
    assert 'Project (1) "pilot"' in labels_part and '(no type) (1) "untyped"' in labels_part
    assert "T cell" not in labels_part  # set through a feature: shown under Features only


def test_artifact_without_annotations_has_no_empty_branches(instance, tmp_path, capsys):
    (tmp_path / "x.txt").write_text("x")
    ft.Artifact(str(tmp_path / "x.txt"), key="x.txt").save().describe()
    out = capsys.readouterr().out
    assert "Features" not in out and "Labels" not in out


def test_describe_label(annotated, capsys):
    Label.get(name="T cell").describe()
    out = capsys.readouterr().out
    assert "Label T cell" in out
    assert "type CellType" in out and "ontology_id CL:2" in out
    assert "synonyms T lymphocyte, T-cell" in out
    assert "reference 2025-01-01 (ontology)" in out
    assert "Parents (1)" in out and "cell CL:1" in out
    assert "children 2" in out and "annotated artifacts 1" in out


def test_describe_label_type(annotated, capsys):
    Label.get(name="CellType", is_type=True).describe()
    out = capsys.readouterr().out
    assert "Label type CellType" in out and "labels of this type 4" in out and "annotated artifacts 0" in out


def test_describe_schema_with_components(instance, capsys):
    from flowtrail.core.models.schema import Schema

    gene = Label(name="Gene", is_type=True).save()
    medium = Label(name="CellMedium", is_type=True).save()
    obs = Schema(name="obs", features=[Feature(name="batch", dtype=int), Feature(name="medium", dtype=medium)])
    var = Schema(name="genes", itype=gene, dtype="float")
    schema = Schema(name="adata", otype="AnnData", components={"obs": obs, "var": var}, maximal_set=True).save()
    schema.describe()
    out = capsys.readouterr().out
    assert "Schema adata" in out and "otype AnnData" in out
    assert "flags minimal_set, maximal_set" in out
    assert "Component obs obs" in out and "batch int" in out and "medium cat[Label[CellMedium]]" in out
    assert "Component var genes" in out and "itype Label[Gene]" in out and "dtype float" in out


def test_describe_shows_the_schema_and_the_projects(instance, tmp_path, capsys):
    import pandas as pd

    medium = ft.Label(name="Medium", is_type=True).save()
    ft.Label(name="DMSO", type=medium).save()
    schema = ft.Schema(name="screen", features=[ft.Feature(name="medium", dtype=medium).save()]).save()
    ft.track(project="Screen 2025")
    artifact = ft.DataFrameCurator(pd.DataFrame({"medium": ["DMSO"]}), schema).save_artifact(key="screen.parquet")
    ft.finish()
    capsys.readouterr()
    artifact.describe()
    out = capsys.readouterr().out
    assert f"schema screen {schema.uid}" in out
    assert "projects Screen 2025" in out
    assert "project Screen 2025" in out.split("Provenance")[1]
    artifact.run.describe()
    assert "project Screen 2025" in capsys.readouterr().out
