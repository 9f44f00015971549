"""Every edge Snakemake saw, also where its files do not stay: temp(), pipe(), ensure() and more.

Each test is a minimal workflow for one way lineage used to get lost (issue 19, causes 10-14).
"""

from __future__ import annotations

import hashlib
import signal

import pytest
from snakemake_helpers import fresh_reads, problems, recorder_of, wait_for_path

import flowtrail as ft


def by_name(runs):
    return {run.name: run for run in runs}


@pytest.mark.parametrize("quiet", [False, True], ids=["default", "quiet-progress"])
def test_a_temp_file_removed_before_the_recorder_got_to_it_keeps_both_edges(smk, process_groups, quiet):
    # The recorder is paused (as on a busy machine) until Snakemake has removed the temp file:
    # the bytes are read through the hard link taken when the producing job finished (under
    # --quiet progress, which logs no job_finished, when its consumer was logged).
    workdir = smk.workflow("temp", {
        "Snakefile": '''
            rule all:
                input: "summary.txt"

            rule make:
                output: temp("joined.txt")
                shell: "while [ ! -e go ]; do sleep 0.05; done; printf 'a\\\\nb\\\\n' > {output}"

            rule pieces:
                output: temp(directory("pieces"))
                shell: "while [ ! -e go ]; do sleep 0.05; done; mkdir -p {output}/sub; echo 1 > {output}/one.txt; echo 22 > {output}/sub/two.txt"

            rule summary:
                input: "joined.txt", "pieces"
                output: "summary.txt"
                shell: "cat {input[0]} {input[1]}/one.txt | wc -l > {output}"
        ''',
    })  # fmt: skip
    process = smk.start(workdir, *(["--quiet", "progress"] if quiet else []))
    process_groups.append(process)
    recorder = recorder_of(process)
    recorder.send_signal(signal.SIGSTOP)
    try:
        (workdir / "go").touch()
        wait_for_path(workdir / "summary.txt")
        wait_for_path(workdir / "joined.txt", exists=False)  # Snakemake removed them after use
        wait_for_path(workdir / "pieces", exists=False)
    finally:
        recorder.send_signal(signal.SIGCONT)
    assert process.wait(120) == 0
    fresh_reads()

    jobs = by_name(ft.Run.get(transform__key="temp/Snakefile").children)
    joined = ft.Artifact.get(key="joined.txt")
    assert joined.run == jobs["make"] and joined.size == 4 and joined.path == "joined.txt"
    assert joined.hash is not None and joined.location == str(workdir / "joined.txt")
    pieces = ft.Artifact.get(key="pieces")  # a temp(directory()) too, read through a tree of links
    assert pieces.run == jobs["pieces"] and pieces.kind == "folder" and pieces.path == "pieces"
    assert pieces.n_files == 3 and pieces.size == 2 + 3  # with Snakemake's .snakemake_timestamp
    assert sorted(a.key for a in jobs["summary"].inputs) == ["joined.txt", "pieces"]
    assert [a.key for a in jobs["summary"].outputs] == ["summary.txt"]
    assert not list((workdir / ".snakemake").glob("flowtrail/held/*"))  # no link (or folder) left behind


RERUN = {
    "Snakefile": '''
        rule all:
            input: "total.txt"

        rule make:
            output: "made.txt"
            shell: "echo same > {output}"

        rule total:
            input: "made.txt"
            output: "total.txt"
            shell: "wc -c < {input} > {output}"
    ''',
}


def test_a_rerun_that_makes_identical_bytes_has_its_output_edges(smk):
    workdir = smk.workflow("rerun_same", RERUN)
    smk.run(workdir)
    smk.run(workdir, "--forcerun", "make")  # -R: make and everything after it run again
    (workdir / "Snakefile").write_text((workdir / "Snakefile").read_text().replace("echo same", "echo  same"))
    smk.run(workdir)  # a code change reruns make (and total), with the same bytes as before

    runs = ft.Run.filter(transform__key="rerun_same/Snakefile").order_by("id").to_list()
    assert len(runs) == 3
    made = ft.Artifact.get(key="made.txt")
    assert made.versions.count() == 1  # identical bytes: one artifact, produced by the first run
    makes = [by_name(run.children)["make"] for run in runs]
    totals = [by_name(run.children)["total"] for run in runs]
    assert made.run == makes[0]
    for make, total in zip(makes, totals, strict=True):
        assert make.outputs == [made]  # each rerun lists what it wrote
        assert total.inputs == [made]
        assert [a.key for a in total.outputs] == ["total.txt"]
    assert makes[1].output_kinds == {made.id: "wrote"}
    assert {run.id for run in made.upstream().runs} >= {m.id for m in makes}


def test_a_pipe_connects_its_producer_and_consumer(smk, validate):
    workdir = smk.workflow("piped", {
        "Snakefile": '''
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
        ''',
        "seed.txt": "1\n2\n3\n",
    })  # fmt: skip
    result = smk.run(workdir)
    assert (workdir / "counted.txt").read_text().strip() == "6"
    assert problems(result.stderr) == []
    for event in smk.events():
        validate(event)

    jobs = by_name(ft.Run.get(transform__key="piped/Snakefile").children)
    stream = ft.Artifact.get(key="numbers.pipe")
    assert stream.kind == "stream" and stream.hash is None and stream.size is None
    assert stream.run == jobs["numbers"] and jobs["numbers"].outputs == [stream]
    assert jobs["count"].inputs == [stream]
    # upstream() of the consumer's output crosses the pipe to the producer and its input
    counted = ft.Artifact.get(key="counted.txt")
    upstream = counted.upstream()
    assert {run.name for run in upstream.runs} == {"count", "numbers"}
    assert {a.key for a in upstream.artifacts} == {"numbers.pipe", "seed.txt"}

    smk.run(workdir, "--forcerun", "numbers")  # a stream made again is a new version of its key
    assert [a.version for a in stream.versions] == [1, 2]


def test_a_folder_with_a_symlink_loop_is_recorded_with_what_can_be_read(smk):
    workdir = smk.workflow("looped", {
        "Snakefile": '''
            rule all:
                input: "listing.txt"

            rule parts:
                output: directory("parts")
                shell: "mkdir -p {output}; echo 1 > {output}/x.txt; echo 2 > {output}/y.txt; ln -s b {output}/a; ln -s a {output}/b"

            rule listing:
                input: "parts"
                output: "listing.txt"
                shell: "cat {input}/x.txt {input}/y.txt > {output}"
        ''',
    })  # fmt: skip
    result = smk.run(workdir)

    jobs = by_name(ft.Run.get(transform__key="looped/Snakefile").children)
    parts = ft.Artifact.get(key="parts")
    assert parts.kind == "folder" and parts.run == jobs["parts"]
    assert parts.n_files == 3 and parts.size == 4  # x.txt, y.txt and Snakemake's .snakemake_timestamp
    assert "2 link(s) that lead nowhere" in parts.description and "a, b" in parts.description
    assert jobs["parts"].metrics["unreadable"] == {"parts": ["a", "b"]}
    assert jobs["listing"].inputs == [parts]
    assert "left out 2 link(s) that lead nowhere (dangling, or a loop): a, b" in result.stderr


def test_an_ensure_failure_or_a_missing_output_is_a_failed_job(smk):
    workdir = smk.workflow("ensured", {
        "Snakefile": '''
            rule all:
                input: "empty.txt", "fine.txt", "forgotten.txt"

            rule empty:
                output: ensure("empty.txt", non_empty=True)
                shell: "touch {output}"

            rule forgets:
                output: "forgotten.txt"
                shell: "true"

            rule fine:
                output: ensure("fine.txt", non_empty=True)
                shell: "echo fine > {output}"
        ''',
    })  # fmt: skip
    smk.run(workdir, "--keep-going", "--latency-wait", "1", expect=1)

    workflow = ft.Run.get(transform__key="ensured/Snakefile")
    jobs = by_name(workflow.children)
    assert jobs["empty"].status == "failed"
    assert "Detected unexpected empty output files" in jobs["empty"].error and jobs["empty"].outputs == []
    assert jobs["forgets"].status == "failed" and "output files are missing" in jobs["forgets"].error
    assert jobs["fine"].status == "completed"
    assert workflow.status == "failed" and "Failed jobs: " in workflow.error
    assert sorted(name.split(" (")[0] for name in workflow.error.split("Failed jobs: ")[1].split(", ")) == [
        "empty", "forgets",
    ]  # fmt: skip
    assert workflow.metrics == {"jobs_completed": 1, "jobs_failed": 2, "jobs_aborted": 0}


def test_a_long_shell_command_is_cut_with_a_mark(smk):
    words = " ".join(f"word{i}" for i in range(800))  # about 6,000 characters
    workdir = smk.workflow("longcmd", {
        "Snakefile": f'''
            rule all:
                input: "words.txt"

            rule words:
                output: "words.txt"
                shell: "echo {words} > {{output}}"
        ''',
    })  # fmt: skip
    smk.run(workdir)

    job = by_name(ft.Run.get(transform__key="longcmd/Snakefile").children)["words"]
    full = f"echo {words} > words.txt"
    params = job.params
    assert params["shellcmd_chars"] == len(full) and len(full) > 3000
    assert params["shellcmd"].endswith(f" [... cut: the command has {len(full)} characters]")
    assert full.startswith(params["shellcmd"].split(" [... cut:")[0]) and len(params["shellcmd"]) <= 3000
    assert params["shellcmd_md5"] == hashlib.md5(full.encode()).hexdigest()
    assert words in job.transform.source_code  # the rule's code, whole
