"""Benchmark: registering a 100-task Nextflow pipeline while it runs (``flowtrail nextflow run``).

Run with ``python benchmarks/nextflow_registration.py [--rounds N] [--samples N]``. Needs a
``nextflow`` on PATH (``export PATH="$(bash scripts/install-nextflow --quiet):$PATH"``) and
nextflowpy; without them it says so and exits 0.

A temporary folder (removed afterwards) holds a flowtrail instance and a pipeline of two
processes over ``--samples`` (default 50) values: MAKE writes a file per value, SUM reads it and
writes another, so 100 tasks, 100 output files and 50 staged inputs. Each round runs four
variants from scratch (work dir, ``.nextflow/`` and logs removed before each run), in rotating
order:

- ``plain``: ``nextflow run main.nf``;
- ``plain+trace``: ``nextflow run main.nf -with-trace``. Nextflow's trace makes every task's
  wrapper sample its processes for resource metrics, which costs CPU on short tasks; this is
  Nextflow's own price for the metrics, paid by anyone who enables a trace or a report;
- ``flowtrail``: a Python subprocess calling ``flowtrail.integrations.nextflow.run`` (what
  ``flowtrail nextflow run`` does): nextflowpy's ``run_and_poll`` every 0.5 s, flowtrail's trace
  (resource metrics included), and every task registered as it finishes (101 runs, 100 artifacts,
  100 input links per round);
- ``flowtrail --no-trace``: the same with ``trace=False`` (times from the log, no resources).

Reported: median wall time per variant, the overhead ratios flowtrail / plain+trace (flowtrail's
own cost for the same metrics), flowtrail / plain and flowtrail --no-trace / plain, the **recorder
CPU per task** (CPU time of the thread that reads Nextflow's reports and writes the records,
divided by the tasks; target <= 1 ms; loading the registry's code and connecting, done once at the
first poll, is shown apart as "setup") next to the whole Python process's CPU per task (imports,
nextflowpy's polling, connecting), the load average before and after each round, and the
**registration lag**: from the moment the nextflow process exited (the mtime of the ``rc.txt``
its shell writes right after) to the moment the last record was written. Target (from the
issue): lag <= 2 s. One warm-up run is not counted. The script prints the load average, warns on a
busy machine, and never fails on a missed target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TARGET_LAG_S = 2.0
FAST_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
PIPELINE = """\
params.n = 50

process MAKE {
    tag "$i"
    input:
    val i
    output:
    tuple val(i), path("m_${i}.txt")
    script:
    "seq 1 $i > m_${i}.txt"
}

process SUM {
    tag "$i"
    input:
    tuple val(i), path(numbers)
    output:
    path "s_${i}.txt"
    script:
    "awk '{ s += \\$1 } END { print s }' $numbers > s_${i}.txt"
}

workflow {
    SUM(MAKE(Channel.of(1..params.n)))
}
"""
FLOWTRAIL_RUN = """\
import json, resource, sys, time
from flowtrail.integrations.nextflow import run
trace = sys.argv[1] == "trace"
result = run("main.nf", sys.argv[2:], echo=False, trace=trace)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"code": result.return_code, "lag": result.registration_s,
                  "recording_cpu": getattr(result, "recording_cpu_s", float("nan"))
                                   - getattr(result, "setup_cpu_s", 0.0),
                  "setup_cpu": getattr(result, "setup_cpu_s", 0.0),
                  "process_cpu": usage.ru_utime + usage.ru_stime,
                  "tasks": result.run.metrics.get("tasks")}))
"""


def clean(project: Path) -> None:
    for name in ("work", ".nextflow", "results"):
        shutil.rmtree(project / name, ignore_errors=True)
    for log in project.glob(".nextflow.log*"):
        log.unlink()


def run_plain(project: Path, env: dict[str, str], samples: int, extra: list[str]) -> dict[str, float]:
    clean(project)
    start = time.perf_counter()
    done = subprocess.run(["nextflow", "run", "main.nf", "--n", str(samples), *extra], cwd=project, env=env,
                          capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"nextflow run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    for trace in project.glob("trace-*.txt"):
        trace.unlink()
    return {"wall": wall}


def run_flowtrail(project: Path, env: dict[str, str], samples: int, trace: bool) -> dict[str, float]:
    clean(project)
    start = time.perf_counter()
    mode = "trace" if trace else "no-trace"
    done = subprocess.run([sys.executable, "-c", FLOWTRAIL_RUN, mode, "--n", str(samples)], cwd=project, env=env,
                          capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"flowtrail nextflow run failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] != 0 or result["tasks"] != {"completed": 2 * samples}:
        sys.exit(f"unexpected result: {result}")
    return {"wall": wall, "lag": result["lag"], "recording_cpu": result["recording_cpu"],
            "setup_cpu": result["setup_cpu"], "process_cpu": result["process_cpu"]}  # fmt: skip


VARIANTS: dict[str, Callable[[Path, dict[str, str], int], dict[str, float]]] = {
    "plain": lambda p, e, n: run_plain(p, e, n, []),
    "plain+trace": lambda p, e, n: run_plain(p, e, n, ["-with-trace"]),
    "flowtrail": lambda p, e, n: run_flowtrail(p, e, n, True),
    "flowtrail --no-trace": lambda p, e, n: run_flowtrail(p, e, n, False),
}


def registry_counts(project: Path, env: dict[str, str]) -> str:
    code = (
        "import flowtrail as ft; ft.connect(); "
        "print(ft.Run.filter(engine='nextflow').count(), ft.Artifact.filter().count())"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True)
    runs, artifacts = (out.stdout.split() + ["?", "?"])[:2]
    return f"{runs} nextflow runs, {artifacts} artifacts in the registry"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds (each runs all four variants)")
    parser.add_argument("--samples", type=int, default=50, help="values per process (tasks = 2 x samples)")
    args = parser.parse_args()
    if shutil.which("nextflow") is None:
        print(
            'nextflow_registration: no `nextflow` on PATH; run: export PATH="$(bash scripts/install-nextflow --quiet):$PATH"'
        )
        return
    try:
        import nextflow  # noqa: F401 - nextflowpy
    except ImportError:
        print("nextflow_registration: nextflowpy is not installed (pip install 'flowtrail[nextflow]')")
        return

    load = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    tasks = 2 * args.samples
    print(f"nextflow_registration: {tasks} tasks, {args.rounds} rounds; load average {load:.2f} on {cpus} CPUs")
    if load > cpus:
        print("warning: the machine is busy; numbers will be noisy")

    with tempfile.TemporaryDirectory(prefix="flowtrail-bench-nextflow-") as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        (project / "main.nf").write_text(PIPELINE)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
        env.setdefault("NXF_OPTS", FAST_JVM)
        env["NXF_ANSI_LOG"] = "false"
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        subprocess.run(
            [sys.executable, "-c", "import flowtrail; flowtrail.init('.')"], cwd=project, env=env, check=True
        )
        times: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
        VARIANTS["plain"](project, env, args.samples)  # warm-up: JVM class data, page cache
        names = list(VARIANTS)
        for round_ in range(args.rounds):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                times[name].append(VARIANTS[name](project, env, args.samples))
            summary = "  ".join(f"{n} {times[n][-1]['wall']:.2f}s" for n in names)
            lags = " / ".join(f"{times[n][-1]['lag']:.2f}s" for n in names if n.startswith("flowtrail"))
            print(f"  round {round_ + 1}: {summary}  registration lag {lags}  load {os.getloadavg()[0]:.2f}",
                  flush=True)  # fmt: skip
        print(f"  ({registry_counts(project, env)})")

    wall = {name: statistics.median(t["wall"] for t in times[name]) for name in VARIANTS}
    lags = [t["lag"] for name in VARIANTS if name.startswith("flowtrail") for t in times[name]]
    print()
    print(f"{'variant':<22} {'wall s':>8} {'wall ms/task':>13} {'recorder CPU ms/task':>21} {'setup CPU s':>12} "
          f"{'process CPU ms/task':>20}")  # fmt: skip
    for name in VARIANTS:
        line = f"{name:<22} {wall[name]:>8.3f} {wall[name] / tasks * 1000:>13.1f}"
        if name.startswith("flowtrail"):
            recorder = statistics.median(t["recording_cpu"] for t in times[name]) / tasks * 1000
            setup = statistics.median(t["setup_cpu"] for t in times[name])
            process = statistics.median(t["process_cpu"] for t in times[name]) / tasks * 1000
            line += f" {recorder:>21.2f} {setup:>12.2f} {process:>20.2f}"
        print(line)
    print()
    for label, num, den in (
        ("flowtrail / plain+trace (flowtrail's own cost)", "flowtrail", "plain+trace"),
        ("flowtrail / plain", "flowtrail", "plain"),
        ("flowtrail --no-trace / plain", "flowtrail --no-trace", "plain"),
    ):
        ratio = wall[num] / wall[den]
        print(f"overhead ratio {label}: {ratio:.3f} (+{(ratio - 1) * 100:.1f} %)")
    verdict = "met" if max(lags) <= TARGET_LAG_S else "MISSED"
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count() or 1} CPUs")
    print(f"registration lag after the pipeline's end: median {statistics.median(lags):.2f} s, max {max(lags):.2f} s, "
          f"target <= {TARGET_LAG_S:.0f} s: {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
