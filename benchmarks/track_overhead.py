"""Benchmark: what ``flowtrail.track()`` + ``flowtrail.finish()`` add to a script's run time.

Run with ``python benchmarks/track_overhead.py``. A fresh instance is created in a temporary
folder (removed afterwards); every command runs there as a fresh ``python -c`` subprocess, the
commands interleaved round-robin so machine load affects all of them alike, and each is
reported as the median over the rounds minus the median of a bare ``python -c pass``.

Commands:

- ``pass``: the baseline (interpreter start-up).
- ``import sqlalchemy.orm``: the floor any SQLAlchemy-based registry pays before doing anything.
- ``import flowtrail``: the lazy top-level package (should cost next to nothing).
- ``import flowtrail.core.runs.tracking``: everything track() needs imported, no database work.
- ``import flowtrail; flowtrail.track(); flowtrail.finish()``: the measured workload.

Target (from the issue): track + finish <= 0.15 s over bare python. Before measuring, track()
runs once in the instance so the environment snapshot (computed once per Python environment and
cached) is not part of the numbers. Finally ``python -X importtime`` runs the workload once and
the slowest imports are listed. The script never fails on a missed target.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = 15
TARGET_S = 0.15
WORKLOAD = "import flowtrail; flowtrail.track(); flowtrail.finish()"
NO_PYC = "track() + finish(), no .pyc"
COMMANDS = [
    ("bare python -c pass", "pass"),
    ("import sqlalchemy.orm", "import sqlalchemy.orm"),
    ("import flowtrail", "import flowtrail"),
    ("import flowtrail.core.runs.tracking", "import flowtrail.core.runs.tracking"),
    ("track() + finish()", WORKLOAD),
    (NO_PYC, WORKLOAD),  # context row: flowtrail's modules compiled from source every time
]


def clean_env(pycache: Path) -> dict[str, str]:
    """The environment with byte-code caching on, as an installed package runs.

    Caches go to ``pycache`` (inside the temporary folder), so nothing is written next to the
    sources even when flowtrail is installed in editable mode.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRAIL_")}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def no_pyc_env(env: dict[str, str]) -> dict[str, str]:
    """Byte-code caching off (``PYTHONDONTWRITEBYTECODE=1``): an editable install recompiles flowtrail."""
    env = dict(env)
    env.pop("PYTHONPYCACHEPREFIX", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run(code: str, cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True)
    return time.perf_counter() - start


def importtime(code: str, cwd: Path, env: dict[str, str]) -> list[tuple[int, int, int, str]]:
    """``(self us, cumulative us, depth, module)`` for every import the command performs."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((int(self_us), int(cumulative_us), depth, name.strip()))
    return rows


def main() -> int:
    load = os.getloadavg()[0]
    print(f"track_overhead: {ROUNDS} rounds of fresh subprocesses, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load average {load:.2f}")  # fmt: skip
    if load > (os.cpu_count() or 1):
        print("  note: the machine is busy; absolute numbers are noisier than usual (ratios less so).")
    base = Path(tempfile.mkdtemp(prefix="flowtrail-bench-track-"))
    env = clean_env(base / "pycache")
    envs = {label: no_pyc_env(env) if label == NO_PYC else env for label, _ in COMMANDS}
    try:
        instance = base / "project"
        subprocess.run([sys.executable, "-c", f"import flowtrail; flowtrail.init({str(instance)!r})"], env=env, check=True)
        # Warm-up: byte-code caches, the file system cache and the per-environment snapshot.
        for label, code in COMMANDS:
            run(code, instance, envs[label])
        times: dict[str, list[float]] = {label: [] for label, _ in COMMANDS}
        print("  rounds: ", end="", flush=True)
        for _round in range(ROUNDS):
            for label, code in COMMANDS:
                times[label].append(run(code, instance, envs[label]))
            print(".", end="", flush=True)
        print()
        imports = importtime(WORKLOAD, instance, env)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    bare = statistics.median(times[COMMANDS[0][0]])
    sqlalchemy_over = statistics.median(times["import sqlalchemy.orm"]) - bare
    header = f"{'command':<32} {'median s':>9} {'min s':>7} {'max s':>7} {'over bare s':>12} {'x sqlalchemy':>13} {'target':>10} {'met':>4}"
    print()
    print(header)
    print("-" * len(header))
    for label, _code in COMMANDS:
        median = statistics.median(times[label])
        over = median - bare
        is_workload = label == "track() + finish()"
        ratio = f"{over / sqlalchemy_over:.2f}x" if label != COMMANDS[0][0] and sqlalchemy_over > 0 else "-"
        target = f"<= {TARGET_S:g} s" if is_workload else "-"
        met = ("yes" if over <= TARGET_S else "NO") if is_workload else "-"
        over_text = f"{over:+.3f}" if label != COMMANDS[0][0] else "(baseline)"
        print(
            f"{label:<32} {median:>9.3f} {min(times[label]):>7.3f} {max(times[label]):>7.3f} "
            f"{over_text:>12} {ratio:>13} {target:>10} {met:>4}"
        )
    print()
    print(f"'over bare' = median minus the median of `python -c pass` ({bare:.3f} s); 'x sqlalchemy' = that")
    print("overhead divided by the overhead of `import sqlalchemy.orm` alone, the floor for this design.")
    print(f"Target from the issue: track() + finish() <= {TARGET_S:g} s over bare python.")
    print("All rows run with byte-code caching on (PYTHONPYCACHEPREFIX in the temporary folder, warmed up),")
    print(f"as an installed package runs, except '{NO_PYC}': PYTHONDONTWRITEBYTECODE=1, so an editable")
    print("install compiles flowtrail's modules from source in every process (context only).")

    total = sum(cumulative for _s, cumulative, depth, _n in imports if depth == 0)
    print()
    print(f"python -X importtime -c {WORKLOAD!r}: {total / 1e6:.3f} s of imports in total")
    print("top 10 imports by cumulative time at depth 0 (flowtrail's lazy importlib.import_module hides")
    print("flowtrail.core.runs.tracking itself, so its direct imports appear at depth 0):")
    print(f"  {'cumulative ms':>13} {'self ms':>8}  module")
    top_level = sorted((row for row in imports if row[2] == 0), key=lambda row: -row[1])
    for self_us, cumulative_us, _depth, name in top_level[:10]:
        print(f"  {cumulative_us / 1e3:>13.1f} {self_us / 1e3:>8.1f}  {name}")
    print("top 10 imports by cumulative time at any depth (nested imports indented):")
    for self_us, cumulative_us, depth, name in sorted(imports, key=lambda row: -row[1])[:10]:
        print(f"  {cumulative_us / 1e3:>13.1f} {self_us / 1e3:>8.1f}  {'  ' * depth}{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
