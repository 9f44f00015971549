"""Pipelines written for the Nextflow tests, and helpers to run each scenario once per test session.

pytest-xdist (``-n 2``) may hand tests of one module to both workers; a scenario (a few real
Nextflow runs) is built by whichever worker gets there first, under a file lock in the folder
the workers share, and the other worker reuses its instance and captured events.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# C1-only JIT and the serial GC start the JVM about twice as fast for these short runs.
FAST_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"

GATHER = """\
params.outdir = 'results'
params.samples = 'data/*.txt'

process SPLIT {
    tag "$sample"
    publishDir params.outdir, mode: 'copy'

    input:
    tuple val(sample), path(reads)

    output:
    tuple val(sample), path("${sample}.upper.txt"), emit: upper
    path "stats_${sample}", emit: stats

    script:
    \"\"\"
    tr a-z A-Z < ${reads} > ${sample}.upper.txt
    mkdir stats_${sample}
    wc -c < ${reads} > stats_${sample}/bytes.txt
    wc -l < ${reads} > stats_${sample}/lines.txt
    echo scratch > scratch_${sample}.tmp
    \"\"\"
}

process GATHER {
    publishDir params.outdir, mode: 'copy'

    input:
    path uppers

    output:
    path "all.txt"

    script:
    \"\"\"
    cat ${uppers} > all.txt
    \"\"\"
}

workflow {
    samples = Channel.fromPath(params.samples).map { f -> tuple(f.baseName, f) }
    SPLIT(samples)
    GATHER(SPLIT.out.upper.map { it[1] }.collect(sort: true))
}
"""

FAILING = """\
process PREP {
    tag "$x"
    input:
    val x
    output:
    path "prep_${x}.txt"
    script:
    "echo $x > prep_${x}.txt"
}

process SLOW {
    input:
    path f
    output:
    path "slow.txt"
    script:
    "sleep 120; cp $f slow.txt"
}

process BAD {
    input:
    path f
    output:
    path "never.txt"
    script:
    \"\"\"
    echo "reading \\$(cat $f)" >&2
    echo "fatal: disk on fire" >&2
    exit 3
    \"\"\"
}

workflow {
    prepared = PREP(Channel.of(1))
    SLOW(prepared)
    BAD(prepared)
}
"""

LINEAGE_CONFIG = "lineage.enabled = true\n"
SAMPLES = {"a": "alpha\n", "b": "bravo\nbeta\n", "c": "charlie\n"}


def write_gather(folder: Path, *, lineage: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.nf").write_text(GATHER)
    data = folder / "data"
    data.mkdir(exist_ok=True)
    for name, text in SAMPLES.items():
        (data / f"{name}.txt").write_text(text)
    if lineage:
        (folder / "nextflow.config").write_text(LINEAGE_CONFIG)


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by all workers of this session
    folder = base / "flowtrail-nextflow"
    folder.mkdir(exist_ok=True)
    return folder


def build_once(shared: Path, name: str, build: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """Run ``build(folder)`` in one worker only; every caller gets its JSON-able result."""
    folder = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done, failed = folder / "done.json", folder / "failed.txt"
        if done.exists():
            return json.loads(done.read_text())
        if failed.exists():
            pytest.fail(f"scenario {name} failed in another worker:\n{failed.read_text()}", pytrace=False)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        try:
            result = build(folder)
        except BaseException:
            failed.write_text(traceback.format_exc())
            raise
        done.write_text(json.dumps(result, default=str))
        return result


@contextlib.contextmanager
def openlineage_to(path: Path) -> Iterator[None]:
    """Configure the OpenLineage file transport for instances connected inside the block."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("FLOWTRAIL_", "OPENLINEAGE")):
                mp.delenv(name)
        mp.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
        mp.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(path))
        mp.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
        mp.setenv("NXF_OPTS", os.environ.get("NXF_OPTS") or FAST_JVM)
        yield
    for name in list(os.environ):  # the client may have added OPENLINEAGE__* itself
        if name.startswith("OPENLINEAGE"):
            del os.environ[name]


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def flush_and_disconnect() -> None:
    from flowtrail.core.db import context as context_module

    current = context_module.connected()
    if current is not None and current.emitter is not None:
        assert current.emitter.flush(60), "OpenLineage events were not all emitted within 60 s"
    context_module.disconnect()


def task_table(session_run: Any) -> dict[str, dict[str, Any]]:
    """The task runs of a session by name: status, input keys, output keys."""
    table = {}
    for run in session_run.children:
        table[run.name] = {
            "status": run.status,
            "inputs": sorted(a.key for a in run.inputs),
            "outputs": sorted(a.key for a in run.outputs),
            "run": run,
        }
    return table


def build_gather(folder: Path) -> dict[str, Any]:
    """The scatter/gather pipeline run through the runner, then resumed with sample b changed."""
    import flowtrail as ft
    from flowtrail.integrations.nextflow import run

    project = folder / "project"
    write_gather(project)
    events = folder / "events.ndjson"
    with openlineage_to(events):
        instance = ft.init(project)
        assert instance.emitter is not None
        env = {"NXF_OPTS": FAST_JVM}
        first = run("main.nf", ["--outdir", "results"], launch_dir=project, instance=instance, echo=False, env=env)
        (project / "data" / "b.txt").write_text("bravo\nbeta\ngamma\n")
        second = run("main.nf", ["-resume", "--outdir", "results"], launch_dir=project, instance=instance,
                     echo=False, env=env)  # fmt: skip
        flush_and_disconnect()
    return {
        "root": str(project),
        "events": str(events),
        "runs": [first.run.uid, second.run.uid],
        "codes": [first.return_code, second.return_code],
        "registration_s": [first.registration_s, second.registration_s],
        "state_dirs": [first.state_dir, second.state_dir],
    }
