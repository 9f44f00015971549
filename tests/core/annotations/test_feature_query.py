"""One filter() mixing fields, relations, run params, features and labels; on SQLite and PostgreSQL."""

import datetime as dt

import pytest

import flowtrail as ft
from flowtrail.core.runs.tracking import finish_run, start_run


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_instance(request):
    return request.getfixturevalue("instance" if request.param == "sqlite" else "pg_instance")


@pytest.fixture
def study(any_instance, tmp_path):
    """Eight scRNA files from two samples, annotated with batch, tissue, day, a QC dict and a flag."""
    tissue = ft.Label(name="Tissue", is_type=True).save()
    for name, synonym in (("liver", "hepar"), ("lung", None)):
        ft.Label(name=name, type=tissue, synonyms=[synonym] if synonym else None).save()
    ft.Feature(name="batch", dtype=int).save()
    ft.Feature(name="tissue", dtype=tissue).save()
    ft.Feature(name="day", dtype=dt.date).save()
    ft.Feature(name="qc", dtype=dict).save()
    ft.Feature(name="passed", dtype=bool).save()
    ft.Feature(name="gc", dtype=float).save()
    made = {}
    for sample in ("s1", "s2"):
        run = start_run("align.py", params={"sample": sample})
        for i in range(4):
            path = tmp_path / f"{sample}-{i}.h5ad"
            path.write_text(f"{sample}{i}")
            made[sample, i] = ft.Artifact(path, key=f"{'scrna' if i < 3 else 'bulk'}/{sample}/{i}.h5ad", run=run).save()
        finish_run(run, "completed")
    values = {
        made[s, i]: {
            "batch": i + 1, "tissue": "liver" if i % 2 == 0 else "lung", "day": dt.date(2025, 1, 10 + i),
            "qc": {"assay": {"type": "RNA-seq" if s == "s1" else "ATAC"}, "reads": 1000 * (i + 1)},
            "passed": i != 2, "gc": 0.4 + i / 10,
        }
        for s, i in made
    }  # fmt: skip
    ft.Artifact.features.add_values_many(values)
    return made


def keys(query):
    return sorted(a.key for a in query)


def test_fields_features_labels_and_run_params_in_one_filter(study):
    query = ft.Artifact.filter(key__startswith="scrna/", batch__gte=2, tissue="liver", run__params__sample="s1")
    assert keys(query) == ["scrna/s1/2.h5ad"]


def test_numeric_and_boolean_lookups(study):
    assert ft.Artifact.filter(batch=4).count() == 2
    assert ft.Artifact.filter(batch__in=[1, 4]).count() == 4
    assert ft.Artifact.filter(batch__gt=1, batch__lt=4).count() == 4
    assert ft.Artifact.filter(gc__gte=0.55).count() == 4
    assert ft.Artifact.filter(passed=False).count() == 2
    assert ft.Artifact.exclude(batch=1).count() == 6


def test_dates_compare_as_dates(study):
    assert ft.Artifact.filter(day="2025-01-11").count() == 2
    assert ft.Artifact.filter(day__gte=dt.date(2025, 1, 12)).count() == 4


def test_dict_features_are_searched_by_path(study):
    assert ft.Artifact.filter(qc__assay__type="ATAC").count() == 4
    assert ft.Artifact.filter(qc__reads__gte=3000, qc__assay__type="RNA-seq").count() == 2


def test_label_features_by_name_record_field_and_list(study):
    liver = ft.Label.get(name="liver")
    assert ft.Artifact.filter(tissue=liver).count() == 4
    assert ft.Artifact.filter(tissue__in=["liver", "lung"]).count() == 8
    assert ft.Artifact.filter(tissue__name__startswith="lu").count() == 4
    assert ft.Artifact.filter(labels__name="lung").count() == 4


def test_presence_of_a_feature(study, tmp_path):
    (tmp_path / "plain.txt").write_text("plain")
    ft.Artifact(tmp_path / "plain.txt", key="plain.txt").save()
    assert keys(ft.Artifact.filter(batch__isnull=True)) == ["plain.txt"]
    assert ft.Artifact.filter(tissue__isnull=False).count() == 8


def test_features_through_relations(study):
    assert ft.Run.filter(outputs__tissue="lung", params__sample="s2").count() == 1


def test_unknown_names_list_fields_and_features(study):
    with pytest.raises(ft.FieldError) as error:
        ft.Artifact.filter(tisue="liver")
    message = str(error.value)
    assert "Did you mean 'tissue'?" in message
    assert "Features: batch, day, gc, passed, qc, tissue" in message
    with pytest.raises(ft.FieldError, match="is not an int"):
        ft.Artifact.filter(batch="three")
    with pytest.raises(ft.FieldError, match="a key inside it"):
        ft.Artifact.filter(qc={"a": 1})


def test_to_dataframe_includes_features_without_a_row_cap(study):
    frame = ft.Artifact.filter(key__startswith="scrna/").order_by("key").to_dataframe(include="features")
    assert len(frame) == 6
    assert frame["batch"].tolist() == [1, 2, 3, 1, 2, 3]
    assert frame["tissue"].tolist() == ["liver", "lung", "liver"] * 2
    assert frame.iloc[0]["qc"]["assay"]["type"] == "RNA-seq"
    only = ft.Artifact.filter(batch=1).to_dataframe(include=["batch", "tissue"])
    assert list(only.columns[-2:]) == ["batch", "tissue"]
    with pytest.raises(ft.FieldError, match="no such feature"):
        ft.Artifact.all().to_dataframe(include=["nope"])


def test_a_new_feature_from_another_process_is_seen(study, any_instance):
    # The feature catalog is cached; a feature registered elsewhere must still be found.
    from flowtrail.core.annotations.values import feature_catalog

    feature_catalog(any_instance)
    any_instance.sessions.current().execute(
        ft.Feature.__table__.insert().values(uid="externalfeat", name="lane", dtype="int", created_at=dt.datetime.now(dt.UTC))
    )
    any_instance.sessions.current().commit()
    assert ft.Artifact.filter(lane=1).count() == 0


def test_concurrent_writers_leave_exactly_one_value(study):
    import threading

    artifact = study["s1", 0]
    errors = []

    def annotate(worker: int) -> None:
        try:
            for round_ in range(15):
                artifact.features.add_values({"batch": worker * 100 + round_, "tissue": "lung"})
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=annotate, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    values = artifact.features.get_values()
    assert isinstance(values["batch"], int) and values["tissue"] == "lung"
    assert ft.Artifact.filter(key=artifact.key, batch=values["batch"]).count() == 1
    from flowtrail.core.models.links import artifact_feature_value as afv

    session = ft.Artifact.objects().instance.sessions.current()
    rows = session.execute(afv.select().where(afv.c.artifact_id == artifact.id)).all()
    session.commit()
    assert len(rows) == 5  # batch, day, qc, passed, gc: one row each, none duplicated by the race
