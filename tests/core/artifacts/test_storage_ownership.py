"""`storage clean` removes only what is provably this instance's and unreferenced.

Managed objects live below ``.flowtrail/<instance-id>/``; the instance folder, other instances'
objects and objects written before instance ids are never candidates, whatever their age.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

import flowtrail as ft
from flowtrail.core.artifacts.cleanup import leftovers, remove_leftovers
from flowtrail.core.artifacts.ownership import MARKER, instance_id
from flowtrail.core.db.context import disconnect

FLOWTRAIL = str(Path(sys.executable).with_name("flowtrail"))


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRAIL_")} | (env or {})
    return subprocess.run([FLOWTRAIL, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)


def _age_everything(folder: Path, hours: float = 5) -> None:
    past = time.time() - hours * 3600
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (past, past), follow_symlinks=False)


def test_clean_never_deletes_the_registry_when_the_storage_is_the_project_folder(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    created = _run("init", "--storage", ".", cwd=project)
    assert created.returncode == 0, created.stderr
    assert "holds a flowtrail instance folder" in created.stderr  # init warns
    (project / "table.csv").write_text("a,b\n1,2\n")
    outside = tmp_path / "outside.csv"
    outside.write_text("x\n1\n")
    assert _run("save", str(outside), "--key", "copied.csv", cwd=project).returncode == 0
    _age_everything(project / ".flowtrail")

    listed = _run("storage", "clean", "--older-than", "0", cwd=project)
    assert listed.returncode == 0, listed.stderr
    assert "No leftovers" in listed.stdout, listed.stdout
    cleaned = _run("storage", "clean", "--older-than", "0", "--yes", cwd=project)
    assert cleaned.returncode == 0, cleaned.stderr
    dot = project / ".flowtrail"
    assert (dot / "registry.db").is_file() and (dot / "config.json").is_file()
    described = _run("load", "copied.csv", cwd=project)
    assert described.returncode == 0, described.stderr
    assert Path(described.stdout.strip()).read_text() == "x\n1\n"


def test_two_instances_on_one_storage_never_clean_each_others_objects(tmp_path, monkeypatch):
    shared = tmp_path / "bucket"
    dev = ft.init(tmp_path / "dev", storage=str(shared), name="dev")
    monkeypatch.chdir(tmp_path / "dev")
    kept = ft.Artifact.from_dataframe(pd.DataFrame({"a": [1]}), key="dev.parquet").save()
    dev_object = Path(kept.location)
    dev_temp = dev_object.with_name(".tmp-AbCdEfGhIjKl-4242.csv")  # a dev save still running somewhere
    dev_temp.write_text("partial")
    dev_id = instance_id(dev)
    disconnect()

    monkeypatch.chdir(tmp_path)
    prod_result = _run("init", "prod", "--storage", str(shared), "--name", "prod", cwd=tmp_path)
    assert prod_result.returncode == 0, prod_result.stderr
    assert "other instance(s): dev" in prod_result.stderr  # init names the other instance
    prod = ft.connect(tmp_path / "prod")
    assert instance_id(prod) != dev_id
    _age_everything(shared)
    assert leftovers(prod, older_than_s=0) == []
    cleaned = _run("storage", "clean", "--older-than", "0", "--yes", cwd=tmp_path / "prod")
    assert cleaned.returncode == 0, cleaned.stderr
    assert dev_object.is_file() and dev_temp.is_file()
    assert (shared / ".flowtrail" / dev_id / MARKER).is_file()

    # dev's own clean removes its stale temporary copy, and only that.
    dev = ft.connect(tmp_path / "dev")
    found = leftovers(dev, older_than_s=0)
    assert [item.relpath.rsplit("/", 1)[-1] for item in found] == [dev_temp.name]
    assert remove_leftovers(found) == 1
    assert dev_object.is_file() and ft.Artifact.get(key="dev.parquet").load()["a"].tolist() == [1]


def test_objects_written_before_instance_ids_keep_working_and_are_never_cleaned(instance, tmp_path):
    """A registry from before instance ids: objects sit directly under .flowtrail/ and have no marker."""
    source = tmp_path / "old.csv"
    source.write_text("old\n")
    record = ft.Artifact(source, key="old.csv").save()
    storage_root = Path(instance.default_storage.root)
    legacy_path = f".flowtrail/{Path(record.path).name}"
    shutil.move(storage_root / record.path, storage_root / legacy_path)
    unreferenced = storage_root / ".flowtrail" / "ZZZZZZZZZZZZZZZZ0001.csv"  # whose? nobody can tell
    unreferenced.write_text("unknown\n")
    legacy_temp = storage_root / ".flowtrail" / ".tmp-AbCdEfGhIjKl-4242.csv"
    legacy_temp.write_text("partial\n")
    shutil.rmtree(storage_root / ".flowtrail" / instance_id(instance))
    with instance.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE artifact SET path = ? WHERE id = ?", (legacy_path, record.id))
        conn.exec_driver_sql("DELETE FROM setting WHERE key = 'instance_id'")
    disconnect()

    upgraded = ft.connect(instance.config.root)
    assert ft.Artifact.get(key="old.csv").load().equals(pd.read_csv(source))
    new = ft.Artifact.from_dataframe(pd.DataFrame({"n": [1]}), key="new.parquet").save()
    new_id = instance_id(upgraded)
    assert new.path.startswith(f".flowtrail/{new_id}/")
    _age_everything(storage_root / ".flowtrail")
    assert remove_leftovers(leftovers(upgraded, older_than_s=0)) == 0
    assert unreferenced.is_file() and legacy_temp.is_file() and (storage_root / legacy_path).is_file()
    assert ft.Artifact.get(key="new.parquet").load()["n"].tolist() == [1]
