"""Check: do the registry's job edges match what Snakemake itself says each job read and wrote?

Run with ``python benchmarks/snakemake_edges.py``. Each small workflow below (covering plain
branches, temp() files removed while the recorder lags, pipes, reruns of identical bytes with
``-R`` and after a code change, directory() outputs with a symlink loop, a checkpoint, an
``ensure()`` failure, a long shell command, and the cluster-generic executor) runs in a fresh
flowtrail instance in a temporary folder with ``--logger flowtrail``.

Snakemake's truth is its own log of each invocation (``.snakemake/log/*.snakemake.log``): every
job's ``input:`` and ``output:`` as Snakemake printed them, and whether it logged ``Finished
jobid``. Expected edges: the inputs of every job that started, the outputs of every job that
finished. Registry edges: ``run.inputs`` and ``run.outputs`` (without log and benchmark files) of
the job runs under each invocation's workflow run, matched by rule and Snakemake's job id. A file
inside a ``directory()`` input counts as read when the run read that folder.

Prints recall and precision of input and output edges per workflow and in all; exits 0 either way.
Names given on the command line run only those workflows.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# A job's block; inside a group job the whole block is indented by four more spaces.
_BLOCK = re.compile(
    r"^(?P<indent> *)(?:local)?(?:rule|checkpoint) (?P<rule>\w+):\n(?P<body>(?:(?P=indent)    .*\n)+)", re.MULTILINE
)
_FINISHED = re.compile(r"^Finished jobid: (\d+)", re.MULTILINE)
_LABEL = re.compile(r" \((?:pipe|service|[a-z ]+)\)$")

SUBMIT = """#!/bin/bash
nohup bash "$1" > "$1.out" 2>&1 &
echo "local-$!"
"""


@dataclass
class Workflow:
    name: str
    files: dict[str, str]
    invocations: list[list[str]] = field(default_factory=lambda: [[]])
    between: Callable[[Path, int], None] | None = None  # called before invocation i (i >= 1)
    pause_recorder_until: str | None = None  # pause the recorder until this file exists (first run)


def snakemake_command() -> list[str]:
    exe = Path(sys.executable).with_name("snakemake")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "snakemake"]


def _change_code(workdir: Path, _i: int) -> None:
    snakefile = workdir / "Snakefile"
    snakefile.write_text(snakefile.read_text().replace("echo same", "echo  same"))


WORDS = " ".join(f"w{i}" for i in range(900))
WORKFLOWS = [
    Workflow("branches", {
        "Snakefile": """
            rule all:
                input: "merged.txt"
            rule count:
                input: "data/{s}.txt"
                output: "counts/{s}.txt"
                shell: "wc -l < {input} > {output}"
            rule merge:
                input: expand("counts/{s}.txt", s=["a", "b"])
                output: "merged.txt"
                shell: "cat {input} > {output}"
        """,
        "data/a.txt": "1\n", "data/b.txt": "1\n2\n",
    }),
    Workflow("temp", {
        "Snakefile": """
            rule all:
                input: "summary.txt"
            rule make:
                output: temp("joined.txt")
                shell: "while [ ! -e go ]; do sleep 0.05; done; printf 'a\\\\nb\\\\n' > {output}"
            rule summary:
                input: "joined.txt"
                output: "summary.txt"
                shell: "wc -l < {input} > {output}"
        """,
    }, pause_recorder_until="summary.txt"),
    Workflow("pipe", {
        "Snakefile": """
            rule all:
                input: "counted.txt"
            rule numbers:
                input: "seed.txt"
                output: pipe("numbers.pipe")
                shell: "cat {input} {input} > {output}"
            rule count:
                input: "numbers.pipe"
                output: "counted.txt"
                shell: "wc -l < {input} > {output}"
        """,
        "seed.txt": "1\n2\n",
    }),
    Workflow("rerun", {
        "Snakefile": """
            rule all:
                input: "total.txt"
            rule make:
                output: "made.txt"
                shell: "echo same > {output}"
            rule total:
                input: "made.txt"
                output: "total.txt"
                shell: "wc -c < {input} > {output}"
        """,
    }, invocations=[[], ["--forcerun", "make"], []], between=lambda w, i: _change_code(w, i) if i == 2 else None),
    Workflow("folder", {
        "Snakefile": """
            rule all:
                input: "listing.txt"
            rule parts:
                output: directory("parts")
                shell: "mkdir -p {output}; echo 1 > {output}/x.txt; ln -s b {output}/a; ln -s a {output}/b"
            rule listing:
                input: "parts"
                output: "listing.txt"
                shell: "cat {input}/x.txt > {output}"
        """,
    }),
    Workflow("checkpoint", {
        "Snakefile": """
            rule all:
                input: "total.txt"
            checkpoint split:
                output: directory("chunks")
                shell: "mkdir -p {output}; for i in 1 2; do echo $i > {output}/$i.txt; done"
            rule square:
                input: "chunks/{i}.txt"
                output: "squares/{i}.txt"
                shell: "cat {input} {input} > {output}"
            def squares(wildcards):
                folder = checkpoints.split.get().output[0]
                return expand("squares/{i}.txt", i=glob_wildcards(folder + "/{i}.txt").i)
            rule total:
                input: squares
                output: "total.txt"
                shell: "cat {input} > {output}"
        """,
    }),
    Workflow("ensure", {
        "Snakefile": """
            rule all:
                input: "empty.txt", "fine.txt"
            rule empty:
                input: "in.txt"
                output: ensure("empty.txt", non_empty=True)
                shell: "touch {output}"
            rule fine:
                input: "in.txt"
                output: "fine.txt"
                shell: "cat {input} > {output}"
        """,
        "in.txt": "x\n",
    }, invocations=[["--keep-going"]]),
    Workflow("longcmd", {
        "Snakefile": f"""
            rule all:
                input: "words.txt"
            rule words:
                output: "words.txt"
                shell: "echo {WORDS} > {{output}}"
        """,
    }),
    Workflow("cluster", {
        "Snakefile": """
            localrules: all
            rule all:
                input: "summary.txt"
            rule split:
                input: "data.txt"
                output: temp("first.txt"), "rest.txt"
                shell: "head -n 1 {input} > {output[0]}; tail -n +2 {input} > {output[1]}"
            rule summary:
                input: "first.txt", "rest.txt"
                output: "summary.txt"
                shell: "cat {input} | wc -l > {output}"
        """,
        "data.txt": "1\n2\n3\n", "submit.sh": SUBMIT,
    }, invocations=[["--executor", "cluster-generic", "--cluster-generic-submit-cmd", "./submit.sh", "--jobs", "2",
                     "--seconds-between-status-checks", "1", "--latency-wait", "10"]]),
]  # fmt: skip


@dataclass
class Job:
    rule: str
    jobid: int
    inputs: set[str]
    outputs: set[str]
    finished: bool


def _files(line: str) -> set[str]:
    return {_LABEL.sub("", part.strip()) for part in line.split(", ") if part.strip()}


def snakemake_jobs(log: str) -> list[Job]:
    """The jobs an invocation's log lists, with their files as Snakemake printed them."""
    finished = {int(n) for n in _FINISHED.findall(log)}
    jobs = []
    for match in _BLOCK.finditer(log):
        fields: dict[str, str] = {}
        for line in match["body"].splitlines():
            name, _, value = line.strip().partition(": ")
            fields[name] = value
        if "jobid" not in fields:
            continue
        jobid = int(fields["jobid"])
        jobs.append(Job(match["rule"], jobid, _files(fields.get("input", "")), _files(fields.get("output", "")),
                        jobid in finished))  # fmt: skip
    return jobs


def run_invocation(workdir: Path, args: list[str], pause_until: str | None) -> None:
    command = [*snakemake_command(), "-c2", "--nocolor", "--logger", "flowtrail", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINEAGE")}
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if pause_until is None:
        process.wait(600)
        return
    import psutil

    recorder = None
    while recorder is None and process.poll() is None:
        for child in psutil.Process(process.pid).children(recursive=True):
            if any("snakemake.worker" in part for part in child.cmdline()):
                recorder = child
        time.sleep(0.05)
    recorder.send_signal(signal.SIGSTOP)  # a busy machine: the recorder falls behind
    (workdir / "go").touch()
    while not (workdir / pause_until).exists():
        time.sleep(0.05)
    time.sleep(1.0)  # Snakemake removes temp files right after the consumer finished
    recorder.send_signal(signal.SIGCONT)
    process.wait(600)


def registry_edges(workdir: Path) -> list[dict[int, tuple[str, set[str], set[str]]]]:
    """Per invocation: ``{jobid: (rule, input keys, output keys)}`` from the registry."""
    import flowtrail as ft
    from flowtrail.core.db.context import disconnect

    ft.connect(workdir)
    try:
        found = []
        for workflow in ft.Run.filter(transform__type="pipeline").order_by("id"):
            jobs = {}
            for run in workflow.children:
                rule = run.transform.key.rsplit("/", 1)[-1]
                outputs = {a.key for a in run.outputs if a.kind not in ("log", "benchmark")}
                jobs[run.params["jobid"]] = (rule, {a.key for a in run.inputs}, outputs)
            found.append(jobs)
        return found
    finally:
        disconnect()


def compare(workflow: Workflow, base: Path) -> dict[str, list[int]]:
    import flowtrail as ft

    workdir = base / workflow.name
    workdir.mkdir()
    ft.init(workdir)
    from flowtrail.core.db.context import disconnect

    disconnect()
    for relpath, text in workflow.files.items():
        path = workdir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    if (workdir / "submit.sh").exists():
        (workdir / "submit.sh").chmod(0o755)
    logs = []
    for i, args in enumerate(workflow.invocations):
        if i and workflow.between:
            workflow.between(workdir, i)
        before = set((workdir / ".snakemake" / "log").glob("*.log"))
        run_invocation(workdir, args, workflow.pause_recorder_until if i == 0 else None)
        (new,) = set((workdir / ".snakemake" / "log").glob("*.log")) - before
        logs.append(new.read_text())
    registered = registry_edges(workdir)
    counts = {"in": [0, 0, 0, 0], "out": [0, 0, 0, 0]}  # expected found, expected, recorded right, recorded
    for log, jobs in zip(logs, registered, strict=True):
        for job in snakemake_jobs(log):
            rule, inputs, outputs = jobs.get(job.jobid, (job.rule, set(), set()))
            folders = {key for key in inputs if (workdir / key).is_dir()}
            read = {f for f in job.inputs if f in inputs or any(f.startswith(d + "/") for d in folders)}
            right = {k for k in inputs if k in job.inputs or any(f.startswith(k + "/") for f in job.inputs)}
            for key in sorted(inputs - right):
                print(f"  {workflow.name}: input edge Snakemake lacks: job {job.jobid} ({rule}) {key}")
            counts["in"] = [a + b for a, b in zip(counts["in"], [len(read), len(job.inputs), len(right), len(inputs)])]
            expected_out = job.outputs if job.finished else set()
            both = len(expected_out & outputs)
            counts["out"] = [a + b for a, b in zip(counts["out"], [both, len(expected_out), both, len(outputs)])]
            for key in sorted((expected_out - outputs) | (outputs - expected_out)):
                print(f"  {workflow.name}: output edge differs: job {job.jobid} ({rule}) {key}")
            for key in sorted(job.inputs - read):
                print(f"  {workflow.name}: input edge missing: job {job.jobid} ({rule}) {key}")
    return counts


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "n/a"


def _row(name: str, counts: dict[str, list[int]]) -> str:
    (im, ie, ik, ir), (om, oe, ok, orr) = counts["in"], counts["out"]
    return f"{name:<12} {_ratio(im, ie):>10} {_ratio(ik, ir):>9} {_ratio(om, oe):>11} {_ratio(ok, orr):>10}"


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="flowtrail-edges-"))
    total = {"in": [0, 0, 0, 0], "out": [0, 0, 0, 0]}
    try:
        print(f"{'workflow':<12} {'in recall':>10} {'in prec.':>9} {'out recall':>11} {'out prec.':>10}")
        chosen = sys.argv[1:]
        for workflow in [w for w in WORKFLOWS if not chosen or w.name in chosen]:
            counts = compare(workflow, base)
            for kind in total:
                total[kind] = [t + c for t, c in zip(total[kind], counts[kind], strict=True)]
            print(_row(workflow.name, counts))
        print(_row("all", total))
        (im, ie, ik, ir), (om, oe, _ok, orr) = total["in"], total["out"]
        print(f"input edges: {im} of {ie} expected found, {ik} of {ir} recorded right; "
              f"output edges: {om} of {oe} expected found, {orr} recorded")  # fmt: skip
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
