"""Labels: typed vocabularies with hierarchies, search and lookup."""

import pytest

import flowtrail as ft


@pytest.fixture
def samples(instance):
    sample = ft.Label(name="Sample", is_type=True).save()
    return {name: ft.Label(name=name, type=sample).save() for name in ("P53mutant1", "P53mutant2", "WT-control")}


def test_typed_labels_search_and_get(samples):
    sample = ft.Label.get(name="Sample", is_type=True)
    assert ft.Label.filter(type=sample).count() == 3
    assert [label.name for label in ft.Label.search("p53")] == ["P53mutant1", "P53mutant2"]
    assert ft.Label.get(name="WT-control").type.name == "Sample"
    assert sorted(r.name for r in sample.records) == ["P53mutant1", "P53mutant2", "WT-control"]


def test_saving_the_same_label_twice_returns_the_first(samples):
    sample = ft.Label.get(name="Sample")
    again = ft.Label(name="P53mutant1", type=sample).save()
    assert again.id == samples["P53mutant1"].id
    assert ft.Label.filter(name="P53mutant1").count() == 1


def test_the_same_name_in_two_types_is_two_labels(instance):
    a, b = ft.Label(name="Donor", is_type=True).save(), ft.Label(name="Batch", is_type=True).save()
    assert ft.Label(name="1", type=a).save().id != ft.Label(name="1", type=b).save().id


def test_parents_and_children(samples):
    replicate = ft.Label(name="P53mutant1-replicate1", type=ft.Label.get(name="Sample")).save()
    replicate.parents.add(samples["P53mutant1"])
    replicate.parents.add(samples["P53mutant1"])  # idempotent
    assert [p.name for p in replicate.parents] == ["P53mutant1"]
    assert [c.name for c in samples["P53mutant1"].children] == ["P53mutant1-replicate1"]
    assert ft.Label.filter(parents__name="P53mutant1").count() == 1
    assert samples["P53mutant1"].children.to_dataframe()["name"].tolist() == ["P53mutant1-replicate1"]
    with pytest.raises(ft.IntegrityError, match="cycle"):
        samples["P53mutant1"].parents.add(replicate)
    replicate.parents.remove(samples["P53mutant1"])
    assert replicate.parents.count() == 0


def test_labels_on_artifacts(samples, tmp_path):
    (tmp_path / "a.txt").write_text("a")
    artifact = ft.Artifact(tmp_path / "a.txt", key="a.txt").save()
    artifact.labels.add(samples["P53mutant1"], samples["WT-control"])
    assert ft.Artifact.filter(labels=samples["WT-control"]).one().id == artifact.id
    assert ft.Artifact.filter(labels__name="P53mutant1", key="a.txt").count() == 1
    artifact.labels.remove(samples["WT-control"])
    assert [label.name for label in artifact.labels] == ["P53mutant1"]


def test_label_arguments_are_checked(instance):
    with pytest.raises(ft.FieldError, match="non-empty name"):
        ft.Label(name=" ")
    plain = ft.Label(name="liver").save()
    with pytest.raises(ft.FieldError, match="not a label type"):
        ft.Label(name="x", type=plain)
    with pytest.raises(ft.IntegrityError, match="not saved yet"):
        plain.parents.add(ft.Label(name="organ"))


def test_lookup_by_synonym_and_ontology_id(instance):
    cell_type = ft.Label(name="CellType", is_type=True).save()
    ft.Label(name="T cell", type=cell_type, ontology_id="CL:0000084", synonyms=["T lymphocyte", "T-cell"]).save()
    assert cell_type.lookup_name("CL:0000084").name == "T cell"
    assert cell_type.lookup_name("t lymphocyte").name == "T cell"
    assert cell_type.lookup_name("B cell") is None


def test_lookup_gives_attributes_for_tab_completion(instance):
    cell_type = ft.Label(name="CellType", is_type=True).save()
    for name in ("T cell", "B cell", "7-day culture"):
        ft.Label(name=name, type=cell_type).save()
    cell_types = ft.Label.lookup("CellType")
    assert cell_types.t_cell.name == "T cell"
    assert cell_types["B cell"].name == "B cell"
    assert cell_types._7_day_culture.name == "7-day culture"
    assert "b_cell" in dir(cell_types)
    with pytest.raises(AttributeError, match="Did you mean 't_cell'"):
        cell_types.t_cel
    assert ft.Label.lookup().celltype.id == cell_type.id


def test_many_to_many_filters_by_record_name_and_presence(samples, tmp_path):
    made = []
    for i in range(3):
        (tmp_path / f"{i}.txt").write_text(str(i))
        made.append(ft.Artifact(tmp_path / f"{i}.txt", key=f"{i}.txt").save())
    made[0].labels.add(samples["P53mutant1"])
    made[1].labels.add(samples["P53mutant1"], samples["WT-control"])
    assert ft.Artifact.filter(labels=samples["P53mutant1"]).count() == 2
    assert ft.Artifact.filter(labels__in=[samples["WT-control"].id]).count() == 1
    assert ft.Artifact.filter(labels__name__startswith="WT").count() == 1
    assert [a.key for a in ft.Artifact.filter(labels__isnull=True)] == ["2.txt"]
    assert ft.Artifact.exclude(labels=samples["P53mutant1"]).count() == 1
