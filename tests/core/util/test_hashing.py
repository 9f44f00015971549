import hashlib
import os

from flowtrail.core.util.copying import copy_file_and_hash
from flowtrail.core.util.hashing import folder_files, hash_file, hash_folder


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_file_hash_is_plain_md5_of_the_full_content(tmp_path):
    data = os.urandom(9 * 1024 * 1024 + 17)  # spans several chunks
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    digest = hash_file(path)
    assert digest.hash == md5(data)
    assert digest.size == len(data)
    assert digest.hash_type == "md5"


def test_files_differing_only_in_the_middle_get_different_hashes(tmp_path):
    size = 120 * 1024 * 1024  # bigger than the head+tail a sampling hash would read
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    with open(a, "wb") as handle:
        handle.truncate(size)
    with open(b, "wb") as handle:
        handle.truncate(size)
        handle.seek(size // 2)
        handle.write(b"x")
    assert hash_file(a).hash != hash_file(b).hash


def test_folder_hash_depends_on_names_and_content_not_on_listing_order(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder, order in ((one, ["b", "a", "sub/c"]), (two, ["sub/c", "a", "b"])):
        for name in order:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(name)
    first, second = hash_folder(one), hash_folder(two)
    assert first == second
    assert first.n_files == 3
    assert first.hash_type == "md5-folder"
    (two / "a").rename(two / "renamed")
    assert hash_folder(two).hash != first.hash


def test_links_that_lead_nowhere_are_left_out_of_a_folder_with_a_warning(tmp_path, caplog):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "x.txt").write_text("1\n")
    (folder / "a").symlink_to("b")  # a loop: a -> b -> a
    (folder / "b").symlink_to("a")
    (folder / "gone").symlink_to(tmp_path / "missing.txt")
    dead: list[str] = []
    assert [rel for rel, _full in folder_files(folder, dead)] == ["x.txt"]
    assert dead == ["a", "b", "gone"]
    assert "left out 3 link(s) that lead nowhere (dangling, or a loop): a, b, gone" in caplog.text
    with_dead_links = hash_folder(folder)  # what can be read: the folder without its dead links
    for name in ("a", "b", "gone"):
        (folder / name).unlink()
    assert hash_folder(folder) == with_dead_links


def test_streams_hash_in_bounded_chunks_and_pass_read_errors_on(tmp_path):
    import io

    import pytest

    from flowtrail.core.util.hashing import hash_stream

    data = os.urandom(9 * 1024 * 1024 + 3)
    seen = []
    digest = hash_stream(io.BytesIO(data), progress=seen.append)
    assert digest.hash == md5(data) and digest.size == len(data)
    assert max(seen) <= 4 * 1024 * 1024 and sum(seen) == len(data)

    class Broken(io.RawIOBase):
        def read(self, n=-1):
            raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        hash_stream(Broken())


def test_blake3_hashes_files_folders_copies_and_streams(tmp_path):
    import io

    import blake3

    from flowtrail.core.util.hashing import hash_stream

    data = os.urandom(20 * 1024 * 1024 + 11)
    expected = blake3.blake3(data).hexdigest()
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(data)
    assert hash_file(source, algorithm="blake3").hash == expected
    copied = copy_file_and_hash(source, target, algorithm="blake3")
    assert (copied.hash, copied.hash_type) == (expected, "blake3")
    assert hash_stream(io.BytesIO(data), algorithm="blake3").hash == expected
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a").write_bytes(b"a")
    digest = hash_folder(folder, algorithm="blake3")
    assert digest.hash_type == "blake3-folder" and digest.is_folder and len(digest.hash) == 64
    assert digest.hash != hash_folder(folder).hash


def test_an_unknown_algorithm_is_refused_with_the_choices(tmp_path):
    import pytest

    from flowtrail.core.errors import ConfigurationError

    (tmp_path / "a").write_bytes(b"a")
    with pytest.raises(ConfigurationError, match="md5, blake3"):
        hash_file(tmp_path / "a", algorithm="sha1")
