"""``flowtrail run -- CMD``: a shell step as a tracked run, through the real executable."""

from __future__ import annotations

import json
import os
import sys

import pytest
from cli_process import clean_environment, piped

import flowtrail as ft
from flowtrail.core.db.context import disconnect

COUNT = """import sys
rows = open(sys.argv[1]).read().split()
print(f"counted {len(rows)} words")
open(sys.argv[2], "w").write(f"words\\t{len(rows)}\\n")
"""


@pytest.fixture
def project(instance):
    root = instance.config.root
    (root / "count.py").write_text(COUNT)
    (root / "data").mkdir()
    (root / "data" / "fox.txt").write_text("the quick brown fox\n")
    disconnect()  # the command writes from another process; read fresh afterwards
    return root


def fresh(model, **lookups):
    disconnect()
    return model.filter(**lookups)


def test_a_succeeding_command_is_a_completed_run_with_its_inputs_outputs_and_params(project):
    result = piped("run", "--input", "data/fox.txt", "--output", "counts.tsv", "--param", "min_count=5",
                   "--name", "count[sample=fox]", "--", sys.executable, "count.py", "data/fox.txt", "counts.tsv",
                   cwd=project)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "counted 4 words\n"  # the command's own output, untouched
    run = fresh(ft.Run, name="count[sample=fox]").one()
    python = os.path.basename(sys.executable)
    assert run.status == "completed" and run.metrics == {"exit_code": 0} and run.finished_at >= run.started_at
    assert run.transform.key == f"{python} count.py" and run.transform.type == "command"
    assert run.transform.source_code == COUNT
    assert run.params["min_count"] == 5 and run.params["command"].endswith("count.py data/fox.txt counts.tsv")
    assert [a.key for a in run.inputs] == ["data/fox.txt"] and [a.key for a in run.outputs] == ["counts.tsv"]
    assert run.outputs[0].path == "counts.tsv" and not run.outputs[0].is_managed  # registered in place


def test_a_failing_command_passes_its_exit_code_and_records_the_end_of_stderr(project):
    script = "echo partial > half.tsv; echo 'line one' >&2; echo 'it broke: no such sample' >&2; exit 3"
    result = piped("run", "--output", "half.tsv", "--", "sh", "-c", script, cwd=project)
    assert result.returncode == 3
    assert "it broke: no such sample" in result.stderr  # stderr still reaches the caller
    run = fresh(ft.Run, transform__key="sh").one()
    assert run.status == "failed" and run.metrics == {"exit_code": 3}
    assert run.error.startswith("exit code 3; stderr ends:") and run.error.endswith("it broke: no such sample")
    assert run.outputs == []  # a failed step's files are not its products


def test_a_declared_output_the_command_did_not_write_fails_the_run(project):
    result = piped("run", "--output", "missing.tsv", "--", "true", cwd=project)
    assert result.returncode == 1 and "declared output(s) not written: missing.tsv" in result.stderr
    run = fresh(ft.Run, transform__key="true").one()
    assert run.status == "failed" and "missing.tsv" in run.error


def test_a_missing_input_is_refused_before_anything_runs(project):
    result = piped("run", "--input", "data/nope.txt", "--", "touch", "ran", cwd=project)
    assert result.returncode == 2 and "data/nope.txt: no such file or folder" in result.stderr
    assert not (project / "ran").exists() and fresh(ft.Run).count() == 0


def test_nested_steps_become_child_runs_through_openlineage_parent_id(project):
    show = "import os; print(os.environ['OPENLINEAGE_PARENT_ID']); print(os.environ['OPENLINEAGE_ROOT_PARENT_ID'])"
    result = piped("run", "--key", "outer", "--", "flowtrail", "run", "--key", "inner", "--", sys.executable, "-c",
                   show, cwd=project)  # fmt: skip
    assert result.returncode == 0, result.stderr
    outer = fresh(ft.Run, transform__key="outer").one()
    inner = fresh(ft.Run, transform__key="inner").one()
    assert inner.parent_id == outer.id
    parent_id, root_id = result.stdout.splitlines()
    assert parent_id == f"{project.name}/inner/{inner.uid}"  # namespace/job/runId, the namespace = instance name
    assert root_id == f"{project.name}/outer/{outer.uid}"


def test_a_parent_from_another_system_is_kept_as_a_parent_facet(project):
    env = clean_environment(OPENLINEAGE_PARENT_ID="airflow/etl.load/0190e9c4-1111-7000-8000-000000000001")
    assert piped("run", "--key", "step", "--", "true", cwd=project, env=env).returncode == 0
    run = fresh(ft.Run, transform__key="step").one()
    assert run.parent_id is None
    assert run.facets["parent"] == {"run": {"runId": "0190e9c4-1111-7000-8000-000000000001"},
                                    "job": {"namespace": "airflow", "name": "etl.load"}}  # fmt: skip


def test_without_a_registry_the_command_still_runs(tmp_path):
    env = clean_environment()
    result = piped("run", "--", "sh", "-c", "echo hello; exit 5", cwd=tmp_path, env=env)
    assert result.returncode == 5 and result.stdout == "hello\n"
    assert "flowtrail run: not recording this command" in result.stderr


def test_the_run_is_listed_and_described_by_its_name(project):
    piped("run", "--name", "count[sample=fox]", "--", "true", cwd=project)
    listed = piped("ls", "runs", "--json", cwd=project)
    row = json.loads(listed.stdout.splitlines()[0])
    assert row["name"] == "count[sample=fox]" and row["transform"] == "true"
    described = piped("describe", "count[sample=fox]", cwd=project)
    assert "count[sample=fox]" in described.stdout and "exit_code = 0" in described.stdout


def test_a_nextflow_task_folder_registers_its_work_root_once(project, tmp_path):
    task = tmp_path / "elsewhere" / "work" / "ab" / ("cdef0123" * 4)[:30]
    task.mkdir(parents=True)
    env = clean_environment(FLOWTRAIL_INSTANCE=str(project))  # as a pipeline's tasks find the registry
    for name in ("a.txt", "b.txt"):
        done = piped("run", "--output", name, "--", "touch", name, cwd=task, env=env)
        assert done.returncode == 0 and done.stderr == ""
    disconnect()
    outputs = ft.Artifact.filter(key__endswith=".txt", key__startswith="ab/").order_by("key").to_list()
    assert [(a.storage.root, a.key) for a in outputs] == [
        (str(tmp_path / "elsewhere" / "work"), f"ab/{task.name}/a.txt"),
        (str(tmp_path / "elsewhere" / "work"), f"ab/{task.name}/b.txt"),
    ]
