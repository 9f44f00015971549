"""Benchmark: hashing and copying one large file, against ``md5sum``.

Run with ``python benchmarks/hash_copy.py`` (``--size-mib N`` for another size). A 1 GiB file of
pseudo-random data is written to a temporary folder under the system temp dir, read once so it
sits in the page cache, and then, alternating round by round (median of 3):

- ``md5sum FILE`` (subprocess): the baseline every ratio is against;
- ``cp FILE COPY`` (subprocess, no fsync; GNU cp copies inside the kernel): a plain copy, for context;
- ``flowtrail.core.hashing.hash_file``: hashing alone (used for in-place registration);
- ``flowtrail.core.hashing.copy_and_hash`` into an open file without fsync, for context;
- ``flowtrail.core.hashing.copy_file_and_hash``: one pass that copies, hashes and fsyncs the copy;
- ``flowtrail.Artifact(FILE, key=...).save()`` into managed storage of a fresh instance.

Target (from the issue): copy_file_and_hash <= 1.1 x md5sum. Every file is deleted afterwards.
The script never fails on a missed target.
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
TARGET_RATIO = 1.1
BLOCK = 16 * 1024 * 1024

for _variable in ("FLOWTRAIL_INSTANCE", "FLOWTRAIL_DB_URL", "FLOWTRAIL_STORAGE"):
    os.environ.pop(_variable, None)

import flowtrail  # noqa: E402
from flowtrail.core.hashing import copy_and_hash, copy_file_and_hash, hash_file  # noqa: E402
from flowtrail.core.instance import disconnect  # noqa: E402


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
            with open(copy, "wb", buffering=0) as out:
                digest = copy_and_hash(source, out.write)
            assert expected is None or digest.hash == expected, "copy_and_hash disagrees with md5sum"

        instance_root = base / "instance"

        def run_save() -> None:
            artifact = flowtrail.Artifact(source, key="big.bin").save()
            assert expected is None or artifact.hash == expected, "Artifact.hash disagrees with md5sum"

        def before_save() -> None:
            flowtrail.init(instance_root)

        def after_save() -> None:
            disconnect()
            shutil.rmtree(instance_root, ignore_errors=True)

        plan: list[tuple[str, Callable[[], None], Callable[[], None] | None, Callable[[], None] | None]] = [
            ("md5sum (baseline)", run_md5sum, None, None),
            ("cp, no fsync (context)", run_cp, None, lambda: copy.unlink(missing_ok=True)),
            ("hash_file", run_hash, None, None),
            ("copy_and_hash, no fsync (context)", run_copy_hash_no_fsync, None, lambda: copy.unlink(missing_ok=True)),
            ("copy_file_and_hash (incl. fsync)", run_copy_hash, None, lambda: copy.unlink(missing_ok=True)),
            ("Artifact(path).save(), managed", run_save, before_save, after_save),
        ]
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

    baseline = statistics.median(times["md5sum (baseline)"])
    header = f"{'operation':<34} {'median s':>9} {'min s':>7} {'max s':>7} {'MiB/s':>7} {'x md5sum':>9} {'target':>10} {'met':>4}"
    print()
    print(header)
    print("-" * len(header))
    for name, values in times.items():
        median = statistics.median(values)
        ratio = median / baseline
        is_target = name.startswith("copy_file_and_hash")
        target = f"<= {TARGET_RATIO:g}x" if is_target else "-"
        met = ("yes" if ratio <= TARGET_RATIO else "NO") if is_target else "-"
        print(
            f"{name:<34} {median:>9.3f} {min(values):>7.3f} {max(values):>7.3f} {size / 2**20 / median:>7.0f} "
            f"{ratio:>8.2f}x {target:>10} {met:>4}"
        )
    print()
    print(f"Ratios are medians divided by the md5sum median ({baseline:.3f} s). Target from the issue:")
    print(f"copy_file_and_hash <= {TARGET_RATIO:g}x md5sum. The copy, the managed object and the test file are deleted.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
