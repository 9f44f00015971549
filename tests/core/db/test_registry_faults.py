"""Faults name their real cause, are FlowtrailErrors, and leave nothing half-written behind.

Real faults only: a refused port, a read-only or full tmpfs, a lock another connection holds, a
FIFO, /dev/zero, a PostgreSQL server of the test's own frozen with SIGSTOP.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from fault_helpers import OwnPostgres, fill, make_read_only, root_conftest, tmpfs

import flowtrail as ft
from flowtrail.core.db.context import disconnect
from flowtrail.core.errors import RegistryFull, RegistryLocked, RegistryReadOnly, RegistryUnavailable

FLOWTRAIL = str(Path(sys.executable).with_name("flowtrail"))


def _env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRAIL_")} | extra


def _free_port() -> int:
    return root_conftest()._free_port()


def test_a_refused_postgres_connection_is_named_as_such(tmp_path, monkeypatch):
    url = f"postgresql://flowtrail@127.0.0.1:{_free_port()}/registry"
    done = subprocess.run([FLOWTRAIL, "info"], cwd=tmp_path, env=_env(FLOWTRAIL_DB_URL=url),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1
    assert "cannot be reached" in done.stderr and "refused" in done.stderr.lower(), done.stderr
    assert "flowtrail init" not in done.stderr and "Traceback" not in done.stderr
    monkeypatch.setenv("FLOWTRAIL_DB_URL", url)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RegistryUnavailable):
        ft.connect()


def test_a_read_only_sqlite_registry_is_named_read_only(tmp_path, monkeypatch):
    with tmpfs(tmp_path / "disk") as disk:
        ft.init(disk / "project", storage=str(tmp_path / "storage"))
        disconnect()
        make_read_only(disk)
        monkeypatch.chdir(disk / "project")
        with pytest.raises(RegistryReadOnly) as info:
            ft.connect()
        assert "read-only" in str(info.value) and "flowtrail init" not in str(info.value)
        done = subprocess.run([FLOWTRAIL, "ls", "artifacts"], cwd=disk / "project", env=_env(),
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 1 and "read-only" in done.stderr, done.stderr


def test_a_full_registry_disk_is_named_and_the_copy_is_not_kept(tmp_path, monkeypatch):
    source = tmp_path / "counts.csv"
    source.write_text("gene,count\nTP53,5\n" * 1000)
    storage = tmp_path / "storage"
    with tmpfs(tmp_path / "disk") as disk:
        instance = ft.init(disk / "project", storage=str(storage))
        monkeypatch.chdir(disk / "project")
        fill(disk)
        with pytest.raises(RegistryFull) as info:
            ft.Artifact(source, key="counts.csv").save()
        assert "full" in str(info.value) and "flowtrail init" not in str(info.value)
        prefix = storage / ".flowtrail" / instance.caches["instance_id"]
        assert sorted(p.name for p in prefix.iterdir()) == [".instance.json"]  # no object without its row
        (disk / "filler").unlink()
        assert ft.Artifact(source, key="counts.csv").save().version == 1  # space back: it works again
        disconnect()


def test_a_full_storage_disk_leaves_no_partial_copy(tmp_path, monkeypatch):
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024))
    with tmpfs(tmp_path / "disk", size="2m") as disk:
        instance = ft.init(tmp_path / "project", storage=str(disk))
        monkeypatch.chdir(tmp_path / "project")
        with pytest.raises(ft.StorageError) as info:
            ft.Artifact(source, key="big.bin").save()
        assert "No space left" in str(info.value)
        prefix = disk / ".flowtrail" / instance.caches["instance_id"]
        assert sorted(p.name for p in prefix.iterdir()) == [".instance.json"]
        assert ft.Artifact.filter().count() == 0
        disconnect()


def test_a_registry_locked_past_the_bound_is_named_locked(instance, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWTRAIL_DB_TIMEOUT", "1")
    disconnect()
    ft.connect(instance.config.root)
    holder = sqlite3.connect(instance.config.root / ".flowtrail" / "registry.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer that does not let go
    source = tmp_path / "a.txt"
    source.write_text("a\n")
    try:
        with pytest.raises(RegistryLocked) as info:
            ft.Artifact(source, key="a.txt").save()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "locked" in str(info.value)
    assert ft.Artifact(source, key="a.txt").save().version == 1


def _save_in_thread(path: str) -> BaseException | None:
    outcome: list[BaseException | None] = []

    def save() -> None:
        try:
            ft.Artifact(path, key="special").save()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=save, daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), f"saving {path} hangs"
    return outcome[0]


def test_fifos_and_devices_are_refused_without_hanging(instance, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path, kind in ((str(fifo), "FIFO"), ("/dev/zero", "character device")):
        error = _save_in_thread(path)
        assert isinstance(error, ft.StorageError) and kind in str(error), error
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "ok.txt").write_text("ok\n")
    os.mkfifo(folder / "pipe")
    error = _save_in_thread(str(folder))
    assert isinstance(error, ft.StorageError) and "FIFO" in str(error), error
    assert ft.Artifact.filter().count() == 0


def test_non_utf8_file_names_get_a_clear_error_or_a_copy(instance, tmp_path):
    inside = instance.config.root / "data"
    inside.mkdir()
    ft.Storage.register(inside)
    name = os.fsdecode(b"caf\xe9.txt")
    (inside / name).write_text("in place\n")
    with pytest.raises(ft.InvalidKey) as info:
        ft.Artifact(str(inside / name)).save()
    assert "UTF-8" in str(info.value)
    outside = tmp_path / name
    outside.write_text("copied\n")
    saved = ft.Artifact(str(outside), key="cafe.txt").save()
    assert Path(saved.location).read_text() == "copied\n"


# -- a hung PostgreSQL -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_postgres():
    server = OwnPostgres()
    yield server
    server.stop()


@pytest.mark.postgres
def test_a_hung_postgres_costs_seconds_when_connecting(own_postgres, tmp_path):
    code = "import flowtrail as ft; ft.connect()"
    env = _env(FLOWTRAIL_DB_URL=own_postgres.url, FLOWTRAIL_DB_CONNECT_TIMEOUT="2")
    with own_postgres.frozen(all_processes=False):  # the postmaster accepts nothing
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
    assert done.returncode != 0
    assert "RegistryUnavailable" in done.stderr and "timeout" in done.stderr.lower(), done.stderr[-2000:]


@pytest.mark.postgres
def test_a_hung_postgres_costs_seconds_mid_connection(own_postgres, tmp_path):
    project = tmp_path / "project"
    ft.init(project, db=own_postgres.url)
    disconnect()
    script = tmp_path / "save_twice.py"
    script.write_text(textwrap.dedent("""
        import sys
        import flowtrail as ft
        from flowtrail.core.errors import RegistryUnavailable
        open("a.txt", "w").write("a")
        ft.Artifact("a.txt", key="a.txt").save()
        print("ready", flush=True)
        sys.stdin.readline()
        open("b.txt", "w").write("b")
        try:
            ft.Artifact("b.txt", key="b.txt").save()
        except RegistryUnavailable as exc:
            print("unavailable:", exc, flush=True)
    """))
    child = subprocess.Popen([sys.executable, str(script)], cwd=project, env=_env(FLOWTRAIL_DB_TIMEOUT="2"),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        with own_postgres.frozen(all_processes=True):  # every backend stops: nothing answers
            child.stdin.write("go\n")
            child.stdin.flush()
            out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert "unavailable:" in out, out + err
    assert "did not answer within 2 s" in out or "timeout expired" in out, out
