"""Failing jobs, --keep-going, Ctrl-C, a killed Snakemake and an unusable registry."""

from __future__ import annotations

import os
import signal
import time

import pytest
from snakemake_helpers import fresh_reads, problems, wait_for

import flowtrail as ft
from flowtrail.integrations.snakemake import metadata

FAILING = {
    "Snakefile": """
        rule all:
            input: "bad.txt", "after.txt"

        rule first:
            output: "first.txt"
            shell: "echo first > {output}"

        rule bad:
            input: "first.txt"
            output: "bad.txt"
            log: "logs/bad.log"
            shell: "echo about to fail > {log}; echo partial > {output}; exit 3"

        rule slow:
            input: "first.txt"
            output: "slow.txt"
            shell: "sleep 1; echo slow > {output}"

        rule after:
            input: "slow.txt"
            output: "after.txt"
            shell: "cat {input} > {output}"
    """,
}


@pytest.mark.parametrize("keep_going", [False, True], ids=["stop", "keep-going"])
def test_a_failing_rule(smk, validate, keep_going):
    workdir = smk.workflow("failing", FAILING)
    smk.run(workdir, *(["--keep-going"] if keep_going else []), expect=1)

    workflow = ft.Run.get(transform__key="failing/Snakefile")
    assert workflow.status == "failed"
    assert "At least one job did not complete successfully" in workflow.error
    assert "Failed jobs: bad (jobid" in workflow.error
    jobs = {run.name: run for run in workflow.children}
    # Without --keep-going nothing new starts after the failure; jobs already running finish.
    expected = {"first", "bad", "slow", "after"} if keep_going else {"first", "bad", "slow"}
    assert set(jobs) == expected  # "all" never starts: one of its inputs is missing
    assert {name: run.status for name, run in jobs.items()} == {
        name: "failed" if name == "bad" else "completed" for name in expected
    }
    assert workflow.metrics == {"jobs_completed": len(expected) - 1, "jobs_failed": 1, "jobs_aborted": 0}

    bad = jobs["bad"]
    assert "returned non-zero exit status 3" in bad.error and "echo partial > bad.txt" in bad.error
    assert bad.metrics == {"exit_code": 3}
    assert bad.finished_at is not None and bad.started_at <= bad.finished_at
    assert bad.inputs == [ft.Artifact.get(key="first.txt")]
    # Snakemake deletes a failed job's outputs but keeps its log: the log is recorded with the run.
    assert [(a.key, a.kind) for a in bad.outputs] == [("logs/bad.log", "log")]
    assert not ft.Artifact.filter(key="bad.txt").exists()
    if keep_going:
        assert jobs["after"].inputs == jobs["slow"].outputs

    events = smk.events()
    for event in events:
        validate(event)
    terminal = {e["run"]["runId"]: e for e in events if e["eventType"] != "START"}
    assert terminal[bad.uid]["eventType"] == "FAIL"
    assert "exit status 3" in terminal[bad.uid]["run"]["facets"]["errorMessage"]["message"]
    assert terminal[workflow.uid]["eventType"] == "FAIL"
    assert terminal[jobs["slow"].uid]["eventType"] == "COMPLETE"


SLEEPY = {
    "Snakefile": """
        rule all:
            input: "b.txt", "c.txt"

        rule a:
            output: "a.txt"
            shell: "echo a > {output}"

        rule b:
            input: "a.txt"
            output: "b.txt"
            shell: "sleep SECONDS; echo b > {output}"

        rule c:
            input: "a.txt"
            output: "c.txt"
            shell: "sleep SECONDS; echo c > {output}"
    """,
}


def started_jobs(workflow_key: str) -> list[ft.Run]:
    return ft.Run.filter(transform__key__startswith=f"{workflow_key}/", status="started").to_list()


@pytest.mark.parametrize("group", [True, False], ids=["ctrl-c", "sigint-to-snakemake"])
def test_ctrl_c_aborts_the_running_jobs_and_the_workflow(smk, validate, process_groups, group):
    # Ctrl-C in a terminal signals the whole process group (jobs die at once); a SIGINT sent to
    # the snakemake process alone lets running jobs finish, but Snakemake reports none of them.
    seconds = "30" if group else "2"
    workdir = smk.workflow("sleepy", {"Snakefile": SLEEPY["Snakefile"].replace("SECONDS", seconds)})
    process = smk.start(workdir)
    process_groups.append(process)
    wait_for(lambda: len(started_jobs("sleepy/Snakefile")) == 2, what="jobs b and c to start")
    time.sleep(0.3)  # let the shell commands start, too
    if group:
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    assert process.wait(60) == 1
    fresh_reads()

    workflow = ft.Run.get(transform__key="sleepy/Snakefile")
    assert workflow.status == "aborted" and workflow.error == "interrupted"
    jobs = {run.name: run for run in workflow.children}
    assert set(jobs) == {"a", "b", "c"} and jobs["a"].status == "completed"
    assert all(run.finished_at is not None for run in jobs.values())
    for name in "bc":
        job = jobs[name]
        assert job.inputs == jobs["a"].outputs
        if group:
            assert job.status == "aborted" and job.outputs == []
            assert "died with <Signals.SIGINT: 2>" in job.error
        else:
            # The jobs ran on to the end. Snakemake sometimes still records them as complete
            # (metadata written): then so does flowtrail; otherwise they are aborted.
            complete = metadata.read_record(workdir, f"{name}.txt", name) is not None
            assert job.status == ("completed" if complete else "aborted")
            assert [a.key for a in job.outputs] == ([f"{name}.txt"] if complete else [])
    aborted = sum(run.status == "aborted" for run in jobs.values())
    assert workflow.metrics == {"jobs_completed": 3 - aborted, "jobs_failed": 0, "jobs_aborted": aborted}
    events = smk.events()
    for event in events:
        validate(event)
    terminal = sorted(e["eventType"] for e in events if e["eventType"] != "START")
    assert terminal == sorted(["ABORT"] * (aborted + 1) + ["COMPLETE"] * (3 - aborted))


def test_a_killed_snakemake_leaves_no_run_open(smk, process_groups):
    workdir = smk.workflow("killed", {"Snakefile": SLEEPY["Snakefile"].replace("SECONDS", "30")})
    process = smk.start(workdir)
    process_groups.append(process)
    wait_for(lambda: len(started_jobs("killed/Snakefile")) == 2, what="jobs b and c to start")
    process.kill()  # SIGKILL: Snakemake cannot log anything, or close its logger
    process.wait(10)

    # The recorder process sees its input end without the stop marker and aborts what is open.
    workflow = wait_for(
        lambda: ft.Run.filter(transform__key="killed/Snakefile").exclude(status="started").first(),
        what="the workflow run to be closed",
    )
    assert workflow.status == "aborted"
    assert workflow.error == "Snakemake exited without closing its logger (killed?)"
    assert {run.name: run.status for run in workflow.children} == {"a": "completed", "b": "aborted", "c": "aborted"}


def test_no_instance_or_an_unreachable_registry_never_fails_the_workflow(smk, tmp_path):
    outside = smk.workflow("unrecorded", {
        "Snakefile": '''
            rule hello:
                output: "hello.txt"
                shell: "echo hello > {output}"
        ''',
    }, base=tmp_path)  # fmt: skip

    # No instance anywhere above the workflow, and none configured.
    result = smk.run(outside)
    assert (outside / "hello.txt").read_text() == "hello\n"
    warnings = problems(result.stderr)
    assert len(warnings) == 1, result.stderr
    assert "the registry is not usable (NoInstanceError" in warnings[0] and "The workflow continues" in warnings[0]

    # A PostgreSQL registry nobody listens for.
    (outside / "hello.txt").unlink()
    journal = tmp_path / "journal"  # a URL-only registry journals into the user's cache otherwise
    result = smk.run(outside, env={"FLOWTRAIL_DB_URL": "postgresql://flowtrail@127.0.0.1:9/none",
                                   "FLOWTRAIL_JOURNAL": str(journal)})  # fmt: skip
    warnings = problems(result.stderr)
    assert len(warnings) == 1, result.stderr
    assert "the registry is not usable" in warnings[0] and "Connection refused" in warnings[0]
    assert len(list(journal.iterdir())) == 1  # kept for `flowtrail sync`
    assert ft.Run.filter().count() == 0


def test_a_workflow_that_fails_before_any_job_is_recorded_as_failed(smk, validate):
    workdir = smk.workflow("missing", {
        "Snakefile": '''
            rule copy:
                input: "nope.txt"
                output: "copy.txt"
                shell: "cp {input} {output}"
        ''',
    })  # fmt: skip
    smk.run(workdir, expect=1)
    workflow = ft.Run.get(transform__key="missing/Snakefile")
    assert workflow.status == "failed" and workflow.children == []
    assert workflow.error.startswith("MissingInputException in rule copy") and "nope.txt" in workflow.error
    assert [e["eventType"] for e in smk.events()] == ["START", "FAIL"]
    for event in smk.events():
        validate(event)
