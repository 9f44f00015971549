"""AnnDataCurator: obs checked like a DataFrame, var names against a gene vocabulary, X by dtype."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flowtrail.core.curation import AnnDataCurator
from flowtrail.core.errors import FieldError, ValidationError
from flowtrail.core.models import Artifact, Feature, Label, Schema

ad = pytest.importorskip("anndata")  # not in the core-only environment (test-core)
sparse = pytest.importorskip("scipy.sparse")


@pytest.fixture
def gene(instance) -> Label:
    gene = Label(name="Gene", is_type=True).save()
    Label(name="CD8A", type=gene, ontology_id="ENSG00000153563", synonyms=["CD8"]).save()
    Label(name="CD4", type=gene, ontology_id="ENSG00000010610").save()
    Label(name="CD14", type=gene, ontology_id="ENSG00000170458").save()
    return gene


@pytest.fixture
def schema(gene) -> Schema:
    medium = Label(name="CellMedium", is_type=True).save()
    Label(name="DMSO", type=medium).save()
    Label(name="IFNG", type=medium, synonyms=["interferon gamma"]).save()
    obs = Schema(name="obs", features=[Feature(name="cell_medium", dtype=medium)])
    var = Schema(name="var", itype=gene, dtype=int)
    return Schema(name="screen", otype="AnnData", components={"obs": obs, "var": var})


def _adata(genes=("ENSG00000153563", "ENSG00000010610", "CD14"), media=("DMSO", "IFNG", "DMSO"), x=None) -> ad.AnnData:
    obs = pd.DataFrame({"cell_medium": pd.Categorical(list(media))}, index=[f"cell{i}" for i in range(len(media))])
    matrix = np.arange(len(media) * len(genes)).reshape(len(media), len(genes)) if x is None else x
    return ad.AnnData(X=matrix, obs=obs, var=pd.DataFrame(index=list(genes)))


def _problems(curator) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        curator.validate()
    return caught.value.problems


def test_var_names_may_be_label_names_or_ontology_ids(schema):
    assert AnnDataCurator(_adata(), schema).validate() is None


def test_obs_problems_are_prefixed_and_var_typos_get_suggestions(schema):
    adata = _adata(genes=("ENSG00000153563", "CD44", "ENSG0000001061"), media=("DMSO", "IFNJ", "DMSO"))
    assert _problems(AnnDataCurator(adata, schema)) == [
        "obs.cell_medium: 'IFNJ' is not a CellMedium label; did you mean 'IFNG'?",
        "var_names: 'CD44' is not a Gene label; did you mean 'CD4'?",
        "var_names: 'ENSG0000001061' is not a Gene label",
    ]


def test_standardize_fixes_synonyms_in_obs_and_var_names(schema):
    adata = _adata(genes=("CD8", "cd4", "ENSG00000170458"), media=("interferon gamma", "DMSO", "dmso"))
    curator = AnnDataCurator(adata, schema)
    assert _problems(curator) == [
        "obs.cell_medium: 'interferon gamma' is a synonym of 'IFNG': call .standardize()",
        "obs.cell_medium: 'dmso' is a case variant of 'DMSO': call .standardize()",
        "var_names: 'CD8' is a synonym of 'CD8A': call .standardize()",
        "var_names: 'cd4' is a case variant of 'CD4': call .standardize()",
    ]
    assert curator.standardize() == {
        "obs": {"cell_medium": {"interferon gamma": "IFNG", "dmso": "DMSO"}},
        "var_names": {"CD8": "CD8A", "cd4": "CD4"},
    }
    assert list(curator.adata.var_names) == ["CD8A", "CD4", "ENSG00000170458"]  # ontology ids stay
    assert curator.adata.obs["cell_medium"].tolist() == ["IFNG", "DMSO", "DMSO"]
    assert list(adata.var_names) == ["CD8", "cd4", "ENSG00000170458"]  # the caller's AnnData is left alone
    assert curator.validate() is None


def test_x_must_have_the_var_schema_dtype(schema, gene):
    floats = _adata(x=np.array([[0.5, 1, 2], [3, 4, 5], [6, 7, 8]], dtype="float32"))
    assert _problems(AnnDataCurator(floats, schema)) == ["X: dtype float32 does not fit the var schema's dtype int"]

    var = Schema(itype=gene, dtype=int, coerce_dtype=True)
    coercing = Schema(otype="AnnData", components={"obs": schema.components["obs"], "var": var})
    whole = AnnDataCurator(_adata(x=sparse.csr_matrix(np.ones((3, 3), dtype="float32"))), coercing)
    whole.validate()
    assert whole.adata.X.dtype == np.int64 and sparse.issparse(whole.adata.X)
    assert _problems(AnnDataCurator(floats, coercing)) == [
        "X: cannot convert dtype float32 to int without losing values"
    ]
    float_schema = Schema(otype="AnnData", components={"var": Schema(itype=gene, dtype=float)})
    assert AnnDataCurator(_adata(), float_schema).validate() is None  # counts are numbers too


def test_one_error_lists_obs_var_and_x_problems(schema):
    adata = _adata(genes=("CD44", "CD4", "CD14"), media=("DMSO", "Glucose", "DMSO"), x=np.zeros((3, 3)))
    with pytest.raises(ValidationError) as caught:
        AnnDataCurator(adata, schema).validate()
    assert len(caught.value.problems) == 3
    message = str(caught.value)
    assert message.startswith("The AnnData does not fit its schema (3 problems):")
    assert "fix: correct typos" in message


def test_save_artifact_links_the_schema_and_the_obs_labels(schema):
    artifact = AnnDataCurator(_adata(), schema).save_artifact(key="screens/cells.h5ad", description="cells")

    saved = Artifact.get(key="screens/cells.h5ad")
    assert saved.id == artifact.id and saved.otype == "AnnData"
    assert saved.schema.name == "screen" and set(saved.schema.components) == {"obs", "var"}
    assert saved.n_observations == 3
    assert saved.features.get_values() == {"cell_medium": ["DMSO", "IFNG"]}
    assert [a.id for a in Artifact.filter(cell_medium="DMSO")] == [artifact.id]
    assert saved.load().n_vars == 3


def test_a_var_schema_with_features_checks_var_columns(schema):
    var = Schema(features=[Feature(name="highly_variable", dtype=bool)])
    columns = Schema(otype="AnnData", components={"obs": schema.components["obs"], "var": var})
    adata = _adata()
    adata.var["highly_variable"] = ["yes", "no", "yes"]
    assert _problems(AnnDataCurator(adata, columns)) == [
        "var.highly_variable: dtype object does not fit feature dtype bool (bool)"
    ]
    adata.var["highly_variable"] = [True, False, True]
    assert AnnDataCurator(adata, columns).validate() is None


def test_a_curator_needs_an_anndata_and_an_anndata_schema(schema):
    with pytest.raises(TypeError, match="expects an AnnData"):
        AnnDataCurator(pd.DataFrame(), schema)
    with pytest.raises(FieldError, match="use DataFrameCurator"):
        AnnDataCurator(_adata(), schema.components["obs"])
