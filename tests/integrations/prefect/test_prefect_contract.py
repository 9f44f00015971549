"""The Prefect adapter against flowtrail's shipped registry contract (:mod:`flowtrail.testing`).

The contract workflow runs as a real Prefect flow under ``@tracked_flow`` on the offline test
server: ``step1`` and ``step2`` are Prefect tasks, the flow run is the workflow's run.
"""

from __future__ import annotations

import pytest

pytest.importorskip("prefect")

import prefect_flows as pf  # noqa: E402

import flowtrail as ft  # noqa: E402
from flowtrail.testing import AdapterContract, ContractWorkflow  # noqa: E402

pytestmark = pytest.mark.slow


class TestPrefectRegistryContract(AdapterContract):
    __test__ = True
    engine = "prefect"
    task_type = "task"

    @pytest.fixture
    def contract_instance(self, prefect_instance: ft.Instance) -> ft.Instance:
        return prefect_instance

    def run_contract_workflow(self, workflow: ContractWorkflow) -> None:
        state = pf.contract(
            workflow.folder, workflow.raw, workflow.intermediate, workflow.result, fail=workflow.fail, return_state=True
        )
        assert state.is_failed() if workflow.fail else state.is_completed(), state
