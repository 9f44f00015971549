"""The runner called from a tracked Python function, on a pipeline whose input lies outside the
launch dir (and outside every storage location)."""

from __future__ import annotations

from pathlib import Path

import pytest
from nfhelpers import FAST_JVM

import flowtrail as ft
from flowtrail.integrations.nextflow import run

pytestmark = pytest.mark.slow

PIPELINE = """\
params.input = null
process COUNT {
    input:
    path f
    output:
    path "count.txt"
    script:
    "wc -c < $f > count.txt"
}
workflow {
    COUNT(Channel.fromPath(params.input))
}
"""


@pytest.mark.parametrize("trace", [True, False], ids=["trace", "no-trace"])
def test_a_tracked_script_is_the_parent_and_external_inputs_stay_in_place(
    nextflow_ready: str, instance: ft.Instance, tmp_path: Path, trace: bool
) -> None:
    external = tmp_path / "elsewhere" / "raw reads.txt"
    external.parent.mkdir()
    external.write_text("ACGT" * 100)
    launch = Path(instance.config.root) / "pipelines" / "count"
    launch.mkdir(parents=True)
    (launch / "main.nf").write_text(PIPELINE)

    @ft.tracked()
    def analysis() -> None:
        result = run("main.nf", ["--input", str(external)], launch_dir=launch, echo=False, env={"NXF_OPTS": FAST_JVM},
                     trace=trace)  # fmt: skip
        assert result.ok and (result.trace_file is not None) == trace

    analysis()
    script = ft.Run.get(transform__key__endswith="analysis")
    session = ft.Run.get(transform__type="pipeline")
    assert session.parent_id == script.id
    assert session.transform.key == "pipelines/count/main.nf"  # relative to the instance's root
    assert session.params == {"input": str(external)}
    task = session.children[0]
    assert task.transform.key == "pipelines/count/main.nf:COUNT"
    (source,) = task.inputs
    # Registered in place under its own folder, not copied, and not an output of the script.
    assert source.location == str(external) and source.key == "raw reads.txt" and not source.is_managed
    assert source.run_id is None
    (count,) = task.outputs
    assert count.key.startswith("work/") and count.key.endswith("/count.txt")
    assert count.cache().read_text().strip() == "400"
    assert task.status == "completed" and task.metrics["exit_code"] == 0
    assert task.started_at <= task.finished_at
    # Resource metrics need Nextflow's trace; without it, times come from the log.
    assert ("peak_rss_bytes" in task.metrics) == trace


def test_a_registry_failure_lets_the_pipeline_finish(
    nextflow_ready: str, instance: ft.Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowtrail.core.errors import FlowtrailError
    from flowtrail.integrations.nextflow.session_run import SessionRun

    def broken(self: SessionRun) -> None:
        raise RuntimeError("the registry is on fire")

    monkeypatch.setattr(SessionRun, "start", broken)
    data = tmp_path / "in.txt"
    data.write_text("x" * 7)
    launch = tmp_path / "launch"
    launch.mkdir()
    (launch / "main.nf").write_text(PIPELINE)
    with pytest.raises(FlowtrailError, match=r"exit status 0\) but registering it failed: the registry is on fire"):
        run("main.nf", ["--input", str(data)], launch_dir=launch, echo=False, env={"NXF_OPTS": FAST_JVM})
    assert [p.read_text().strip() for p in launch.glob("work/*/*/count.txt")] == ["7"]
    assert not ft.Run.filter().exists()


def test_a_project_from_the_command_line_or_the_calling_run(
    nextflow_ready: str, instance: ft.Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from flowtrail.cli.nextflow_commands import nextflow

    data = Path(instance.config.root) / "data.txt"
    data.write_text("ACGT" * 10)
    launch = Path(instance.config.root) / "pipelines" / "count"
    launch.mkdir(parents=True)
    (launch / "main.nf").write_text(PIPELINE)
    monkeypatch.chdir(launch)
    monkeypatch.setenv("NXF_OPTS", FAST_JVM)
    args = ["run", "--quiet", "--project", "NF Project", "main.nf", "--input", str(data)]
    result = CliRunner().invoke(nextflow, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    session = ft.Run.get(transform__type="pipeline")
    (task,) = session.children
    assert session.project.name == task.project.name == "NF Project"
    (count,) = task.outputs
    assert [a.uid for a in ft.Artifact.filter(projects__name="NF Project")] == [count.uid]  # not the input

    @ft.tracked(project="Outer")
    def analysis() -> None:
        assert run("main.nf", ["--input", str(data)], launch_dir=launch, echo=False).ok

    analysis()
    runs = ft.Run.filter(project__name="Outer")
    assert sorted(r.transform.type for r in runs) == ["function", "pipeline", "process"]  # inherited
