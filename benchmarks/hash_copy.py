"""Benchmark: hashing and copying one large file, against ``md5sum`` and ``cp``.

Run with ``python benchmarks/hash_copy.py`` (``--size-mib N`` for another size). A 1 GiB file of
pseudo-random data is written to a temporary folder under the system temp dir, read once so it
sits in the page cache, and then, alternating round by round (median of 3):

- ``md5sum FILE`` (subprocess): the floor of in-place registration;
- ``cp FILE COPY`` (subprocess, no fsync; GNU cp copies inside the kernel), and ``md5sum`` then
  ``cp`` one after the other (``md5sum + cp``): the floor of a managed save;
- ``flowtrail.core.util.hashing.hash_file``: hashing alone (used for in-place registration);
- ``flowtrail.core.util.copying.copy_file_and_hash`` without and with fsync: the kernel copies while a
  thread hashes the copy;
- ``flowtrail.Artifact(FILE, key=...).save()`` into managed storage of a fresh instance (MD5,
  and BLAKE3 for context when the ``blake3`` extra is installed);
- ``flowtrail.Artifact(FILE).save()`` of the file inside a registered storage location (in
  place: hashed, never copied) in a fresh instance.

Targets (issue 20): managed save <= 1.2 x (md5sum + cp); in-place save <= 1.1 x md5sum. Every
file is deleted afterwards. The script never fails on a missed target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPEATS = 3
TARGET_MANAGED = 1.2  # x (md5sum + cp)
TARGET_IN_PLACE = 1.1  # x md5sum
BLOCK = 16 * 1024 * 1024

for _variable in ("FLOWTRAIL_INSTANCE", "FLOWTRAIL_DB_URL", "FLOWTRAIL_STORAGE"):
    os.environ.pop(_variable, None)

import flowtrail  # noqa: E402
from flowtrail.core.db.context import disconnect  # noqa: E402
from flowtrail.core.util.copying import copy_file_and_hash  # noqa: E402
from flowtrail.core.util.hashing import hash_file  # noqa: E402

MD5SUM = "md5sum (floor, in place)"
MD5SUM_CP = "md5sum + cp (floor, managed)"
SAVE_MANAGED = "Artifact.save(), managed"
SAVE_IN_PLACE = "Artifact.save(), in place"


def has_blake3() -> bool:
    try:
        import blake3  # noqa: F401
    except ImportError:
        return False
    return True


def make_file(path: Path, size: int) -> None:
    """Pseudo-random content, fast: one random block, varied per block so no block repeats."""
    base = os.urandom(BLOCK)
    written = 0
    with open(path, "wb") as out:
        index = 0
        while written < size:
            block = bytearray(base[: min(BLOCK, size - written)])
            stamp = index.to_bytes(8, "little") * 64  # 512 bytes that differ from block to block
            block[: len(stamp)] = stamp[: len(block)]
            out.write(block)
            written += len(block)
            index += 1


def warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as handle:
        while handle.read(BLOCK):
            pass


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the test file in MiB (default 1024)")
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    md5sum = shutil.which("md5sum")
    cp = shutil.which("cp")
    load = os.getloadavg()[0]
    print(f"hash_copy: one {args.size_mib} MiB file in the page cache, median of {REPEATS} alternating rounds")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.2f}")
    if load > (os.cpu_count() or 1):
        print("  note: the machine is busy; absolute numbers are noisier than usual.")
    if md5sum is None:
        print("md5sum is not installed: the baseline cannot be measured, so nothing is compared. Skipping.")
        return 0

    base = Path(tempfile.mkdtemp(prefix="flowtrail-bench-hash-"))
    expected = None
    times: dict[str, list[float]] = {}
    try:
        source = base / "big.bin"
        start = time.perf_counter()
        make_file(source, size)
        print(f"  wrote {source} in {time.perf_counter() - start:.1f} s; warming the page cache ...", flush=True)
        warm(source)
        warm(source)
        copy = base / "copy.bin"

        def run_md5sum() -> None:
            nonlocal expected
            out = subprocess.run([md5sum, str(source)], check=True, capture_output=True, text=True).stdout
            expected = out.split()[0]

        def run_cp() -> None:
            subprocess.run([cp, str(source), str(copy)], check=True)

        def run_hash() -> None:
            digest = hash_file(source)
            assert expected is None or digest.hash == expected, "hash_file disagrees with md5sum"

        def run_copy_hash() -> None:
            digest = copy_file_and_hash(source, copy)
            assert expected is None or digest.hash == expected, "copy_file_and_hash disagrees with md5sum"

        def run_copy_hash_no_fsync() -> None:
            digest = copy_file_and_hash(source, copy, fsync=False)
            assert expected is None or digest.hash == expected, "copy_file_and_hash disagrees with md5sum"

        instance_root = base / "instance"

        def run_md5sum_then_cp() -> None:
            run_md5sum()
            run_cp()

        def run_save() -> None:
            artifact = flowtrail.Artifact(source, key="big.bin").save()
            assert expected is None or artifact.hash == expected, "Artifact.hash disagrees with md5sum"

        def run_save_blake3() -> None:
            artifact = flowtrail.Artifact(source, key="big.bin").save()
            assert artifact.hash_type == "blake3" and len(artifact.hash or "") == 64

        def run_save_in_place() -> None:
            artifact = flowtrail.Artifact(source).save()
            assert not artifact.is_managed, "the file should have been registered in place"
            assert expected is None or artifact.hash == expected, "Artifact.hash disagrees with md5sum"

        def before_save(hash_algorithm: str | None = None) -> Callable[[], None]:
            return lambda: flowtrail.init(instance_root, hash=hash_algorithm)

        def before_in_place() -> None:
            flowtrail.init(instance_root)
            flowtrail.Storage.register(base)

        def after_save() -> None:
            disconnect()
            shutil.rmtree(instance_root, ignore_errors=True)

        def remove_copy() -> None:
            copy.unlink(missing_ok=True)

        plan: list[tuple[str, Callable[[], None], Callable[[], None] | None, Callable[[], None] | None]] = [
            (MD5SUM, run_md5sum, None, None),
            ("cp, no fsync", run_cp, None, remove_copy),
            (MD5SUM_CP, run_md5sum_then_cp, None, remove_copy),
            ("hash_file", run_hash, None, None),
            ("copy_file_and_hash, no fsync", run_copy_hash_no_fsync, None, remove_copy),
            ("copy_file_and_hash, fsync", run_copy_hash, None, remove_copy),
            (SAVE_MANAGED, run_save, before_save(), after_save),
            (SAVE_IN_PLACE, run_save_in_place, before_in_place, after_save),
        ]
        if has_blake3():
            plan.append(("Artifact.save(), managed, blake3", run_save_blake3, before_save("blake3"), after_save))
        times = {name: [] for name, *_ in plan}
        print("  rounds: ", end="", flush=True)
        for _round in range(REPEATS):
            for name, action, setup, teardown in plan:
                if setup:
                    setup()
                try:
                    times[name].append(timed(action))
                finally:
                    if teardown:
                        teardown()
                warm(source)  # keep the source in the page cache whatever the copies evicted
            print(".", end="", flush=True)
        print()
    finally:
        disconnect()
        shutil.rmtree(base, ignore_errors=True)

    medians = {name: statistics.median(values) for name, values in times.items()}
    floors = {SAVE_MANAGED: (MD5SUM_CP, TARGET_MANAGED), SAVE_IN_PLACE: (MD5SUM, TARGET_IN_PLACE)}
    header = (f"{'operation':<36} {'median s':>9} {'min s':>7} {'max s':>7} {'MiB/s':>7} {'x md5sum':>9} "
              f"{'x floor':>8} {'target':>8} {'met':>4}")  # fmt: skip
    print()
    print(header)
    print("-" * len(header))
    for name, values in times.items():
        median = medians[name]
        floor_name, target = floors.get(name, (None, None))
        versus = f"{median / medians[floor_name]:>7.2f}x" if floor_name else f"{'-':>8}"
        goal = f"<= {target:g}x" if target else "-"
        met = ("yes" if median / medians[floor_name] <= target else "NO") if floor_name and target else "-"
        print(
            f"{name:<36} {median:>9.3f} {min(values):>7.3f} {max(values):>7.3f} {size / 2**20 / median:>7.0f} "
            f"{median / medians[MD5SUM]:>8.2f}x {versus} {goal:>8} {met:>4}"
        )
    print()
    print(f"Floors: a managed save against '{MD5SUM_CP}' ({medians[MD5SUM_CP]:.3f} s), an in-place save against")
    print(f"'{MD5SUM}' ({medians[MD5SUM]:.3f} s). Targets (issue 20): managed <= {TARGET_MANAGED:g}x, in place <= "
          f"{TARGET_IN_PLACE:g}x.")  # fmt: skip
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}. The copy, the instances and the test file are deleted.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
