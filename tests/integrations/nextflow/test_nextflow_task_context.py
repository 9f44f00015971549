"""What a script inside a Nextflow task gets: its task's run, through OPENLINEAGE_PARENT_ID."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from nfhelpers import FAST_JVM

import flowtrail as ft

pytestmark = pytest.mark.slow

PIPELINE = """\
params.python = null
process SCORE {
    output:
    path "score.txt"
    script:
    \"\"\"
    echo "\\$OPENLINEAGE_PARENT_ID" > parent.txt
    ${params.python} ${projectDir}/score.py
    \"\"\"
}
workflow {
    SCORE()
}
"""

SCRIPT = """\
import flowtrail as ft

ft.track(params={"k": 3})
open("score.txt", "w").write("3\\n")
"""


def test_a_script_calling_track_inside_a_task_is_a_child_of_the_task_run(
    nextflow_ready: str, instance: ft.Instance, tmp_path: Path
) -> None:
    launch = Path(instance.config.root) / "scoring"
    launch.mkdir()
    (launch / "main.nf").write_text(PIPELINE)
    (launch / "score.py").write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
    env.update(NXF_OPTS=FAST_JVM, NXF_HOME=str(tmp_path / "nxf-home"))
    done = subprocess.run(
        ["flowtrail", "nextflow", "run", "main.nf", "--python", sys.executable],
        cwd=launch, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]

    task = ft.Run.get(transform__key="scoring/main.nf:SCORE")
    (workdir,) = [p for p in (launch / "work").glob("*/*") if (p / "parent.txt").exists()]
    parent_id = (workdir / "parent.txt").read_text().strip()
    assert parent_id.endswith(f"/{task.uid}") and parent_id.startswith(f"{instance.name}/")
    assert task.uid.replace("-", "") == workdir.parent.name + workdir.name  # the task hash
    script = ft.Run.get(transform__key="scoring/score.py")
    assert script.parent.uid == task.uid and script.params == {"k": 3}
    assert [a.key.rsplit("/", 1)[-1] for a in task.outputs] == ["score.txt"]
