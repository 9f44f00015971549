"""What interrupted saves leave in managed storage is found and removed; nothing registered is touched."""

import os
import time

import pandas as pd
from click.testing import CliRunner

import flowtrail as ft
from flowtrail.cli import cli
from flowtrail.core.artifacts.cleanup import ORPHAN, TEMPORARY, leftovers, remove_leftovers
from flowtrail.core.artifacts.ownership import instance_id


def _managed_folder(instance):
    return instance.config.root / ".flowtrail" / "storage" / ".flowtrail" / instance_id(instance)


def _age(path, hours):
    past = time.time() - hours * 3600
    os.utime(path, (past, past))


def test_leftovers_are_found_by_age_and_removed(instance, tmp_path):
    kept = ft.Artifact.from_dataframe(pd.DataFrame({"a": [1]}), key="kept.parquet").save()
    folder = _managed_folder(instance)
    stale_tmp = folder / ".tmp-AbCdEfGhIjKl-4242.parquet"  # a saver killed while copying
    orphan = folder / "ZZZZZZZZZZZZZZZZ0001.csv"  # renamed, killed before the row was committed
    young_tmp = folder / ".tmp-MnOpQrStUvWx-4343.csv"  # a save still running
    for path in (stale_tmp, orphan, young_tmp):
        path.write_bytes(b"x" * 10)
    _age(stale_tmp, 3)
    _age(orphan, 3)
    _age(folder / kept.path.split("/")[-1], 3)
    found = {(item.relpath.split("/")[-1], item.reason) for item in leftovers(instance)}
    assert found == {(stale_tmp.name, TEMPORARY), (orphan.name, ORPHAN)}
    assert remove_leftovers(leftovers(instance)) == 2
    assert not stale_tmp.exists() and not orphan.exists() and young_tmp.exists()
    assert ft.Artifact.get(key="kept.parquet").load()["a"].tolist() == [1]
    assert len(leftovers(instance, older_than_s=0)) == 1  # the young one, once no grace period applies


def test_the_cli_lists_first_and_deletes_with_yes(instance, monkeypatch):
    monkeypatch.chdir(instance.config.root)
    folder = _managed_folder(instance)
    folder.mkdir(parents=True, exist_ok=True)
    stale = folder / ".tmp-AbCdEfGhIjKl-4242.txt"
    stale.write_text("partial")
    _age(stale, 2)
    runner = CliRunner()
    listed = runner.invoke(cli, ["storage", "clean"])
    assert listed.exit_code == 0, listed.output
    assert "1 leftover." in listed.output and stale.exists()
    deleted = runner.invoke(cli, ["storage", "clean", "--yes"])
    assert "Deleted 1 leftover" in deleted.output and not stale.exists()
    assert "No leftovers" in runner.invoke(cli, ["storage", "clean"]).output
