"""Jobs on a remote executor: ``snakemake-executor-plugin-cluster-generic`` with a submit script that
runs each job script as a local background process, so every job runs in a Snakemake process of its
own while the main one only submits and polls. Every job is still a run under the workflow run."""

from __future__ import annotations

import pytest

import flowtrail as ft

pytest.importorskip("snakemake_executor_plugin_cluster_generic")

SUBMIT = """\
#!/bin/bash
# A stand-in for a cluster's submit command: run the job script in the background, print an id.
jobscript="$1"
nohup bash "$jobscript" > "$jobscript.out" 2>&1 &
echo "$!" >> submitted.log
echo "local-$!"
"""


def test_jobs_on_the_cluster_generic_executor_are_runs_with_their_edges(smk):
    workdir = smk.workflow("remote", {
        "Snakefile": '''
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
        ''',
        "data.txt": "1\n2\n3\n",
    })  # fmt: skip
    submit = workdir / "submit.sh"
    submit.write_text(SUBMIT)
    submit.chmod(0o755)
    smk.run(
        workdir, "--executor", "cluster-generic", "--cluster-generic-submit-cmd", "./submit.sh", "--jobs", "2",
        "--seconds-between-status-checks", "1", "--latency-wait", "10",
    )  # fmt: skip
    assert (workdir / "summary.txt").read_text().strip() == "3"
    submitted = (workdir / "submitted.log").read_text().split()
    assert len(submitted) == 2  # split and summary went through the submit script, each its own process

    workflow = ft.Run.get(transform__key="remote/Snakefile")
    assert workflow.status == "completed"
    jobs = {run.name: run for run in workflow.children}
    assert sorted(jobs) == ["all", "split", "summary"]
    assert all(run.status == "completed" and run.parent_id == workflow.id for run in jobs.values())
    assert jobs["split"].params["local"] is False and "local" not in jobs["all"].params
    first, rest = ft.Artifact.get(key="first.txt"), ft.Artifact.get(key="rest.txt")
    assert first.run == rest.run == jobs["split"]  # the temp output too, removed after summary ran
    assert not (workdir / "first.txt").exists()
    assert sorted(a.key for a in jobs["summary"].inputs) == ["first.txt", "rest.txt"]
    assert [a.key for a in jobs["all"].inputs] == ["summary.txt"]
