"""The run context: scripts and programs started inside another run (an engine's task, another
orchestrator's job) nest under it through OPENLINEAGE_PARENT_ID / OPENLINEAGE_ROOT_PARENT_ID."""

import os
import subprocess
import sys
import textwrap
import uuid

import pandas as pd

import flowtrail as ft
from flowtrail.core.runs.tracking import finish_run, start_run


def _run_script(path, env_extra, cwd):
    env = {**os.environ, **env_extra}
    done = subprocess.run([sys.executable, str(path)], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


def _script(folder, name, body):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def test_track_inside_a_task_is_a_child_run_of_the_task_run(instance, tmp_path):
    project = tmp_path / "project"
    pd.DataFrame({"x": [1, 2]}).to_csv(project / "raw.csv", index=False)
    ft.Artifact(project / "raw.csv", key="raw.csv").save()
    workflow = start_run("workflow/Snakefile", type="pipeline")
    task = start_run("workflow/Snakefile/clean", type="rule", parent=workflow)
    script = _script(project, "scripts/clean.py", """
        import flowtrail as ft
        ft.track(params={"n": 1})
        frame = ft.Artifact.get(key="raw.csv").load()
        ft.Artifact.from_dataframe(frame * 2, key="clean.parquet").save()
    """)
    env = {
        "OPENLINEAGE_PARENT_ID": f"{instance.name}/workflow/Snakefile/clean/{task.uid}",
        "OPENLINEAGE_ROOT_PARENT_ID": f"{instance.name}/workflow/Snakefile/{workflow.uid}",
    }
    _run_script(script, env, project)
    finish_run(task)

    child = ft.Run.get(transform__key="scripts/clean.py")
    assert child.parent.uid == task.uid and child.parent.parent.uid == workflow.uid
    assert child.transform.type == "script" and "ft.track" in child.transform.source_code
    assert [a.key for a in child.inputs] == ["raw.csv"]
    assert [a.key for a in child.outputs] == ["clean.parquet"]


def test_loads_and_saves_without_track_belong_to_the_task_run(instance, tmp_path):
    project = tmp_path / "project"
    (project / "raw.txt").write_text("raw\n")
    ft.Artifact(project / "raw.txt", key="raw.txt").save()
    task = start_run("pipeline.nf:ALIGN", type="process")
    script = _script(project, "bin/align.py", """
        import flowtrail as ft
        path = ft.Artifact.get(key="raw.txt").cache()
        open("aligned.txt", "w").write(open(path).read().upper())
        ft.Artifact("aligned.txt", key="aligned.txt").save()
    """)
    _run_script(script, {"OPENLINEAGE_PARENT_ID": f"{instance.name}/pipeline.nf:ALIGN/{task.uid}"}, project)

    stored = ft.Run.get(uid=task.uid)
    assert [a.key for a in stored.inputs] == ["raw.txt"]
    assert [a.key for a in stored.outputs] == ["aligned.txt"]
    assert ft.Run.filter().count() == 1  # no run of its own


def test_a_task_run_named_before_its_engine_recorded_it_is_filled_in_later(instance, tmp_path):
    project = tmp_path / "project"
    task_uid = str(uuid.uuid4())
    script = _script(project, "scripts/early.py", """
        import flowtrail as ft
        ft.track()
    """)
    env = {"OPENLINEAGE_PARENT_ID": f"{instance.name}/wf/Snakefile/early/{task_uid}", "FLOWTRAIL_PARENT_WAIT": "0"}
    _run_script(script, env, project)
    placeholder = ft.Run.get(uid=task_uid)
    assert placeholder.transform.key == "wf/Snakefile/early"

    # The engine records its job afterwards (the Snakemake recorder is asynchronous): same run.
    task = start_run("wf/Snakefile/early", type="rule", source_code="rule early: ...", uid=task_uid, name="early")
    assert task.id == placeholder.id
    stored = ft.Run.get(uid=task_uid)
    assert stored.name == "early" and stored.transform.type == "rule" and stored.transform.version == 1
    assert stored.children[0].transform.key == "scripts/early.py"
    assert ft.Transform.filter(key="wf/Snakefile/early").count() == 1


def test_another_orchestrators_job_is_the_parent_in_its_own_namespace(instance, tmp_path):
    project = tmp_path / "project"
    airflow_run = str(uuid.uuid4())
    script = _script(project, "etl.py", "import flowtrail as ft\nft.track()\n")
    _run_script(script, {"OPENLINEAGE_PARENT_ID": f"airflow/nightly.extract/{airflow_run}"}, project)
    parent = ft.Run.get(transform__key="etl.py").parent
    assert parent.uid == airflow_run
    assert (parent.transform.namespace, parent.transform.key) == ("airflow", "nightly.extract")


def test_a_malformed_parent_id_is_a_clear_error_for_track(instance, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENLINEAGE_PARENT_ID", "just-a-name")
    try:
        ft.track()
    except ft.TrackingError as exc:
        assert "OPENLINEAGE_PARENT_ID" in str(exc) and "namespace/job/runId" in str(exc)
    else:
        raise AssertionError("track() accepted a malformed OPENLINEAGE_PARENT_ID")
    assert ft.Run.filter().count() == 0


def test_tracked_functions_of_two_scripts_are_two_transforms(instance, tmp_path):
    project = tmp_path / "project"
    for name in ("a", "b"):
        script = _script(project, f"scripts/{name}.py", f"""
            import flowtrail as ft

            @ft.tracked()
            def step(x):
                return x + {name!r}

            step("x")
        """)
        _run_script(script, {}, project)
    keys = sorted(t.key for t in ft.Transform.filter(type="function"))
    assert keys == ["scripts/a.py:step", "scripts/b.py:step"]
