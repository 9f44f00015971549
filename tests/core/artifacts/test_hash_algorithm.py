"""An instance's content hash: MD5 by default, BLAKE3 when chosen at init, recorded per artifact."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import blake3
import pytest

import flowtrail
from flowtrail.core.db.context import disconnect
from flowtrail.core.errors import ConfigurationError


def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


@pytest.fixture
def blake3_instance(tmp_path, monkeypatch):
    inst = flowtrail.init(tmp_path / "project", hash="blake3")
    monkeypatch.chdir(tmp_path / "project")
    yield inst
    disconnect()


def test_a_blake3_registry_hashes_managed_copies_in_place_files_and_folders_with_blake3(blake3_instance, tmp_path):
    big = os.urandom(5 * 1024 * 1024 + 1)
    outside = tmp_path / "reads.bin"
    outside.write_bytes(big)
    managed = flowtrail.Artifact(outside, key="raw/reads.bin").save()
    assert (managed.hash, managed.hash_type) == (b3(big), "blake3")
    assert managed.is_managed
    with open(managed.storage.full_path(managed.path), "rb") as stored:
        assert stored.read() == big

    data_dir = tmp_path / "data"
    (data_dir / "plate").mkdir(parents=True)
    (data_dir / "counts.csv").write_bytes(b"a,b\n1,2\n")
    (data_dir / "plate" / "w1.txt").write_bytes(b"well 1\n")
    flowtrail.Storage.register(data_dir)
    in_place = flowtrail.Artifact(data_dir / "counts.csv").save()
    assert (in_place.hash, in_place.hash_type, in_place.is_managed) == (b3(b"a,b\n1,2\n"), "blake3", False)
    folder = flowtrail.Artifact(data_dir / "plate").save()
    assert folder.hash_type == "blake3-folder" and folder.kind == "folder"

    # Identical content under the same key is still recognised.
    assert flowtrail.Artifact(outside, key="raw/reads.bin").save().id == managed.id


def test_the_default_stays_md5_as_md5sum_prints_it(instance, tmp_path):
    (tmp_path / "x.txt").write_bytes(b"hello\n")
    artifact = flowtrail.Artifact(tmp_path / "x.txt", key="x.txt").save()
    assert (artifact.hash, artifact.hash_type) == (hashlib.md5(b"hello\n").hexdigest(), "md5")
    assert instance.hash_algorithm == "md5"


def test_a_second_project_on_a_shared_registry_keeps_its_algorithm(blake3_instance, tmp_path):
    url = blake3_instance.config.db_url
    disconnect()
    other = flowtrail.init(tmp_path / "other", db=url)
    assert other.hash_algorithm == "blake3"
    disconnect()
    with pytest.raises(ConfigurationError, match="cannot switch to md5"):
        flowtrail.init(tmp_path / "third", db=url, hash="md5")
    assert not (tmp_path / "third" / ".flowtrail" / "config.json").exists()  # nothing half-made left


def test_flowtrail_init_hash_blake3_on_the_command_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRAIL_")}
    exe = ["flowtrail"]

    def run(*args: str) -> str:
        done = subprocess.run([*exe, *args], cwd=tmp_path / "proj", env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout

    (tmp_path / "proj").mkdir()
    assert "blake3" in run("init", "--hash", "blake3", ".")
    (tmp_path / "proj" / "table.csv").write_bytes(b"a,b\n1,2\n")
    run("save", "table.csv", "--key", "tables/t.csv")
    assert json.loads(run("info", "--json"))["hash"] == "blake3"
    rows = [json.loads(line) for line in run("ls", "artifacts", "--json").splitlines()]
    assert [r["hash"] for r in rows] == [b3(b"a,b\n1,2\n")]

    refused = subprocess.run(["flowtrail", "init", "--hash", "sha1", "x"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "sha1" in refused.stderr
