"""Features: typed annotations on artifacts, every dtype checked before anything is written."""

import datetime as dt

import pytest

import flowtrail as ft


@pytest.fixture
def artifact(instance, tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("gene,count\nA,1\n")
    return ft.Artifact(path, key="scrna/counts.csv").save()


@pytest.fixture
def medium(instance):
    cell_medium = ft.Label(name="CellMedium", is_type=True).save()
    for name in ("DMSO", "IFNG"):
        ft.Label(name=name, type=cell_medium, synonyms=["interferon gamma"] if name == "IFNG" else None).save()
    return cell_medium


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        (int, 3, 3),
        (float, 0.55, 0.55),
        (str, "DMSO-treated", "DMSO-treated"),
        (bool, True, True),
        (bool, False, False),
        (dt.date, dt.date(2025, 10, 31), dt.date(2025, 10, 31)),
        (dt.date, "2025-10-31", dt.date(2025, 10, 31)),
        (dt.datetime, dt.datetime(2025, 10, 31, 14, 30, tzinfo=dt.UTC), dt.datetime(2025, 10, 31, 14, 30, tzinfo=dt.UTC)),
        (dt.datetime, "2025-10-31T16:30:00+02:00", dt.datetime(2025, 10, 31, 14, 30, tzinfo=dt.UTC)),
        (dict, {"assay": {"type": "RNA-seq"}, "lanes": [1, 2]}, {"assay": {"type": "RNA-seq"}, "lanes": [1, 2]}),
    ],
)
def test_each_dtype_round_trips(artifact, dtype, value, expected):
    ft.Feature(name="value", dtype=dtype).save()
    artifact.features.add_values({"value": value})
    assert artifact.features.get_values() == {"value": expected}


@pytest.mark.parametrize(
    ("dtype", "value", "message"),
    [
        (int, "three", "'three' (str) is not an int"),
        (int, True, "True (bool) is not an int"),
        (int, 2.5, "2.5 (float) is not an int"),
        (float, "0.5", "'0.5' (str) is not a number"),
        (float, float("nan"), "not a finite number"),
        (bool, 1, "1 (int) is not a bool"),
        (str, 7, "7 (int) is not a str"),
        (dt.date, "31/10/2025", "use YYYY-MM-DD"),
        (dt.date, dt.datetime(2025, 1, 1), "is not a date"),
        (dt.datetime, "yesterday", "is not an ISO 8601 datetime"),
        (dict, ["a"], "is not a dict"),
        (dict, {"when": dt.date(2025, 1, 1)}, "cannot be stored as JSON"),
    ],
)
def test_wrong_values_are_refused_with_the_reason(artifact, dtype, value, message):
    ft.Feature(name="value", dtype=dtype).save()
    with pytest.raises(ft.ValidationError, match="nothing was written") as error:
        artifact.features.add_values({"value": value})
    assert message in str(error.value)
    assert artifact.features.get_values() == {}


def test_every_problem_is_listed_and_nothing_is_written(artifact, medium):
    ft.Feature(name="batch", dtype=int).save()
    ft.Feature(name="cell_medium", dtype=medium).save()
    with pytest.raises(ft.ValidationError) as error:
        artifact.features.add_values({"batch": "3", "cell_medium": "IFNJ", "temprature": 21.6})
    problems = error.value.problems
    assert len(problems) == 3
    assert "Did you mean 'IFNG'?" in str(error.value)
    assert any("temprature: no such feature" in p and "Feature(name='temprature'" in p for p in problems)
    assert artifact.features.get_values() == {}


def test_categorical_values_are_labels_of_the_type(artifact, medium):
    feature = ft.Feature(name="cell_medium", dtype="cat[Label[CellMedium]]").save()
    assert feature.label_type.name == "CellMedium"
    artifact.features.add_values({"cell_medium": ["DMSO", "interferon gamma"]})  # a synonym finds IFNG
    assert artifact.features.get_values() == {"cell_medium": ["DMSO", "IFNG"]}
    assert sorted(label.name for label in artifact.labels) == ["DMSO", "IFNG"]


def test_a_label_of_another_type_is_refused(artifact, medium):
    ft.Feature(name="cell_medium", dtype=medium).save()
    tissue = ft.Label(name="Tissue", is_type=True).save()
    liver = ft.Label(name="liver", type=tissue).save()
    with pytest.raises(ft.ValidationError, match="not of the feature's type"):
        artifact.features.add_values({"cell_medium": liver})


def test_adding_again_replaces_and_removal_works(artifact):
    ft.Feature(name="batch", dtype=int).save()
    ft.Feature(name="lanes", dtype=int).save()
    artifact.features.add_values({"batch": 3, "lanes": [1, 2]})
    artifact.features.add_values({"batch": 4})
    assert artifact.features.get_values() == {"batch": 4, "lanes": [1, 2]}
    artifact.features.remove_values("lanes", 1)
    assert artifact.features.get_values() == {"batch": 4, "lanes": 2}
    artifact.features.remove_values("batch")
    assert artifact.features.get_values() == {"lanes": 2}


def test_bulk_annotation_in_one_call(instance, tmp_path):
    ft.Feature(name="batch", dtype=int).save()
    ft.Feature(name="donor", dtype=str).save()
    artifacts = []
    for i in range(20):
        (tmp_path / f"{i}.txt").write_text(str(i))
        artifacts.append(ft.Artifact(tmp_path / f"{i}.txt", key=f"raw/{i}.txt"))
    artifacts = ft.save(artifacts)
    ft.Artifact.features.add_values_many({a: {"batch": i % 4, "donor": f"d{i % 3}"} for i, a in enumerate(artifacts)})
    assert ft.Artifact.filter(batch=3).count() == 5
    expected = {a.id for i, a in enumerate(artifacts) if i % 3 == 0 and i % 4 < 2}
    assert {a.id for a in ft.Artifact.filter(donor="d0", batch__lt=2)} == expected
    with pytest.raises(ft.ValidationError):
        ft.Artifact.features.add_values_many({artifacts[0]: {"batch": 5}, artifacts[1]: {"batch": "x"}})
    assert artifacts[0].features.get_values()["batch"] == 0  # the good half was not written either


def test_feature_definitions_are_checked(instance):
    with pytest.raises(ft.FieldError, match="Unknown feature dtype"):
        ft.Feature(name="x", dtype=list)
    with pytest.raises(ft.FieldError, match="is an Artifact field"):
        ft.Feature(name="key", dtype=str)
    with pytest.raises(ft.FieldError, match="'__'"):
        ft.Feature(name="a__b", dtype=str)
    with pytest.raises(ft.DoesNotExist, match=r"Label\(name='Nope', is_type=True\)"):
        ft.Feature(name="medium", dtype="cat[Label[Nope]]").save()
    ft.Feature(name="batch", dtype=int).save()
    assert ft.Feature(name="batch", dtype=int).save().dtype == "int"  # same definition: the same feature
    with pytest.raises(ft.IntegrityError, match="already exists with dtype int"):
        ft.Feature(name="batch", dtype=str).save()
    assert ft.Feature.filter(name="batch").count() == 1


def test_values_of_an_unsaved_artifact_are_refused(instance, tmp_path):
    ft.Feature(name="batch", dtype=int).save()
    (tmp_path / "a.txt").write_text("a")
    with pytest.raises(ft.IntegrityError, match="Save the artifact"):
        ft.Artifact(tmp_path / "a.txt").features.add_values({"batch": 1})


def test_deleting_an_artifact_removes_its_values(artifact):
    ft.Feature(name="batch", dtype=int).save()
    artifact.features.add_values({"batch": 1})
    artifact.delete()
    assert ft.Artifact.filter(batch=1).count() == 0


def test_deleting_features_and_labels(artifact, medium):
    feature = ft.Feature(name="cell_medium", dtype=medium).save()
    ft.Feature(name="batch", dtype=int).save()
    artifact.features.add_values({"cell_medium": "DMSO", "batch": 2})
    with pytest.raises(ft.IntegrityError, match="have it as their type; feature\\(s\\) cell_medium take their values"):
        medium.delete()
    ft.Label.get(name="DMSO").delete()  # a plain label: its links go with it
    assert artifact.features.get_values() == {"batch": 2}
    schema = ft.Schema(name="s", features=[feature]).save()
    with pytest.raises(ft.IntegrityError, match="part of 1 schema"):
        feature.delete()
    ft.Feature.get(name="batch").delete()
    assert artifact.features.get_values() == {}
    with pytest.raises(ft.FieldError, match="no field or feature 'batch'"):
        ft.Artifact.filter(batch=2)
    assert schema.id is not None


def test_the_same_label_name_in_two_types_resolves_within_the_feature_type(artifact):
    donor, batch = ft.Label(name="Donor", is_type=True).save(), ft.Label(name="Batch", is_type=True).save()
    in_batch = ft.Label(name="1", type=batch).save()
    in_donor = ft.Label(name="1", type=donor).save()
    ft.Feature(name="donor", dtype=donor).save()
    ft.Feature(name="batch_label", dtype=batch).save()
    artifact.features.add_values({"donor": "1", "batch_label": "1"})
    assert {label.id for label in artifact.labels} == {in_batch.id, in_donor.id}
    assert ft.Artifact.filter(donor=in_donor, batch_label=in_batch).count() == 1
    assert ft.Artifact.filter(donor=in_batch).count() == 0


def test_values_for_an_artifact_deleted_meanwhile_fail_clearly(artifact, tmp_path):
    ft.Feature(name="batch", dtype=int).save()
    stale = ft.Artifact.get(key="scrna/counts.csv")
    artifact.delete()  # e.g. by another process; `stale` still holds the old id
    with pytest.raises(ft.IntegrityError, match="no longer exists"):
        stale.features.add_values({"batch": 1})
