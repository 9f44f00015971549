"""``snakemake --logger flowtrail`` records the workflow run, every job, and the real file edges."""

from __future__ import annotations

import importlib.metadata
import sys
import uuid

from snakemake_helpers import problems

import flowtrail as ft
from flowtrail.core.util.hashing import HASH_TYPE_FOLDER, HASH_TYPE_STAT

SNAKEMAKE_VERSION = importlib.metadata.version("snakemake")

BRANCHES = {
    "Snakefile": """
        configfile: "config.yaml"

        rule all:
            input: "results/merged.txt"

        rule count:
            input: "data/{sample}.txt"
            output: "counts/{sample}.txt"
            log: "logs/count/{sample}.log"
            params: factor=config["factor"]
            threads: 1
            resources: mem_mb=10
            shell: "wc -l < {input} > {output}; echo counted {wildcards.sample} x{params.factor} > {log}"

        rule merge:
            input: expand("counts/{sample}.txt", sample=config["samples"])
            output: "results/merged.txt"
            benchmark: "benchmarks/merge.tsv"
            shell: "cat {input} > {output}"
    """,
    "config.yaml": """
        samples: [a, b]
        factor: 2
    """,
    "data/a.txt": "1\n2\n",
    "data/b.txt": "1\n2\n3\n",
}

COUNT_RULE = """\
rule count:
    input: "data/{sample}.txt"
    output: "counts/{sample}.txt"
    log: "logs/count/{sample}.log"
    params: factor=config["factor"]
    threads: 1
    resources: mem_mb=10
    shell: "wc -l < {input} > {output}; echo counted {wildcards.sample} x{params.factor} > {log}"
"""


def by_name(runs):
    return {run.name: run for run in runs}


def test_parallel_branches_and_a_merge(smk, validate):
    workdir = smk.workflow("branches", BRANCHES)
    smk.run(workdir, "--config", "factor=3")

    workflow = ft.Run.get(transform__key="branches/Snakefile")
    assert workflow.transform.type == "pipeline"
    assert workflow.transform.source_code == (workdir / "Snakefile").read_text()
    assert workflow.status == "completed" and workflow.error is None
    assert workflow.engine == "snakemake" and workflow.engine_version == SNAKEMAKE_VERSION
    assert uuid.UUID(workflow.uid).version == 4  # Snakemake's own workflow id
    params = workflow.params
    assert "--logger flowtrail" in params["cmd"] and "factor=3" in params["cmd"]
    assert params["config"] == {"samples": ["a", "b"], "factor": 3}  # config file + --config override
    assert params["configfiles"] == [str(workdir / "config.yaml")]
    assert params["snakemake_version"] == SNAKEMAKE_VERSION
    assert params["host"] and params["user"] and params["workdir"] == str(workdir)
    assert workflow.metrics == {"jobs_completed": 4, "jobs_failed": 0, "jobs_aborted": 0}
    assert workflow.parent is None and workflow.inputs == [] and workflow.outputs == []

    jobs = by_name(workflow.children)
    assert sorted(jobs) == ["all", "count[sample=a]", "count[sample=b]", "merge"]
    assert ft.Run.filter(engine="snakemake").count() == 5
    for job in jobs.values():
        assert job.status == "completed" and job.engine == "snakemake" and job.engine_version == SNAKEMAKE_VERSION
        assert job.transform.type == "rule"
        assert workflow.started_at <= job.started_at <= job.finished_at <= workflow.finished_at

    count_a = jobs["count[sample=a]"]
    assert count_a.transform.key == "branches/Snakefile/count"
    assert count_a.transform.source_code == COUNT_RULE
    assert count_a.transform == jobs["count[sample=b]"].transform  # one transform per rule
    assert count_a.params["wildcards"] == {"sample": "a"}
    assert count_a.params["threads"] == 1
    assert count_a.params["resources"]["mem_mb"] == 10
    assert count_a.params["reason"].startswith("Missing output files")
    assert isinstance(count_a.params["jobid"], int)
    assert count_a.params["params"] == ["3"]  # from Snakemake's metadata record
    assert count_a.params["shellcmd"] == "wc -l < data/a.txt > counts/a.txt; echo counted a x3 > logs/count/a.log"

    # Inputs registered in place in the working directory, with their relative paths as keys.
    storage = ft.Storage.get(root=str(workdir))
    raw_a = ft.Artifact.get(key="data/a.txt")
    assert raw_a.storage == storage and not raw_a.is_managed and raw_a.path == "data/a.txt"
    assert raw_a.run is None
    assert count_a.inputs == [raw_a]
    assert [(a.key, a.kind) for a in count_a.outputs] == [("counts/a.txt", "file"), ("logs/count/a.log", "log")]
    assert all(a.storage == storage for a in count_a.outputs)

    # An output written by one job and read by another is one artifact: the graph has real edges.
    merge = jobs["merge"]
    counts = [a for job in (count_a, jobs["count[sample=b]"]) for a in job.outputs if a.kind == "file"]
    assert sorted(a.id for a in merge.inputs) == sorted(a.id for a in counts)
    assert [(a.key, a.kind) for a in merge.outputs] == [
        ("results/merged.txt", "file"),
        ("benchmarks/merge.tsv", "benchmark"),
    ]
    assert set(merge.metrics["benchmark"]) >= {"s", "max_rss", "cpu_time"}
    merged = ft.Artifact.get(key="results/merged.txt")
    assert jobs["all"].inputs == [merged] and jobs["all"].outputs == []
    assert ft.Artifact.filter().count() == 8  # 2 raw, 2 counts, 2 logs, merged, benchmark
    upstream = {a.key for a in merged.upstream().artifacts}
    assert {"data/a.txt", "data/b.txt", "counts/a.txt", "counts/b.txt"} <= upstream

    events = smk.events()
    assert len(events) == 10  # START and COMPLETE for the workflow and each of its 4 jobs
    for event in events:
        validate(event)
    runs = {run.uid: run for run in [workflow, *jobs.values()]}
    assert {(e["run"]["runId"], e["eventType"]) for e in events} == {
        (uid, kind) for uid in runs for kind in ("START", "COMPLETE")
    }
    for event in events:
        run = runs[event["run"]["runId"]]
        assert event["job"]["name"] == run.transform.key
        assert event["job"]["namespace"] == "project"
        assert event["job"]["facets"]["jobType"]["integration"] == "SNAKEMAKE"
        assert event["job"]["facets"]["jobType"]["jobType"] == run.transform.type.upper()
        engine = event["run"]["facets"]["processing_engine"]
        assert engine["name"] == "snakemake" and engine["version"] == SNAKEMAKE_VERSION
        if run != workflow:
            parent = event["run"]["facets"]["parent"]
            assert parent["run"]["runId"] == workflow.uid and parent["job"]["name"] == "branches/Snakefile"
            assert parent["root"]["run"]["runId"] == workflow.uid
    # A job's START already carries its inputs; COMPLETE carries inputs and outputs.
    merge_events = {e["eventType"]: e for e in events if e["run"]["runId"] == merge.uid}
    count_paths = sorted(str(workdir / "counts" / f"{s}.txt") for s in "ab")
    assert sorted(d["name"] for d in merge_events["START"]["inputs"]) == count_paths
    assert merge_events["START"]["outputs"] == []
    assert sorted(d["name"] for d in merge_events["COMPLETE"]["inputs"]) == count_paths
    outputs = {d["name"]: d for d in merge_events["COMPLETE"]["outputs"]}
    assert set(outputs) == {str(workdir / "results/merged.txt"), str(workdir / "benchmarks/merge.tsv")}
    assert outputs[str(workdir / "results/merged.txt")]["facets"]["version"]["datasetVersion"] == merged.hash


# The consumer of the temp file waits until the recorder has registered it (normally a matter of
# milliseconds; on a loaded machine it may take longer), so the test does not depend on timing.
WAIT_FOR_ARTIFACT = """
    import sys, time
    import flowtrail as ft

    ft.connect(sys.argv[1])
    deadline = time.time() + 60
    while not ft.Artifact.filter(key=sys.argv[2]).exists() and time.time() < deadline:
        time.sleep(0.05)
"""


def test_temp_and_directory_outputs(smk):
    workdir = smk.workflow("outputs", {
        "Snakefile": '''
            rule all:
                input: "summary.txt"

            rule parts:
                output: directory("parts")
                shell: "mkdir -p {output}; echo 1 > {output}/x.txt; echo 2 > {output}/y.txt"

            rule concat:
                input: "parts"
                output: temp("joined.txt")
                shell: "cat {input}/x.txt {input}/y.txt > {output}"

            rule summary:
                input: "joined.txt"
                output: "summary.txt"
                shell: "PYTHON wait_for.py PROJECT joined.txt; wc -l < {input} > {output}"
        '''.replace("PYTHON", sys.executable).replace("PROJECT", str(smk.project)),
        "wait_for.py": WAIT_FOR_ARTIFACT,
    })  # fmt: skip
    smk.run(workdir)
    assert not (workdir / "joined.txt").exists()  # Snakemake removed the temp file after use

    jobs = by_name(ft.Run.get(transform__key="outputs/Snakefile").children)
    folder = ft.Artifact.get(key="parts")
    assert folder.kind == "folder" and folder.hash_type == HASH_TYPE_FOLDER and folder.n_files >= 2
    assert folder.run == jobs["parts"]
    assert jobs["concat"].inputs == [folder]
    joined = ft.Artifact.get(key="joined.txt")  # registered before Snakemake deleted it
    assert joined.run == jobs["concat"] and joined.size == 4
    assert jobs["summary"].inputs == [joined]
    assert [a.key for a in jobs["summary"].outputs] == ["summary.txt"]
    assert all(job.status == "completed" for job in jobs.values())


def test_checkpoints_run_and_script_rules_and_the_workdir_directive(smk):
    workdir = smk.workflow("dynamic", {
        "Snakefile": '''
            workdir: "wd"

            rule all:
                input: "total.txt"

            checkpoint split:
                output: directory("chunks")
                shell: "mkdir -p {output}; for i in 1 2 3; do echo $i > {output}/$i.txt; done"

            rule square:
                input: "chunks/{i}.txt"
                output: "squares/{i}.txt"
                run:
                    n = int(open(input[0]).read())
                    with open(output[0], "w") as handle:
                        handle.write(f"{n * n}\\n")

            def squares(wildcards):
                folder = checkpoints.split.get().output[0]
                return expand("squares/{i}.txt", i=glob_wildcards(folder + "/{i}.txt").i)

            rule total:
                input: squares
                output: "total.txt"
                script: "scripts/total.py"
        ''',
        "scripts/total.py": '''
            total = sum(int(open(path).read()) for path in snakemake.input)
            open(snakemake.output[0], "w").write(f"{total}\\n")
        ''',
    })  # fmt: skip
    smk.run(workdir)
    wd = workdir / "wd"
    assert (wd / "total.txt").read_text() == "14\n"

    workflow = ft.Run.get(transform__key="dynamic/Snakefile")
    assert workflow.params["workdir"] == str(wd)  # the effective working directory, not the launch folder
    assert ft.Storage.get(root=str(wd))
    jobs = by_name(workflow.children)
    assert sorted(jobs) == ["all", "split", "square[i=1]", "square[i=2]", "square[i=3]", "total"]
    split = jobs["split"]
    assert split.params["checkpoint"] is True
    chunks = ft.Artifact.get(key="chunks")  # keys are relative to the workdir: directive's folder
    assert chunks.kind == "folder" and chunks.run == split and chunks.storage.root == str(wd)
    squares = []
    for i in "123":
        square = jobs[f"square[i={i}]"]
        assert square.inputs == [chunks]  # a file inside a directory() output is that artifact
        assert [a.key for a in square.outputs] == [f"squares/{i}.txt"]
        squares.extend(square.outputs)
    assert "n = int(open(input[0]).read())" in jobs["square[i=1]"].transform.source_code
    assert "shellcmd" not in jobs["square[i=1]"].params
    total = jobs["total"]
    assert sorted(a.id for a in total.inputs) == sorted(a.id for a in squares)
    source = total.transform.source_code
    assert source.startswith("rule total:\n") and 'script: "scripts/total.py"' in source
    assert "# ---- script: scripts/total.py ----" in source and "sum(int(open(path).read())" in source
    assert ft.Artifact.get(key="total.txt").run == total


def test_rerun_with_changed_input_makes_new_versions(smk):
    workdir = smk.workflow("rerun", {
        "Snakefile": '''
            rule upper:
                input: "data/in.txt"
                output: "out/upper.txt"
                shell: "tr a-z A-Z < {input} > {output}"
        ''',
        "data/in.txt": "hello\n",
    })  # fmt: skip
    smk.run(workdir)
    (workdir / "data/in.txt").write_text("goodbye\n")
    smk.run(workdir)

    first, second = ft.Run.filter(transform__key="rerun/Snakefile").order_by("started_at")
    (run1,), (run2,) = first.children, second.children
    assert run1.transform == run2.transform  # same rule code: same transform version
    raw1, raw2 = ft.Artifact.filter(key="data/in.txt").order_by("version")
    assert (raw1.version, raw2.version) == (1, 2) and raw1.uid[:16] == raw2.uid[:16] and raw2.is_latest
    out1, out2 = ft.Artifact.filter(key="out/upper.txt").order_by("version")
    assert (out1.version, out2.version) == (1, 2) and out1.uid[:16] == out2.uid[:16]
    assert out2.is_latest and not out1.is_latest
    assert (out1.run, out2.run) == (run1, run2)
    assert (run1.inputs, run2.inputs) == ([raw1], [raw2])
    assert run2.params["reason"].startswith("Updated input files: data/in.txt")

    # Editing the rule makes a new version of its transform (and Snakemake reruns the job).
    snakefile = workdir / "Snakefile"
    snakefile.write_text(snakefile.read_text().replace("tr a-z A-Z", "tr a-z A-Z | rev"))
    smk.run(workdir)
    run3 = ft.Run.filter(transform__key="rerun/Snakefile").order_by("-started_at").first().children[0]
    assert run3.transform.version == 2 and run3.transform.uid[:16] == run1.transform.uid[:16]
    assert run3.inputs == [raw2]  # unchanged input: the same artifact
    assert ft.Artifact.get(key="out/upper.txt", is_latest=True).run == run3


def test_dry_run_touch_and_nothing_to_do_record_nothing(smk):
    workdir = smk.workflow("quiet", {
        "Snakefile": '''
            rule copy:
                input: "in.txt"
                output: "out.txt"
                shell: "cp {input} {output}"
        ''',
        "in.txt": "x\n",
    })  # fmt: skip
    smk.run(workdir, "--dry-run")
    assert ft.Run.filter().count() == 0 and ft.Artifact.filter().count() == 0
    assert not ft.Storage.filter(root=str(workdir)).exists()

    smk.run(workdir)
    assert ft.Run.filter(engine="snakemake").count() == 2
    smk.run(workdir)  # nothing to be done
    (workdir / "in.txt").write_text("y\n")
    smk.run(workdir, "--touch")
    assert ft.Run.filter(engine="snakemake").count() == 2
    assert ft.Artifact.filter().count() == 2
    events = smk.events()
    assert [e["eventType"] for e in events].count("START") == 2


def test_settings_instance_hash_mode_and_openlineage_off(smk, tmp_path):
    outside = smk.workflow("elsewhere", {
        "Snakefile": '''
            rule big:
                output: "big.bin"
                shell: "head -c 100000 /dev/zero > {output}"
        ''',
    }, base=tmp_path)  # fmt: skip
    smk.run(
        outside,
        f"--logger-flowtrail-instance={smk.project}",
        "--logger-flowtrail-hash=size-mtime",
        "--logger-flowtrail-openlineage=off",
    )
    workflow = ft.Run.get(transform__key="elsewhere/Snakefile")  # outside the instance: keyed by its folder
    assert [child.transform.key for child in workflow.children] == ["elsewhere/Snakefile/big"]
    big = ft.Artifact.get(key="big.bin")
    assert big.hash_type == HASH_TYPE_STAT and big.size == 100000
    assert big.storage.root == str(outside)
    assert smk.events() == []  # OpenLineage is configured in the environment, but switched off


def test_a_profile_with_quiet_progress(smk):
    # With --quiet progress Snakemake logs no job_finished: completions are inferred from consumers
    # starting and from Snakemake's metadata. The logger and its settings come from a profile.
    workdir = smk.workflow("profiled", {
        "Snakefile": '''
            rule all:
                input: "b.txt"

            rule a:
                output: "a.txt"
                shell: "echo a > {output}"

            rule b:
                input: "a.txt"
                output: "b.txt"
                shell: "cat {input} > {output}"
        ''',
        "profile/config.yaml": """
            cores: 2
            quiet: [progress]
            logger: [flowtrail]
            logger-flowtrail-hash: size-mtime
        """,
    })  # fmt: skip
    result = smk.run(workdir, "--profile", "profile", logger=False)
    assert "Finished jobid" not in result.stderr
    jobs = by_name(ft.Run.get(transform__key="profiled/Snakefile").children)
    assert {name: job.status for name, job in jobs.items()} == {"a": "completed", "b": "completed", "all": "completed"}
    a_txt = ft.Artifact.get(key="a.txt")
    assert a_txt.run == jobs["a"] and a_txt.hash_type == HASH_TYPE_STAT
    assert jobs["b"].inputs == [a_txt] and jobs["all"].inputs == jobs["b"].outputs


def test_the_in_process_fallback_records_the_same(smk, validate):
    # Used when the recorder process cannot be started; forced here through its environment switch.
    workdir = smk.workflow("inprocess", BRANCHES)
    result = smk.run(workdir, env={"FLOWTRAIL_SNAKEMAKE_IN_PROCESS": "1"})
    assert not problems(result.stderr), result.stderr
    workflow = ft.Run.get(transform__key="inprocess/Snakefile")
    jobs = by_name(workflow.children)
    assert workflow.status == "completed" and sorted(jobs) == ["all", "count[sample=a]", "count[sample=b]", "merge"]
    assert sorted(a.key for a in jobs["merge"].inputs) == ["counts/a.txt", "counts/b.txt"]
    events = smk.events()
    assert len(events) == 10
    for event in events:
        validate(event)


def test_a_project_setting_or_flowtrail_project_puts_every_run_and_output_in_it(smk):
    folder = smk.workflow("branches", BRANCHES)
    smk.run(folder, "--logger-flowtrail-project=Drug Screen")
    workflow = ft.Run.get(transform__key="branches/Snakefile")
    assert workflow.project.name == "Drug Screen"
    assert len(workflow.children) == 4  # count x2, merge, all
    assert {child.project.name for child in workflow.children} == {"Drug Screen"}
    linked = {a.key for a in ft.Artifact.filter(projects__name="Drug Screen")}
    outputs = {a.key for child in workflow.children for a in child.outputs}
    assert {"counts/a.txt", "counts/b.txt", "results/merged.txt"} <= outputs
    assert linked == outputs  # the workflow's outputs, not its external inputs
    assert ft.Run.filter(project__name="Drug Screen").count() == 5

    other = smk.workflow("envproject", {"Snakefile": 'rule one:\n    output: "one.txt"\n    shell: "echo 1 > {output}"\n'})
    smk.run(other, env={"FLOWTRAIL_PROJECT": "From Env"})
    run = ft.Run.get(transform__key="envproject/Snakefile")
    assert run.project.name == run.children[0].project.name == "From Env"
    assert [a.key for a in ft.Artifact.filter(projects__name="From Env")] == ["one.txt"]
