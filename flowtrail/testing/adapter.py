"""The registry contract every engine adapter meets, as tests an adapter's test class inherits.

An adapter's tests subclass :class:`AdapterContract`, say how to run the contract workflow with
their engine (:meth:`AdapterContract.run_contract_workflow`) and which names the engine gives its
runs; the inherited tests then check what the registry holds afterwards::

    raw.txt -> step1 -> intermediate.txt -> step2 -> result.txt

- every task is a Transform of the adapter's task type with one Run of it, completed, with a start
  and an end in order, whose parent is the workflow's run;
- the files are Artifacts registered in place (not copied), each output produced by its task's
  run and read by the next, the raw file produced by no run;
- the lineage of the result leads back to the raw file through both runs;
- in the variant where step2 fails, its run is failed with an error and an end, step1 and its
  output are recorded as in a successful run, the workflow run is failed, and nothing stays open.

Example (see flowtrail's own tests for the Snakemake, Nextflow and Prefect adapters)::

    class TestMyEngineContract(AdapterContract):
        __test__ = True
        engine = "myengine"
        task_type = "process"

        def run_contract_workflow(self, workflow):
            write_my_pipeline(workflow.folder, fail=workflow.fail)   # step1 and step2, as above
            run_my_engine(workflow.folder, expect_failure=workflow.fail)

Needs pytest. The tests use the ``contract_instance`` fixture: by default a fresh SQLite instance
in a temporary folder (``<tmp>/project``, the working directory while the test runs); override it
to use your own.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

RAW_TEXT = "gene,count\nA,3\nB,8\nC,12\n"


@dataclass
class ContractWorkflow:
    """Where the contract workflow runs and what it must do.

    ``folder`` (inside the instance's folder) holds ``raw.txt`` when :meth:`AdapterContract.run_contract_workflow`
    is called. The workflow's ``step1`` reads ``raw.txt`` and writes ``intermediate.txt``;
    ``step2`` reads ``intermediate.txt`` and writes ``result.txt``, unless ``fail``: then step2
    exits with an error without writing anything. Paths are relative to ``folder``.
    """

    folder: Path
    fail: bool = False
    raw: str = "raw.txt"
    intermediate: str = "intermediate.txt"
    result: str = "result.txt"

    def path(self, name: str) -> Path:
        return self.folder / name


class AdapterContract:
    """Tests of the registry contract for one engine adapter (see the module docstring)."""

    __test__ = False  # only subclasses that set __test__ = True are collected

    #: ``Run.engine`` of the runs the adapter records.
    engine: str = ""
    #: Transform type of the workflow's run ("pipeline") and of each task's ("rule", "process", "task").
    workflow_type: str = "pipeline"
    task_type: str = "task"
    #: The names of the two tasks as the engine knows them; a task's transform key ends with its name.
    task_names: tuple[str, str] = ("step1", "step2")

    def run_contract_workflow(self, workflow: ContractWorkflow) -> None:
        """Write the contract workflow into ``workflow.folder`` and run it with the engine (see :class:`ContractWorkflow`).

        Return once the engine has finished and the adapter has recorded everything. A run with
        ``workflow.fail`` is expected to end with the engine reporting the failure.
        """
        raise NotImplementedError

    # -- fixtures ------------------------------------------------------------------------------
    @pytest.fixture
    def contract_instance(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
        """A fresh instance in ``tmp_path / "project"``, current and the working directory."""
        import flowtrail
        from flowtrail.core.db.context import disconnect

        for name in [n for n in os.environ if n.startswith("FLOWTRAIL_")]:
            monkeypatch.delenv(name)
        project = tmp_path / "project"
        instance = flowtrail.init(project)
        monkeypatch.chdir(project)
        yield instance
        disconnect()

    def _run(self, instance: Any, fail: bool) -> ContractWorkflow:
        folder = Path(instance.config.root) / ("failing" if fail else "workflow")
        folder.mkdir(parents=True, exist_ok=True)
        workflow = ContractWorkflow(folder, fail=fail)
        workflow.path(workflow.raw).write_text(RAW_TEXT)
        self.run_contract_workflow(workflow)
        instance.sessions.end_read()  # read what the engine's processes wrote
        return workflow

    @pytest.fixture
    def succeeded(self, contract_instance: Any) -> ContractWorkflow:
        """The contract workflow, run once with every task succeeding."""
        return self._run(contract_instance, fail=False)

    @pytest.fixture
    def failed(self, contract_instance: Any) -> ContractWorkflow:
        """The contract workflow, run once with step2 failing."""
        return self._run(contract_instance, fail=True)

    # -- lookups -------------------------------------------------------------------------------
    def task_transform(self, name: str) -> Any:
        from flowtrail.core.models import Transform

        found = [t for t in Transform.filter(type=self.task_type) if _ends_with_name(t.key, name)]
        assert len(found) == 1, f"expected one {self.task_type} transform named {name!r}, found {[t.key for t in found]}"
        return found[0]

    def task_run(self, name: str) -> Any:
        from flowtrail.core.models import Run

        runs = list(Run.filter(transform_id=self.task_transform(name).id))
        assert len(runs) == 1, f"expected one run of {name!r}, found {runs}"
        return runs[0]

    def workflow_run(self) -> Any:
        from flowtrail.core.models import Run

        runs = list(Run.filter(transform__type=self.workflow_type, engine=self.engine))
        assert len(runs) == 1, f"expected one {self.workflow_type} run, found {runs}"
        return runs[0]

    def artifact_of(self, workflow: ContractWorkflow, name: str) -> Any:
        """The latest artifact registered for the file ``name`` of the workflow's folder."""
        from flowtrail.core.models import Artifact

        target = workflow.path(name).resolve()
        found = [a for a in Artifact.filter(is_latest=True) if _location(a) == target]
        assert len(found) == 1, f"expected one artifact registered in place at {target}, found {found}"
        return found[0]

    # -- the contract --------------------------------------------------------------------------
    def test_each_task_is_a_transform_with_one_completed_run(self, succeeded: ContractWorkflow) -> None:
        for name in self.task_names:
            run = self.task_run(name)
            assert run.status == "completed", (name, run.status, run.error)
            assert run.engine == self.engine
            assert run.started_at is not None and run.finished_at is not None
            assert _utc(run.started_at) <= _utc(run.finished_at)
        first, second = (self.task_run(name) for name in self.task_names)
        assert _utc(first.finished_at) <= _utc(second.started_at) + dt.timedelta(seconds=1)  # step2 waited for step1

    def test_the_workflow_run_is_the_parent_of_every_task_run(self, succeeded: ContractWorkflow) -> None:
        workflow = self.workflow_run()
        assert workflow.status == "completed" and workflow.finished_at is not None
        for name in self.task_names:
            run = self.task_run(name)
            assert run.parent_id == workflow.id
            assert _utc(workflow.started_at) <= _utc(run.started_at) + dt.timedelta(seconds=1)
        assert {self.task_run(n).id for n in self.task_names} <= {child.id for child in workflow.children}

    def test_files_are_artifacts_in_place_linked_to_the_runs_that_read_and_wrote_them(
        self, succeeded: ContractWorkflow
    ) -> None:
        first, second = (self.task_run(name) for name in self.task_names)
        raw = self.artifact_of(succeeded, succeeded.raw)
        intermediate = self.artifact_of(succeeded, succeeded.intermediate)
        result = self.artifact_of(succeeded, succeeded.result)
        assert raw.run_id is None  # no run of the workflow made it
        assert intermediate.run_id == first.id and result.run_id == second.id
        assert raw.id in {a.id for a in first.inputs}
        assert intermediate.id in {a.id for a in second.inputs}
        assert result.id not in {a.id for a in first.inputs + second.inputs}
        for artifact in (raw, intermediate, result):
            assert not artifact.is_managed  # registered where it is, never copied
        assert result.size == succeeded.path(succeeded.result).stat().st_size

    def test_the_lineage_of_the_result_leads_back_to_the_raw_file(self, succeeded: ContractWorkflow) -> None:
        result = self.artifact_of(succeeded, succeeded.result)
        upstream = result.upstream()
        assert {self.task_run(n).id for n in self.task_names} <= {run.id for run in upstream.runs}
        ids = {a.id for a in upstream.artifacts}
        assert self.artifact_of(succeeded, succeeded.raw).id in ids
        assert self.artifact_of(succeeded, succeeded.intermediate).id in ids

    def test_a_failed_task_is_failed_and_the_others_are_untouched(self, failed: ContractWorkflow) -> None:
        first, second = (self.task_run(name) for name in self.task_names)
        assert first.status == "completed"
        assert self.artifact_of(failed, failed.intermediate).run_id == first.id
        assert second.status == "failed" and second.error
        assert second.finished_at is not None and _utc(second.started_at) <= _utc(second.finished_at)
        assert self.artifact_of(failed, failed.intermediate).id in {a.id for a in second.inputs}
        assert not failed.path(failed.result).exists() or not second.produced
        assert self.workflow_run().status == "failed"
        from flowtrail.core.models import Run

        assert not list(Run.filter(engine=self.engine, status="started")), "a run was left open"


def _ends_with_name(key: str, name: str) -> bool:
    last = key.replace(":", "/").replace(".", "/").rsplit("/", 1)[-1]
    return last.lower() == name.lower()


def _location(artifact: Any) -> Path | None:
    storage = artifact.storage
    if storage is None or not storage.is_local:
        return None
    return (Path(storage.root) / artifact.path).resolve()


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
