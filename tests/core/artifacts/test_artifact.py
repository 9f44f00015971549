import hashlib
import os

import pandas as pd
import pytest

import flowtrail as ft


def md5_of(path) -> str:
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def test_a_local_file_outside_storage_is_copied_into_managed_storage(instance, tmp_path):
    source = tmp_path / "sample.fasta"
    source.write_text(">seq\nACGT\n")
    artifact = ft.Artifact(source, key="raw/sample.fasta", description="one read").save()
    assert artifact.is_managed
    assert artifact.key == "raw/sample.fasta"
    assert artifact.suffix == ".fasta"
    assert artifact.size == source.stat().st_size
    assert artifact.hash == md5_of(source)
    assert artifact.hash_type == "md5"
    assert len(artifact.uid) == 20
    stored = artifact.cache()
    assert stored != source and stored.read_text() == source.read_text()
    assert str(stored).startswith(instance.default_storage.root)


def test_a_file_inside_a_registered_storage_is_registered_in_place(instance, tmp_path):
    workflow = tmp_path / "workflow"
    (workflow / "results").mkdir(parents=True)
    output = workflow / "results" / "counts.tsv"
    output.write_text("gene\tcount\nA\t1\n")
    ft.Storage.register(workflow)
    artifact = ft.Artifact(output).save()
    assert not artifact.is_managed
    assert artifact.key == "results/counts.tsv"  # the path relative to its storage location
    assert artifact.cache() == output
    assert artifact.load().shape == (1, 2)


def test_identical_content_under_the_same_key_returns_the_existing_record(instance, tmp_path, caplog):
    source = tmp_path / "a.txt"
    source.write_text("hello")
    first = ft.Artifact(source, key="a.txt").save()
    with caplog.at_level("INFO", logger="flowtrail"):
        again = ft.Artifact(source, key="a.txt").save()
    assert again.id == first.id
    assert ft.Artifact.filter(key="a.txt").count() == 1
    assert sum("already registered" in r.message for r in caplog.records) == 1


def test_new_content_under_a_key_makes_a_new_version(instance, tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("v1")
    v1 = ft.Artifact(source, key="a.txt").save()
    source.write_text("v2")
    v2 = ft.Artifact(source, key="a.txt").save()
    assert (v1.version, v2.version) == (1, 2)
    assert v1.uid[:16] == v2.uid[:16] and v1.uid != v2.uid
    assert ft.Artifact.get(key="a.txt").id == v2.id
    assert [a.version for a in v2.versions] == [1, 2]
    assert [a.is_latest for a in v2.versions] == [False, True]
    assert ft.Artifact.get(v1.uid).cache().read_text() == "v1"
    assert ft.Artifact.get(v1.uid[:16]).id == v2.id  # a stem names the latest version


def test_reverting_to_old_content_makes_it_the_latest_again(instance, tmp_path):
    source = tmp_path / "a.txt"
    for text in ("A", "B", "A"):
        source.write_text(text)
        ft.Artifact(source, key="a.txt").save()
    latest = ft.Artifact.get(key="a.txt")
    assert latest.version == 3 and latest.cache().read_text() == "A"


def test_keyless_duplicates_dedupe_by_hash_and_bulk_save_logs_once(instance, tmp_path, caplog):
    paths = []
    for i in range(5):
        path = tmp_path / f"f{i}.txt"
        path.write_text("same")
        paths.append(path)
    with caplog.at_level("INFO", logger="flowtrail"):
        saved = ft.save([ft.Artifact(p) for p in paths])
    assert len({a.id for a in saved}) == 1
    assert ft.Artifact.filter().count() == 1
    assert len([r for r in caplog.records if "already registered" in r.message]) == 1
    assert "4 of 5" in caplog.records[-1].message


def test_same_content_under_different_keys_stays_two_artifacts(instance, tmp_path):
    # Two empty outputs of two workflow steps are different files, not one.
    a, b = tmp_path / "a.done", tmp_path / "b.done"
    a.touch()
    b.touch()
    saved = ft.save([ft.Artifact(a, key="a.done"), ft.Artifact(b, key="b.done")])
    assert saved[0].id != saved[1].id
    assert saved[0].hash == saved[1].hash


def test_folders_are_copied_and_hashed_over_their_files(instance, tmp_path):
    folder = tmp_path / "plate"
    (folder / "wells").mkdir(parents=True)
    (folder / "wells" / "A1.csv").write_text("x\n1\n")
    (folder / "meta.json").write_text("{}")
    artifact = ft.Artifact(folder, key="plates/p1").save()
    assert artifact.kind == "folder"
    assert artifact.n_files == 2
    assert artifact.hash_type == "md5-folder"
    local = artifact.cache()
    assert (local / "wells" / "A1.csv").read_text() == "x\n1\n"


def test_dataframe_round_trip_through_parquet(instance):
    frame = pd.DataFrame({"gene": ["A", "B", "C"], "count": [1, 2, 3]})
    artifact = ft.Artifact.from_dataframe(frame, key="tables/counts.parquet").save()
    assert artifact.otype == "DataFrame"
    assert artifact.suffix == ".parquet"
    assert artifact.n_observations == 3
    pd.testing.assert_frame_equal(ft.Artifact.get(key="tables/counts.parquet").load(), frame)


def test_anndata_round_trip_through_h5ad(instance):
    ad = pytest.importorskip("anndata")  # not in the core-only environment (test-core)
    import numpy as np

    adata = ad.AnnData(X=np.arange(12, dtype="float32").reshape(4, 3))
    artifact = ft.Artifact.from_anndata(adata, key="scrna/tiny.h5ad").save()
    assert artifact.otype == "AnnData" and artifact.n_observations == 4
    loaded = artifact.load()
    assert loaded.shape == (4, 3)
    assert (loaded.X == adata.X).all()


def test_load_of_an_unknown_format_names_the_supported_ones(instance, tmp_path):
    path = tmp_path / "reads.bam"
    path.write_bytes(b"BAM\x01")
    artifact = ft.Artifact(path, key="reads.bam").save()
    with pytest.raises(ft.UnsupportedFormat) as info:
        artifact.load()
    assert ".parquet" in str(info.value) and ".h5ad" in str(info.value) and ".cache()" in str(info.value)


def test_open_streams_the_content(instance, tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("line\n" * 1000)
    artifact = ft.Artifact(path, key="big.txt").save()
    with artifact.open() as handle:
        assert handle.read(5) == b"line\n"


def test_missing_file_gives_a_clear_error(instance, tmp_path):
    with pytest.raises(ft.StorageError) as info:
        ft.Artifact(tmp_path / "nope.csv", key="nope.csv")
    assert "No file or folder" in str(info.value)


def test_unsafe_key_is_rejected_before_anything_is_written(instance, tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("x")
    with pytest.raises(ft.InvalidKey):
        ft.Artifact(path, key="../../x.txt")
    assert ft.Artifact.filter().count() == 0


def test_delete_removes_the_managed_copy_and_moves_latest_back(instance, tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("one")
    v1 = ft.Artifact(source, key="a.txt").save()
    source.write_text("two")
    v2 = ft.Artifact(source, key="a.txt").save()
    stored = v2.cache()
    v2.delete()
    assert not stored.exists()
    assert ft.Artifact.get(key="a.txt").id == v1.id
    assert ft.Artifact.get(key="a.txt").is_latest


def test_delete_leaves_files_registered_in_place(instance, tmp_path):
    ft.Storage.register(tmp_path / "wf")
    path = tmp_path / "wf" / "out.txt"
    path.write_text("keep me")
    ft.Artifact(path).save().delete()
    assert path.read_text() == "keep me"
    assert ft.Artifact.filter().count() == 0


def test_missing_object_on_cache_says_what_to_do(instance, tmp_path):
    ft.Storage.register(tmp_path / "wf")
    path = tmp_path / "wf" / "gone.txt"
    path.write_text("x")
    artifact = ft.Artifact(path).save()
    os.unlink(path)
    with pytest.raises(ft.StorageError) as info:
        artifact.cache()
    assert "missing" in str(info.value) and "delete()" in str(info.value)


def test_changing_a_description_and_saving_updates_the_record(instance, tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("x")
    artifact = ft.Artifact(path, key="x.txt").save()
    artifact.description = "now described"
    artifact.save()
    instance.sessions.close()  # forget cached objects: read back from the database
    assert ft.Artifact.get(key="x.txt").description == "now described"


def test_size_mtime_mode_skips_reading_big_outputs(instance, tmp_path):
    ft.Storage.register(tmp_path / "wf")
    path = tmp_path / "wf" / "huge.bam"
    path.write_bytes(b"x" * 1000)
    first = ft.Artifact(path, hash_mode="size-mtime").save()
    assert first.hash_type == "size-mtime" and first.size == 1000
    assert ft.Artifact(path, hash_mode="size-mtime").save().id == first.id  # unchanged file: same record
    os.utime(path, ns=(0, 10**9))
    assert ft.Artifact(path, hash_mode="size-mtime").save().version == 2  # touched: a new version
    with pytest.raises(ValueError, match="hash_mode"):
        ft.Artifact(path, hash_mode="sample")


def test_a_link_to_a_folder_named_with_a_trailing_slash_is_still_the_link(instance, tmp_path):
    ft.Storage.register(tmp_path / "wf")
    target = tmp_path / "wf" / "work" / "sample1"
    target.mkdir(parents=True)
    (target / "reads.txt").write_text("ACGT")
    link = tmp_path / "wf" / "results" / "sample1"
    link.parent.mkdir()
    link.symlink_to(target, target_is_directory=True)
    published = ft.Artifact(f"{link}/").save()
    assert (published.key, published.kind) == ("results/sample1", "folder")


def test_a_symlink_is_registered_where_it_is(instance, tmp_path):
    ft.Storage.register(tmp_path / "wf")
    target = tmp_path / "wf" / "work" / "out.txt"
    target.parent.mkdir(parents=True)
    target.write_text("result")
    link = tmp_path / "wf" / "results" / "out.txt"
    link.parent.mkdir()
    link.symlink_to(target)
    original, published = ft.save([ft.Artifact(target), ft.Artifact(link)])
    assert (original.key, published.key) == ("work/out.txt", "results/out.txt")
    assert original.hash == published.hash and original.id != published.id
