"""A process killed (SIGKILL) at any moment of a save leaves the registry consistent.

Real child processes save large files (copied into managed storage), bulk batches of small files
and key-less duplicates in a loop; the test kills them after varied delays, so kills land while
copying, hashing, waiting for the write lock, moving objects, committing or cleaning up. Then:

- every row points at an existing object whose md5 and size are the recorded ones;
- every recorded hash is the hash of a complete source file (no row for a partial object);
- every save a child saw return is still registered (nothing acknowledged is lost);
- versions stay unique with exactly one latest per key, and key-less duplicates stay single;
- the registry keeps working: a new save and a new version succeed afterwards.

Run as a script, this file is the child that saves in a loop until it is killed.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIG_SIZE = 24 * 1024 * 1024
N_BIG = 3  # distinct large contents saved in turn under one key: each save is a new version
# Per round: kill each child this many seconds (plus up to 0.5 s of jitter) after it connected,
# or after its first save returned (so some rounds always get past the first save, however busy
# the machine is).
ROUNDS = (("connected", 0.0), ("connected", 0.3), ("connected", 0.8), ("saved", 0.0), ("saved", 0.4), ("saved", 1.2))
CHILDREN_PER_ROUND = 2

pytestmark = pytest.mark.slow


# -- the child (runs in a separate process until it is killed) ----------------------------------


def saver(folder: Path, sources: Path) -> None:
    """Save large and small files in a loop, reporting each returned record on its own line."""
    import flowtrail

    bigs = sorted(sources.glob("big-*.bin"))
    keyless = sources / "keyless.bin"
    report = os.open(folder / "saved.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def saved(*records: flowtrail.Artifact) -> None:
        os.write(report, "".join(f"{r.uid} {r.hash}\n" for r in records).encode())

    flowtrail.connect()  # from FLOWTRAIL_INSTANCE or FLOWTRAIL_DB_URL + FLOWTRAIL_STORAGE
    os.write(report, b"connected\n")
    pid, n = os.getpid(), 0
    while True:
        saved(flowtrail.Artifact(bigs[n % len(bigs)], key="big.bin").save())
        smalls = []
        for i in range(30):
            path = folder / f"small-{pid}-{n}-{i}.txt"
            path.write_text(f"small file {i} of round {n} in process {pid}\n" * 20)
            smalls.append(flowtrail.Artifact(path, key=f"small/{path.name}"))
        saved(*flowtrail.save(smalls))
        saved(flowtrail.Artifact(keyless).save())  # the same content every time: one artifact
        n += 1


# -- the test -----------------------------------------------------------------------------------


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def make_sources(folder: Path) -> dict[str, str]:
    """Write the large files the children save; return their md5 by name."""
    folder.mkdir()
    rng = random.Random(1)
    for i in range(N_BIG):
        (folder / f"big-{i}.bin").write_bytes(rng.randbytes(BIG_SIZE))
    (folder / "keyless.bin").write_bytes(rng.randbytes(BIG_SIZE // 4))
    return {path.name: md5(path) for path in folder.iterdir()}


def kill_children_at_varied_moments(tmp_path: Path, sources: Path, env: dict[str, str], seed: int) -> list[Path]:
    """Run rounds of children and SIGKILL each after a delay; return the children's folders."""
    rng = random.Random(seed)
    folders: list[Path] = []
    for round_number, (event, base_delay) in enumerate(ROUNDS):
        children = []
        for c in range(CHILDREN_PER_ROUND):
            folder = tmp_path / "children" / f"r{round_number}c{c}"
            folder.mkdir(parents=True)
            log = open(folder / "log.txt", "wb")  # noqa: SIM115 - closed below
            process = subprocess.Popen(
                [sys.executable, __file__, str(folder), str(sources)],
                cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            children.append((process, folder, log, base_delay + rng.uniform(0, 0.5)))
            folders.append(folder)
        try:
            for process, folder, _log, delay in children:
                # One child after the other: wait for its moment, then kill it.
                deadline = time.monotonic() + 120
                while _reported_lines(folder) < (1 if event == "connected" else 2):
                    assert process.poll() is None, f"a child died before it was killed:\n{_tail(folder)}"
                    assert time.monotonic() < deadline, f"a child was not {event} within 120 s:\n{_tail(folder)}"
                    time.sleep(0.005)
                time.sleep(delay)
                assert process.poll() is None, f"a child stopped by itself:\n{_tail(folder)}"
                process.send_signal(signal.SIGKILL)
        finally:
            for process, _folder, log, _delay in children:
                if process.poll() is None:
                    process.kill()
                process.wait()
                log.close()
        for process, _folder, _log, _delay in children:
            assert process.returncode == -signal.SIGKILL
    return folders


def _reported_lines(folder: Path) -> int:
    """1 once the child is connected, more once saves returned."""
    path = folder / "saved.txt"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _tail(folder: Path) -> str:
    lines = (folder / "log.txt").read_text(errors="replace").splitlines()[-20:]
    return "\n".join(line[:300] for line in lines)


def acknowledged(folders: list[Path]) -> dict[str, str]:
    """uid -> hash of every save a child saw return (a line cut short by the kill is ignored)."""
    result = {}
    for folder in folders:
        for line in (folder / "saved.txt").read_text().splitlines()[1:]:
            uid, _, hash_ = line.partition(" ")
            if len(uid) == 20 and len(hash_) == 32:
                result[uid] = hash_
    return result


def check_registry(folders: list[Path], source_hashes: dict[str, str]) -> int:
    """Assert the registry invariants after the kills; return how many artifacts it holds."""
    import flowtrail

    rows = list(flowtrail.Artifact.all())
    by_uid = {row.uid: row for row in rows}

    for row in rows:
        assert ".tmp-" not in row.path, f"{row} points at a temporary object"
        location = Path(row.location)
        assert location.is_file(), f"{row} has no object at {location}"
        assert location.stat().st_size == row.size, f"{row}: the object's size is not the recorded one"
        assert md5(location) == row.hash, f"{row}: the object's md5 is not the recorded hash"

    # The recorded hash is that of a complete source file, never of a partial copy.
    big_hashes = {source_hashes[f"big-{i}.bin"] for i in range(N_BIG)}
    small_sources = {p.name: p for folder in folders for p in folder.glob("small-*.txt")}
    for row in rows:
        if row.key == "big.bin":
            assert row.hash in big_hashes, row
        elif row.key is None:
            assert row.hash == source_hashes["keyless.bin"], row
        else:
            assert md5(small_sources[row.key.removeprefix("small/")]) == row.hash, row

    # Nothing a child saw saved is lost.
    for uid, hash_ in acknowledged(folders).items():
        assert uid in by_uid, f"the acknowledged save {uid} is not registered"
        assert by_uid[uid].hash == hash_

    # One latest per key, versions unique; key-less duplicates stay one artifact.
    big = sorted(row.version for row in rows if row.key == "big.bin")
    assert len(big) == len(set(big))
    assert [row.version for row in rows if row.key == "big.bin" and row.is_latest] == [max(big)]
    small_keys = [row.key for row in rows if row.key and row.key.startswith("small/")]
    assert len(small_keys) == len(set(small_keys))
    assert all(row.is_latest and row.version == 1 for row in rows if row.key in small_keys)
    assert len([row for row in rows if row.key is None]) <= 1
    return len(rows)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_killed_saves_leave_a_consistent_usable_registry(backend, request, tmp_path):
    if backend == "sqlite":
        inst = request.getfixturevalue("instance")
        env = {"FLOWTRAIL_INSTANCE": str(inst.config.root)}
    else:
        inst = request.getfixturevalue("pg_instance")
        env = {
            "FLOWTRAIL_DB_URL": request.getfixturevalue("postgres_url"),
            "FLOWTRAIL_STORAGE": inst.default_storage.root,
        }
    env.update({k: v for k, v in os.environ.items() if not k.startswith("FLOWTRAIL_")})
    sources = tmp_path / "sources"
    source_hashes = make_sources(sources)
    seed = random.randrange(2**32)
    print(f"kill delays seeded with {seed}")

    folders = kill_children_at_varied_moments(tmp_path, sources, env, seed)
    acked = acknowledged(folders)
    assert acked  # the "saved" rounds wait for a save to return
    n_rows = check_registry(folders, source_hashes)
    managed = Path(inst.default_storage.root) / ".flowtrail"
    leftovers = len(list(managed.glob("*/.tmp-*"))) if managed.exists() else 0
    print(f"{len(acked)} saves acknowledged, {n_rows} artifacts, {leftovers} temporary objects left by kills")

    if backend == "sqlite":
        with inst.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"

    # The registry still works: a new artifact and a new version of the contended key.
    import flowtrail

    fresh = tmp_path / "after.txt"
    fresh.write_text("saved after the crashes\n")
    record = flowtrail.Artifact(fresh, key="after.txt").save()
    assert record.version == 1 and Path(record.location).read_text() == "saved after the crashes\n"
    newest = flowtrail.Artifact.filter(key="big.bin", is_latest=True).one_or_none()
    (tmp_path / "big-new.bin").write_bytes(b"a new version\n")
    version = flowtrail.Artifact(tmp_path / "big-new.bin", key="big.bin").save()
    assert version.is_latest and version.version == (newest.version + 1 if newest else 1)
    assert flowtrail.Artifact.filter(key="big.bin", is_latest=True).count() == 1
    assert flowtrail.Artifact.all().count() == n_rows + 2

    # Free the disk on success (several hundred MB of managed copies); failures keep it to inspect.
    shutil.rmtree(tmp_path / "children", ignore_errors=True)
    shutil.rmtree(sources, ignore_errors=True)
    shutil.rmtree(inst.default_storage.root, ignore_errors=True)


if __name__ == "__main__":
    saver(Path(sys.argv[1]), Path(sys.argv[2]))
