"""``flowtrail run`` inside a Nextflow ``script:`` block, with plain ``nextflow run`` (no adapter)."""

from __future__ import annotations

import os
import subprocess

from nfhelpers import FAST_JVM

import flowtrail as ft
from flowtrail.core.db.context import disconnect

PIPELINE = """\
process UPPER {
    input:
    path reads

    output:
    path "${reads.baseName}.upper.txt"

    script:
    \"\"\"
    flowtrail run --input ${reads} --output ${reads.baseName}.upper.txt --name "UPPER (${reads.baseName})" \\
        -- sh -c 'tr a-z A-Z < ${reads} > ${reads.baseName}.upper.txt'
    \"\"\"
}

workflow {
    UPPER(Channel.fromPath("data/*.txt"))
}
"""


def test_a_nextflow_script_block_wrapped_in_flowtrail_run(nextflow_ready, instance):
    root = instance.config.root
    (root / "main.nf").write_text(PIPELINE)
    (root / "data").mkdir()
    (root / "data" / "fox.txt").write_text("the quick brown fox\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
    env.update(FLOWTRAIL_INSTANCE=str(root), NXF_OPTS=FAST_JVM, NXF_ANSI_LOG="false")
    done = subprocess.run([nextflow_ready, "run", "main.nf"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    disconnect()
    run = ft.Run.filter(name="UPPER (fox)").one()
    assert run.status == "completed" and run.transform.key == "sh" and run.metrics == {"exit_code": 0}
    # The staged input is the file it links to (in the project folder, which became a storage
    # location); the output is registered in place in the task's work folder, never copied.
    assert [(a.key, a.storage.root) for a in run.inputs] == [("data/fox.txt", str(root))]
    (output,) = run.outputs
    assert output.key.startswith("work/") and output.key.endswith("/fox.upper.txt") and not output.is_managed
    assert (root / output.key).read_text() == "THE QUICK BROWN FOX\n"
