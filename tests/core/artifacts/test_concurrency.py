"""Many processes registering into one registry at once end with no duplicates and nothing lost.

16 real processes (started with ``python this_file.py``, so each has its own interpreter,
connections and locks) each register 500 small files into one instance, mixing:

- unique content under keys only that process uses (must all be registered, once);
- the same content under shared keys every process saves (must end as ONE artifact per key);
- identical key-less content every process saves (must end as ONE artifact per content);

half through single ``Artifact.save()`` calls and half through bulk ``flowtrail.save([...])``.
The processes wait at a start line so their saves really overlap. Run as a script, this file
is the worker.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

N_PROCESSES = 16
N_PER_PROCESS = 500
N_SHARED_KEYS = 40  # keyed artifacts every process saves with identical content
N_KEYLESS = 10  # key-less contents every process saves
N_UNIQUE = N_PER_PROCESS - N_SHARED_KEYS - N_KEYLESS
START_TIMEOUT = 120  # seconds the workers wait at the start line
RUN_TIMEOUT = 240  # seconds the whole run may take before the test gives up

pytestmark = pytest.mark.slow


def shared_content(i: int) -> bytes:
    return f"shared content {i}\n".encode() * 8


def keyless_content(i: int) -> bytes:
    return f"key-less content {i}\n".encode() * 8


def unique_content(worker: int, i: int) -> bytes:
    return f"unique content of worker {worker}, file {i}\n".encode() * 4


# -- the worker (runs in a child process) -------------------------------------------------------


def worker(index: int, folder: Path, start_line: Path) -> None:
    """Write this worker's files, wait at the start line, register them all, report the uids."""
    import flowtrail

    items: list[tuple[str, str | None, Path]] = []  # (kind, key, path)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(N_UNIQUE):
        path = folder / f"unique-{i}.txt"
        path.write_bytes(unique_content(index, i))
        items.append(("unique", f"worker{index}/file{i}.txt", path))
    for i in range(N_SHARED_KEYS):
        path = folder / f"shared-{i}.txt"
        path.write_bytes(shared_content(i))
        items.append(("shared", f"shared/file{i}.txt", path))
    for i in range(N_KEYLESS):
        path = folder / f"keyless-{i}.dat"
        path.write_bytes(keyless_content(i))
        items.append(("keyless", None, path))
    rng = random.Random(index)
    rng.shuffle(items)

    flowtrail.connect()  # from FLOWTRAIL_INSTANCE or FLOWTRAIL_DB_URL + FLOWTRAIL_STORAGE
    (folder / "ready").touch()
    deadline = time.monotonic() + START_TIMEOUT
    while not start_line.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never opened the start line")
        time.sleep(0.01)

    report: list[dict[str, str | None]] = []
    position = 0
    while position < len(items):
        # Alternate single saves and bulk saves of 2..40 artifacts.
        size = 1 if rng.random() < 0.5 else rng.randint(2, 40)
        chunk = items[position : position + size]
        position += len(chunk)
        artifacts = [flowtrail.Artifact(path, key=key) for _kind, key, path in chunk]
        saved = [artifacts[0].save()] if len(artifacts) == 1 else flowtrail.save(artifacts)
        assert len(saved) == len(chunk)
        for (kind, key, path), record in zip(chunk, saved, strict=True):
            report.append({"kind": kind, "key": key, "name": path.name, "uid": record.uid, "hash": record.hash})
    (folder / "report.json").write_text(json.dumps(report))


# -- the test -----------------------------------------------------------------------------------


def run_workers(tmp_path: Path, env: dict[str, str]) -> list[list[dict[str, str | None]]]:
    """Start the workers, open the start line once all are ready, and return their reports."""
    start_line = tmp_path / "go"
    folders = [tmp_path / "workers" / f"w{i}" for i in range(N_PROCESSES)]
    processes = []
    for i, folder in enumerate(folders):
        folder.mkdir(parents=True)
        log = open(folder / "log.txt", "wb")  # noqa: SIM115 - closed below
        processes.append(
            (
                subprocess.Popen(
                    [sys.executable, __file__, str(i), str(folder), str(start_line)],
                    cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                ),
                log,
            )
        )  # fmt: skip
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        while not all((f / "ready").exists() for f in folders):
            crashed = [i for i, (p, _) in enumerate(processes) if p.poll() is not None]
            assert not crashed, f"workers {crashed} exited before the start:\n" + _logs(folders, crashed)
            assert time.monotonic() < deadline, "the workers did not get ready in time"
            time.sleep(0.02)
        start_line.touch()
        for process, _log in processes:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for process, log in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    failed = [i for i, (p, _) in enumerate(processes) if p.returncode != 0]
    assert not failed, f"workers {failed} failed:\n" + _logs(folders, failed)
    return [json.loads((f / "report.json").read_text()) for f in folders]


def _logs(folders: list[Path], indices: list[int]) -> str:
    """The end of the first failed workers' output, each line clipped (SQL errors list every parameter)."""
    parts = []
    for i in indices[:3]:
        lines = (folders[i] / "log.txt").read_text(errors="replace").splitlines()[-25:]
        parts.append(f"--- worker {i} ---\n" + "\n".join(line[:300] for line in lines))
    return "\n".join(parts)


def check_registry(reports: list[list[dict[str, str | None]]]) -> None:
    """The registry holds exactly what the workers saved, once, and every object is intact."""
    from sqlalchemy import func, select

    import flowtrail
    from flowtrail.core.db.context import current
    from flowtrail.core.models.artifact import Artifact

    expected_unique = N_PROCESSES * N_UNIQUE
    rows = list(flowtrail.Artifact.all())
    assert len(rows) == expected_unique + N_SHARED_KEYS + N_KEYLESS

    # Nothing lost: every uid a worker was handed is in the registry.
    by_uid = {row.uid: row for row in rows}
    for report in reports:
        assert len(report) == N_PER_PROCESS
        missing = [entry for entry in report if entry["uid"] not in by_uid]
        assert not missing, f"{len(missing)} records a worker got back are not registered, e.g. {missing[:3]}"

    # Shared keys: one artifact each, version 1, and every worker got that same record back.
    for i in range(N_SHARED_KEYS):
        versions = list(flowtrail.Artifact.filter(key=f"shared/file{i}.txt"))
        assert len(versions) == 1, [(a.uid, a.version, a.is_latest) for a in versions]
        assert versions[0].version == 1 and versions[0].is_latest
        assert versions[0].hash == hashlib.md5(shared_content(i)).hexdigest()
    shared_uids = {(e["key"], e["uid"]) for report in reports for e in report if e["kind"] == "shared"}
    assert len(shared_uids) == N_SHARED_KEYS

    # Key-less duplicates: one artifact per content, and every worker got that one back.
    keyless = [row for row in rows if row.key is None]
    assert sorted(row.hash for row in keyless) == sorted(
        hashlib.md5(keyless_content(i)).hexdigest() for i in range(N_KEYLESS)
    )
    keyless_uids = {e["uid"] for report in reports for e in report if e["kind"] == "keyless"}
    assert keyless_uids == {row.uid for row in keyless}

    # Unique files: each registered once, under its own key, with its own content.
    unique_keys = Counter(row.key for row in rows if row.key and not row.key.startswith("shared/"))
    assert len(unique_keys) == expected_unique and set(unique_keys.values()) == {1}

    # The constraints the registry relies on, checked in SQL.
    session = current().sessions.current()
    duplicate_versions = session.execute(
        select(Artifact.storage_id, Artifact.key, Artifact.version, func.count())
        .where(Artifact.key.is_not(None))
        .group_by(Artifact.storage_id, Artifact.key, Artifact.version)
        .having(func.count() > 1)
    ).all()
    assert duplicate_versions == []
    two_latest = session.execute(
        select(Artifact.key, func.count())
        .where(Artifact.key.is_not(None), Artifact.is_latest.is_(True))
        .group_by(Artifact.storage_id, Artifact.key)
        .having(func.count() > 1)
    ).all()
    assert two_latest == []
    assert len({row.uid for row in rows}) == len(rows)
    current().sessions.end_read()

    # Every row points at a managed object whose bytes hash to the recorded md5.
    for row in rows:
        path = Path(row.location)
        assert row.is_managed and path.is_file(), row
        assert hashlib.md5(path.read_bytes()).hexdigest() == row.hash, row
        assert path.stat().st_size == row.size


def test_16_processes_register_into_one_sqlite_instance(instance, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRAIL_")}
    env["FLOWTRAIL_INSTANCE"] = str(instance.config.root)
    reports = run_workers(tmp_path, env)
    check_registry(reports)


@pytest.mark.postgres
def test_16_processes_register_into_one_postgres_registry(pg_instance, postgres_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRAIL_")}
    env["FLOWTRAIL_DB_URL"] = postgres_url
    env["FLOWTRAIL_STORAGE"] = pg_instance.default_storage.root
    reports = run_workers(tmp_path, env)
    check_registry(reports)


if __name__ == "__main__":
    worker(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
