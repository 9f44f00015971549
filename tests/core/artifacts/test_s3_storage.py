"""S3 through fsspec, against a local moto server: objects registered in place, an instance
whose managed storage is a bucket prefix, caching, loading, streaming and folder prefixes.
Every recorded hash is checked against the md5 of the same bytes computed locally.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import flowtrail
from flowtrail.core.artifacts.ownership import instance_id
from flowtrail.core.db.context import disconnect
from flowtrail.core.util.hashing import hash_folder

CSV = b"sample,reads\ns1,1200\ns2,3400\n"
FOLDER = {"plate1/a.txt": b"well A\n", "plate1/b.txt": b"well B\n" * 100, "summary.json": b'{"wells": 2}\n'}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def s3(s3_server):
    import boto3

    return boto3.client("s3")


@pytest.fixture
def s3_instance(s3_bucket, tmp_path, monkeypatch):
    """An instance (SQLite registry) whose managed storage is ``s3://bucket/managed``."""
    inst = flowtrail.init(tmp_path / "project", storage=f"{s3_bucket}/managed")
    monkeypatch.chdir(tmp_path / "project")
    yield inst
    disconnect()


def put(s3, url: str, data: bytes) -> None:
    bucket, key = url.removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=data)


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for relpath, data in files.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(data)
    return root


def count_downloads(monkeypatch, artifact) -> list[str]:
    """Record every fsspec download (``fs.get``) made for ``artifact``'s storage."""
    calls: list[str] = []
    fs = artifact.storage.fs
    original = fs.get
    monkeypatch.setattr(fs, "get", lambda rpath, *a, **kw: calls.append(rpath) or original(rpath, *a, **kw))
    return calls


# -- remote objects registered in place ---------------------------------------------------------


def test_a_remote_object_is_registered_in_place_with_its_etag_as_md5(instance, s3_bucket, s3):
    url = f"{s3_bucket}/runs/r1/counts.csv"
    put(s3, url, CSV)

    artifact = flowtrail.Artifact(url).save()

    assert artifact.hash == md5(CSV) and artifact.hash_type == "md5" and artifact.size == len(CSV)
    assert artifact.key == "runs/r1/counts.csv" and artifact.path == "runs/r1/counts.csv"
    assert not artifact.is_managed
    assert artifact.storage.root == s3_bucket and artifact.storage.type == "s3"
    assert artifact.location == url
    # Saving the unchanged object again returns the same record.
    assert flowtrail.Artifact(url).save().uid == artifact.uid
    # A changed object under the same key becomes version 2.
    put(s3, url, CSV + b"s3,5600\n")
    flowtrail.core.models.storage.filesystem("s3").invalidate_cache()
    changed = flowtrail.Artifact(url).save()
    assert changed.version == 2 and changed.hash == md5(CSV + b"s3,5600\n")


def test_a_blake3_registry_streams_remote_objects_and_writes_managed_copies_to_s3(s3_bucket, s3, tmp_path, monkeypatch):
    import blake3

    inst = flowtrail.init(tmp_path / "project", storage=f"{s3_bucket}/managed", hash="blake3")
    monkeypatch.chdir(tmp_path / "project")
    try:
        data = CSV * 200_000  # several 4 MiB chunks
        url = f"{s3_bucket}/runs/r1/big.csv"
        put(s3, url, data)
        remote = flowtrail.Artifact(url).save()  # the ETag is an MD5, so the object is streamed
        assert (remote.hash, remote.hash_type, remote.size) == (blake3.blake3(data).hexdigest(), "blake3", len(data))
        local = tmp_path / "local.csv"
        local.write_bytes(data[: 3 * 1024 * 1024 + 5])
        managed = flowtrail.Artifact(local, key="tables/local.csv").save()
        assert managed.is_managed and managed.storage.type == "s3" and inst.hash_algorithm == "blake3"
        assert managed.hash == blake3.blake3(local.read_bytes()).hexdigest()
    finally:
        disconnect()


def test_a_multipart_object_is_hashed_from_its_content(instance, s3_bucket, s3):
    """A multipart upload's ETag is not an md5 of the content, so flowtrail reads the bytes."""
    parts = [b"x" * (5 * 1024 * 1024), b"tail of the object\n"]  # S3's smallest part is 5 MiB
    bucket, key = s3_bucket.removeprefix("s3://"), "big/reads.fastq"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)
    etags = [
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=n, Body=data)["ETag"]
        for n, data in enumerate(parts, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, start=1)]},
    )  # fmt: skip
    assert s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"').endswith("-2")

    artifact = flowtrail.Artifact(f"{s3_bucket}/{key}").save()

    assert artifact.hash == md5(b"".join(parts)) and artifact.size == sum(map(len, parts))


def test_cache_downloads_a_remote_object_once_load_and_open_read_it(instance, s3_bucket, s3, monkeypatch):
    url = f"{s3_bucket}/tables/counts.csv"
    put(s3, url, CSV)
    artifact = flowtrail.Artifact(url).save()
    downloads = count_downloads(monkeypatch, artifact)

    first = artifact.cache()
    second = artifact.cache()

    assert first == second and first.is_relative_to(instance.config.cache_dir)
    assert first.read_bytes() == CSV and md5(first.read_bytes()) == artifact.hash
    assert len(downloads) == 1
    frame = artifact.load()
    assert list(frame.columns) == ["sample", "reads"] and frame["reads"].tolist() == [1200, 3400]
    assert len(downloads) == 1  # load() reads the cached copy
    with artifact.open() as handle:
        assert handle.read() == CSV


def test_a_folder_prefix_is_hashed_over_its_objects(instance, s3_bucket, s3, tmp_path):
    for relpath, data in FOLDER.items():
        put(s3, f"{s3_bucket}/screens/s1/{relpath}", data)
    local = hash_folder(write_tree(tmp_path / "s1", FOLDER))

    artifact = flowtrail.Artifact(f"{s3_bucket}/screens/s1", kind="folder").save()

    assert artifact.hash == local.hash and artifact.hash_type == "md5-folder"
    assert artifact.n_files == len(FOLDER) and artifact.size == sum(map(len, FOLDER.values()))
    assert artifact.key == "screens/s1" and not artifact.is_managed
    cached = artifact.cache()
    assert {p.relative_to(cached).as_posix(): p.read_bytes() for p in cached.rglob("*") if p.is_file()} == FOLDER


def test_a_folder_prefix_is_recognised_as_a_folder(instance, s3_bucket, s3):
    for relpath, data in FOLDER.items():
        put(s3, f"{s3_bucket}/screens/s2/{relpath}", data)

    artifact = flowtrail.Artifact(f"{s3_bucket}/screens/s2").save()

    assert artifact.kind == "folder"
    assert sorted(p.name for p in artifact.cache().rglob("*") if p.is_file()) == ["a.txt", "b.txt", "summary.json"]


# -- an instance whose managed storage is a bucket prefix ---------------------------------------


def test_local_files_are_copied_into_s3_managed_storage(s3_instance, s3_bucket, s3, tmp_path, monkeypatch):
    source = tmp_path / "counts.csv"
    source.write_bytes(CSV)

    artifact = flowtrail.Artifact(source, key="tables/counts.csv").save()

    prefix = f"managed/.flowtrail/{instance_id(s3_instance)}"  # this instance's own prefix
    assert artifact.is_managed and artifact.storage.root == f"{s3_bucket}/managed"
    assert artifact.location == f"{s3_bucket}/{prefix}/{artifact.uid}.csv"
    head = s3.head_object(Bucket=s3_bucket.removeprefix("s3://"), Key=f"{prefix}/{artifact.uid}.csv")
    assert head["ETag"].strip('"') == artifact.hash == md5(CSV)
    # No temporary upload is left behind; the marker names the instance.
    listing = s3.list_objects_v2(Bucket=s3_bucket.removeprefix("s3://"))["Contents"]
    assert sorted(obj["Key"] for obj in listing) == [f"{prefix}/.instance.json", f"{prefix}/{artifact.uid}.csv"]

    downloads = count_downloads(monkeypatch, artifact)
    assert artifact.cache().read_bytes() == CSV
    assert artifact.cache().read_bytes() == CSV
    assert len(downloads) == 1
    assert artifact.load()["sample"].tolist() == ["s1", "s2"]
    with artifact.open() as handle:
        assert handle.read(7) == b"sample,"
        assert handle.read() == CSV[7:]


def test_an_s3_instance_reconnects_and_dedupes(s3_instance, s3_bucket, tmp_path):
    source = tmp_path / "a.txt"
    source.write_bytes(b"first\n")
    first = flowtrail.Artifact(source, key="a.txt").save()
    disconnect()

    flowtrail.connect(s3_instance.config.root)
    assert flowtrail.Artifact(source, key="a.txt").save().uid == first.uid
    source.write_bytes(b"second\n")
    second = flowtrail.Artifact(source, key="a.txt").save()
    assert second.version == 2 and second.hash == md5(b"second\n")
    with second.open() as handle:
        assert handle.read() == b"second\n"


def test_dataframes_are_written_to_s3_managed_storage(s3_instance):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"gene": ["a", "b"], "score": [0.5, 1.5]})

    artifact = flowtrail.Artifact.from_dataframe(frame, key="scores.parquet").save()

    assert artifact.location.startswith(f"{s3_instance.default_storage.root}/.flowtrail/")
    assert md5(artifact.cache().read_bytes()) == artifact.hash
    pd.testing.assert_frame_equal(artifact.load(), frame)


def test_a_local_folder_is_copied_into_s3_managed_storage(s3_instance, tmp_path):
    folder = write_tree(tmp_path / "plate", FOLDER)

    artifact = flowtrail.Artifact(folder, key="plate").save()

    assert artifact.hash == hash_folder(folder).hash and artifact.kind == "folder"
    cached = artifact.cache()
    assert {p.relative_to(cached).as_posix(): p.read_bytes() for p in cached.rglob("*") if p.is_file()} == FOLDER
