"""``flowtrail run`` inside Snakemake ``shell:`` rules: a workflow that knows nothing else of flowtrail."""

from __future__ import annotations

import flowtrail as ft

SNAKEFILE = """
SAMPLES = ["fox", "empty"]

rule all:
    input: expand("counts/{sample}.tsv", sample=SAMPLES)

rule count:
    input: "data/{sample}.txt"
    output: "counts/{sample}.tsv"
    shell:
        "flowtrail run --input {input} --output {output} --param sample={wildcards.sample} "
        "--name 'count[sample={wildcards.sample}]' -- python count.py {input} {output}"
"""

COUNT = """import sys
words = open(sys.argv[1]).read().split()
if not words:
    sys.exit(f"{sys.argv[1]} holds no words")  # exit code 1, message on stderr
open(sys.argv[2], "w").write(f"words\\t{len(words)}\\n")
"""


def test_shell_rules_wrapped_in_flowtrail_run_are_tracked_and_failures_reach_snakemake(smk, instance):
    folder = smk.workflow("wf", {"Snakefile": SNAKEFILE, "count.py": COUNT, "data/fox.txt": "the quick brown fox\n",
                                 "data/empty.txt": "\n"})  # fmt: skip
    result = smk.run(folder, "--keep-going", expect=1, logger=False)
    assert "data/empty.txt holds no words" in result.stderr  # the command's stderr, passed through
    assert "Error in rule count" in result.stderr

    fox = ft.Run.filter(name="count[sample=fox]").one()
    assert fox.status == "completed" and fox.params["sample"] == "fox" and fox.transform.key == "python wf/count.py"  # the script, from the project root
    assert [a.key for a in fox.inputs] == ["data/fox.txt"] and [a.key for a in fox.outputs] == ["counts/fox.tsv"]
    assert fox.outputs[0].storage.root == str(folder)  # registered in place, in the rule's working directory

    empty = ft.Run.filter(name="count[sample=empty]").one()
    assert empty.status == "failed" and empty.metrics == {"exit_code": 1}
    assert empty.error.endswith("data/empty.txt holds no words") and empty.outputs == []


def test_flowtrail_run_next_to_the_flowtrail_logger_shares_the_files(smk, instance):
    folder = smk.workflow("wf", {"Snakefile": SNAKEFILE.replace('"fox", "empty"', '"fox"'), "count.py": COUNT,
                                 "data/fox.txt": "the quick brown fox\n"})  # fmt: skip
    smk.run(folder)
    step = ft.Run.filter(name="count[sample=fox]", transform__type="command").one()
    job = ft.Run.filter(transform__key="wf/Snakefile/count").one()  # the adapter's run of the job
    assert step.status == job.status == "completed"
    assert ft.Artifact.filter(key="counts/fox.tsv").count() == 1  # one file, one artifact, whoever registers it
    assert ft.Artifact.get(key="counts/fox.tsv").run_id == step.id
