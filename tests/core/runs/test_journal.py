"""A tracked script runs through a registry outage; `flowtrail sync` records its run exactly once.

Outages are real: a read-only tmpfs under the SQLite registry, a full one, a lock held past the
bound, and a PostgreSQL reached through a proxy that has stopped (connection refused).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fault_helpers import fill, make_read_only, tmpfs
from tcp_proxy import TcpProxy

import flowtrail as ft
from flowtrail.core.db.context import disconnect

FLOWTRAIL = str(Path(sys.executable).with_name("flowtrail"))
SCRIPT = """
import flowtrail as ft
run = ft.track(params={"sample": "s1", "min_count": 5})
print(run.uid, flush=True)
open("result.txt", "w").write("done\\n")
"""


def _env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRAIL_")} | extra


def _run_script(folder: Path, env: dict[str, str], name: str = "analysis.py") -> subprocess.CompletedProcess[str]:
    (folder / name).write_text(SCRIPT)
    return subprocess.run([sys.executable, name], cwd=folder, env=env, capture_output=True, text=True, timeout=180)


def _sync(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLOWTRAIL, "sync"], cwd=folder, env=env, capture_output=True, text=True, timeout=180)


def _runs(root: Path) -> list[tuple]:
    disconnect()
    ft.connect(root)
    rows = sorted((r.transform.key, r.status, json.dumps(r.params, sort_keys=True), r.error) for r in ft.Run.filter())
    disconnect()
    return rows


def _journal_files(root: Path) -> list[Path]:
    folder = root / ".flowtrail" / "journal"
    return sorted(folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def undisturbed(tmp_path):
    """The registry an undisturbed run of the script leaves."""
    root = tmp_path / "undisturbed"
    ft.init(root)
    disconnect()
    done = _run_script(root, _env())
    assert done.returncode == 0, done.stderr
    return _runs(root)


@pytest.mark.parametrize("outage", ["read-only", "full"])
def test_a_script_runs_through_a_sqlite_outage_and_sync_records_it_once(tmp_path, undisturbed, outage):
    with tmpfs(tmp_path / "disk") as disk:
        root = tmp_path / "project"
        ft.init(root, db=f"sqlite:///{disk / 'registry.db'}")  # the registry on a disk of its own
        disconnect()
        # Beside the instance by default; FLOWTRAIL_JOURNAL puts it elsewhere.
        journal = tmp_path / "journal" if outage == "full" else root / ".flowtrail" / "journal"
        env = _env(FLOWTRAIL_JOURNAL=str(journal)) if outage == "full" else _env()
        if outage == "read-only":
            make_read_only(disk)
        else:
            fill(disk)
        done = _run_script(root, env)
        assert done.returncode == 0, done.stderr  # the script is not stopped by the outage
        assert "journal" in done.stderr
        uid = done.stdout.strip()
        assert [p.suffix for p in journal.iterdir()] == [".ndjson"]
        if outage == "read-only":
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        else:
            (disk / "filler").unlink()

        synced = _sync(root, env)
        assert synced.returncode == 0, synced.stderr
        assert "1 journal file(s) recorded" in synced.stdout
        assert _runs(root) == undisturbed
        assert list(journal.iterdir()) == []
        assert "0 journal file(s)" in _sync(root, env).stdout  # exactly once
        assert _runs(root) == undisturbed
        ft.connect(root)
        assert ft.Run.get(uid=uid).status == "completed"  # the journaled uid is the recorded one
        disconnect()


def test_a_lock_held_past_the_bound_is_journaled_and_replayed_at_the_next_connection(tmp_path, undisturbed):
    root = tmp_path / "project"
    ft.init(root)
    disconnect()
    holder = sqlite3.connect(root / ".flowtrail" / "registry.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        done = _run_script(root, _env(FLOWTRAIL_DB_TIMEOUT="1"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode == 0, done.stderr
    assert len(_journal_files(root)) == 1
    assert _runs(root) == undisturbed  # connecting replayed it: no `flowtrail sync` needed
    assert _journal_files(root) == []


@pytest.mark.postgres
def test_a_script_runs_through_a_postgres_outage_and_sync_records_it(tmp_path, postgres_url, undisturbed):
    proxy = TcpProxy(int(postgres_url.rsplit(":", 1)[1].split("/", 1)[0]))
    root = tmp_path / "project"
    ft.init(root, db=proxy.url(postgres_url))
    disconnect()
    proxy.close()  # the server is gone: connections are refused
    done = _run_script(root, _env())
    assert done.returncode == 0, done.stderr
    assert len(_journal_files(root)) == 1
    env = _env(FLOWTRAIL_DB_URL=postgres_url)  # the server is back (reached directly)
    synced = _sync(root, env)
    assert synced.returncode == 0 and "1 journal file(s) recorded" in synced.stdout, synced.stdout + synced.stderr
    os.environ["FLOWTRAIL_DB_URL"] = postgres_url
    try:
        assert _runs(root) == undisturbed
    finally:
        del os.environ["FLOWTRAIL_DB_URL"]


def test_a_script_killed_during_an_outage_is_recorded_aborted(tmp_path):
    root = tmp_path / "project"
    ft.init(root)
    disconnect()
    (root / "long.py").write_text("import time\nimport flowtrail as ft\nft.track()\nprint('ready', flush=True)\n"
                                  "time.sleep(120)\n")  # fmt: skip
    holder = sqlite3.connect(root / ".flowtrail" / "registry.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    child = subprocess.Popen([sys.executable, "long.py"], cwd=root, env=_env(FLOWTRAIL_DB_TIMEOUT="1"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    early = _sync(root, _env())
    assert "still writing" in early.stdout and "0 journal file(s) recorded" in early.stdout  # alive: not replayed
    assert len(_journal_files(root)) == 1
    child.kill()
    child.wait(60)
    synced = _sync(root, _env())
    assert "1 journal file(s) recorded" in synced.stdout, synced.stdout + synced.stderr
    assert [(key, status) for key, status, _, _ in _runs(root)] == [("long.py", "aborted")]


def test_another_hosts_journal_waits_for_its_last_entry(instance):
    """A journal in a shared folder written on another machine is replayed once it is complete."""
    folder = instance.config.root / ".flowtrail" / "journal"
    folder.mkdir()
    path = folder / "script-otherhost-4242-AbCdEf.ndjson"
    lines = [
        {"op": "header", "kind": "script", "replayer": "flowtrail.core.runs.script_journal:replay", "pid": 4242},
        {"op": "start", "uid": "0192f0e4-0000-7000-8000-000000000001", "key": "remote.py", "type": "script",
         "started_at": "2026-12-04T10:00:00+00:00", "params": {"n": 1}},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    from flowtrail.core.runs.journal import sync

    report = sync(instance)
    assert report.busy == [path] and report.replayed == []
    with path.open("a") as handle:
        handle.write(json.dumps({"op": "finish", "uid": lines[1]["uid"], "status": "completed", "error": None,
                                 "finished_at": "2026-12-04T10:05:00+00:00"}) + "\n")  # fmt: skip
    assert sync(instance).replayed == [path] and not path.exists()
    run = ft.Run.get(uid=lines[1]["uid"])
    assert (run.transform.key, run.status, run.params) == ("remote.py", "completed", {"n": 1})
