"""Schemas: defined from features, a label type or components; saved once per definition."""

from __future__ import annotations

import pytest

from flowtrail.core.errors import FieldError
from flowtrail.core.models import Feature, Label, Schema


@pytest.fixture
def cell_medium(instance) -> Label:
    return Label(name="CellMedium", is_type=True).save()


@pytest.fixture
def gene(instance) -> Label:
    return Label(name="Gene", is_type=True).save()


def test_a_schema_of_features_keeps_their_order(cell_medium):
    schema = Schema(
        name="measurements",
        features=[Feature(name="batch", dtype=int), Feature(name="cell_medium", dtype=cell_medium)],
    ).save()

    assert schema.id is not None and len(schema.uid) == 16
    assert schema.itype == "Feature" and schema.n_features == 2
    assert [f.name for f in schema.features] == ["batch", "cell_medium"]
    assert all(f.id is not None for f in schema.features)  # unsaved features were saved with it
    reloaded = Schema.get(schema.uid)
    assert [f.name for f in reloaded.features] == ["batch", "cell_medium"]
    assert reloaded.minimal_set and not reloaded.maximal_set and not reloaded.ordered_set


def test_an_identical_definition_returns_the_existing_schema(cell_medium):
    first = Schema(name="v1", features=[Feature(name="batch", dtype=int)]).save()
    again = Schema(name="another name", features=[Feature(name="batch", dtype=int)]).save()
    assert again.id == first.id and again.name == "v1"
    assert Schema.filter().count() == 1


def test_order_flags_and_dtype_make_different_schemas(instance):
    a, b = Feature(name="a", dtype=int).save(), Feature(name="b", dtype=str).save()
    schemas = [
        Schema(features=[a, b]).save(),
        Schema(features=[b, a]).save(),
        Schema(features=[a, b], maximal_set=True).save(),
        Schema(features=[a, b], coerce_dtype=True).save(),
    ]
    assert len({s.id for s in schemas}) == 4
    assert len({s.hash for s in schemas}) == 4


def test_an_itype_schema_identifies_columns_by_labels_of_a_type(gene):
    var = Schema(name="genes", itype=gene, dtype=int).save()
    assert var.itype == "Label[Gene]"
    assert var.itype_label.id == gene.id
    assert var.dtype == "int"
    assert var.features == [] and var.n_features is None


def test_an_anndata_schema_composes_obs_and_var(gene, cell_medium):
    obs = Schema(features=[Feature(name="cell_medium", dtype=cell_medium)])
    var = Schema(itype=gene, dtype="float")
    composite = Schema(name="anndata", otype="AnnData", components={"obs": obs, "var": var}).save()

    assert set(composite.components) == {"obs", "var"}
    assert all(c.id is not None for c in composite.components.values())
    reloaded = Schema.get(composite.uid)
    assert reloaded.components["var"].itype == "Label[Gene]"
    assert [f.name for f in reloaded.components["obs"].features] == ["cell_medium"]
    # a component that changes makes a different composite
    other = Schema(otype="AnnData", components={"obs": obs, "var": Schema(itype=gene, dtype=int)}).save()
    assert other.id != composite.id
    same = Schema(otype="AnnData", components={"obs": obs, "var": Schema(itype=gene, dtype=float)}).save()
    assert same.id == composite.id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": ["batch"]}, "must be Feature records"),
        ({"features": "batch"}, "must be a list"),
        ({"itype": "Gene"}, "is not a label type"),
        ({"dtype": "complex"}, "Unknown feature dtype"),
        ({"otype": "Zarr"}, "otype='Zarr' is not supported"),
        ({"otype": "AnnData", "components": {"layers": None}}, "must be a Schema"),
    ],
)
def test_wrong_arguments_fail_with_a_hint(instance, kwargs, message):
    with pytest.raises(FieldError, match=message):
        Schema(**kwargs)


def test_labels_that_are_not_types_and_unknown_slots_are_refused(gene):
    tp53 = Label(name="TP53", type=gene).save()
    with pytest.raises(FieldError, match="itype=TP53 is not a label type"):
        Schema(itype=tp53)
    with pytest.raises(FieldError, match="needs an otype"):
        Schema(components={"obs": Schema(itype=gene)})
    with pytest.raises(FieldError, match="unknown slot"):
        Schema(otype="AnnData", components={"layers": Schema(itype=gene)})
    with pytest.raises(FieldError, match="distinct names"):
        Schema(features=[Feature(name="x", dtype=int), Feature(name="x", dtype=int)])
    with pytest.raises(FieldError, match="either features or itype"):
        Schema(features=[Feature(name="x", dtype=int)], itype=gene)


def test_renaming_a_saved_schema_keeps_its_definition(instance):
    schema = Schema(features=[Feature(name="batch", dtype=int)]).save()
    digest = schema.hash
    schema.name = "renamed"
    schema.save()
    assert Schema.get(schema.uid).name == "renamed"
    assert Schema.get(schema.uid).hash == digest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_instance(request):
    return request.getfixturevalue("instance" if request.param == "sqlite" else "pg_instance")


def test_composite_schemas_save_once_on_sqlite_and_postgres(any_instance):
    gene = Label(name="Gene", is_type=True).save()

    def composite() -> Schema:
        obs = Schema(features=[Feature(name="donor", dtype=str), Feature(name="age", dtype=int)])
        return Schema(otype="AnnData", components={"obs": obs, "var": Schema(itype=gene, dtype=int)})

    first, second = composite().save(), composite().save()
    assert first.id == second.id
    assert Schema.filter().count() == 3
    assert [f.name for f in Schema.get(first.uid).components["obs"].features] == ["donor", "age"]
