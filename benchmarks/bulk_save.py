"""Benchmark: registering many small files, in one bulk call and one at a time.

Run with ``python benchmarks/bulk_save.py``. Everything happens in a temporary folder that is
removed afterwards. Each repetition uses a fresh instance and fresh files with unique content.

Measured (median of several repetitions, milliseconds per artifact):

- floor: what any registry must at least do for a managed copy: copy the file, MD5 it, and
  insert one row per file in a single SQLite transaction (stdlib sqlite3 + shutil + hashlib,
  WAL journal and synchronous=NORMAL like flowtrail). Every ratio is against this floor.
- floor + fsync: the floor plus one fsync per copied file (the durability a registry that
  promises "no row without its object" pays); shown for context, not used as the baseline.
- flowtrail bulk: ``flowtrail.save([Artifact(path, key=...), ...])`` for all files at once,
  timed from constructing the Artifacts to the committed transaction.
- flowtrail one at a time: ``Artifact(path, key=...).save()`` per file.

Both flowtrail variants run for managed copies (files outside every storage location, copied
into the instance's storage) and for in-place registration (files inside a folder registered
with ``flowtrail.Storage.register(folder)``, hashed where they are).

Targets (issue 13): bulk within 3x the floor measured in the same run, one at a time <= 1.0 ms/artifact
(earlier target: bulk <= 0.5 ms, one at a time <= 2 ms). CPU time per file (all threads of this
process) is printed beside wall time: on a busy machine it moves less than wall time.
The script never fails on a missed target; it prints the numbers and whether each target is met.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

N_FILES = 1000  # files per bulk repetition
N_SINGLE = 1000  # files per one-at-a-time repetition
REPEATS_BULK = 5
REPEATS_SINGLE = 3
MIN_SIZE, MAX_SIZE = 1024, 4096
TARGET_BULK_X_FLOOR = 3.0
TARGET_SINGLE_MS = 1.0

for _variable in ("FLOWTRAIL_INSTANCE", "FLOWTRAIL_DB_URL", "FLOWTRAIL_STORAGE"):
    os.environ.pop(_variable, None)  # the benchmark must use its own temporary instances

import flowtrail  # noqa: E402
from flowtrail.core.db.context import disconnect  # noqa: E402

_rng = random.Random(20240601)
Timing = tuple[float, float]  # wall seconds, CPU seconds of this process (all threads)
Target = tuple[str, float]  # ("ms", ms/file) or ("x", times the floor)


def make_files(folder: Path, n: int) -> list[Path]:
    """``n`` files of 1-4 KB with unique random content."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"f{i:05d}.bin"
        path.write_bytes(os.urandom(_rng.randint(MIN_SIZE, MAX_SIZE)))
        paths.append(path)
    return paths


# -- the floor ---------------------------------------------------------------------------------

FLOOR_SCHEMA = """
CREATE TABLE artifact (
    id INTEGER PRIMARY KEY, uid VARCHAR(20) UNIQUE, key VARCHAR(1024), description TEXT,
    suffix VARCHAR(64), kind VARCHAR(32), otype VARCHAR(64), size BIGINT, hash VARCHAR(64),
    hash_type VARCHAR(32), n_files INTEGER, n_observations BIGINT, storage_id INTEGER,
    path VARCHAR(2048), is_managed BOOLEAN, version INTEGER, is_latest BOOLEAN,
    created_at DATETIME, created_by VARCHAR(256), run_id INTEGER
);
CREATE INDEX ix_artifact_key ON artifact (key);
CREATE INDEX ix_artifact_hash ON artifact (hash);
CREATE INDEX ix_artifact_storage_id ON artifact (storage_id);
CREATE INDEX ix_artifact_is_latest ON artifact (is_latest);
CREATE INDEX ix_artifact_run_id ON artifact (run_id);
"""


def floor(files: list[Path], work: Path, fsync: bool) -> Timing:
    """Copy + MD5 every file, then insert one row per file in one SQLite transaction."""
    storage = work / "storage"
    storage.mkdir()
    db = sqlite3.connect(work / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.executescript(FLOOR_SCHEMA)
    start, cpu = time.perf_counter(), time.process_time()
    rows = []
    for i, source in enumerate(files):
        target = storage / f"{i:016d}0001.bin"
        shutil.copyfile(source, target)
        if fsync:
            fd = os.open(target, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        with open(target, "rb") as handle:
            digest = hashlib.md5(handle.read()).hexdigest()
        rows.append(
            (f"{i:016d}0001", f"floor/{source.name}", ".bin", "file", target.stat().st_size, digest, "md5", 1,
             1, target.name, True, 1, True, "2024-01-01 00:00:00", "bench")
        )  # fmt: skip
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO artifact (uid, key, suffix, kind, size, hash, hash_type, n_files, storage_id, path,"
        " is_managed, version, is_latest, created_at, created_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    db.execute("COMMIT")
    elapsed = time.perf_counter() - start, time.process_time() - cpu
    db.close()
    return elapsed


# -- flowtrail ---------------------------------------------------------------------------------


def fresh_instance(work: Path) -> Path:
    root = work / "instance"
    flowtrail.init(root)
    return root


def flowtrail_bulk(files: list[Path], work: Path, in_place: bool) -> Timing:
    fresh_instance(work)
    if in_place:
        flowtrail.Storage.register(files[0].parent)
        keys = [p.name for p in files]
    else:
        keys = [f"bulk/{p.name}" for p in files]
    start, cpu = time.perf_counter(), time.process_time()
    saved = flowtrail.save([flowtrail.Artifact(p, key=k) for p, k in zip(files, keys)])
    elapsed = time.perf_counter() - start, time.process_time() - cpu
    assert len({a.id for a in saved}) == len(files), "every file must get its own record"
    disconnect()
    return elapsed


def flowtrail_single(files: list[Path], work: Path, in_place: bool) -> Timing:
    fresh_instance(work)
    if in_place:
        flowtrail.Storage.register(files[0].parent)
        keys = [p.name for p in files]
    else:
        keys = [f"single/{p.name}" for p in files]
    start, cpu = time.perf_counter(), time.process_time()
    for path, key in zip(files, keys):
        flowtrail.Artifact(path, key=key).save()
    elapsed = time.perf_counter() - start, time.process_time() - cpu
    disconnect()
    return elapsed


# -- driver ------------------------------------------------------------------------------------


def measure(base: Path, name: str, n: int, repeats: int, run: Callable[[list[Path], Path], Timing]) -> list[Timing]:
    """(wall, CPU) seconds per repetition, each in a fresh work folder with fresh files."""
    times = []
    for rep in range(repeats):
        work = base / f"{name}-{rep}"
        files = make_files(work / "data", n)
        try:
            times.append(run(files, work))
        finally:
            disconnect()
            shutil.rmtree(work, ignore_errors=True)
    return times


def main() -> int:
    print(f"bulk_save: registering {N_FILES} files of {MIN_SIZE // 1024}-{MAX_SIZE // 1024} KB (unique content)")
    load = os.getloadavg()[0]
    print(f"python {sys.version.split()[0]}, flowtrail {flowtrail.__version__}, {os.cpu_count()} CPUs, load average {load:.2f}")
    if load > (os.cpu_count() or 1):
        print("  note: the machine is busy; fsync and file-creation latency (and so every number) are noisier.")
    base = Path(tempfile.mkdtemp(prefix="flowtrail-bench-bulk-"))
    results: list[tuple[str, int, list[Timing], Target | None]] = []
    try:
        plan: list[tuple[str, int, int, Callable[[list[Path], Path], Timing], Target | None]] = [
            ("floor: copy + md5 + 1 sqlite txn", N_FILES, REPEATS_BULK, lambda f, w: floor(f, w, False), None),
            ("floor + fsync per file (context)", N_FILES, REPEATS_BULK, lambda f, w: floor(f, w, True), None),
            ("flowtrail.save(list), managed copy", N_FILES, REPEATS_BULK,
             lambda f, w: flowtrail_bulk(f, w, False), ("x", TARGET_BULK_X_FLOOR)),
            ("flowtrail.save(list), in place", N_FILES, REPEATS_BULK,
             lambda f, w: flowtrail_bulk(f, w, True), ("x", TARGET_BULK_X_FLOOR)),
            ("Artifact.save() each, managed copy", N_SINGLE, REPEATS_SINGLE,
             lambda f, w: flowtrail_single(f, w, False), ("ms", TARGET_SINGLE_MS)),
            ("Artifact.save() each, in place", N_SINGLE, REPEATS_SINGLE,
             lambda f, w: flowtrail_single(f, w, True), ("ms", TARGET_SINGLE_MS)),
        ]  # fmt: skip
        for index, (name, n, repeats, run, target) in enumerate(plan):
            print(f"  running {name} ({repeats} x {n} files) ...", flush=True)
            times = measure(base, f"scenario{index}", n, repeats, run)
            results.append((name, n, times, target))
    finally:
        disconnect()
        shutil.rmtree(base, ignore_errors=True)

    floor_ms = statistics.median(wall for wall, _ in results[0][2]) / results[0][1] * 1e3
    header = (
        f"{'scenario':<38} {'files':>5} {'ms/file':>8} {'min-max ms/file':>16} {'cpu ms':>7} {'x floor':>8}"
        f" {'target':>10} {'met':>4}"
    )
    print()
    print(header)
    print("-" * len(header))
    for name, n, times, target in results:
        per = [wall / n * 1e3 for wall, _ in times]
        median_ms = statistics.median(per)
        cpu_ms = statistics.median(cpu / n * 1e3 for _, cpu in times)
        ratio = median_ms / floor_ms
        if target is None:
            target_text, met = "-", "-"
        else:
            unit, limit = target
            target_text = f"<= {limit:g} ms" if unit == "ms" else f"<= {limit:g}x"
            met = "yes" if (median_ms if unit == "ms" else ratio) <= limit else "NO"
        print(
            f"{name:<38} {n:>5} {median_ms:>8.3f} {f'{min(per):.3f}-{max(per):.3f}':>16} {cpu_ms:>7.3f}"
            f" {ratio:>7.1f}x {target_text:>10} {met:>4}"
        )
    print()
    print(f"floor = {floor_ms:.3f} ms/file (median of {REPEATS_BULK}); ratios are median ms/file divided by it.")
    print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    print("Targets (issue 13): bulk save <= 3x the floor, one-at-a-time save <= 1.0 ms/artifact.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
