import json
import threading

import numpy as np
import pandas as pd
import pytest

import flowtrail as ft
from flowtrail.core.annotations.collections import collection_hash, members_clause
from flowtrail.core.errors import IntegrityError, UnsupportedFormat
from flowtrail.core.lineage.graph import graph
from flowtrail.core.lineage.view import render
from flowtrail.core.models import Collection


def table(tmp_path, name, rows, key=None):
    """A real CSV file registered as an artifact."""
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return ft.Artifact(path, key=key or f"tables/{name}").save()


def h5ad(tmp_path, name, n_obs, key=None):
    ad = pytest.importorskip("anndata")
    path = tmp_path / name
    adata = ad.AnnData(
        X=np.arange(n_obs * 2, dtype="float32").reshape(n_obs, 2),
        obs=pd.DataFrame(index=[f"{name}-cell{i}" for i in range(n_obs)]),
        var=pd.DataFrame(index=["g1", "g2"]),
    )
    adata.write_h5ad(path)
    return ft.Artifact(path, key=key or f"cells/{name}").save()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_instance(request):
    """The same behaviour on the embedded SQLite and on a PostgreSQL server."""
    return request.getfixturevalue("instance" if request.param == "sqlite" else "pg_instance")


@pytest.fixture
def tables(any_instance, tmp_path):
    return [
        table(tmp_path, "a.csv", {"sample": ["a", "a"], "count": [1, 2]}),
        table(tmp_path, "b.csv", {"sample": ["b"], "count": [3]}),
        table(tmp_path, "c.csv", {"sample": ["c"], "count": [4]}),
    ]


def test_save_registers_members_in_order_and_dedups(tables):
    a, b, c = tables
    saved = Collection([c, a, b], key="study/counts", description="per-sample counts").save()
    assert saved.id is not None and saved.version == 1 and saved.is_latest
    assert len(saved.uid) == 20 and saved.n_artifacts == 3
    assert saved.hash == collection_hash([c, a, b])
    assert [m.key for m in saved.artifacts] == ["tables/c.csv", "tables/a.csv", "tables/b.csv"]
    assert [m.key for m in saved.members] == ["tables/c.csv", "tables/a.csv", "tables/b.csv"]
    assert saved.artifacts.count() == 3
    assert list(saved.artifacts.to_dataframe()["key"]) == ["tables/c.csv", "tables/a.csv", "tables/b.csv"]
    assert saved.artifacts[1].id == a.id
    assert saved.artifacts.filter(key__endswith="a.csv").one().id == a.id
    assert saved.created_by  # the current user

    again = Collection([c, a, b], key="study/counts").save()
    assert again.id == saved.id
    assert Collection.filter(key="study/counts").count() == 1
    # Another order is another collection content: a new version.
    reordered = Collection([a, b, c], key="study/counts").save()
    assert reordered.version == 2 and reordered.id != saved.id


def test_changed_members_make_a_new_version(tables, tmp_path):
    a, b, c = tables
    first = Collection([a, b], key="study/counts").save()
    second = Collection([a, b, c], key="study/counts").save()
    assert second.version == 2 and second.uid[:16] == first.uid[:16] and second.uid != first.uid
    assert [v.version for v in second.versions] == [1, 2]
    assert [v.is_latest for v in first.versions] == [False, True]
    assert Collection.get(key="study/counts").id == second.id  # get() prefers the latest version
    assert Collection.filter(key="study/counts", version=1).one().id == first.id
    assert [m.key for m in first.artifacts] == ["tables/a.csv", "tables/b.csv"]  # old members kept
    # A new version of a member artifact changes the collection too.
    b2 = table(tmp_path, "b2.csv", {"sample": ["b"], "count": [30]}, key="tables/b.csv")
    assert b2.version == 2
    third = Collection([a, b2, c], key="study/counts").save()
    assert third.version == 3 and third.hash != second.hash
    assert Collection.filter(key="study/counts", is_latest=True).one().id == third.id


def test_filter_and_search_collections(tables):
    a, b, c = tables
    Collection([a, b], key="study/one").save()
    Collection([c], key="study/two", description="just c").save()
    Collection([a], key="other/three").save()
    assert [x.key for x in Collection.filter(key__startswith="study/").order_by("key")] == ["study/one", "study/two"]
    assert Collection.filter(n_artifacts__gte=2).one().key == "study/one"
    assert Collection.search("just c").one().key == "study/two"
    assert ft.Artifact.filter(members_clause(Collection.get(key="study/one"))).count() == 2


def test_queryset_members_follow_the_query_order(tables):
    members = ft.Artifact.filter(key__startswith="tables/").order_by("-key")
    saved = Collection(members, key="study/all").save()
    assert [m.key for m in saved.artifacts] == ["tables/c.csv", "tables/b.csv", "tables/a.csv"]


def test_load_concatenates_dataframes_in_member_order(tables):
    a, b, c = tables
    saved = Collection([b, a, c], key="study/counts").save()
    frame = saved.load(ignore_index=True)
    assert list(frame["sample"]) == ["b", "a", "a", "c"]
    assert list(frame.index) == [0, 1, 2, 3]
    labelled = saved.load(label="source", ignore_index=True)
    assert list(labelled["source"]) == ["tables/b.csv", "tables/a.csv", "tables/a.csv", "tables/c.csv"]


def test_load_concatenates_anndata(any_instance, tmp_path):
    ad = pytest.importorskip("anndata")  # not in the core-only environment (test-core)
    x, y = h5ad(tmp_path, "x.h5ad", 2), h5ad(tmp_path, "y.h5ad", 3)
    saved = Collection([x, y], key="atlas/cells").save()
    adata = saved.load(label="batch")
    assert isinstance(adata, ad.AnnData)
    assert adata.n_obs == 5 and list(adata.var_names) == ["g1", "g2"]
    assert list(adata.obs["batch"]) == ["cells/x.h5ad"] * 2 + ["cells/y.h5ad"] * 3
    assert list(adata.obs_names[:2]) == ["x.h5ad-cell0", "x.h5ad-cell1"]
    outer = saved.load(join="outer", keys=["x", "y"], label="sample", index_unique="-")
    assert outer.obs_names[0] == "x.h5ad-cell0-x"


def test_mixed_or_unsupported_members_cannot_be_loaded(any_instance, tmp_path):
    frame = table(tmp_path, "t.csv", {"v": [1]})
    cells = h5ad(tmp_path, "z.h5ad", 1)
    mixed = Collection([frame, cells], key="mixed").save()
    with pytest.raises(UnsupportedFormat, match=r"member 1 \('cells/z.h5ad'\) loads as AnnData") as info:
        mixed.load()
    assert "DataFrame" in str(info.value)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    text = ft.Artifact(notes, key="notes.txt").save()
    with pytest.raises(UnsupportedFormat, match=r"member 1 \('notes.txt'\) is a .txt file"):
        Collection([frame, text], key="with-text").save().load()


def test_members_must_be_saved_distinct_artifacts(any_instance, tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("v\n1\n")
    unsaved = ft.Artifact(path, key="u.csv")
    with pytest.raises(IntegrityError, match=r"member 0 \('u.csv'\) is not saved yet: call .save\(\)"):
        Collection([unsaved], key="c")
    saved = unsaved.save()
    with pytest.raises(IntegrityError, match="at least one artifact"):
        Collection([], key="c")
    with pytest.raises(IntegrityError, match="at least one artifact"):
        Collection(ft.Artifact.filter(key="nothing"), key="c")
    with pytest.raises(IntegrityError, match=r"member 1 .* same artifact as member 0"):
        Collection([saved, saved], key="c")
    with pytest.raises(IntegrityError, match=r"member 1 .* is a str, not an Artifact"):
        Collection([saved, "u.csv"], key="c")
    with pytest.raises(IntegrityError, match="single artifact"):
        Collection(saved, key="c")
    with pytest.raises(IntegrityError, match="returns Run records"):
        Collection(ft.Run.filter(), key="c")
    with pytest.raises(ft.FlowtrailError):
        Collection([saved], key="../escape")
    assert Collection.filter().count() == 0


def test_description_of_a_saved_collection_can_change(tables):
    saved = Collection(tables, key="study/counts").save()
    saved.description = "updated"
    assert saved.save() is saved
    assert Collection.get(key="study/counts").description == "updated"


def test_collection_of_a_run_and_its_lineage(any_instance, tmp_path):
    @ft.tracked()
    def count(sample: str):
        return table(tmp_path, f"{sample}.csv", {"sample": [sample], "count": [1]})

    @ft.tracked()
    def gather(artifacts):
        return Collection(artifacts, key="study/gathered").save()

    outputs = [count("s1"), count("s2")]
    made = gather(outputs)
    producers = {o.run_id for o in outputs}
    assert len(producers) == 2 and None not in producers
    assert made.run is not None and made.run.transform.key.endswith("gather")

    up = made.upstream()
    assert {r.id for r in up.runs} == producers
    assert {a.id for a in up.artifacts} == {o.id for o in outputs}
    for output in outputs:
        assert (f"artifact:{output.id}", f"collection:{made.id}") in up.edges
        assert (f"run:{output.run_id}", f"artifact:{output.id}") in up.edges
    assert f"collection:{made.id}" in up.node_ids and up.collections == []

    @ft.tracked()
    def analyse(collection):
        collection.load()

    analyse(made)
    down = made.downstream()
    assert [r.transform.key.rsplit(".", 1)[-1] for r in down.runs] == ["analyse"]
    reader = down.runs[0].id
    assert {(f"artifact:{o.id}", f"run:{reader}") for o in outputs} <= set(down.edges)
    assert made.upstream(depth=0).runs == []

    data = json.loads(render(up, "json"))
    assert data["start"] == {"type": "collection", "uid": made.uid}
    assert {n["type"] for n in data["nodes"]} == {"artifact", "run", "collection"}
    collection_node = next(n for n in data["nodes"] if n["type"] == "collection")
    assert collection_node["n_artifacts"] == 2
    mermaid = render(up, "mermaid")
    assert f'collection_{made.id}[["study/gathered' in mermaid
    dot = render(graph(made, "both"), "dot")
    assert f'"collection:{made.id}"' in dot and "shape=folder" in dot


def test_loading_inside_a_tracked_function_records_the_members_as_inputs(tables):
    saved = Collection(tables, key="study/counts").save()

    @ft.tracked()
    def summarise(collection):
        return int(collection.load()["count"].sum())

    assert summarise(saved) == 10
    run = ft.Run.filter(transform__key__endswith="summarise").one()
    assert sorted(a.key for a in run.inputs) == ["tables/a.csv", "tables/b.csv", "tables/c.csv"]
    # Outside a run nothing is recorded.
    saved.load()
    assert ft.Run.filter(inputs=tables[0]).count() == 1


def test_explicit_run_wins(tables):
    from flowtrail.core.runs.tracking import finish_run, start_run

    run = start_run("collector", type="pipeline")
    saved = Collection(tables, key="study/counts", run=run).save()
    finish_run(run)
    assert Collection.get(key="study/counts").run_id == run.id
    assert saved.run.transform.key == "collector"


def test_describe_prints_members_and_provenance(tables, capsys):
    from flowtrail.core.runs.tracking import finish_run, start_run

    run = start_run("collector")
    saved = Collection(list(reversed(tables)), key="study/counts", description="three samples", run=run).save()
    finish_run(run)
    capsys.readouterr()
    saved.describe()
    out = capsys.readouterr().out
    assert "Collection study/counts" in out and saved.uid in out
    assert "three samples" in out and "collector" in out and "completed" in out
    assert out.index("0. tables/c.csv") < out.index("1. tables/b.csv") < out.index("2. tables/a.csv")


def test_concurrent_savers_of_one_key_make_one_record_per_content(tables):
    a, b, c = tables
    errors = []
    results = []

    def save(members):
        try:
            results.append(Collection(members, key="study/race").save().id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=([a, b],)) for _ in range(4)]
    threads += [threading.Thread(target=save, args=([a, b, c],)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    versions = Collection.filter(key="study/race").order_by("version").to_list()
    # Each saver either created a version or got the latest one back; versions are 1..n, one latest.
    assert [v.version for v in versions] == list(range(1, len(versions) + 1))
    assert sum(v.is_latest for v in versions) == 1
    assert set(results) <= {v.id for v in versions} and len(versions) <= len(threads)


def test_artifacts_know_their_collections_and_members_cannot_be_deleted(instance, tmp_path):
    paths = []
    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_text(name)
        paths.append(ft.Artifact(tmp_path / f"{name}.txt", key=f"{name}.txt").save())
    study = ft.Collection(paths, key="study/all").save()
    assert [c.key for c in paths[0].collections] == ["study/all"]
    assert ft.Artifact.filter(collections__key="study/all").count() == 2
    with pytest.raises(ft.IntegrityError, match=r"member of 1 collection\(s\) \(study/all v1\)"):
        paths[0].delete()
    assert ft.Artifact.filter(key="a.txt").count() == 1  # nothing was deleted
    study.delete()
    assert ft.Collection.filter(key="study/all").count() == 0
    paths[0].delete()
    assert ft.Artifact.filter(key="a.txt").count() == 0


def test_deleting_the_latest_version_makes_the_previous_one_latest(instance, tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    a = ft.Artifact(tmp_path / "a.txt", key="a.txt").save()
    b = ft.Artifact(tmp_path / "b.txt", key="b.txt").save()
    first = ft.Collection([a], key="study").save()
    second = ft.Collection([a, b], key="study").save()
    assert second.version == 2
    second.delete()
    assert ft.Collection.get(key="study").id == first.id
