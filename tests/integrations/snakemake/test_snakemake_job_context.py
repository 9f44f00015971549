"""What a script or program inside a Snakemake job gets: its job's run, through the environment.

``script:`` and ``run:`` code calling ``ft.track()`` become child runs of the job run; a program
started from ``shell:`` (here one that emits OpenLineage events like dbt-ol) names the job run as
its parent, so its events arrive in ``flowtrail ingest`` as a child of the job run.
"""

from __future__ import annotations

import subprocess

import flowtrail as ft

FILES = {
    "Snakefile": """
        rule all:
            input: "results/table.parquet", "results/ran.txt", "results/dbt.txt"

        rule table:
            input: "data/raw.csv"
            output: "results/table.parquet"
            script: "scripts/table.py"

        rule ran:
            input: "data/raw.csv"
            output: "results/ran.txt"
            run:
                import flowtrail as ft
                ft.track(transform="rules/ran")
                ft.Artifact.get(key="data/raw.csv").load()
                open(output[0], "w").write("ran\\n")
                ft.finish()

        rule dbt:
            output: "results/dbt.txt"
            shell: "python scripts/dbt_like.py {output} > /dev/null"
    """,
    "scripts/table.py": """
        import flowtrail as ft

        ft.track(params={"factor": 2})
        frame = ft.Artifact.get(key="data/raw.csv").load()
        frame["double"] = frame["x"] * 2
        frame.to_parquet(snakemake.output[0])
        ft.Artifact(snakemake.output[0]).save()
    """,
    "scripts/dbt_like.py": """
        # Emits one COMPLETE event the way dbt-ol does: its parent from OPENLINEAGE_PARENT_ID.
        import datetime, os, sys, uuid
        from openlineage.client import OpenLineageClient
        from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
        from openlineage.client.facet_v2 import parent_run
        from openlineage.client.transport.file import FileConfig, FileTransport

        def parse(text):
            namespace, _, rest = text.partition("/")
            job, _, run_id = rest.rpartition("/")
            return namespace, job, run_id

        namespace, job, run_id = parse(os.environ["OPENLINEAGE_PARENT_ID"])
        root_ns, root_job, root_id = parse(os.environ["OPENLINEAGE_ROOT_PARENT_ID"])
        parent = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_id), job=parent_run.Job(namespace=namespace, name=job),
            root=parent_run.Root(run=parent_run.RootRun(runId=root_id), job=parent_run.RootJob(namespace=root_ns, name=root_job)),
        )
        open(sys.argv[1], "w").write("built\\n")
        client = OpenLineageClient(transport=FileTransport(FileConfig(log_file_path="dbt-events.ndjson", append=True)))
        client.emit(RunEvent(
            eventType=RunState.COMPLETE, eventTime=datetime.datetime.now(datetime.timezone.utc).isoformat(),
            producer="https://github.com/OpenLineage/OpenLineage/tree/1.30.0/integration/dbt",
            run=Run(runId=str(uuid.uuid4()), facets={"parent": parent}), job=Job(namespace="dbt", name="shop.orders"),
            outputs=[OutputDataset(namespace="file", name=os.path.abspath(sys.argv[1]))],
        ))
    """,
    "data/raw.csv": "x\n1\n2\n",
}


def test_scripts_run_blocks_and_programs_inside_jobs_nest_under_the_job_run(smk, instance):
    folder = smk.workflow("wf", FILES)
    smk.run(folder)

    workflow = ft.Run.get(transform__key="wf/Snakefile")
    jobs = {run.transform.key.rsplit("/", 1)[-1]: run for run in workflow.children}
    assert set(jobs) == {"all", "table", "ran", "dbt"}

    script = ft.Run.get(transform__key="wf/scripts/table.py")
    assert script.parent.uid == jobs["table"].uid and script.params == {"factor": 2}
    assert [a.key for a in script.inputs] == ["data/raw.csv"]
    table = ft.Artifact.get(key="results/table.parquet")
    assert table.run.uid == script.uid and not table.is_managed  # registered in place, one node
    # The job declared the file and its script made it: an output of both, one node, produced by the script.
    assert [a.key for a in jobs["table"].outputs] == ["results/table.parquet"]
    assert ft.Artifact.filter(key="results/table.parquet").count() == 1
    assert {a.key for a in table.upstream().artifacts} == {"data/raw.csv"}

    inline = ft.Run.get(transform__key="rules/ran")
    assert inline.parent.uid == jobs["ran"].uid and [a.key for a in inline.inputs] == ["data/raw.csv"]

    # The dbt-like program's events, ingested later, hang under the job that started it.
    done = subprocess.run(
        ["flowtrail", "ingest", str(folder / "dbt-events.ndjson")],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    dbt = ft.Run.get(transform__key="shop.orders")
    assert dbt.parent.uid == jobs["dbt"].uid and dbt.parent.parent.uid == workflow.uid
    assert ft.Run.filter(uid=jobs["dbt"].uid).count() == 1
