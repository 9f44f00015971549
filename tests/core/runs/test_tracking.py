import subprocess
import sys
import textwrap

import pytest

import flowtrail as ft
from flowtrail.core.runs.tracking import start_run


def test_track_and_finish_record_a_script_run_with_params(instance, tmp_path):
    run = ft.track(params={"learning_rate": 0.01, "downsample": True})
    assert ft.current_run() is run
    ft.finish()
    stored = ft.Run.get(uid=run.uid)
    assert stored.status == "completed"
    assert stored.params == {"learning_rate": 0.01, "downsample": True}
    assert stored.started_at is not None and stored.finished_at is not None
    assert stored.environment.python_version.count(".") == 2
    assert ft.current_run() is None


def test_loaded_artifacts_become_inputs_and_saved_ones_outputs(instance, tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text("a,b\n1,2\n")
    source = ft.Artifact(raw, key="raw.csv").save()
    run = ft.track()
    frame = ft.Artifact.get(key="raw.csv").load()
    result = ft.Artifact.from_dataframe(frame * 2, key="doubled.parquet").save()
    ft.finish()
    stored = ft.Run.get(uid=run.uid)
    assert [a.key for a in stored.inputs] == ["raw.csv"]
    assert [a.key for a in stored.outputs] == ["doubled.parquet"]
    assert result.run.uid == run.uid
    assert source.input_of_runs[0].uid == run.uid


def test_finish_without_track_is_an_error(instance):
    with pytest.raises(ft.TrackingError) as info:
        ft.finish()
    assert "track()" in str(info.value)


def test_tracked_functions_nest_and_failures_are_recorded(instance):
    @ft.tracked()
    def inner(x: int) -> int:
        if x < 0:
            raise ValueError("x must be positive")
        return x * 2

    @ft.tracked(key="pipeline.outer")
    def outer(values: list[int]) -> list[int]:
        return [inner(v) for v in values]

    assert outer([1, 2]) == [2, 4]
    parent = ft.Run.get(transform__key="pipeline.outer")
    children = parent.children
    assert [c.params["x"] for c in children] == [1, 2]
    assert all(c.status == "completed" for c in children)
    assert children[0].transform.type == "function"
    assert "return x * 2" in children[0].transform.source_code

    with pytest.raises(ValueError, match="positive"):
        inner(-1)
    failed = ft.Run.get(status="failed")
    assert failed.error == "ValueError: x must be positive"
    assert failed.parent is None


def test_tracked_async_functions(instance):
    import asyncio

    @ft.tracked()
    async def fetch(n: int) -> int:
        return n + 1

    assert asyncio.run(fetch(1)) == 2
    assert ft.Run.get(params__n=1).status == "completed"


def test_changed_source_makes_a_new_transform_version(instance):
    first = start_run("step", source_code="print(1)")
    again = start_run("step", source_code="print(1)")
    changed = start_run("step", source_code="print(2)")
    assert first.transform_id == again.transform_id
    assert changed.transform.version == 2
    assert ft.Transform.get(key="step").id == changed.transform_id


def test_a_script_that_crashes_is_marked_failed(instance, tmp_path):
    script = tmp_path / "project" / "crash.py"
    script.write_text(
        textwrap.dedent(
            """
            import flowtrail
            flowtrail.track(params={"n": 3})
            raise RuntimeError("disk full")
            """
        )
    )
    done = subprocess.run([sys.executable, str(script)], cwd=script.parent, capture_output=True, text=True)
    assert done.returncode == 1 and "disk full" in done.stderr
    run = ft.Run.get(transform__key="crash.py")
    assert run.status == "failed"
    assert run.error == "RuntimeError: disk full"
    assert run.transform.source_code.strip().endswith('raise RuntimeError("disk full")')


def test_a_script_that_forgets_finish_is_completed_at_exit(instance, tmp_path):
    script = tmp_path / "project" / "quick.py"
    script.write_text("import flowtrail\nflowtrail.track()\nprint('ok')\n")
    done = subprocess.run([sys.executable, str(script)], cwd=script.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert ft.Run.get(transform__key="quick.py").status == "completed"


def test_the_environment_is_stored_once_and_reused(instance):
    for _ in range(3):
        run = start_run("env-check")
    assert ft.Environment.filter().count() == 1
    environment = run.environment
    assert environment.packages.get("sqlalchemy")
