"""flowtrail's promise end to end: every engine, another producer's events and a tracked script meet
on the same nodes of one graph.

A raw table is read by a Prefect flow; its output is read by a Snakemake ``script:`` rule whose
script calls ``ft.track()`` and writes a DataFrame; a Nextflow pipeline reads that; a job shaped
like a Spark job (its events sent with the OpenLineage python client, then ``flowtrail ingest``)
reads Nextflow's published file and writes a parquet folder; a tracked script saves, loads and
summarises that folder. Each part runs as users run it: its own process, the real engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pandas as pd
import pytest

import flowtrail as ft

PREFECT_FLOW = """
    from pathlib import Path

    import pandas as pd
    from prefect import flow, task

    from flowtrail.integrations.prefect import tracked_flow


    @task
    def keep_expressed(src: Path, out: Path) -> Path:
        frame = pd.read_csv(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        frame[frame["count"] >= 5].to_csv(out, index=False)
        return out


    @tracked_flow
    @flow
    def prepare(src: Path, out: Path) -> Path:
        return keep_expressed(src, out)


    if __name__ == "__main__":
        prepare(Path("raw/counts.csv"), Path("prepared/counts.csv"))
"""

SNAKEFILE = """
    rule all:
        input: "tables/expressed.parquet"

    rule table:
        input: "../prepared/counts.csv"
        output: "tables/expressed.parquet"
        script: "scripts/table.py"
"""

SNAKEMAKE_SCRIPT = """
    import flowtrail as ft

    ft.track(params={"pseudo": 1})
    frame = ft.Artifact.get(key="prepared/counts.csv").load()
    frame["scaled"] = frame["count"] + snakemake.config.get("pseudo", 1)
    frame.to_parquet(snakemake.output[0])
    ft.Artifact(snakemake.output[0]).save()
"""

NEXTFLOW_PIPELINE = """
    params.input = null

    process SUMMARISE {
        publishDir "${launchDir}/results", mode: 'copy'
        input:
        path table
        output:
        path 'summary.txt'
        script:
        \"\"\"
        wc -c < ${table} > summary.txt
        \"\"\"
    }

    workflow {
        SUMMARISE(Channel.fromPath(params.input))
    }
"""

SPARK_LIKE_JOB = """
    # Writes a parquet folder from Nextflow's summary and reports it the way openlineage-spark does.
    import datetime, sys, uuid
    from pathlib import Path

    import pandas as pd
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import job_type_job, processing_engine_run, schema_dataset
    from openlineage.client.transport.file import FileConfig, FileTransport

    source, target, log = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve(), sys.argv[3]
    client = OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=log, append=True)))
    run = Run(runId=str(uuid.uuid4()), facets={
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(version="3.5.1", name="spark"),
    })
    job = Job(namespace="spark", name="report_job.execute_insert_into_hadoop_fs_relation_command", facets={
        "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="SPARK", jobType="SQL_JOB"),
    })
    schema = schema_dataset.SchemaDatasetFacet(fields=[schema_dataset.SchemaDatasetFacetFields(name="bytes", type="long")])
    inputs = [InputDataset(namespace="file", name=str(source))]
    outputs = [OutputDataset(namespace="file", name=str(target), facets={"schema": schema})]

    def now():
        return datetime.datetime.now(datetime.timezone.utc).isoformat()

    client.emit(RunEvent(eventType=RunState.START, eventTime=now(), producer="https://github.com/OpenLineage/OpenLineage/tree/1.30.0/integration/spark", run=run, job=job, inputs=inputs, outputs=outputs))
    target.mkdir(parents=True)
    pd.DataFrame({"bytes": [int(source.read_text().split()[0])]}).to_parquet(target / "part-00000.snappy.parquet")
    client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=now(), producer="https://github.com/OpenLineage/OpenLineage/tree/1.30.0/integration/spark", run=run, job=job, inputs=inputs, outputs=outputs))
"""

TRACKED_SCRIPT = """
    import flowtrail as ft

    ft.track()
    report = ft.Artifact("lake/report.parquet").save()  # the registry knows it from Spark's events
    report.load().to_csv("final.csv", index=False)
    ft.Artifact("final.csv").save()
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"


@pytest.fixture
def engines_env(tmp_path: Path) -> dict[str, str]:
    if shutil.which("nextflow") is None or shutil.which("snakemake") is None:
        pytest.fail('nextflow and snakemake must be on PATH (export PATH="$(bash scripts/install-nextflow --quiet):$PATH")')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE", "PREFECT_"))}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_EPHEMERAL_ENABLED="true",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120", PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_TO_API_ENABLED="false", DO_NOT_TRACK="1", NXF_HOME=str(tmp_path / "nxf-home"),
    )  # fmt: skip
    return env


def test_one_graph_from_a_raw_file_through_every_engine_to_a_tracked_script(instance, tmp_path, engines_env):
    project = instance.config.root
    env = engines_env
    _write(project / "raw/counts.csv", "gene,count\nA,1\nB,7\nC,12\nD,3\n")
    _write(project / "prepare.py", PREFECT_FLOW)
    _write(project / "smk/Snakefile", SNAKEFILE)
    _write(project / "smk/scripts/table.py", SNAKEMAKE_SCRIPT)
    _write(project / "nf/main.nf", NEXTFLOW_PIPELINE)
    _write(project / "spark_like_job.py", SPARK_LIKE_JOB)
    _write(project / "analyse.py", TRACKED_SCRIPT)

    _run([sys.executable, "prepare.py"], project, env)
    _run(["snakemake", "-c1", "--nocolor", "--logger", "flowtrail"], project / "smk", env)
    _run(["flowtrail", "nextflow", "run", "main.nf", "--input", "../smk/tables/expressed.parquet"], project / "nf", env)
    events = tmp_path / "spark-events.ndjson"
    _run([sys.executable, "spark_like_job.py", "nf/results/summary.txt", "lake/report.parquet", str(events)], project, env)
    _run(["flowtrail", "ingest", str(events)], project, env)
    _run([sys.executable, "analyse.py"], project, env)

    final = ft.Artifact.get(key="final.csv")
    graph = final.upstream()
    keys = {a.key for a in graph.artifacts}
    chain = ["lake/report.parquet", "results/summary.txt", "tables/expressed.parquet", "prepared/counts.csv", "raw/counts.csv"]
    assert set(chain) <= keys, keys
    for key in chain:  # each file is one node, whoever wrote or read it
        assert ft.Artifact.filter(key=key).count() == 1, key
    engines = {run.engine for run in graph.runs}
    assert {"python", "spark", "nextflow", "prefect"} <= engines, engines
    transforms = {run.transform.key for run in graph.runs}
    assert {"analyse.py", "smk/scripts/table.py", "nf/main.nf:SUMMARISE", "prepare/keep_expressed"} <= transforms, transforms

    # The script inside the Snakemake job is a child run of the job run, under the workflow run.
    expressed = ft.Artifact.get(key="tables/expressed.parquet")
    script_run = expressed.run
    assert script_run.transform.key == "smk/scripts/table.py" and script_run.params == {"pseudo": 1}
    assert script_run.parent.transform.key == "smk/Snakefile/table" and script_run.parent.engine == "snakemake"
    assert script_run.parent.parent.transform.key == "smk/Snakefile"

    # The Spark job stays the producer of its folder; the tracked script is its reader.
    report = ft.Artifact.get(key="lake/report.parquet")
    assert report.run.engine == "spark" and report.hash is not None and report.version == 1
    analyse = ft.Run.get(transform__key="analyse.py")
    assert [a.key for a in analyse.inputs] == ["lake/report.parquet"]
    assert [a.key for a in analyse.outputs] == ["final.csv"]
    assert uuid.UUID(analyse.uid)
    assert list(pd.read_csv(project / "final.csv")["bytes"]) == [expressed.size]
