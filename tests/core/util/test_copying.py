import hashlib
import os

import pytest

from flowtrail.core.util.copying import BackgroundSync, copy_file_and_hash


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_copy_and_hash_in_one_pass(tmp_path):
    data = os.urandom(5 * 1024 * 1024 + 3)
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(data)
    seen = []
    digest = copy_file_and_hash(source, target, progress=seen.append)
    assert target.read_bytes() == data
    assert digest.hash == md5(data)
    assert sum(seen) == len(data)


def test_large_copy_matches_the_source_and_reports_progress_to_the_last_byte(tmp_path):
    # Several kernel copy steps and hash buffers, with a ragged end.
    data = os.urandom(37 * 1024 * 1024 + 5)
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(data)
    seen = []
    digest = copy_file_and_hash(source, target, progress=seen.append, fsync=False)
    assert target.read_bytes() == data
    assert digest.hash == md5(data) and digest.size == len(data) and digest.hash_type == "md5"
    assert sum(seen) == len(data)


def test_copy_without_kernel_support_reads_once_and_gives_the_same_result(tmp_path, monkeypatch):
    import flowtrail.core.util.copying as copying

    monkeypatch.setattr(copying, "_KERNEL_COPY", False)
    data = os.urandom(6 * 1024 * 1024 + 1)
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(data)
    digest = copy_file_and_hash(source, target)
    assert target.read_bytes() == data and digest.hash == md5(data)


def test_a_copy_over_an_existing_longer_file_leaves_exactly_the_source(tmp_path):
    data = os.urandom(3 * 1024 * 1024)
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(data)
    target.write_bytes(b"x" * (5 * 1024 * 1024))
    copy_file_and_hash(source, target)
    assert target.read_bytes() == data


def test_empty_and_tiny_files_copy_and_hash(tmp_path):
    for data in (b"", b"a", os.urandom(1024 * 1024)):
        source, target = tmp_path / "in.bin", tmp_path / "out.bin"
        source.write_bytes(data)
        assert copy_file_and_hash(source, target).hash == md5(data)
        assert target.read_bytes() == data


@pytest.mark.parametrize("n_files", [1, 3, 20])  # one fsync, parallel fsyncs, one syncfs per filesystem
def test_copies_flushed_in_the_background_may_be_renamed_meanwhile(tmp_path, n_files):
    contents = {tmp_path / f".tmp-{i}.bin": os.urandom(2048 + i) for i in range(n_files)}
    for path, data in contents.items():
        path.write_bytes(data)
    flush = BackgroundSync([str(path) for path in contents], sum(map(len, contents.values())))
    for path in contents:  # what a save does inside its transaction while the flush runs
        path.rename(path.with_name(path.name.removeprefix(".tmp-")))
    flush.wait()
    for path, data in contents.items():
        assert path.with_name(path.name.removeprefix(".tmp-")).read_bytes() == data
    assert flush.size == sum(map(len, contents.values()))


def test_a_copy_missing_before_its_flush_starts_is_an_error_at_once(tmp_path):
    with pytest.raises(FileNotFoundError):
        BackgroundSync([str(tmp_path / "gone.bin")])
