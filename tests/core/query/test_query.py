import pandas as pd
import pytest

import flowtrail as ft
from flowtrail.core.runs.tracking import finish_run, start_run


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_instance(request):
    """The same registry behaviour on the embedded SQLite and on a PostgreSQL server."""
    return request.getfixturevalue("instance" if request.param == "sqlite" else "pg_instance")


@pytest.fixture
def registry(any_instance, tmp_path):
    """Three runs of two transforms with artifacts of different sizes."""
    made = {}
    for name, lr, sizes in (("train.py", 0.1, (10, 20)), ("train.py", 0.5, (30,)), ("prep.py", None, (40,))):
        params = {"lr": lr, "sample": f"s{int((lr or 0) * 10)}", "flags": {"fast": lr == 0.5}}
        run = start_run(name, source_code=f"# {name}", params=params)
        for size in sizes:
            path = tmp_path / f"{name}-{size}.bin"
            path.write_bytes(b"x" * size)
            made[size] = ft.Artifact(path, key=f"out/{name}/{size}.bin", run=run).save()
        finish_run(run, "completed" if lr != 0.5 else "failed", error="boom" if lr == 0.5 else None)
    return made


def test_lookups_on_fields(registry):
    assert ft.Artifact.filter(size__gt=15).count() == 3
    assert ft.Artifact.filter(size__gte=20, size__lte=30).count() == 2
    assert ft.Artifact.filter(size__in=[10, 40]).count() == 2
    assert ft.Artifact.filter(key__startswith="out/prep.py/").count() == 1
    assert ft.Artifact.filter(key__contains="train").count() == 3
    assert ft.Artifact.filter(key__icontains="TRAIN").count() == 3
    assert ft.Artifact.filter(description__isnull=True).count() == 4
    assert ft.Artifact.exclude(size=10).count() == 3


def test_relations_are_traversed_with_double_underscores(registry):
    assert ft.Artifact.filter(run__transform__key="train.py").count() == 3
    assert ft.Artifact.filter(transform__key="prep.py").count() == 1
    assert ft.Artifact.filter(run__status="failed").one().size == 30
    assert ft.Run.filter(outputs__size__gt=35).one().transform.key == "prep.py"


def test_json_params_are_queryable(registry):
    assert ft.Run.filter(params__lr=0.1).count() == 1
    assert ft.Run.filter(params__lr__gt=0.2).count() == 1
    assert ft.Run.filter(params__sample="s5").one().params["lr"] == 0.5
    assert ft.Run.filter(params__flags__fast=True).count() == 1
    assert ft.Run.filter(params__sample__in=["s1", "s5"]).count() == 2


def test_underscores_and_percent_signs_are_matched_literally(instance, tmp_path):
    for key in ("a_b.txt", "axb.txt", "50%.txt"):
        path = tmp_path / key
        path.write_text(key)
        ft.Artifact(path, key=key).save()
    assert ft.Artifact.filter(key__contains="_").count() == 1
    assert ft.Artifact.filter(key__startswith="50%").count() == 1


def test_get_one_first_and_their_errors(registry):
    assert ft.Artifact.get(key="out/prep.py/40.bin").size == 40
    with pytest.raises(ft.DoesNotExist):
        ft.Artifact.get(key="nope")
    with pytest.raises(ft.MultipleResultsFound):
        ft.Artifact.filter(size__gt=1).one()
    assert ft.Artifact.filter(size__gt=1000).first() is None
    assert ft.Artifact.filter().order_by("-size").first().size == 40


def test_unknown_fields_list_the_valid_ones(registry):
    with pytest.raises(ft.FieldError) as info:
        ft.Artifact.filter(sise=3)
    message = str(info.value)
    assert "Did you mean 'size'?" in message and "Fields:" in message and "hash" in message
    with pytest.raises(ft.FieldError):
        ft.Artifact.filter(size__bigger=3)
    with pytest.raises(ft.FieldError):
        ft.Artifact.filter().order_by("-nope")


def test_to_dataframe_has_every_row_and_no_cap(instance, tmp_path):
    paths = []
    for i in range(60):
        path = tmp_path / f"{i}.txt"
        path.write_text(str(i))
        paths.append(ft.Artifact(path, key=f"many/{i}.txt"))
    ft.save(paths)
    frame = ft.Artifact.filter(key__startswith="many/").to_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 60
    assert {"uid", "key", "size", "hash"} <= set(frame.columns)


def test_slicing_and_ordering(registry):
    sizes = [a.size for a in ft.Artifact.filter().order_by("size")[1:3]]
    assert sizes == [20, 30]
    assert ft.Artifact.filter().order_by("-size")[0].size == 40


def test_search_ranks_exact_matches_first(instance, tmp_path):
    for key in ("notes/liver-extra.txt", "liver.txt", "kidney.txt"):
        path = tmp_path / key.replace("/", "_")
        path.write_text(key)
        ft.Artifact(path, key=key).save()
    found = [a.key for a in ft.Artifact.search("liver")]
    assert found[0] == "liver.txt"
    assert set(found) == {"liver.txt", "notes/liver-extra.txt"}
    assert ft.Transform.search("nothing-like-this").count() == 0
